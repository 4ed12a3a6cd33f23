import { createHash, randomBytes } from 'node:crypto';
import type { Topology } from './topology';

/**
 * The broker topology as a RabbitMQ definitions document (`rabbitmqctl import_definitions`, the
 * management UI's import, `definitions.local.path` at boot). Pure: same topology in, same JSON out,
 * so `rabbitmq/definitions.json` can be checked against it in a unit test.
 *
 * Exchanges and queues carry exactly what the service asserts on every (re)connect (durable, not
 * auto-delete, the topology's queue arguments); anything else would make the service's declare
 * fail with PRECONDITION_FAILED.
 */

/** Oldest broker the definitions are meant for; the importer uses it only to pick a password hashing default. */
export const DEFINITIONS_RABBIT_VERSION = '3.10.0';

/** The contract's default inbound exchange; a sender may publish to it and to the large-item exchange, nowhere else. */
export const DEFAULT_INBOUND_EXCHANGE = 'workitem.inbound';

/** The contract's default large-item exchange (1.2): large items straight to their lane, same routing key. */
export const DEFAULT_INBOUND_LARGE_EXCHANGE = 'workitem.inbound.large';

/** The contract's default notifications exchange (1.2): lifecycle notifications, routing key `<event>.<source>`. */
export const DEFAULT_NOTIFICATIONS_EXCHANGE = 'workitem.notifications';

/** Senders publish with routing key `workitem.<source>` (the contract); the topic permission pins `<source>`. */
export const SENDER_ROUTING_KEY_PREFIX = 'workitem.';

/**
 * The queues a sender may declare, bind and consume: server-named ones only (`queue.declare` with an empty name; the
 * broker names them `amq.gen-…`, and a client cannot choose such a name itself). Made exclusive, as the examples do,
 * no other connection can touch them (RESOURCE_LOCKED).
 */
export const SERVER_NAMED_QUEUES = 'amq\\.gen-.*';

export const PASSWORD_HASHING_ALGORITHM = 'rabbit_password_hashing_sha256';

/** What `rabbitmq/definitions.json` is generated with (scripts/gen-definitions.js), besides the sample config. */
export const SHIPPED_DEFINITIONS_OPTIONS = { vhost: '/', exampleSender: 'bank-support' } as const;

export interface DefinitionsOptions {
  vhost: string;
  /**
   * Name of an example sender user, e.g. `bank-support`: allowed to publish to the inbound exchanges with routing key
   * `workitem.<name>` only, and to bind server-named queues of its own to the notifications exchange with the keys
   * `<event>.<name>` only. It ships without a password (`password_hash: ""`, no tags),
   * so it cannot sign in until an operator sets one: no default credentials in a shipped file.
   */
  exampleSender?: string;
  /** Defaults to the contract's `workitem.inbound`; must be one of the topology's exchanges. */
  inboundExchange?: string;
  /** Defaults to the contract's `workitem.inbound.large`; must be one of the topology's exchanges. */
  inboundLargeExchange?: string;
  /** Defaults to the contract's `workitem.notifications`; must be one of the topology's exchanges. */
  notificationsExchange?: string;
}

interface DefinitionsUser {
  name: string;
  password_hash: string;
  hashing_algorithm: string;
  tags: string[];
}

export interface DefinitionsDocument {
  rabbit_version: string;
  rabbitmq_version: string;
  users: DefinitionsUser[];
  vhosts: { name: string }[];
  permissions: { user: string; vhost: string; configure: string; write: string; read: string }[];
  topic_permissions: { user: string; vhost: string; exchange: string; write: string; read: string }[];
  parameters: never[];
  global_parameters: never[];
  policies: never[];
  exchanges: {
    name: string;
    vhost: string;
    type: string;
    durable: true;
    auto_delete: false;
    internal: false;
    arguments: Record<string, never>;
  }[];
  queues: {
    name: string;
    vhost: string;
    durable: true;
    auto_delete: false;
    arguments: Record<string, string | number>;
  }[];
  bindings: {
    source: string;
    vhost: string;
    destination: string;
    destination_type: 'queue';
    routing_key: string;
    arguments: Record<string, never>;
  }[];
}

