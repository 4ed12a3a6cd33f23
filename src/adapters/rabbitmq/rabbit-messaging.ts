import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import type { Logger } from '../../ports/logger';
import type { AppConfig } from '../../config/config';
import type { ContactEvent } from '../../domain/contact-event';
import type { WorkItemError } from '../../domain/error-codes';
import { notificationRoutingKey, type Notification } from '../../domain/notification';
import type { ItemInfo, ReceiptData } from '../../domain/receipt';
import { InboundMessage, Messaging, PublishOutcome, ReceiptTarget, Reply, TransientError } from '../../ports/messaging';
import type { AmqpConnection } from './amqp-connection';
import { ConfirmedPublisher, PUBLISH_ID_HEADER, UnencodableMessageError } from './confirmed-publisher';
import {
  CONTACT_ID_HEADER,
  ENTRANCE_HEADER,
  INTERNAL_HEADERS,
  ORIGINAL_EXCHANGE_HEADER,
  ORIGINAL_ROUTING_KEY_HEADER,
  toInboundMessage,
} from './inbound-message';
import { DEAD_LETTERED_ROUTING_KEY, parkedQueueName } from './topology';
import { NO_TRACING, type MessageTracing } from './message-tracing';

const DIRECT_REPLY_PREFIX = 'amq.rabbitmq.reply-to';
/** Span name of a receipt to the sender: its reply_to queue names are the sender's (often random), not ours. */
const REPLY_TO_SPAN_DESTINATION = '(reply_to)';

/** The wire forms of what the service sends senders (the XML adapter's renderers, wired in by the service). */
export interface ReplyRenderers {
  receipt: (receipt: ReceiptData) => Buffer;
  itemInfo: (info: ItemInfo) => Buffer;
  notification: (n: Notification) => Buffer;
}

export interface MessagingEvents {
  receiptLost(reason: 'no_reply_queue' | 'publish_failed'): void;
}

/**
 * The Messaging port over RabbitMQ: which exchange, routing key and properties each outbound message gets.
 */
export class RabbitMessaging implements Messaging {
  constructor(
    private readonly publisher: ConfirmedPublisher,
    /**
     * Receipts to RabbitMQ's direct reply-to go through their own connection: on RabbitMQ 3.10 a publish to
     * a malformed or stale `amq.rabbitmq.reply-to.*` key closes the whole connection (541 INTERNAL_ERROR),
     * which must not take events and acks of other items down with it.
     */
    private readonly directReplyPublisher: ConfirmedPublisher,
    private readonly consumeConn: AmqpConnection,
    private readonly cfg: Pick<AppConfig, 'topology' | 'park' | 'entrances'>,
    /** The receipt's and the status reply's wire forms. */
    private readonly render: ReplyRenderers,
    private readonly log: Logger,
    private readonly events: MessagingEvents,
    /** Parked messages a reopen drain takes are handled in a span continuing their trace. */
    private readonly tracing: MessageTracing = NO_TRACING,
  ) {}

  publishEvent(event: ContactEvent): Promise<PublishOutcome> {
    return this.publisher.publish(
      this.cfg.topology.eventsExchange,
      `${event.type}.${event.entrance}`,
      Buffer.from(JSON.stringify(event)),
      {
        messageId: event.eventId,
        type: event.type,
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        persistent: true,
        timestamp: Math.floor(Date.now() / 1000),
        appId: 'workitem-server',
      },
      true,
      { refusable: true },
    );
  }

  async publishNotification(n: Notification): Promise<void> {
    // Not mandatory: a sender that binds no queue simply does not listen (contract 1.2). A nack throws.
    await this.publisher.publish(
      this.cfg.topology.notificationsExchange,
      notificationRoutingKey(n),
      this.render.notification(n),
      {
        messageId: n.id,
        ...(n.correlationId !== undefined && { correlationId: n.correlationId }),
        type: 'workItemNotification',
        contentType: 'application/xml',
        contentEncoding: 'utf-8',
        persistent: true,
        timestamp: Math.floor(n.atMs / 1000),
        appId: 'workitem-server',
      },
      false,
    );
  }

  async sendReceipt(target: ReceiptTarget, receipt: ReceiptData): Promise<void> {
    const body = this.render.receipt(receipt);
    const props = replyProperties('workItemReceipt', target);
    const toSender = target.replyTo ? this.toReplyTo(target.replyTo, body, props, receipt.status) : Promise.resolve();
    const copy = this.publisher.publish(
      this.cfg.topology.receiptsExchange,
      `${receipt.status}.${target.sender ?? receipt.source ?? 'unknown'}`,
      body,
      { ...props, messageId: randomUUID() },
      false,
    );
    await Promise.all([toSender, copy]);
  }

  /** To reply_to only, as a receipt goes there (direct reply-to included); no receipts-exchange copy. */
  async sendReply(target: ReceiptTarget & { replyTo: string }, reply: Reply): Promise<void> {
    const body = reply.type === 'workItemInfo' ? this.render.itemInfo(reply.info) : this.render.receipt(reply.receipt);
    const what = reply.type === 'workItemInfo' ? 'workItemInfo' : reply.receipt.status;
    await this.toReplyTo(target.replyTo, body, replyProperties(reply.type, target), what);
  }

