import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DiagnosticSeverity, Parser, fromFile } from '@asyncapi/parser';
import { CONTROL_ROUTING_KEYS, DEAD_LETTERED_ROUTING_KEY, buildTopology, parkedQueueName } from '../../../src/adapters/rabbitmq/topology';
import { fileConfigSchema } from '../../../src/config/config-schema';
import { ERROR_CODES } from '../../../src/domain/error-codes';
import { CONTROL_EVENT_DEFS } from '../../helpers/event-schemas';

/**
 * asyncapi.yaml parses and validates with @asyncapi/parser (AsyncAPI 3.0, AMQP 0-9-1 bindings), and says what the
 * topology says: every exchange, queue (with its arguments and bindings) and routing key of buildTopology — the
 * topology as data, the one the service asserts and rabbitmq/definitions.json is generated from — and the routing
 * keys the service publishes with.
 */
const ROOT = path.resolve(__dirname, '../../..');
const cfg = fileConfigSchema.parse({ entrances: { loans: {}, support: {}, 'mortgages.v2': {} } });
const topology = buildTopology({
  topology: cfg.topology,
  entrances: Object.fromEntries(Object.keys(cfg.entrances).map((e) => [e, {}])) as never,
});
const t = cfg.topology;

interface AmqpChannelBinding {
  is: 'queue' | 'routingKey';
  exchange?: { name: string; type: string; durable?: boolean; autoDelete?: boolean };
  queue?: { name: string; durable?: boolean; exclusive?: boolean; autoDelete?: boolean };
  'x-arguments'?: Record<string, unknown>;
  'x-bindings'?: { exchange: string; routingKey: string }[];
}
interface ChannelJson {
  address: string;
  parameters?: Record<string, { enum?: string[] }>;
  messages?: Record<string, { name?: string; payload?: { title?: string }; 'x-xsd'?: { schema: string; element: string } }>;
  bindings?: { amqp?: AmqpChannelBinding };
}
interface Channel extends ChannelJson {
  id: string;
  amqp: AmqpChannelBinding;
}

interface OperationJson {
  action: 'send' | 'receive';
  channel: { address?: string };
  messages?: { name?: string }[];
}

let channels: Channel[];
let operations: Record<string, OperationJson>;
let info: { version: string };

beforeAll(async () => {
  const { document, diagnostics } = await fromFile(new Parser(), path.join(ROOT, 'asyncapi.yaml')).parse();
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map((d) => `${d.path.join('.')}: ${d.message}`);
  expect(errors).toEqual([]);
  if (!document) throw new Error('asyncapi.yaml did not parse');
  const json = document.json() as unknown as {
    asyncapi: string;
    info: { version: string };
    channels: Record<string, ChannelJson>;
    operations: Record<string, OperationJson>;
  };
  expect(json.asyncapi).toMatch(/^3\.0\./);
  info = json.info;
  operations = json.operations;
  channels = Object.entries(json.channels).map(([id, c]) => {
    if (!c.bindings?.amqp) throw new Error(`channel ${id} has no amqp binding`);
    return { id, ...c, amqp: c.bindings.amqp };
  });
});

/** A channel address with {parameters} as a pattern: `workitem.parked.{entrance}` matches `workitem.parked.loans`. */
function addressMatches(address: string, name: string): boolean {
  const pattern = address
    .split(/\{[^}]+\}/)
    .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
    .join('.+');
  return new RegExp(`^${pattern}$`).test(name);
}

const onExchange = (exchange: string): Channel[] =>
  channels.filter((c) => c.amqp.is === 'routingKey' && c.amqp.exchange?.name === exchange);
const queueChannel = (name: string): Channel | undefined =>
  channels.find((c) => c.amqp.is === 'queue' && c.amqp.queue && addressMatches(c.amqp.queue.name, name) && addressMatches(c.address, name));