/** Anchored regex that matches exactly `literal` (RabbitMQ permissions are regexes). */
export function exactPattern(literal: string): string {
  return `^${literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

/** Anchored regex that matches exactly one of `literals`, or (unescaped) one of `patterns`. */
export function exactPatterns(literals: string[], patterns: string[] = []): string {
  if (literals.length === 1 && patterns.length === 0) return exactPattern(literals[0]);
  return `^(${[...literals.map((l) => exactPattern(l).slice(1, -1)), ...patterns].join('|')})$`;
}

/**
 * The topic read permission that keeps a sender to its own notifications (contract 1.2): `^[a-z]+\.<source>$`.
 * RabbitMQ checks it on queue.bind against the binding key *as written*, so it admits the keys `<event>.<source>`
 * one by one; a wildcard key (`*.<source>`, `#`) is a string that does not match and is refused (ACCESS_REFUSED).
 */
export function notificationReadPattern(source: string): string {
  return `^[a-z]+\\.${exactPattern(source).slice(1, -1)}$`;
}

/**
 * RabbitMQ's `rabbit_password_hashing_sha256` format: base64(salt ‖ sha256(salt ‖ password)) with a
 * 4-byte salt. For operators who write their own users into a definitions file (scripts/rabbitmq-password-hash.js).
 */
export function rabbitPasswordHash(password: string, salt: Buffer = randomBytes(4)): string {
  if (salt.length !== 4) throw new RangeError('salt must be 4 bytes');
  const digest = createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

export function buildDefinitions(topology: Topology, opts: DefinitionsOptions): DefinitionsDocument {
  const { vhost } = opts;
  const inboundExchange = opts.inboundExchange ?? DEFAULT_INBOUND_EXCHANGE;
  const inboundLargeExchange = opts.inboundLargeExchange ?? DEFAULT_INBOUND_LARGE_EXCHANGE;
  const notificationsExchange = opts.notificationsExchange ?? DEFAULT_NOTIFICATIONS_EXCHANGE;
  for (const [what, name] of [
    ['inbound', inboundExchange],
    ['large-item', inboundLargeExchange],
    ['notifications', notificationsExchange],
  ]) {
    if (!topology.exchanges.some((x) => x.name === name)) throw new Error(`${what} exchange "${name}" is not part of the topology`);
  }
  // A sender publishes to both with the same routing key (contract 1.2). A topic permission is per exchange, and an
  // exchange without one is open to any routing key: each of the two gets its own.
  const senderExchanges = [inboundExchange, inboundLargeExchange];
  const sender = opts.exampleSender;
  return {
    rabbit_version: DEFINITIONS_RABBIT_VERSION,
    rabbitmq_version: DEFINITIONS_RABBIT_VERSION,
    users: sender ? [{ name: sender, password_hash: '', hashing_algorithm: PASSWORD_HASHING_ALGORITHM, tags: [] }] : [],
    vhosts: [{ name: vhost }],
    // A sender may publish to the inbound and large-item exchanges, and have server-named queues of its own (for
    // receipts and notifications): declaring one needs configure on it, queue.bind needs write on the queue and read
    // on the exchange, consuming read on the queue. Nothing else: no named queue, no other exchange.
    permissions: sender
      ? [
          {
            user: sender,
            vhost,
            configure: `^${SERVER_NAMED_QUEUES}$`,
            write: exactPatterns(senderExchanges, [SERVER_NAMED_QUEUES]),
            read: exactPatterns([notificationsExchange], [SERVER_NAMED_QUEUES]),
          },
        ]
      : [],
    // Topic permissions pin the routing keys: it publishes only as its own source, so the broker stops it submitting
    // (or cancelling) as another source, and binds only to its own notifications.
    topic_permissions: sender
      ? [
          ...senderExchanges.map((exchange) => ({
            user: sender,
            vhost,
            exchange,
            write: exactPattern(`${SENDER_ROUTING_KEY_PREFIX}${sender}`),
            read: '^$',
          })),
          { user: sender, vhost, exchange: notificationsExchange, write: '^$', read: notificationReadPattern(sender) },
        ]
      : [],
    parameters: [],
    global_parameters: [],
    // None on purpose. Queue arguments already say everything the service relies on, and where a policy and
    // an argument both set a key the argument wins (or the stricter value does), so a policy here would only
    // be a second, possibly contradicting, source of truth. A policy that adds a limit (max-length, a lower
    // delivery-limit, message-ttl) would drop or dead-letter work items behind the service's back.
    policies: [],
    exchanges: topology.exchanges.map((x) => ({
      name: x.name,
      vhost,
      type: x.type,
      durable: true as const,
      auto_delete: false as const,
      internal: false as const,
      arguments: {},
    })),
    queues: topology.queues.map((q) => ({
      name: q.name,
      vhost,
      durable: true as const,
      auto_delete: false as const,
      arguments: { ...q.arguments },
    })),
    bindings: topology.queues.flatMap((q) =>
      q.bindings.map((b) => ({
        source: b.exchange,
        vhost,
        destination: q.name,
        destination_type: 'queue' as const,
        routing_key: b.routingKey,
        arguments: {},
      })),
    ),
  };
}

/** The file form: stable key order, two-space indent, trailing newline, so regenerating gives no diff. */
export function renderDefinitions(doc: DefinitionsDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
