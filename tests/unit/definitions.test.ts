import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { buildTopology, Topology } from '../../src/adapters/rabbitmq/topology';
import {
  buildDefinitions,
  exactPattern,
  notificationReadPattern,
  rabbitPasswordHash,
  renderDefinitions,
  SHIPPED_DEFINITIONS_OPTIONS,
} from '../../src/adapters/rabbitmq/definitions';

const ROOT = path.resolve(__dirname, '../..');
const sampleConfig = loadConfig({});
const sampleTopology = buildTopology(sampleConfig);

describe('rabbitmq/definitions.json', () => {
  const committed = readFileSync(path.join(ROOT, 'rabbitmq/definitions.json'), 'utf8');

  it('is exactly what buildDefinitions produces for the sample config (run `npm run gen:definitions`)', () => {
    const expected = buildDefinitions(sampleTopology, {
      ...SHIPPED_DEFINITIONS_OPTIONS,
      inboundExchange: sampleConfig.topology.inboundExchange,
      inboundLargeExchange: sampleConfig.topology.inboundLargeExchange,
      notificationsExchange: sampleConfig.topology.notificationsExchange,
    });
    expect(JSON.parse(committed)).toEqual(expected);
    expect(committed).toBe(renderDefinitions(expected));
  });

  it('ships the example sender bank-support on vhost "/" as the contract describes, without a password', () => {
    const doc = JSON.parse(committed);
    expect(doc.vhosts).toEqual([{ name: '/' }]);
    expect(doc.users).toEqual([{ name: 'bank-support', password_hash: '', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [] }]);
    expect(doc.permissions).toEqual([
      {
        user: 'bank-support',
        vhost: '/',
        configure: '^amq\\.gen-.*$',
        write: '^(workitem\\.inbound|workitem\\.inbound\\.large|amq\\.gen-.*)$',
        read: '^(workitem\\.notifications|amq\\.gen-.*)$',
      },
    ]);
    // Contract 1.2: the same routing key on both inbound exchanges (an exchange without a topic permission would take
    // any key), and on workitem.notifications the read permission the contract names: ^[a-z]+\.<its-source>$.
    expect(doc.topic_permissions).toEqual([
      { user: 'bank-support', vhost: '/', exchange: 'workitem.inbound', write: '^workitem\\.bank-support$', read: '^$' },
      { user: 'bank-support', vhost: '/', exchange: 'workitem.inbound.large', write: '^workitem\\.bank-support$', read: '^$' },
      { user: 'bank-support', vhost: '/', exchange: 'workitem.notifications', write: '^$', read: '^[a-z]+\\.bank-support$' },
    ]);
    const [perm] = doc.permissions as { configure: string; write: string; read: string }[];
    const write = new RegExp(perm.write);
    expect(['workitem.inbound', 'workitem.inbound.large', 'amq.gen-JzTY20BRgKO-HjmUJj0wLg'].map((x) => write.test(x))).toEqual([
      true,
      true,
      true,
    ]);
    expect(
      ['contact.events', 'workitem.inbound.larger', 'workitem.error', 'amq.default', 'workitem.notifications'].some((x) => write.test(x)),
    ).toBe(false);
    // Server-named queues only: a sender cannot declare, bind or read a queue it names, nor the service's queues.
    const configure = new RegExp(perm.configure);
    const read = new RegExp(perm.read);
    expect(['amq.gen-JzTY20BRgKO-HjmUJj0wLg'].map((x) => [configure.test(x), read.test(x)])).toEqual([[true, true]]);
    for (const name of ['bank-support.receipts', 'workitem.inbound', 'workitem.error', 'workitem.control', 'workitem.receipts'])
      expect({ name, configure: configure.test(name), read: read.test(name) }).toEqual({ name, configure: false, read: false });
    expect(read.test('workitem.notifications')).toBe(true);
  });
});

