import type * as amqp from 'amqplib';
import { CONTACT_ID_PATTERN } from '../../domain/work-item';
import type { DeadLettered, InboundMessage } from '../../ports/messaging';

export const CONTACT_ID_HEADER = 'x-workitem-contact-id';
export const ENTRANCE_HEADER = 'x-workitem-entrance';
export const ORIGINAL_ROUTING_KEY_HEADER = 'x-original-routing-key';
export const ORIGINAL_EXCHANGE_HEADER = 'x-original-exchange';

/** Headers only the service itself may set; stripped from what senders send before a message moves lanes. */
export const INTERNAL_HEADERS = [CONTACT_ID_HEADER, ENTRANCE_HEADER, ORIGINAL_ROUTING_KEY_HEADER, ORIGINAL_EXCHANGE_HEADER];

/**
 * Dead-lettered by the broker (or moved by the service) into `queue`: default exchange, routing key = the queue's name,
 * a route senders cannot take.
 */
export function isDeadLetteredInto(m: amqp.Message, queue: string): boolean {
  return m.fields.exchange === '' && m.fields.routingKey === queue;
}

/**
 * A delivery of the large-item queue. Moved there by the service (default exchange, routing key = the queue's name: a
 * route senders cannot take), its headers are ours and trusted, as they were when it was moved. Published there by a
 * sender through the large-item exchange (contract 1.2), it is a sender's message like one on the inbound exchange:
 * our internal headers are dropped (as a move drops them) and the sender's routing key and exchange are the delivery's.
 */
export function toLargeLaneMessage(m: amqp.Message, queues: { inboundQueue: string; largeQueue: string }): InboundMessage {
  if (isDeadLetteredInto(m, queues.largeQueue)) return toInboundMessage(m, queues.inboundQueue, true);
  const headers: Record<string, unknown> = { ...(m.properties.headers ?? {}) };
  for (const h of INTERNAL_HEADERS) delete headers[h];
  return toInboundMessage({ ...m, properties: { ...m.properties, headers } }, queues.inboundQueue, false);
}

/**
 * Converts a delivery to plain data. Our own headers are trusted only on messages that took a route senders
 * cannot take: dead-lettered by the broker into the inbound queue (default exchange, routing key = queue
 * name), or delivered from one of our internal queues (`trusted`: what the service moved to the large-item lane, see
 * toLargeLaneMessage; the park queues). Senders publish through the inbound and large-item exchanges only.
 */
export function toInboundMessage(m: amqp.Message, inboundQueue?: string, trusted = false): InboundMessage {
  const p = m.properties;
  const headers: Record<string, unknown> = { ...(p.headers ?? {}) };
  const fromParking = trusted || (inboundQueue !== undefined && isDeadLetteredInto(m, inboundQueue));
  const cid = headers[CONTACT_ID_HEADER];
  const entrance = headers[ENTRANCE_HEADER];
  const origKey = headers[ORIGINAL_ROUTING_KEY_HEADER];
  const origExchange = headers[ORIGINAL_EXCHANGE_HEADER];
  const trustedParked =
    (fromParking || inboundQueue === undefined) && typeof cid === 'string' && CONTACT_ID_PATTERN.test(cid) && typeof entrance === 'string';
  const trustOrigKey = (trustedParked || trusted) && typeof origKey === 'string';
  return {
    body: m.content,
    exchange: m.fields.exchange,
    routingKey: m.fields.routingKey,
    senderRoutingKey: trustOrigKey ? (origKey as string) : m.fields.routingKey,
    senderExchange: trustOrigKey && typeof origExchange === 'string' ? origExchange : m.fields.exchange,
    redelivered: m.fields.redelivered,
    parked: trustedParked ? { contactId: cid as string, entrance: entrance as string } : undefined,
    properties: {
      replyTo: p.replyTo || undefined,
      correlationId: p.correlationId || undefined,
      messageId: p.messageId || undefined,
      contentType: p.contentType || undefined,
      headers,
      other: {
        contentEncoding: p.contentEncoding,
        deliveryMode: p.deliveryMode,
        priority: p.priority,
        expiration: p.expiration,
        timestamp: p.timestamp,
        type: p.type,
        userId: p.userId,
        appId: p.appId,
        clusterId: p.clusterId,
      },
    },
  };
}

const DEATH_REASONS: readonly DeadLettered['reason'][] = ['expired', 'delivery_limit', 'rejected', 'maxlen'];

/**
 * A delivery from the dead-letter queue, as the message was in the queue it died in. The broker's `x-death` header
 * lists one entry per queue and reason, the most recent first (a parked message that comes back and then reaches
 * the delivery limit has two: `delivery_limit` in the inbound queue, then `expired` in its park queue; the
 * `x-first-death-*` headers name the park queue, so they are not read). Each entry names the queue, the exchange and
 * routing keys the message had there, and, for `expired`, its `original-expiration`.
 */
export function toDeadLetteredMessage(
  m: amqp.Message,
  queues: { inboundQueue: string; largeQueue: string; controlQueue: string },
): InboundMessage {
  const death = latestDeath(m.properties.headers);
  const queue = typeof death?.queue === 'string' ? death.queue : '';
  const routingKeys = Array.isArray(death?.['routing-keys']) ? death['routing-keys'] : [];
  const asItWas: amqp.Message = {
    ...m,
    fields: {
      ...m.fields,
      exchange: typeof death?.exchange === 'string' ? death.exchange : m.fields.exchange,
      routingKey: typeof routingKeys[0] === 'string' ? routingKeys[0] : m.fields.routingKey,
    },
  };
  // From the large-item lane: trusted if the service moved it there, not if a sender published it there (as when consumed).
  const msg = queue === queues.largeQueue ? toLargeLaneMessage(asItWas, queues) : toInboundMessage(asItWas, queues.inboundQueue);
  const reason = DEATH_REASONS.find((r) => r === death?.reason) ?? 'unknown';
  const holds =
    queue === queues.inboundQueue || queue === queues.largeQueue ? 'workItems' : queue === queues.controlQueue ? 'controlEvents' : 'other';
  const expiration = death?.['original-expiration'];
  return {
    ...msg,
    deadLettered: { reason, queue, holds, ...(typeof expiration === 'string' && { expiration }) },
  };
}

function latestDeath(headers: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const deaths = headers?.['x-death'];
  if (!Array.isArray(deaths) || deaths.length === 0) return undefined;
  const first: unknown = deaths[0];
  return first !== null && typeof first === 'object' ? (first as Record<string, unknown>) : undefined;
}