describe('asyncapi.yaml', () => {
  it('names every exchange of the topology with its type, durable', () => {
    for (const ex of topology.exchanges) {
      const found = onExchange(ex.name);
      expect({ exchange: ex.name, channels: found.length }).toEqual({ exchange: ex.name, channels: expect.any(Number) });
      expect(found.length).toBeGreaterThan(0);
      for (const c of found) expect(c.amqp.exchange).toMatchObject({ type: ex.type, durable: true, autoDelete: false });
    }
    const named = new Set(channels.flatMap((c) => (c.amqp.exchange ? [c.amqp.exchange.name] : [])));
    expect([...named].filter((n) => n !== '').sort()).toEqual(topology.exchanges.map((e) => e.name).sort());
  });

  it('names every queue of the topology (parked ones as workitem.parked.{entrance}) with its arguments and bindings', () => {
    for (const q of topology.queues) {
      const c = queueChannel(q.name);
      if (!c) throw new Error(`no queue channel for ${q.name}`);
      expect(c.amqp.queue).toMatchObject({ durable: true, exclusive: false, autoDelete: false });
      expect({ queue: q.name, arguments: c.amqp['x-arguments'] }).toEqual({ queue: q.name, arguments: q.arguments });
      expect({ queue: q.name, bindings: c.amqp['x-bindings'] }).toEqual({ queue: q.name, bindings: q.bindings });
    }
    expect(queueChannel(parkedQueueName(cfg, 'loans'))?.address).toBe(`${t.parkedQueuePrefix}{entrance}`);
    // and no queue the topology does not declare
    for (const c of channels.filter((x) => x.amqp.is === 'queue')) {
      expect({ channel: c.id, declared: topology.queues.some((q) => addressMatches(c.address, q.name)) }).toEqual({
        channel: c.id,
        declared: true,
      });
    }
  });

  it('has a channel for every routing key a queue is bound with, on its exchange', () => {
    for (const q of topology.queues) {
      for (const b of q.bindings) {
        if (b.routingKey === '#') continue; // the whole exchange: its channels are checked above
        expect({
          key: b.routingKey,
          channels: onExchange(b.exchange)
            .filter((c) => c.address === b.routingKey)
            .map((c) => c.id),
        }).toEqual({
          key: b.routingKey,
          channels: [expect.any(String)],
        });
      }
    }
  });

  it('describes each control event with its body schema', () => {
    const control = onExchange(t.controlExchange);
    expect(control.map((c) => c.address).sort()).toEqual([...CONTROL_ROUTING_KEYS].sort());
    for (const c of control) {
      const messages = Object.values(c.messages ?? {});
      expect(messages.map((m) => m.name)).toEqual([c.address]);
      expect(messages[0].payload?.title).toBe(c.address);
      expect(Object.keys(CONTROL_EVENT_DEFS)).toContain(c.address);
    }
  });

  it('describes the routing keys the service publishes with', () => {
    const addresses = (exchange: string): string[] =>
      onExchange(exchange)
        .map((c) => c.address)
        .sort();
    expect(addresses(t.inboundExchange)).toEqual(['workitem.{source}']);
    const eventTypes = (
      JSON.parse(readFileSync(path.join(ROOT, 'schemas/contact-event.schema.json'), 'utf8')) as { properties: { type: { enum: string[] } } }
    ).properties.type.enum;
    expect(addresses(t.eventsExchange)).toEqual(eventTypes.map((type) => `${type}.{entrance}`).sort());
    for (const c of onExchange(t.eventsExchange)) {
      const [message] = Object.values(c.messages ?? {});
      expect(`${message.name}.{entrance}`).toBe(c.address);
      expect(message.payload?.title).toBe(message.name);
    }
    expect(addresses(t.receiptsExchange)).toEqual(['{status}.{source}']);
    expect(addresses(t.notificationsExchange)).toEqual(['{event}.{source}']);
    expect(addresses(t.errorExchange)).toEqual(['{errorCode}']);
    expect(addresses('')).toEqual(['{replyTo}']);
  });

  it('lists every receipt status and error code of the XSD, and the routing key of a dead-letter copy without a code', () => {
    const xsd = readFileSync(path.join(ROOT, 'schemas/workitem-v1.xsd'), 'utf8');
    const enumeration = (type: string): string[] => {
      const body = new RegExp(`<xs:simpleType name="${type}">([\\s\\S]*?)</xs:simpleType>`).exec(xsd)?.[1] ?? '';
      return [...body.matchAll(/<xs:enumeration value="([^"]+)"\/>/g)].map((m) => m[1]);
    };
    const param = (exchange: string, name: string): string[] | undefined => onExchange(exchange)[0]?.parameters?.[name]?.enum;
    expect(param(t.receiptsExchange, 'status')).toEqual(enumeration('ReceiptStatus'));
    // Nothing dead-letters straight to the error exchange any more: the service copies what lands in the dead-letter queue.
    expect(topology.queues.filter((q) => q.arguments['x-dead-letter-exchange'] === t.errorExchange)).toEqual([]);
    expect(param(t.errorExchange, 'errorCode')).toEqual([...enumeration('ErrorCode'), DEAD_LETTERED_ROUTING_KEY]);
    // Every code of the service's catalog is listed.
    expect(enumeration('ErrorCode')).toEqual(expect.arrayContaining([...ERROR_CODES]));
  });

  it('describes contract 1.2: hold, resume and get in, workItemInfo back, notifications on their own exchange', () => {
    expect(info.version).toBe('1.2.0');
    const messageNames = (c: Channel): string[] =>
      Object.values(c.messages ?? {})
        .map((m) => m.name ?? '')
        .sort();
    const inbound = ['cancelWorkItem', 'getWorkItem', 'holdWorkItem', 'resumeWorkItem', 'updateWorkItem', 'workItem'];
    for (const exchange of [t.inboundExchange, t.inboundLargeExchange]) {
      expect({ exchange, messages: onExchange(exchange).map(messageNames) }).toEqual({ exchange, messages: [inbound] });
    }
    for (const queue of [t.inboundQueue, t.largeQueue]) {
      expect({ queue, messages: messageNames(queueChannel(queue)!) }).toEqual({ queue, messages: inbound });
    }
    expect(messageNames(onExchange('')[0])).toEqual(['workItemInfo', 'workItemReceipt']);

    const [notifications, ...more] = onExchange(t.notificationsExchange);
    expect(more).toEqual([]);
    expect(notifications.address).toBe('{event}.{source}');
    const xsd = readFileSync(path.join(ROOT, 'schemas/workitem-v1.xsd'), 'utf8');
    const events = /<xs:simpleType name="NotificationEvent">([\s\S]*?)<\/xs:simpleType>/.exec(xsd)?.[1] ?? '';
    expect(notifications.parameters?.event?.enum).toEqual([...events.matchAll(/<xs:enumeration value="([^"]+)"\/>/g)].map((m) => m[1]));
    expect(notifications.parameters?.event?.enum).toEqual([
      'routed',
      'buffered',
      'held',
      'resumed',
      'ended',
      'cancelled',
      'expired',
      'overdue',
    ]);
    const [message] = Object.values(notifications.messages ?? {});
    expect({ name: message.name, xsd: message['x-xsd'] }).toEqual({
      name: 'workItemNotification',
      xsd: { schema: 'schemas/workitem-v1.xsd', element: 'workItemNotification' },
    });

    const op = (name: string): { action: string; address?: string; messages: string[] } => ({
      action: operations[name]?.action,
      address: operations[name]?.channel.address,
      messages: (operations[name]?.messages ?? []).map((m) => m.name ?? '').sort(),
    });
    expect(op('publishNotification')).toEqual({ action: 'send', address: '{event}.{source}', messages: ['workItemNotification'] });
    expect(op('receiveWorkItems')).toEqual({ action: 'receive', address: t.inboundQueue, messages: inbound });
    expect(op('receiveLargeWorkItems')).toEqual({ action: 'receive', address: t.largeQueue, messages: inbound });
    expect(op('sendStatusReply')).toEqual({ action: 'send', address: '{replyTo}', messages: ['workItemInfo', 'workItemReceipt'] });
  });

  it('points every XML message at a global element of schemas/workitem-v1.xsd', () => {
    const xsd = readFileSync(path.join(ROOT, 'schemas/workitem-v1.xsd'), 'utf8');
    const globals = [...xsd.matchAll(/^ {2}<xs:element name="(\w+)"/gm)].map((m) => m[1]);
    const xml = channels.flatMap((c) => Object.values(c.messages ?? {})).filter((m) => m['x-xsd']);
    expect(xml.length).toBeGreaterThan(0);
    for (const m of xml) {
      expect(m['x-xsd']!.schema).toBe('schemas/workitem-v1.xsd');
      expect(globals).toContain(m['x-xsd']!.element);
    }
    expect(new Set(xml.map((m) => m['x-xsd']!.element))).toEqual(new Set(globals));
  });
});