  /** Never throws: a lost reply is logged and counted (a broken reply_to must never hold up the message). */
  private toReplyTo(replyTo: string, body: Buffer, props: amqp.Options.Publish, what: string): Promise<void> {
    const direct = replyTo.startsWith(DIRECT_REPLY_PREFIX);
    // RabbitMQ 3.10 returns mandatory direct reply-to publishes as NO_ROUTE even when it delivers them,
    // so a lost direct reply cannot be told from a delivered one: publish those without `mandatory`.
    return (direct ? this.directReplyPublisher : this.publisher)
      .publish('', replyTo, body, { ...props, messageId: randomUUID() }, !direct, { destination: REPLY_TO_SPAN_DESTINATION })
      .then((outcome) => {
        if (outcome === 'returned') {
          this.events.receiptLost('no_reply_queue');
          this.log.warn('receipt not delivered: reply_to queue does not exist', { replyTo, status: what });
        }
      })
      .catch((err) => {
        this.events.receiptLost('publish_failed');
        this.log.warn('receipt to reply_to failed', { replyTo, error: (err as Error).message });
      });
  }

  publishErrorCopy(msg: InboundMessage, error: WorkItemError): Promise<void> {
    return this.sendErrorCopy(msg.body, error, msg);
  }

  publishRecordErrorCopy(body: Buffer, error: WorkItemError): Promise<void> {
    return this.sendErrorCopy(body, error, null);
  }

  publishDeadLetterCopy(msg: InboundMessage): Promise<void> {
    return this.sendErrorCopy(msg.body, null, msg);
  }

  /**
   * `msg`: the sender's message the copy is of (its properties and headers are kept); null: only `body`. `error`
   * null: a dead-lettered message the contract has no code for (no x-error-* headers, routing key DEAD_LETTERED).
   */
  private async sendErrorCopy(body: Buffer, error: WorkItemError | null, msg: InboundMessage | null): Promise<void> {
    const original = msg?.properties.headers ?? {};
    const firstFailed = typeof original['x-first-failed-at'] === 'string' ? original['x-first-failed-at'] : new Date().toISOString();
    const headers: Record<string, unknown> = {
      ...original,
      ...(error && { 'x-error-code': error.code, 'x-error-message': error.message, 'x-error-path': error.path }),
      'x-first-failed-at': firstFailed,
      'x-failed-at': new Date().toISOString(),
      [PUBLISH_ID_HEADER]: randomUUID(),
    };
    // No code: none of an earlier rejection (a copy handed back from the error queue) may stand for this one.
    if (!error) for (const h of ['x-error-code', 'x-error-message', 'x-error-path']) delete headers[h];
    if (msg) {
      headers[ORIGINAL_EXCHANGE_HEADER] = msg.senderExchange;
      headers[ORIGINAL_ROUTING_KEY_HEADER] = msg.senderRoutingKey;
    }
    const outcome = await publishKeepingOurHeaders(
      this.publisher,
      this.cfg.topology.errorExchange,
      error?.code ?? DEAD_LETTERED_ROUTING_KEY,
      body,
      { ...copyableProperties(msg), headers, persistent: true, messageId: msg?.properties.messageId },
      [
        'x-error-code',
        'x-error-message',
        'x-error-path',
        'x-first-failed-at',
        'x-failed-at',
        ORIGINAL_EXCHANGE_HEADER,
        ORIGINAL_ROUTING_KEY_HEADER,
      ],
    );
    if (outcome === 'returned') throw new TransientError('error copy unroutable: is the error queue missing?');
  }

  park(entrance: string, contactId: string, msg: InboundMessage): Promise<void> {
    return this.sendParked(entrance, contactId, msg.body, msg);
  }

  parkRecord(entrance: string, contactId: string, body: Buffer): Promise<void> {
    return this.sendParked(entrance, contactId, body, null);
  }

  /** `msg`: the message parked (its properties and headers are kept); null: only `body`, as JSON. */
  private async sendParked(entrance: string, contactId: string, body: Buffer, msg: InboundMessage | null): Promise<void> {
    const headers: Record<string, unknown> = {
      ...(msg?.properties.headers ?? {}),
      [CONTACT_ID_HEADER]: contactId,
      [ENTRANCE_HEADER]: entrance,
      'x-parked-at': new Date().toISOString(),
      [PUBLISH_ID_HEADER]: randomUUID(),
    };
    if (msg) {
      headers[ORIGINAL_ROUTING_KEY_HEADER] = msg.senderRoutingKey;
      headers[ORIGINAL_EXCHANGE_HEADER] = msg.senderExchange;
    }
    const outcome = await publishKeepingOurHeaders(
      this.publisher,
      '',
      parkedQueueName(this.cfg, entrance),
      body,
      {
        ...copyableProperties(msg),
        contentType: msg?.properties.contentType ?? 'application/json',
        headers,
        persistent: true,
        messageId: msg?.properties.messageId ?? contactId,
        expiration: String(Math.round(this.cfg.park.retrySeconds * 1000)),
      },
      [CONTACT_ID_HEADER, ENTRANCE_HEADER, 'x-parked-at', ORIGINAL_ROUTING_KEY_HEADER, ORIGINAL_EXCHANGE_HEADER],
    );
    if (outcome === 'returned') throw new TransientError(`parked queue for ${entrance} is missing`);
  }

