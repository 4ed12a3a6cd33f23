import type { AppConfig } from '../../config/config';

/**
 * The broker topology as data. The service asserts it on every (re)connect, and
 * `rabbitmq/definitions.json` is generated from it (`npm run gen:definitions`), so the two never disagree.
 */
export interface ExchangeSpec {
  name: string;
  type: 'topic' | 'direct' | 'fanout';
}

export interface QueueSpec {
  name: string;
  arguments: Record<string, string | number>;
  bindings: { exchange: string; routingKey: string }[];
  /**
   * Declared by older versions with other dead-letter arguments: if the broker refuses the declare for one of
   * UPGRADABLE_QUEUE_ARGUMENTS, the queue is used as it is and a warning says how to re-create it.
   */
  upgradable?: boolean;
}

export interface Topology {
  exchanges: ExchangeSpec[];
  queues: QueueSpec[];
}

/** Routing keys of the contact center's control events the service listens to. */
export const CONTROL_ROUTING_KEYS = ['entrance.closed', 'entrance.opened', 'contact.ended', 'contact.rejected', 'server.started'];

/**
 * Quorum queues drop (or dead-letter) a message after this many redeliveries (RabbitMQ 4 defaults to 20).
 * Set explicitly everywhere. The queues we consume dead-letter (past `topology.deliveryLimit`, default 100, or when a
 * message's own `expiration` runs out there) into the dead-letter queue, which the service consumes and answers
 * (error copy, rejected receipt). The dead-letter queue itself and the error queue (browsed by `workitem errors
 * list`, which hands messages back) get a limit no operator will reach and no dead-lettering of their own: nothing
 * loops and nothing is ever dropped silently.
 */
export const ERROR_QUEUE_DELIVERY_LIMIT = 1_000_000;
export const DEAD_LETTER_QUEUE_DELIVERY_LIMIT = 1_000_000;

/**
 * Queue arguments this version changed (older versions dead-lettered straight to the error exchange with routing key
 * DELIVERY_LIMIT) or that are configurable: a queue declared with other values is kept as it is (with a warning, see
 * assertTopology), as RabbitMQ cannot change a queue's arguments and a policy does not override them.
 */
export const UPGRADABLE_QUEUE_ARGUMENTS = ['x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-delivery-limit'];

/**
 * Routing key on the error exchange of a dead-lettered message the contract has no code for (a consumer's reject, a
 * policy's length limit): copied as it came, without x-error-* headers.
 */
export const DEAD_LETTERED_ROUTING_KEY = 'DEAD_LETTERED';

export function parkedQueueName(cfg: Pick<AppConfig, 'topology'>, entrance: string): string {
  return `${cfg.topology.parkedQueuePrefix}${entrance}`;
}

export function buildTopology(cfg: Pick<AppConfig, 'topology' | 'entrances'>): Topology {
  const t = cfg.topology;
  const quorum = { 'x-queue-type': 'quorum' };
  // Expired in the queue or past the delivery limit: into the dead-letter queue (default exchange, its name as the
  // routing key: a route senders cannot take), where the service answers it.
  const deadLetterToService = {
    'x-delivery-limit': t.deliveryLimit,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': t.deadLetterQueue,
  };
  return {
    exchanges: [
      { name: t.inboundExchange, type: 'topic' },
      { name: t.inboundLargeExchange, type: 'topic' },
      { name: t.errorExchange, type: 'topic' },
      { name: t.receiptsExchange, type: 'topic' },
      { name: t.notificationsExchange, type: 'topic' },
      { name: t.eventsExchange, type: 'topic' },
      { name: t.controlExchange, type: 'topic' },
    ],
    queues: [
      {
        name: t.inboundQueue,
        arguments: { ...quorum, ...deadLetterToService },
        bindings: [{ exchange: t.inboundExchange, routingKey: '#' }],
        upgradable: true,
      },
      // Large items are moved here from the inbound queue (default exchange, the queue's name as routing key), or
      // published here by senders through the large-item exchange (contract 1.2); consumed with a small prefetch.
      {
        name: t.largeQueue,
        arguments: { ...quorum, ...deadLetterToService },
        bindings: [{ exchange: t.inboundLargeExchange, routingKey: '#' }],
        upgradable: true,
      },
      {
        name: t.errorQueue,
        arguments: { ...quorum, 'x-delivery-limit': ERROR_QUEUE_DELIVERY_LIMIT },
        bindings: [{ exchange: t.errorExchange, routingKey: '#' }],
      },
      {
        name: t.controlQueue,
        arguments: { ...quorum, ...deadLetterToService },
        bindings: CONTROL_ROUTING_KEYS.map((routingKey) => ({ exchange: t.controlExchange, routingKey })),
        upgradable: true,
      },
      // What the three queues above dead-letter; consumed by the service. No dead-lettering of its own.
      {
        name: t.deadLetterQueue,
        arguments: { ...quorum, 'x-delivery-limit': DEAD_LETTER_QUEUE_DELIVERY_LIMIT },
        bindings: [],
      },
      // Parked items wait here; each message carries its own `expiration` (park.retrySeconds), after which the
      // broker dead-letters it straight back into the inbound queue for a retry.
      ...Object.keys(cfg.entrances).map((entrance) => ({
        name: parkedQueueName(cfg, entrance),
        arguments: { ...quorum, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': t.inboundQueue },
        bindings: [],
      })),
    ],
  };
}
