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
}

export interface Topology {
  exchanges: ExchangeSpec[];
  queues: QueueSpec[];
}

/** Routing keys of the contact center's control events the service listens to. */
export const CONTROL_ROUTING_KEYS = ['entrance.closed', 'entrance.opened', 'contact.ended', 'contact.rejected', 'server.started'];

/**
 * Quorum queues drop (or dead-letter) a message after this many redeliveries (RabbitMQ 4 defaults to 20).
 * Set explicitly everywhere: the queues we consume dead-letter to the error exchange past it, and the
 * error queue itself (browsed by `workitem errors list`, which hands messages back) gets a limit no
 * operator will reach, so nothing is ever dropped silently.
 */
export const INBOUND_DELIVERY_LIMIT = 100;
export const ERROR_QUEUE_DELIVERY_LIMIT = 1_000_000;

export function parkedQueueName(cfg: Pick<AppConfig, 'topology'>, entrance: string): string {
  return `${cfg.topology.parkedQueuePrefix}${entrance}`;
}

export function buildTopology(cfg: Pick<AppConfig, 'topology' | 'entrances'>): Topology {
  const t = cfg.topology;
  const quorum = { 'x-queue-type': 'quorum' };
  const poisonToErrors = {
    'x-delivery-limit': INBOUND_DELIVERY_LIMIT,
    'x-dead-letter-exchange': t.errorExchange,
    'x-dead-letter-routing-key': 'DELIVERY_LIMIT',
  };
  return {
    exchanges: [
      { name: t.inboundExchange, type: 'topic' },
      { name: t.errorExchange, type: 'topic' },
      { name: t.receiptsExchange, type: 'topic' },
      { name: t.eventsExchange, type: 'topic' },
      { name: t.controlExchange, type: 'topic' },
    ],
    queues: [
      {
        name: t.inboundQueue,
        arguments: { ...quorum, ...poisonToErrors },
        bindings: [{ exchange: t.inboundExchange, routingKey: '#' }],
      },
      // Large items are moved here from the inbound queue and consumed with a small prefetch.
      { name: t.largeQueue, arguments: { ...quorum, ...poisonToErrors }, bindings: [] },
      {
        name: t.errorQueue,
        arguments: { ...quorum, 'x-delivery-limit': ERROR_QUEUE_DELIVERY_LIMIT },
        bindings: [{ exchange: t.errorExchange, routingKey: '#' }],
      },
      {
        name: t.controlQueue,
        arguments: { ...quorum, ...poisonToErrors },
        bindings: CONTROL_ROUTING_KEYS.map((routingKey) => ({ exchange: t.controlExchange, routingKey })),
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