  /**
   * Moves a large message to the large-item lane, on the bulk connection, so its bytes never sit in front of
   * small events on the publish socket. Our own headers are only carried over from trusted messages.
   */
  async moveToLargeLane(m: amqp.Message, trusted: boolean, bulk: ConfirmedPublisher): Promise<void> {
    const headers: Record<string, unknown> = { ...(m.properties.headers ?? {}) };
    if (!trusted) {
      for (const h of INTERNAL_HEADERS) delete headers[h];
      headers[ORIGINAL_ROUTING_KEY_HEADER] = m.fields.routingKey;
      headers[ORIGINAL_EXCHANGE_HEADER] = m.fields.exchange;
    } else if (headers[ORIGINAL_ROUTING_KEY_HEADER] === undefined) {
      headers[ORIGINAL_ROUTING_KEY_HEADER] = m.fields.routingKey;
    }
    headers[PUBLISH_ID_HEADER] = randomUUID();
    const { userId: _u, expiration: _e, headers: _h, ...props } = m.properties;
    const clean: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(props)) if (v !== undefined) clean[k] = v;
    const outcome = await publishKeepingOurHeaders(
      bulk,
      '',
      this.cfg.topology.largeQueue,
      m.content,
      { ...(clean as amqp.Options.Publish), headers, persistent: true, messageId: m.properties.messageId ?? randomUUID() },
      INTERNAL_HEADERS,
    );
    if (outcome === 'returned') throw new TransientError('large-item queue is missing');
  }

  async drainParked(entrance: string, max: number, fn: (msg: InboundMessage) => Promise<'next' | 'stop'>): Promise<number> {
    const model = this.consumeConn.current;
    if (!model) throw new TransientError('broker not connected');
    const ch = await model.createChannel();
    ch.on('error', () => undefined);
    const queue = parkedQueueName(this.cfg, entrance);
    let n = 0;
    try {
      // What is there now: a message `fn` parks again goes to the tail and must not be taken again (a hot loop).
      const limit = Math.min(max, (await ch.checkQueue(queue)).messageCount);
      while (n < limit) {
        const m = await ch.get(queue, { noAck: false });
        if (!m) break;
        n++;
        let next: 'next' | 'stop';
        try {
          const msg = toInboundMessage(m, undefined, true);
          next = await (this.tracing.enabled ? this.tracing.process(queue, m, () => fn(msg)) : fn(msg));
          ch.ack(m);
        } catch (err) {
          ch.nack(m, false, true);
          throw err;
        }
        if (next === 'stop') break;
      }
    } finally {
      await ch.close().catch(() => undefined);
    }
    return n;
  }
}

/** The properties of a receipt or a reply: XML, typed, with the sender's correlation id. */
function replyProperties(type: string, target: ReceiptTarget): amqp.Options.Publish {
  return {
    contentType: 'application/xml',
    contentEncoding: 'utf-8',
    type,
    correlationId: target.correlationId,
    persistent: true,
    timestamp: Math.floor(Date.now() / 1000),
    appId: 'workitem-server',
  };
}

/**
 * Publishes (confirmed, mandatory) a copy of a sender's message. If the client cannot encode the sender's
 * headers again (over 64 KiB, or tables it misreads), the copy goes out without them, marked
 * `x-original-headers-dropped`, so a bad header never turns into a message that can never be handled.
 */
async function publishKeepingOurHeaders(
  publisher: ConfirmedPublisher,
  exchange: string,
  routingKey: string,
  body: Buffer,
  options: amqp.Options.Publish & { headers: Record<string, unknown> },
  ourHeaderNames: string[],
): Promise<PublishOutcome> {
  try {
    return await publisher.publish(exchange, routingKey, body, options, true);
  } catch (err) {
    if (!(err instanceof UnencodableMessageError)) throw err;
    const headers: Record<string, unknown> = {};
    for (const k of ourHeaderNames) if (options.headers[k] !== undefined) headers[k] = options.headers[k];
    headers['x-original-headers-dropped'] = err.message.slice(0, 200);
    headers[PUBLISH_ID_HEADER] = randomUUID();
    return publisher.publish(exchange, routingKey, body, { ...options, headers }, true);
  }
}

/**
 * Original properties for a copy. user_id is dropped (the broker checks it against our own user) and so is
 * expiration (a copy on the error queue must not vanish).
 */
function copyableProperties(msg: InboundMessage | null): amqp.Options.Publish {
  if (!msg) return {};
  const { replyTo, correlationId, messageId, contentType } = msg.properties;
  const { userId: _userId, expiration: _expiration, deliveryMode: _dm, ...rest } = msg.properties.other;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ contentType, correlationId, replyTo, messageId, ...rest })) if (v !== undefined) out[k] = v;
  return out as amqp.Options.Publish;
}
