import { NAME_SYNTAX } from '../domain/names';
import type { InboundMessage, ReceiptTarget } from '../ports/messaging';

/** Who published a message and where its receipt goes: read off the message itself, for every outcome. */

const SENDER_KEY = new RegExp(`^workitem\\.(${NAME_SYNTAX})$`);

/** The source a message was published as, from its routing key `workitem.<source>`; '' when the key has another form. */
export function senderOf(msg: InboundMessage): string {
  return SENDER_KEY.exec(msg.senderRoutingKey)?.[1] ?? '';
}

export function receiptTarget(msg: InboundMessage): ReceiptTarget {
  // Minimal clients set neither correlation_id nor message_id: they still get a receipt.
  return {
    replyTo: msg.properties.replyTo,
    correlationId: msg.properties.correlationId ?? msg.properties.messageId,
    sender: senderOf(msg) || undefined,
  };
}
