import type { ContactEvent } from '../../../../src/domain/contact-event';
import type { WorkItemError } from '../../../../src/domain/error-codes';
import type { Notification } from '../../../../src/domain/notification';
import type { ReceiptData } from '../../../../src/domain/receipt';
import {
  TransientError,
  type InboundMessage,
  type Messaging,
  type PublishOutcome,
  type ReceiptTarget,
  type Reply,
} from '../../../../src/ports/messaging';

type Operation = 'publishEvent' | 'sendReceipt' | 'sendReply' | 'publishErrorCopy' | 'park' | 'publishNotification';

/**
 * Records what the use cases publish. Every entrance has a listener unless `noListener` names it (its events come back
 * `returned`, as from a mandatory publish nobody's queue took). `failing` operations throw TransientError (the broker
 * did not confirm) and record nothing. `park` puts a parked message into the entrance's park queue, the way the broker
 * gives it back after its TTL: `takeParked` delivers the oldest, `drainParked` takes what is there when it starts.
 */
export class RecordingMessaging implements Messaging {
  /** Confirmed events, in publish order. */
  readonly events: ContactEvent[] = [];
  /** Events nobody took. */
  readonly returned: ContactEvent[] = [];
  readonly receipts: { target: ReceiptTarget; receipt: ReceiptData }[] = [];
  /** Confirmed lifecycle notifications, in publish order (one published again appears again). */
  readonly notifications: Notification[] = [];
  /** Replies to reply_to only (status queries), never copied to the receipts exchange. */
  readonly replies: { target: ReceiptTarget & { replyTo: string }; reply: Reply }[] = [];
  /** msg: the message the copy was made of (absent for a copy rebuilt from the store's record). */
  readonly errorCopies: { body: Buffer; error: WorkItemError; msg?: InboundMessage }[] = [];
  /** Dead-lettered messages copied to the error queue without a code (a death reason the contract has none for). */
  readonly deadLetterCopies: InboundMessage[] = [];
  readonly parks: { entrance: string; contactId: string; body: Buffer; msg?: InboundMessage }[] = [];
  readonly parkQueues = new Map<string, InboundMessage[]>();
  readonly noListener = new Set<string>();
  /** Entrances whose contact-center queue is full: the broker nacks their events (`refused`). */
  readonly fullQueue = new Set<string>();
  /** Events the broker refused. */
  readonly refused: ContactEvent[] = [];
  readonly failing = new Set<Operation>();
  /** Runs after each confirmed event: a test's hook for something happening meanwhile (an entrance closing). */
  afterEvent: ((e: ContactEvent) => Promise<void> | void) | null = null;

  private check(op: Operation): void {
    if (this.failing.has(op)) throw new TransientError(`${op} not confirmed (test)`);
  }

  async publishEvent(event: ContactEvent): Promise<PublishOutcome> {
    this.check('publishEvent');
    if (this.noListener.has(event.entrance)) {
      this.returned.push(event);
      return 'returned';
    }
    if (this.fullQueue.has(event.entrance)) {
      this.refused.push(event);
      return 'refused';
    }
    this.events.push(event);
    await this.afterEvent?.(event);
    return 'confirmed';
  }

  async publishNotification(n: Notification): Promise<void> {
    this.check('publishNotification');
    this.notifications.push({ ...n });
  }

  async sendReceipt(target: ReceiptTarget, receipt: ReceiptData): Promise<void> {
    this.check('sendReceipt');
    this.receipts.push({ target, receipt });
  }

  async sendReply(target: ReceiptTarget & { replyTo: string }, reply: Reply): Promise<void> {
    this.check('sendReply');
    this.replies.push({ target, reply });
  }

  async publishErrorCopy(msg: InboundMessage, error: WorkItemError): Promise<void> {
    this.check('publishErrorCopy');
    this.errorCopies.push({ body: msg.body, error, msg });
  }

  async publishDeadLetterCopy(msg: InboundMessage): Promise<void> {
    this.check('publishErrorCopy');
    this.deadLetterCopies.push(msg);
  }

  async publishRecordErrorCopy(body: Buffer, error: WorkItemError): Promise<void> {
    this.check('publishErrorCopy');
    this.errorCopies.push({ body, error });
  }

  async park(entrance: string, contactId: string, msg: InboundMessage): Promise<void> {
    this.check('park');
    this.parks.push({ entrance, contactId, body: msg.body, msg });
    this.queue(entrance).push(parkedMessage(entrance, contactId, msg.body, msg));
  }

  async parkRecord(entrance: string, contactId: string, body: Buffer): Promise<void> {
    this.check('park');
    this.parks.push({ entrance, contactId, body });
    this.queue(entrance).push(parkedMessage(entrance, contactId, body));
  }

  async drainParked(entrance: string, max: number, fn: (msg: InboundMessage) => Promise<'next' | 'stop'>): Promise<number> {
    const queue = this.queue(entrance);
    const limit = Math.min(max, queue.length);
    let taken = 0;
    while (taken < limit) {
      const m = queue.shift() as InboundMessage;
      taken++;
      if ((await fn(m)) === 'stop') break;
    }
    return taken;
  }

  /** The oldest parked message of the entrance, as it comes back through the inbound queue after its TTL. */
  takeParked(entrance: string): InboundMessage {
    const m = this.queue(entrance).shift();
    if (!m) throw new Error(`no parked message for ${entrance}`);
    return m;
  }

  /** contactIds of the messages in the entrance's park queue, oldest first. */
  parkQueue(entrance: string): string[] {
    return this.queue(entrance).map((m) => m.parked?.contactId ?? '?');
  }

  receiptStatuses(): string[] {
    return this.receipts.map((r) => r.receipt.status);
  }

  eventTypes(): string[] {
    return this.events.map((e) => e.type);
  }

  private queue(entrance: string): InboundMessage[] {
    let q = this.parkQueues.get(entrance);
    if (!q) this.parkQueues.set(entrance, (q = []));
    return q;
  }
}

/** What the adapter's park message is once it is dead-lettered back: the original's body and properties, marked parked. */
function parkedMessage(entrance: string, contactId: string, body: Buffer, msg?: InboundMessage): InboundMessage {
  return {
    body,
    exchange: '',
    routingKey: 'workitem.inbound',
    senderRoutingKey: msg?.senderRoutingKey ?? '',
    senderExchange: msg?.senderExchange ?? '',
    redelivered: false,
    parked: { contactId, entrance },
    properties: msg ? { ...msg.properties } : { headers: {}, other: {} },
  };
}
