import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { loadConfig } from '../../src/config/config';
import { buildTopology, parkedQueueName } from '../../src/adapters/rabbitmq/topology';
import {
  buildDefinitions,
  DEFINITIONS_RABBIT_VERSION,
  PASSWORD_HASHING_ALGORITHM,
  rabbitPasswordHash,
  type DefinitionsDocument,
} from '../../src/adapters/rabbitmq/definitions';
import { amqpUrl, createVhost, deleteVhost } from '../helpers/broker';

/**
 * The generated definitions import into a real broker (`rabbitmqctl import_definitions`, as an operator
 * or `definitions.local.path` at boot would), and what they create is exactly what the service asserts:
 * re-declaring every exchange and queue with the service's arguments raises no PRECONDITION_FAILED.
 * The example sender can do what a sender needs and nothing more: publish as its own source, and (contract 1.2) bind
 * a server-named queue of its own to workitem.notifications with its own keys, while the broker refuses another
 * source's key or a wildcard (measured on RabbitMQ 3.10: the topic read permission is matched against the binding key
 * as written, so `*.<source>` is refused by `^[a-z]+\.<source>$`).
 * Runs in its own random vhost, with its own random sender users; all are removed afterwards.
 */
const CTL_TIMEOUT_MS = 30_000;
const IMPORT_WAIT_MS = 30_000;

const cfg = loadConfig({});
const topology = buildTopology(cfg);
const t = cfg.topology;

function rabbitmqctl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('rabbitmqctl', ['--quiet', ...args], { timeout: CTL_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) reject(new Error(`rabbitmqctl ${args.join(' ')} failed: ${err.message} ${stderr}`.trim()));
      else resolve(stdout);
    });
    child.stdin?.end(input ?? '');
  });
}

async function listJson<T>(args: string[]): Promise<T[]> {
  const out = await rabbitmqctl([...args, '--formatter', 'json']);
  return out.trim() ? (JSON.parse(out) as T[]) : [];
}

/** `import_definitions` reads stdin (no temp file the CLI's user must be able to read); 3.10 returns before it is done. */
async function importDefinitions(doc: object): Promise<void> {
  await rabbitmqctl(['import_definitions'], JSON.stringify(doc));
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + IMPORT_WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function urlFor(vhost: string, user?: { name: string; password: string }): string {
  const url = new URL(amqpUrl(vhost));
  if (user) {
    url.username = encodeURIComponent(user.name);
    url.password = encodeURIComponent(user.password);
  }
  return url.toString();
}

/** A sender's password set the way an operator would ship it: a hash in a definitions file. */
async function importPassword(user: string, password: string): Promise<void> {
  await importDefinitions({
    rabbit_version: DEFINITIONS_RABBIT_VERSION,
    users: [{ name: user, password_hash: rabbitPasswordHash(password), hashing_algorithm: PASSWORD_HASHING_ALGORITHM, tags: [] }],
  });
  await waitFor(`the password of ${user}`, () =>
    rabbitmqctl(['authenticate_user', user, password]).then(
      () => true,
      () => false,
    ),
  );
}

async function deleteUser(user: string): Promise<void> {
  await rabbitmqctl(['delete_user', user]).catch((err: Error) => {
    if (!/not exist|no_such_user/i.test(err.message)) throw err;
  });
}

/**
 * Declares a server-named exclusive queue on a fresh channel and binds it to `exchange` with `key`, as a sender does
 * for its notifications. Resolves with the queue and the channel; rejects with the broker's reason when it refuses
 * (it then closes the channel).
 */
async function bindOwnQueue(conn: amqp.ChannelModel, exchange: string, key: string): Promise<{ queue: string; ch: amqp.Channel }> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined); // the refusal is the rejected promise below
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, exchange, key);
  return { queue, ch };
}

/** Resolves when the broker confirms; rejects with the channel's close reason if it closes the channel instead. */
function publishConfirmed(
  ch: amqp.ConfirmChannel,
  exchange: string,
  routingKey: string,
  options: amqp.Options.Publish = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    ch.once('error', onError);
    ch.publish(
      exchange,
      routingKey,
      Buffer.from('<workItem/>'),
      { persistent: true, contentType: 'application/xml', ...options },
      (err) => {
        if (err) return; // the channel 'error' carries the reason
        ch.off('error', onError);
        resolve();
      },
    );
  });
}

