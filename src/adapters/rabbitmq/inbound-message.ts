import type * as amqp from 'amqplib';
import { CONTACT_ID_PATTERN } from '../../domain/work-item';
import type { InboundMessage } from '../../ports/messaging';

export const CONTACT_ID_HEADER = 'x-workitem-contact-id';
export const ENTRANCE_HEADER = 'x-workitem-entrance';
export const ORIGINAL_ROUTING_KEY_HEADER = 'x-original-routing-key';

/**
 * Converts a delivery to plain data. A message counts as one of our parked messages only when the broker
 * itself dead-lettered it into the inbound queue (default exchange, routing key = queue name): senders
 * publish through the inbound exchange, so they cannot fake that route.
 */
export function toInboundMessage(m: amqp.Message, inboundQueue?: string): InboundMessage {
  const p = m.properties;
  const headers: Record<string, unknown> = { ...(p.headers ?? {}) };
  const fromParking = inboundQueue !== undefined && m.fields.exchange === '' && m.fields.routingKey === inboundQueue;
  const cid = headers[CONTACT_ID_HEADER];
  const entrance = headers[ENTRANCE_HEADER];
  const origKey = headers[ORIGINAL_ROUTING_KEY_HEADER];
  const trustedParked =
    (fromParking || inboundQueue === undefined) &&
    typeof cid === 'string' &&
    CONTACT_ID_PATTERN.test(cid) &&
    typeof entrance === 'string';
  return {
    body: m.content,
    exchange: m.fields.exchange,
    routingKey: m.fields.routingKey,
    senderRoutingKey: trustedParked && typeof origKey === 'string' ? origKey : m.fields.routingKey,
    redelivered: m.fields.redelivered,
    parked: trustedParked ? { contactId: cid as string, entrance: entrance as string } : undefined,
    properties: {
      replyTo: p.replyTo || undefined,
      correlationId: p.correlationId || undefined,
      messageId: p.messageId || undefined,
      contentType: p.contentType || undefined,
      headers,
      raw: { ...p },
    },
  };
}