describe('buildDefinitions', () => {
  const doc = buildDefinitions(sampleTopology, { vhost: 'v1' });

  it('declares every exchange as the service asserts it: durable, not auto-delete, not internal', () => {
    expect(doc.exchanges.map((x) => [x.name, x.type])).toEqual(sampleTopology.exchanges.map((x) => [x.name, x.type]));
    for (const x of doc.exchanges) {
      expect(x).toMatchObject({ vhost: 'v1', durable: true, auto_delete: false, internal: false, arguments: {} });
    }
  });

  it('declares every queue durable with exactly the topology arguments (anything else is PRECONDITION_FAILED)', () => {
    expect(doc.queues).toEqual(
      sampleTopology.queues.map((q) => ({ name: q.name, vhost: 'v1', durable: true, auto_delete: false, arguments: q.arguments })),
    );
    const parked = doc.queues.find((q) => q.name === 'workitem.parked.loans');
    expect(parked?.arguments).toEqual({
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'workitem.inbound',
    });
  });

  it('binds each queue as the topology does', () => {
    const expected = sampleTopology.queues.flatMap((q) =>
      q.bindings.map((b) => ({ source: b.exchange, destination: q.name, routing_key: b.routingKey })),
    );
    expect(doc.bindings.map(({ source, destination, routing_key }) => ({ source, destination, routing_key }))).toEqual(expected);
    for (const b of doc.bindings) expect(b).toMatchObject({ vhost: 'v1', destination_type: 'queue', arguments: {} });
  });

  it('adds no policies, users or permissions unless asked for a sender', () => {
    expect(doc.policies).toEqual([]);
    expect(doc.users).toEqual([]);
    expect(doc.permissions).toEqual([]);
    expect(doc.topic_permissions).toEqual([]);
    expect(doc.vhosts).toEqual([{ name: 'v1' }]);
  });

  it('does not share argument objects with the topology', () => {
    const topology: Topology = {
      exchanges: [
        { name: 'in', type: 'topic' },
        { name: 'in.large', type: 'topic' },
        { name: 'out', type: 'topic' },
      ],
      queues: [{ name: 'q', arguments: { a: 1 }, bindings: [] }],
    };
    const out = buildDefinitions(topology, {
      vhost: '/',
      inboundExchange: 'in',
      inboundLargeExchange: 'in.large',
      notificationsExchange: 'out',
    });
    out.queues[0].arguments.a = 2;
    expect(topology.queues[0].arguments.a).toBe(1);
  });

  it('pins a sender to its own routing keys on the configured inbound, large-item and notifications exchanges, escaping regex characters', () => {
    const topology: Topology = {
      exchanges: [
        { name: 'bank.in+1', type: 'topic' },
        { name: 'bank.big', type: 'topic' },
        { name: 'bank.news', type: 'topic' },
      ],
      queues: [],
    };
    const out = buildDefinitions(topology, {
      vhost: 'v',
      exampleSender: 'crm.eu',
      inboundExchange: 'bank.in+1',
      inboundLargeExchange: 'bank.big',
      notificationsExchange: 'bank.news',
    });
    expect(out.permissions).toEqual([
      {
        user: 'crm.eu',
        vhost: 'v',
        configure: '^amq\\.gen-.*$',
        write: '^(bank\\.in\\+1|bank\\.big|amq\\.gen-.*)$',
        read: '^(bank\\.news|amq\\.gen-.*)$',
      },
    ]);
    expect(out.topic_permissions).toEqual([
      { user: 'crm.eu', vhost: 'v', exchange: 'bank.in+1', write: '^workitem\\.crm\\.eu$', read: '^$' },
      { user: 'crm.eu', vhost: 'v', exchange: 'bank.big', write: '^workitem\\.crm\\.eu$', read: '^$' },
      { user: 'crm.eu', vhost: 'v', exchange: 'bank.news', write: '^$', read: '^[a-z]+\\.crm\\.eu$' },
    ]);
    const pattern = new RegExp(out.topic_permissions[0].write);
    expect(pattern.test('workitem.crm.eu')).toBe(true);
    expect(pattern.test('workitem.crmXeu')).toBe(false);
    expect(pattern.test('workitem.crm.eu.x')).toBe(false);
  });

  it("admits a sender's own notification keys one by one, and no wildcard (RabbitMQ matches the binding key as written)", () => {
    const read = new RegExp(notificationReadPattern('bank-support'));
    const own = ['routed', 'buffered', 'held', 'resumed', 'ended', 'cancelled', 'expired', 'overdue'].map((e) => `${e}.bank-support`);
    expect(own.filter((k) => !read.test(k))).toEqual([]);
    const refused = [
      'ended.other-source',
      'ended.bank-supportx',
      'ended.xbank-support',
      'ended.bank.support',
      '*.bank-support',
      '#',
      '#.bank-support',
      'ended.#',
      '*.*',
      'bank-support',
      'x.ended.bank-support',
    ];
    expect(refused.filter((k) => read.test(k))).toEqual([]);
    expect(notificationReadPattern('crm.eu')).toBe('^[a-z]+\\.crm\\.eu$');
  });

  it('refuses an inbound exchange that is not in the topology', () => {
    expect(() => buildDefinitions(sampleTopology, { vhost: '/', inboundExchange: 'nope' })).toThrow(/inbound exchange "nope" is not part/);
    expect(() => buildDefinitions(sampleTopology, { vhost: '/', inboundLargeExchange: 'nope' })).toThrow(
      /large-item exchange "nope" is not part/,
    );
    expect(() => buildDefinitions(sampleTopology, { vhost: '/', notificationsExchange: 'nope' })).toThrow(
      /notifications exchange "nope" is not part/,
    );
  });
});

describe('exactPattern', () => {
  it('matches the literal only', () => {
    const re = new RegExp(exactPattern('a.b*c'));
    expect(re.test('a.b*c')).toBe(true);
    expect(re.test('aXbbc')).toBe(false);
    expect(re.test('xa.b*c')).toBe(false);
  });
});

describe('rabbitPasswordHash', () => {
  it('is base64(salt + sha256(salt + password)), RabbitMQ sha256 hashing', () => {
    const salt = Buffer.from([0x90, 0x8d, 0xc6, 0x0a]);
    const raw = Buffer.from(rabbitPasswordHash('test12', salt), 'base64');
    expect(raw.length).toBe(36);
    expect(raw.subarray(0, 4)).toEqual(salt);
    const digest = createHash('sha256')
      .update(Buffer.concat([salt, Buffer.from('test12')]))
      .digest();
    expect(raw.subarray(4)).toEqual(digest);
  });

  it('uses a fresh salt each time', () => {
    expect(rabbitPasswordHash('x')).not.toBe(rabbitPasswordHash('x'));
  });
});