async function getOne(ch: amqp.Channel, queue: string, timeoutMs = 10_000): Promise<amqp.GetMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const msg = await ch.get(queue, { noAck: true });
    if (msg) return msg;
    if (Date.now() > deadline) throw new Error(`no message on ${queue} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('definitions import (RabbitMQ)', () => {
  let vhost = '';
  const sender = `it-sender-${randomBytes(4).toString('hex')}`;
  const connections: amqp.ChannelModel[] = [];

  async function connect(user?: { name: string; password: string }): Promise<amqp.ChannelModel> {
    const conn = await amqp.connect(urlFor(vhost, user));
    conn.on('error', () => undefined); // closes are asserted where they matter
    connections.push(conn);
    return conn;
  }

  beforeAll(async () => {
    vhost = await createVhost();
    const doc = buildDefinitions(topology, {
      vhost,
      exampleSender: sender,
      inboundExchange: t.inboundExchange,
      inboundLargeExchange: t.inboundLargeExchange,
      notificationsExchange: t.notificationsExchange,
    });
    await importDefinitions(doc);
    await waitFor('the imported queues, bindings and permissions', async () => {
      const [queues, bindings, topicPerms] = await Promise.all([
        listJson<{ name: string }>(['list_queues', '-p', vhost, 'name']),
        listJson<{ source_name: string }>(['list_bindings', '-p', vhost, 'source_name']),
        listJson<{ user: string }>(['list_topic_permissions', '-p', vhost]),
      ]);
      return (
        queues.length === doc.queues.length &&
        bindings.filter((b) => b.source_name !== '').length === doc.bindings.length &&
        topicPerms.filter((p) => p.user === sender).length === doc.topic_permissions.length
      );
    });
  });

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
    if (vhost) await deleteVhost(vhost);
    await deleteUser(sender);
  });

  it('creates every exchange durable and every queue durable, quorum, with the topology arguments', async () => {
    const exchanges = await listJson<{ name: string; type: string; durable: boolean; auto_delete: boolean; internal: boolean }>([
      'list_exchanges',
      '-p',
      vhost,
      'name',
      'type',
      'durable',
      'auto_delete',
      'internal',
    ]);
    for (const x of topology.exchanges) {
      expect(exchanges).toContainEqual({ name: x.name, type: x.type, durable: true, auto_delete: false, internal: false });
    }
    const queues = await listJson<{
      name: string;
      type: string;
      durable: boolean;
      auto_delete: boolean;
      arguments: [string, string, unknown][];
    }>(['list_queues', '-p', vhost, 'name', 'type', 'durable', 'auto_delete', 'arguments']);
    expect(queues.map((q) => q.name).sort()).toEqual(topology.queues.map((q) => q.name).sort());
    for (const spec of topology.queues) {
      const q = queues.find((x) => x.name === spec.name)!;
      expect(q).toMatchObject({ type: 'quorum', durable: true, auto_delete: false });
      expect(Object.fromEntries(q.arguments.map(([k, , v]) => [k, v]))).toEqual(spec.arguments);
    }
  });

  it('binds the queues as the topology does', async () => {
    const bindings = await listJson<{ source_name: string; destination_name: string; routing_key: string }>([
      'list_bindings',
      '-p',
      vhost,
      'source_name',
      'destination_name',
      'routing_key',
    ]);
    for (const q of topology.queues) {
      for (const b of q.bindings) {
        expect(bindings).toContainEqual({ source_name: b.exchange, destination_name: q.name, routing_key: b.routingKey });
      }
    }
  });

  it('accepts the service re-asserting the whole topology with the same arguments (no PRECONDITION_FAILED)', async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const errors: Error[] = [];
    ch.on('error', (err: Error) => errors.push(err));
    for (const x of topology.exchanges) {
      await ch.assertExchange(x.name, x.type, { durable: true, autoDelete: false });
    }
    for (const q of topology.queues) {
      const ok = await ch.assertQueue(q.name, { durable: true, arguments: q.arguments });
      expect(ok.queue).toBe(q.name);
      for (const b of q.bindings) await ch.bindQueue(q.name, b.exchange, b.routingKey);
    }
    expect(errors).toEqual([]);
    await ch.close();
  });

  it('would notice a mismatch: a declare with other arguments is refused', async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    const inbound = topology.queues.find((q) => q.name === t.inboundQueue)!;
    await expect(
      ch.assertQueue(inbound.name, { durable: true, arguments: { ...inbound.arguments, 'x-delivery-limit': 5 } }),
    ).rejects.toThrow(/PRECONDITION_FAILED/);
  });

  it('dead-letters an expired parked message back into the inbound queue (quorum, DLX "", per-message TTL)', async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    await ch.purgeQueue(t.inboundQueue);
    const parked = parkedQueueName(cfg, Object.keys(cfg.entrances)[0]);
    await publishConfirmed(ch, '', parked, { expiration: '100', messageId: 'parked-1' });
    const msg = await getOne(ch, t.inboundQueue);
    expect(msg.properties.messageId).toBe('parked-1');
    expect(msg.fields.routingKey).toBe(t.inboundQueue);
    const death = (msg.properties.headers?.['x-death'] as { queue: string; reason: string }[])[0];
    expect(death).toMatchObject({ queue: parked, reason: 'expired' });
    await ch.close();
  });

  describe('the example sender', () => {
    const password = randomBytes(12).toString('hex');

    it('cannot sign in as shipped: it has no password', async () => {
      await expect(amqp.connect(urlFor(vhost, { name: sender, password: '' }))).rejects.toThrow(/ACCESS_REFUSED|403/);
      await expect(amqp.connect(urlFor(vhost, { name: sender, password: 'guest' }))).rejects.toThrow(/ACCESS_REFUSED|403/);
    });

    describe('with a password set by an operator', () => {
      beforeAll(async () => {
        // As an operator would ship it: a password hash in a definitions file (also checks rabbitPasswordHash).
        await importPassword(sender, password);
      });

      it('publishes with its own routing key to the inbound exchange', async () => {
        const admin = await (await connect()).createChannel();
        await admin.purgeQueue(t.inboundQueue);
        const ch = await (await connect({ name: sender, password })).createConfirmChannel();
        await publishConfirmed(ch, t.inboundExchange, `workitem.${sender}`, { mandatory: true, messageId: 'own-key' });
        const msg = await getOne(admin, t.inboundQueue);
        expect(msg.properties.messageId).toBe('own-key');
        expect(msg.fields.routingKey).toBe(`workitem.${sender}`);
      });

      it('publishes with its own routing key to the large-item exchange, straight into the large-item queue (contract 1.2)', async () => {
        const admin = await (await connect()).createChannel();
        await admin.purgeQueue(t.largeQueue);
        const ch = await (await connect({ name: sender, password })).createConfirmChannel();
        await publishConfirmed(ch, t.inboundLargeExchange, `workitem.${sender}`, { mandatory: true, messageId: 'own-key-large' });
        const msg = await getOne(admin, t.largeQueue);
        expect(msg.properties.messageId).toBe('own-key-large');
        expect(msg.fields).toMatchObject({ exchange: t.inboundLargeExchange, routingKey: `workitem.${sender}` });
      });

      it.each([
        ['inbound', t.inboundExchange],
        ['large-item', t.inboundLargeExchange],
      ])("is refused another source's routing key on the %s exchange (topic permission)", async (_n, exchange) => {
        const ch = await (await connect({ name: sender, password })).createConfirmChannel();
        await expect(publishConfirmed(ch, exchange, 'workitem.other-bank')).rejects.toThrow(/ACCESS_REFUSED/);
      });

      it('binds a server-named exclusive queue to workitem.notifications with each of its own keys, and gets its notifications (1.2)', async () => {
        const conn = await connect({ name: sender, password });
        const events = ['routed', 'buffered', 'held', 'resumed', 'ended', 'cancelled', 'expired', 'overdue'];
        const { queue, ch } = await bindOwnQueue(conn, t.notificationsExchange, `ended.${sender}`);
        expect(queue).toMatch(/^amq\.gen-/);
        for (const event of events) await ch.bindQueue(queue, t.notificationsExchange, `${event}.${sender}`);
        // What the service would publish: its own source's notifications reach the queue, another source's do not.
        const service = await (await connect()).createConfirmChannel();
        await publishConfirmed(service, t.notificationsExchange, `held.other-source`, { messageId: 'not-mine' });
        await publishConfirmed(service, t.notificationsExchange, `ended.${sender}`, { messageId: 'mine' });
        const msg = await getOne(ch, queue);
        expect({ messageId: msg.properties.messageId, routingKey: msg.fields.routingKey }).toEqual({
          messageId: 'mine',
          routingKey: `ended.${sender}`,
        });
        expect(await ch.get(queue, { noAck: true })).toBe(false);
        await ch.close();
      });

      it.each([
        ['another source', 'ended.other-source'],
        ['every key', '#'],
        ['a wildcard for its own source', '*.SENDER'],
        ['a multi-word wildcard for its own source', '#.SENDER'],
        ['all of one event', 'ended.#'],
        ['any two words', '*.*'],
        ['its source alone', 'SENDER'],
      ])('is refused a notifications binding with %s (%s): 403 ACCESS_REFUSED, channel closed', async (_what, pattern) => {
        const key = pattern.replace('SENDER', sender);
        const conn = await connect({ name: sender, password });
        const ch = await conn.createChannel();
        const closed = new Promise<void>((resolve) => ch.once('close', () => resolve()));
        ch.on('error', () => undefined);
        const { queue } = await ch.assertQueue('', { exclusive: true });
        await expect(ch.bindQueue(queue, t.notificationsExchange, key)).rejects.toThrow(
          new RegExp(
            `403 \\(ACCESS-REFUSED\\).*access to topic '${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' in exchange '${t.notificationsExchange}'`,
          ),
        );
        await closed;
      });

      it('may not publish notifications, nor bind to another exchange (1.2)', async () => {
        const conn = await connect({ name: sender, password });
        const pub = await conn.createConfirmChannel();
        await expect(publishConfirmed(pub, t.notificationsExchange, `ended.${sender}`)).rejects.toThrow(/ACCESS_REFUSED/);
        for (const exchange of [t.receiptsExchange, t.eventsExchange, t.inboundExchange]) {
          await expect(bindOwnQueue(conn, exchange, `accepted.${sender}`)).rejects.toThrow(
            new RegExp(`ACCESS_REFUSED - access to exchange '${exchange.replace(/\./g, '\\.')}'`),
          );
        }
      });

      it('is refused any other exchange, and declaring (a named queue) or reading queues', async () => {
        const conn = await connect({ name: sender, password });
        const pub = await conn.createConfirmChannel();
        await expect(publishConfirmed(pub, t.eventsExchange, 'contact.created.loans')).rejects.toThrow(/ACCESS_REFUSED/);
        const declare = await conn.createChannel();
        declare.on('error', () => undefined);
        await expect(declare.assertQueue(`${sender}.receipts`, { durable: true })).rejects.toThrow(/ACCESS_REFUSED/);
        const read = await conn.createChannel();
        read.on('error', () => undefined);
        await expect(read.get(t.inboundQueue)).rejects.toThrow(/ACCESS_REFUSED/);
      });
    });

    describe('with the wider read permission an operator may choose instead, ^([a-z]+|\\*)\\.<source>$ (docs/operators.md)', () => {
      const wide = `it-wide-${randomBytes(4).toString('hex')}`;
      const widePassword = randomBytes(12).toString('hex');

      beforeAll(async () => {
        const doc: DefinitionsDocument = buildDefinitions(topology, {
          vhost,
          exampleSender: wide,
          inboundExchange: t.inboundExchange,
          inboundLargeExchange: t.inboundLargeExchange,
          notificationsExchange: t.notificationsExchange,
        });
        const topicPermissions = doc.topic_permissions.map((p) =>
          p.exchange === t.notificationsExchange ? { ...p, read: p.read.replace('^[a-z]+', '^([a-z]+|\\*)') } : p,
        );
        expect(topicPermissions.find((p) => p.exchange === t.notificationsExchange)?.read).toBe(`^([a-z]+|\\*)\\.${wide}$`);
        await importDefinitions({ ...doc, topic_permissions: topicPermissions, exchanges: [], queues: [], bindings: [] });
        await importPassword(wide, widePassword);
      });

      afterAll(async () => {
        await deleteUser(wide);
      });

      it('binds *.<source> and gets every notification of its own source; # and other sources are still refused', async () => {
        const conn = await connect({ name: wide, password: widePassword });
        const { queue, ch } = await bindOwnQueue(conn, t.notificationsExchange, `*.${wide}`);
        const service = await (await connect()).createConfirmChannel();
        await publishConfirmed(service, t.notificationsExchange, `ended.${sender}`, { messageId: 'not-mine' });
        await publishConfirmed(service, t.notificationsExchange, `overdue.${wide}`, { messageId: 'mine' });
        expect((await getOne(ch, queue)).properties.messageId).toBe('mine');
        expect(await ch.get(queue, { noAck: true })).toBe(false);
        for (const key of ['#', `#.${wide}`, `*.${sender}`, `ended.${sender}`, '*.*']) {
          await expect(bindOwnQueue(conn, t.notificationsExchange, key)).rejects.toThrow(/403 \(ACCESS-REFUSED\)/);
        }
      });
    });
  });
});
