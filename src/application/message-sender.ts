import { createHash } from 'node:crypto';
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

/**
 * What makes a hold or resume "the same message again": its message_id (when set) and its body, hashed. sameAgain: a
 * message carrying the item's last such id is that message again when it is a redelivery or has a message_id (a
 * sender's publish retry); without a message_id a sender may send the same body again on purpose.
 */
export function messageIdentity(msg: InboundMessage): { id: string; sameAgain: boolean } {
  const messageId = msg.properties.messageId;
  const id = createHash('sha256')
    .update(`${messageId ?? ''}\n`)
    .update(msg.body)
    .digest('hex')
    .slice(0, 32);
  return { id, sameAgain: msg.redelivered || messageId !== undefined };
}
