import type * as amqp from 'amqplib';
import { CONTACT_ID_PATTERN } from '../../domain/work-item';
import type { InboundMessage } from '../../ports/messaging';

export const CONTACT_ID_HEADER = 'x-workitem-contact-id';
export const ENTRANCE_HEADER = 'x-workitem-entrance';
export const ORIGINAL_ROUTING_KEY_HEADER = 'x-original-routing-key';
export const ORIGINAL_EXCHANGE_HEADER = 'x-original-exchange';

/** Headers only the service itself may set; stripped from what senders send before a message moves lanes. */
export const INTERNAL_HEADERS = [CONTACT_ID_HEADER, ENTRANCE_HEADER, ORIGINAL_ROUTING_KEY_HEADER, ORIGINAL_EXCHANGE_HEADER];

/** Dead-lettered by the broker into `queue` (default exchange, routing key = the queue's name): a route senders cannot take. */
export function isDeadLetteredInto(m: amqp.Message, queue: string): boolean {
  return m.fields.exchange === '' && m.fields.routingKey === queue;
}

/**
 * Converts a delivery to plain data. Our own headers are trusted only on messages that took a route senders
 * cannot take: dead-lettered by the broker into the inbound queue (default exchange, routing key = queue
 * name), or delivered from one of our internal queues (`trusted`: the large-item lane, the park queues).
 * Senders publish through the inbound exchange only.
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
