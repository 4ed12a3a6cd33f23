import type { ContactEvent } from '../domain/contact-event';
import type { Notification } from '../domain/notification';
import type { WorkItemError } from '../domain/error-codes';
import type { ItemInfo, ReceiptData } from '../domain/receipt';

/** What the application asks of an inbound delivery once it is done with it: settled (ack) or tried again later. */
export type Settlement = 'ack' | 'requeue';

/** A delivered message as the application sees it: plain data, no channel, no ack. */
export interface InboundMessage {
  body: Buffer;
  exchange: string;
  routingKey: string;
  /** The routing key the sender published with (`workitem.<source>`), also for a message back from parking. */
  senderRoutingKey: string;
  /** The exchange the sender published to (kept when the message moved lanes). */
  senderExchange: string;
  redelivered: boolean;
  /** Set when the message is one of our own parked messages, dead-lettered back for a retry. */
  parked?: { contactId: string; entrance: string };
  /**
   * Set when the broker dead-lettered the message before the service settled it (from the dead-letter queue): what
   * it was then (`exchange`, `routingKey` and the sender's are the ones it had in that queue).
   */
  deadLettered?: DeadLettered;
  properties: {
    replyTo?: string;
    correlationId?: string;
    messageId?: string;
    contentType?: string;
    headers: Record<string, unknown>;
    /** The other standard properties as sent, so an error copy or a parked message keeps them all. */
    other: OtherProperties;
  };
}

/**
 * Why and where the broker dead-lettered a message. `expired`: its own `expiration` ran out in the queue;
 * `delivery_limit`: delivered as often as the queue allows without being settled; `rejected` / `maxlen`: a consumer
 * rejected it, or a length limit pushed it out (neither of which the service's own topology does); `unknown`: no
 * death record.
 */
export interface DeadLettered {
  reason: 'expired' | 'delivery_limit' | 'rejected' | 'maxlen' | 'unknown';
  /** The queue it died in. */
  queue: string;
  /** What that queue holds: senders' work items (inbound, large-item lane), control events, or neither. */
  holds: 'workItems' | 'controlEvents' | 'other';
  /** `expired`: the expiration (ms) the message was published with. */
  expiration?: string;
}

/** AMQP 0-9-1's remaining basic properties (plain values: no broker library's types in the port). */
export interface OtherProperties {
  contentEncoding?: string;
  deliveryMode?: number;
  priority?: number;
  expiration?: string;
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
}

/** Thrown when the broker or Redis could not confirm a step: the message is retried, never rejected. */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/**
 * confirmed: the broker took it. returned: no queue took a `mandatory` message (nobody listens). refused: the broker
 * nacked it (a queue full with `x-overflow: reject-publish`); only contact events take that as an outcome.
 */
export type PublishOutcome = 'confirmed' | 'returned' | 'refused';
/** A publish that is not `refusable` (a nack throws): confirmed or returned. */
export type DeliveryOutcome = Exclude<PublishOutcome, 'refused'>;

export interface ReceiptTarget {
  replyTo?: string;
  correlationId?: string;
  /**
   * The source the message was published as (routing key `workitem.<source>`): the receipts-exchange copy goes to
   * `<status>.<sender>`, so a sender sees its rejections even when its XML names no (or another) source.
   */
  sender?: string;
}

/** An answer to a request (status query): the item's info, or a rejected receipt (NOT_FOUND). */
export type Reply = { type: 'workItemInfo'; info: ItemInfo } | { type: 'workItemReceipt'; receipt: ReceiptData };

export interface Messaging {
  /**
   * Confirmed + mandatory. `returned`: no queue took it (nobody listens for that entrance); `refused`: the broker
   * nacked it (the contact center's queue is full). Either way the event is not delivered: a contact.created or
   * contact.updated parks its item ("cannot be placed"); a contact.withdrawn or contact.expired is retried.
   */
  publishEvent(event: ContactEvent): Promise<PublishOutcome>;
  /**
   * A lifecycle notification to the notifications exchange (`<event>.<source>`, persistent, message_id = its id).
   * Resolves once the broker confirmed it (nobody bound is fine); throws when it did not.
   */
  publishNotification(n: Notification): Promise<void>;
  /** To reply_to (if any) and the receipts exchange. A missing reply queue is logged and counted, never thrown. */
  sendReceipt(target: ReceiptTarget, receipt: ReceiptData): Promise<void>;
  /**
   * A reply to reply_to only (a status query's answer): no copy on the receipts exchange. A missing reply queue is
   * logged and counted like a receipt's, never thrown.
   */
  sendReply(target: ReceiptTarget & { replyTo: string }, reply: Reply): Promise<void>;
  /** A copy of a rejected message on the error queue, with the x-error-* headers and the message's own properties. */
  publishErrorCopy(msg: InboundMessage, error: WorkItemError): Promise<void>;
  /**
   * A dead-lettered message the contract has no code for (see DeadLettered): on the error queue as it came, without
   * x-error-* headers, routing key DEAD_LETTERED.
   */
  publishDeadLetterCopy(msg: InboundMessage): Promise<void>;
  /** The error-queue copy of an item with no message at hand (rebuilt from the store): `body` with the x-error-* headers. */
  publishRecordErrorCopy(body: Buffer, error: WorkItemError): Promise<void>;
  /**
   * Parks a message for its entrance, with its body and properties; it comes back through the inbound queue after
   * the retry TTL.
   */
  park(entrance: string, contactId: string, msg: InboundMessage): Promise<void>;
  /** Parks an item with no message at hand (rebuilt from the store: contact.rejected, unroutable, activation) as `body`. */
  parkRecord(entrance: string, contactId: string, body: Buffer): Promise<void>;
  /**
   * Takes up to `max` parked messages of an entrance, oldest first, handing each to `fn` before acking it. Only
   * the messages in the queue when it starts (never one `fn` parked again meanwhile); stops after the first for
   * which `fn` answers 'stop'. Returns how many it took.
   */
  drainParked(entrance: string, max: number, fn: (msg: InboundMessage) => Promise<'next' | 'stop'>): Promise<number>;
}
