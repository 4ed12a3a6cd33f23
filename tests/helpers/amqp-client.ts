import { parseNotification, type NotificationXml } from '../../src/adapters/xml/render-notification';
import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import type { AppConfig } from '../../src/config/config';
import { fileConfigSchema } from '../../src/config/config-schema';
import { buildTopology } from '../../src/adapters/rabbitmq/topology';
import { contactEventProblems } from './event-schemas';
import { WaitTimeoutError, withTimeout } from './wait';

/**
 * A sender + contact center + operator stand-in bound to one vhost: publishes work items and
 * control events, and collects what the service emits (events, receipts, error copies).
 */

export type TopologyNames = AppConfig['topology'];

/** The contract's default broker names, taken from the config schema's defaults (one source of truth). */
export const DEFAULT_TOPOLOGY: TopologyNames = fileConfigSchema.parse({ entrances: { x: {} } }).topology;

const CONFIRM_TIMEOUT_MS = 10_000;
const DEFAULT_WAIT_MS = 10_000;

/** The app_id the service stamps on every event it publishes; events a test publishes itself carry none. */
const SERVICE_APP_ID = 'workitem-server';

/**
 * Every event the service publishes is checked against schemas/contact-event.schema.json as it arrives (bindEvents).
 * A mismatch fails every pending and later wait of that client, and the test during which it arrived, through the
 * afterEach/afterAll below, so no test can pass while the service emits an event outside its contract.
 */
const unreportedSchemaViolations: string[] = [];
const jestHooks = globalThis as { afterEach?: (fn: () => void) => void; afterAll?: (fn: () => void) => void };
const reportSchemaViolations = (): void => {
  if (unreportedSchemaViolations.length === 0) return;
  const all = unreportedSchemaViolations.splice(0);
  throw new Error(`the service published ${all.length} event(s) that do not match schemas/contact-event.schema.json:\n${all.join('\n')}`);
};
jestHooks.afterEach?.(reportSchemaViolations);
jestHooks.afterAll?.(reportSchemaViolations);

/** For a test that provokes a violation on purpose: takes the pending reports, so afterEach does not fail it. */
export function takeSchemaViolations(): string[] {
  return unreportedSchemaViolations.splice(0);
}

export interface ContactEvent {
  type: string;
  eventId: string;
  contactId: string;
  replayed?: boolean;
  externalId: string;
  source: string;
  entrance: string;
  channel?: string;
  workItem?: boolean;
  taskType?: string;
  priority?: number;
  subject?: string;
  dueAt?: string;
  customer?: Record<string, string>;
  contactData?: Record<string, string>;
  presentation?: { icon?: string; preview?: string; reply?: boolean; didNotArrive?: boolean };
  attachment?: { fileName: string; contentType: string; size: number; sha256: string; url: string };
  social?: { platform: string; pageId: string; postId?: string; author?: string };
  receivedAt?: string;
  createdAt?: string;
  [key: string]: unknown;
}

export interface CollectedEvent {
  routingKey: string;
  /** Parsed JSON body; `{}` if the body was not JSON (see parseError). */
  event: ContactEvent;
  parseError?: string;
  /** What is wrong with an event of the service against contact-event.schema.json (the test fails on it). */
  schemaError?: string;
  raw: Buffer;
  properties: amqp.MessageProperties;
}

export interface ParsedReceipt {
  status?: string;
  externalId?: string;
  source?: string;
  contactId?: string;
  entrance?: string;
  receivedAt?: string;
  /** Every attribute of <workItemReceipt>, decoded. */
  attributes: Record<string, string>;
  error?: { code?: string; path?: string; message: string };
}

export interface CollectedReceipt extends ParsedReceipt {
  raw: Buffer;
  xml: string;
  routingKey: string;
  properties: amqp.MessageProperties;
}

/** A lifecycle notification (contract 1.2) as a sender's queue gets it. */
export interface CollectedNotification extends NotificationXml {
  routingKey: string;
  messageId: string;
  correlationId?: string;
  properties: amqp.MessageProperties;
  raw: Buffer;
}

export interface CollectedError {
  body: Buffer;
  headers: Record<string, unknown>;
  properties: amqp.MessageProperties;
  routingKey: string;
  /** The `x-error-code` header, for convenience. */
  code?: string;
}

export interface PublishWorkItemOptions {
  /** Routing key becomes `workitem.<source>`; default: the XML's <source>, else `bank-support`. */
  source?: string;
  /** Overrides the whole routing key (e.g. one without the `workitem.` prefix). */
  routingKey?: string;
  /** Default: the inbound exchange (contract 1.2: a sender may publish large items to `inboundLargeExchange`). */
  exchange?: string;
  /**
   * true: this client's reply queue (created if needed); a string: that queue name; false: no reply_to.
   * Default: the reply queue if replyQueue() was called, else none.
   */
  replyTo?: boolean | string;
  correlationId?: string;
  /** Default: a random UUID; null sends none (a minimal client). */
  messageId?: string | null;
  headers?: Record<string, unknown>;
  /** Raw publish options, applied last. */
  properties?: amqp.Options.Publish;
}

export interface PublishedWorkItem {
  routingKey: string;
  messageId?: string;
  correlationId?: string;
  replyTo?: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, ent: string) => {
    if (ent.startsWith('#x')) return String.fromCodePoint(parseInt(ent.slice(2), 16));
    if (ent.startsWith('#')) return String.fromCodePoint(parseInt(ent.slice(1), 10));
    return ENTITIES[ent] ?? m;
  });
}

function parseAttributes(s: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of s.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    attrs[m[1]] = decodeXml(m[2] ?? m[3] ?? '');
  }
  return attrs;
}

/** A deliberately tiny receipt parser: the receipt format is flat (one element, one optional <error>). */
export function parseReceipt(xml: string | Buffer): ParsedReceipt {
  const text = Buffer.isBuffer(xml) ? xml.toString('utf8') : xml;
  const root = /<workItemReceipt\b([^>]*?)\/?>/.exec(text);
  const attributes = root ? parseAttributes(root[1]) : {};
  const receipt: ParsedReceipt = {
    attributes,
    status: attributes.status,
    externalId: attributes.externalId,
    source: attributes.source,
    contactId: attributes.contactId,
    entrance: attributes.entrance,
    receivedAt: attributes.receivedAt,
  };
  const error = /<error\b([^>]*?)(?:\/>|>([\s\S]*?)<\/error>)/.exec(text);
  if (error) {
    const ea = parseAttributes(error[1]);
    receipt.error = { code: ea.code, path: ea.path, message: decodeXml((error[2] ?? '').trim()) };
  }
  return receipt;
}

function sourceOf(xml: string): string | undefined {
  return /<source>\s*([^<]*?)\s*<\/source>/.exec(xml.slice(0, 65_536))?.[1] || undefined;
}

interface Waiter {
  check(): boolean;
  fail(err: Error): void;
}

export class TestClient {
  readonly events: CollectedEvent[] = [];
  /** Receipts that arrived on this client's reply queue. */
  readonly receipts: CollectedReceipt[] = [];
  /** Copies from the receipts exchange (bindReceiptsExchange). */
  readonly receiptCopies: CollectedReceipt[] = [];
  readonly errors: CollectedError[] = [];
  /** Lifecycle notifications (bindNotifications), in arrival order (one published again appears again). */
  readonly notifications: CollectedNotification[] = [];
  /** Messages the broker returned as unroutable (only for publishes with mandatory). */
  readonly returned: amqp.Message[] = [];
  /** Connection/channel errors seen (a closed channel is re-opened on the next publish). */
  readonly failures: Error[] = [];
  /** Events of the service that do not match contact-event.schema.json; any one fails every wait of this client. */
  readonly schemaViolations: Error[] = [];

  private pubChannel: amqp.ConfirmChannel | undefined;
  private replyQueueName: string | undefined;
  private readonly assertedExchanges = new Set<string>();
  private readonly waiters = new Set<Waiter>();
  private closed = false;
  private connectionOpen = true;

  private constructor(
    private readonly conn: amqp.ChannelModel,
    private readonly consumeChannel: amqp.Channel,
    readonly topology: TopologyNames,
  ) {
    conn.on('error', (err) => this.failures.push(err));
    conn.on('close', (err?: Error) => {
      this.connectionOpen = false;
      if (err) this.failures.push(err); // e.g. CONNECTION_FORCED when the broker closes it
      this.notify();
    });
    consumeChannel.on('error', (err) => this.failures.push(err));
  }

  /** False once the connection is closed, by close() or by the broker. */
  get isOpen(): boolean {
    return this.connectionOpen;
  }

  static async connect(url: string, topology: Partial<TopologyNames> = {}): Promise<TestClient> {
    const conn = await withTimeout(amqp.connect(url), 10_000, `AMQP connect to ${url}`);
    try {
      const ch = await conn.createChannel();
      return new TestClient(conn, ch, { ...DEFAULT_TOPOLOGY, ...topology });
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  /** Declares the exchange like the service does (topic, durable), so binding works before it starts. */
  async assertExchange(name: string): Promise<void> {
    if (this.assertedExchanges.has(name)) return;
    await this.consumeChannel.assertExchange(name, 'topic', { durable: true });
    this.assertedExchanges.add(name);
  }

  /** Collects contact events matching `pattern` into `events`; returns the (exclusive) queue name. */
  async bindEvents(pattern = '#'): Promise<string> {
    return this.collect(this.topology.eventsExchange, pattern, (msg) => {
      const item: CollectedEvent = {
        routingKey: msg.fields.routingKey,
        event: {} as ContactEvent,
        raw: msg.content,
        properties: msg.properties,
      };
      try {
        item.event = JSON.parse(msg.content.toString('utf8')) as ContactEvent;
      } catch (err) {
        item.parseError = (err as Error).message;
      }
      if (msg.properties.appId === SERVICE_APP_ID) {
        item.schemaError = item.parseError ? `not JSON: ${item.parseError}` : (contactEventProblems(item.event) ?? undefined);
      }
      this.events.push(item);
      if (item.schemaError) this.schemaViolation(item);
    });
  }

  private schemaViolation(item: CollectedEvent): void {
    const err = new Error(
      `event ${item.routingKey} (${item.event.eventId ?? 'no eventId'}) does not match schemas/contact-event.schema.json: ${item.schemaError}` +
        `\n  event: ${item.raw.toString('utf8').slice(0, 2000)}`,
    );
    this.schemaViolations.push(err);
    unreportedSchemaViolations.push(err.message);
    for (const w of [...this.waiters]) w.fail(err);
  }

  /** Collects lifecycle notifications matching `pattern` (`<event>.<source>`) into `notifications`. */
  async bindNotifications(pattern = '#'): Promise<string> {
    return this.collect(this.topology.notificationsExchange, pattern, (msg) => {
      try {
        this.notifications.push({
          ...parseNotification(msg.content),
          routingKey: msg.fields.routingKey,
          messageId: String(msg.properties.messageId),
          ...(msg.properties.correlationId !== undefined && { correlationId: String(msg.properties.correlationId) }),
          properties: msg.properties,
          raw: msg.content,
        });
      } catch (err) {
        this.failures.push(err as Error); // never throw into amqplib's dispatch
      }
    });
  }

  /** At least n notifications (matching filter). */
  waitForNotifications(
    n: number,
    timeoutMs = DEFAULT_WAIT_MS,
    filter: (x: CollectedNotification) => boolean = () => true,
  ): Promise<CollectedNotification[]> {
    return this.waitForCount(() => this.notifications.filter(filter), n, timeoutMs, 'notifications');
  }

  /** Collects every receipt copy published to the receipts exchange into `receiptCopies`. */
  async bindReceiptsExchange(pattern = '#'): Promise<string> {
    return this.collect(this.topology.receiptsExchange, pattern, (msg) => this.receiptCopies.push(this.toReceipt(msg)));
  }

  /**
   * Consumes (and acks) the error queue into `errors`. The queue is declared exactly as the service
   * declares it, so either side may come first.
   */
  async bindErrors(): Promise<void> {
    const spec = buildTopology({ topology: this.topology, entrances: {} }).queues.find((q) => q.name === this.topology.errorQueue);
    if (!spec) throw new Error(`topology has no queue ${this.topology.errorQueue}`);
    await this.assertExchange(this.topology.errorExchange);
    await this.consumeChannel.assertQueue(spec.name, { durable: true, arguments: spec.arguments });
    for (const b of spec.bindings) await this.consumeChannel.bindQueue(spec.name, b.exchange, b.routingKey);
    await this.consumeChannel.consume(spec.name, (msg) => {
      if (!msg) return;
      const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
      const code = headers['x-error-code'];
      this.errors.push({
        body: msg.content,
        headers,
        properties: msg.properties,
        routingKey: msg.fields.routingKey,
        code: code === undefined ? undefined : String(code),
      });
      this.consumeChannel.ack(msg);
      this.notify();
    });
  }

  /** This client's exclusive reply queue (created once); receipts arriving there go to `receipts`. */
  async replyQueue(): Promise<string> {
    if (this.replyQueueName) return this.replyQueueName;
    const { queue } = await this.consumeChannel.assertQueue('', { exclusive: true, autoDelete: true });
    await this.consumeChannel.consume(
      queue,
      (msg) => {
        if (!msg) return;
        this.receipts.push(this.toReceipt(msg));
        this.notify();
      },
      { noAck: true },
    );
    this.replyQueueName = queue;
    return queue;
  }

  /** Publishes a work item to the inbound exchange (or opts.exchange) as a sender would, and waits for the broker's confirm. */
  async publishWorkItem(xml: string | Buffer, opts: PublishWorkItemOptions = {}): Promise<PublishedWorkItem> {
    const content = Buffer.isBuffer(xml) ? xml : Buffer.from(xml, 'utf8');
    const source = opts.source ?? sourceOf(content.toString('utf8')) ?? 'bank-support';
    const routingKey = opts.routingKey ?? `workitem.${source}`;
    let replyTo: string | undefined;
    if (typeof opts.replyTo === 'string') replyTo = opts.replyTo;
    else if (opts.replyTo === true || (opts.replyTo === undefined && this.replyQueueName)) replyTo = await this.replyQueue();
    const messageId = opts.messageId === null ? undefined : (opts.messageId ?? randomUUID());
    const exchange = opts.exchange ?? this.topology.inboundExchange;
    await this.assertExchange(exchange);
    await this.publish(exchange, routingKey, content, {
      contentType: 'application/xml',
      persistent: true,
      replyTo,
      correlationId: opts.correlationId,
      messageId,
      headers: opts.headers,
      ...opts.properties,
    });
    return { routingKey, messageId, correlationId: opts.correlationId, replyTo };
  }

  /** Publishes a contact-center control event (JSON) to the control exchange, confirmed. */
  async publishControl(routingKey: string, body: object): Promise<void> {
    await this.assertExchange(this.topology.controlExchange);
    await this.publish(this.topology.controlExchange, routingKey, Buffer.from(JSON.stringify(body)), {
      contentType: 'application/json',
      persistent: true,
      messageId: randomUUID(),
    });
  }

  /** Confirmed publish of anything anywhere; the exchange is not asserted ('' is the default exchange). */
  async publishRaw(
    exchange: string,
    routingKey: string,
    content: Buffer | string | object,
    options: amqp.Options.Publish = {},
  ): Promise<void> {
    const body = Buffer.isBuffer(content) ? content : Buffer.from(typeof content === 'string' ? content : JSON.stringify(content));
    await this.publish(exchange, routingKey, body, options);
  }

  /** Message and consumer counts of a queue, or null if it does not exist (checked on a throwaway channel). */
  async checkQueue(name: string): Promise<{ messageCount: number; consumerCount: number } | null> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined); // a 404 closes this channel only; that is the answer
    try {
      const { messageCount, consumerCount } = await ch.checkQueue(name);
      return { messageCount, consumerCount };
    } catch {
      return null;
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /**
   * Resolves with the first truthy value of `check`, evaluated now and whenever something is collected;
   * rejects after timeoutMs with a summary of what was collected.
   */
  waitFor<T>(check: () => T | undefined | null | false, timeoutMs = DEFAULT_WAIT_MS, what = 'condition'): Promise<T> {
    if (this.schemaViolations.length > 0) return Promise.reject(this.schemaViolations[0]);
    const first = check();
    if (first !== undefined && first !== null && first !== false) return Promise.resolve(first);
    if (this.closed) return Promise.reject(new Error(`TestClient closed while waiting for ${what}`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => waiter.fail(new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}; ${this.summary()}`)),
        timeoutMs,
      );
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        check: () => {
          let v: T | undefined | null | false;
          try {
            v = check();
          } catch (err) {
            waiter.fail(err as Error); // never let a faulty predicate throw into amqplib's dispatch
            return false;
          }
          if (v === undefined || v === null || v === false) return false;
          done();
          resolve(v);
          return true;
        },
        fail: (err) => {
          done();
          reject(err);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** At least n events (matching filter); resolves with all matching ones. */
  waitForEvents(n: number, timeoutMs = DEFAULT_WAIT_MS, filter: (e: CollectedEvent) => boolean = () => true): Promise<CollectedEvent[]> {
    return this.waitForCount(() => this.events.filter(filter), n, timeoutMs, 'events');
  }

  /** At least n receipts on the reply queue (matching filter). */
  waitForReceipts(
    n: number,
    timeoutMs = DEFAULT_WAIT_MS,
    filter: (r: CollectedReceipt) => boolean = () => true,
  ): Promise<CollectedReceipt[]> {
    return this.waitForCount(() => this.receipts.filter(filter), n, timeoutMs, 'receipts');
  }

  /** At least n receipt copies from the receipts exchange (matching filter). */
  waitForReceiptCopies(
    n: number,
    timeoutMs = DEFAULT_WAIT_MS,
    filter: (r: CollectedReceipt) => boolean = () => true,
  ): Promise<CollectedReceipt[]> {
    return this.waitForCount(() => this.receiptCopies.filter(filter), n, timeoutMs, 'receipt copies');
  }

  /** At least n messages from the error queue (matching filter). */
  waitForErrors(n: number, timeoutMs = DEFAULT_WAIT_MS, filter: (e: CollectedError) => boolean = () => true): Promise<CollectedError[]> {
    return this.waitForCount(() => this.errors.filter(filter), n, timeoutMs, 'error copies');
  }

  /** Closes channels and the connection (exclusive queues vanish); pending waits reject. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.waiters]) w.fail(new Error('TestClient closed'));
    // Channels first: their close-ok proves earlier acks were processed (a bare connection close can overtake them).
    const channels: amqp.Channel[] = [this.consumeChannel, ...(this.pubChannel ? [this.pubChannel] : [])];
    await Promise.all(channels.map((ch) => withTimeout(ch.close(), 5_000, 'AMQP channel close').catch(() => undefined)));
    await withTimeout(this.conn.close(), 5_000, 'AMQP connection close').catch(() => undefined);
  }

  private waitForCount<T>(matching: () => T[], n: number, timeoutMs: number, what: string): Promise<T[]> {
    return this.waitFor(
      () => {
        const found = matching();
        return found.length >= n ? found : undefined;
      },
      timeoutMs,
      `${n} ${what}`,
    );
  }

  private async collect(exchange: string, pattern: string, onMessage: (msg: amqp.ConsumeMessage) => void): Promise<string> {
    await this.assertExchange(exchange);
    const { queue } = await this.consumeChannel.assertQueue('', { exclusive: true, autoDelete: true });
    await this.consumeChannel.bindQueue(queue, exchange, pattern);
    await this.consumeChannel.consume(
      queue,
      (msg) => {
        if (!msg) return;
        onMessage(msg);
        this.notify();
      },
      { noAck: true },
    );
    return queue;
  }

  private toReceipt(msg: amqp.ConsumeMessage): CollectedReceipt {
    const xml = msg.content.toString('utf8');
    return { ...parseReceipt(xml), raw: msg.content, xml, routingKey: msg.fields.routingKey, properties: msg.properties };
  }

  private notify(): void {
    for (const w of [...this.waiters]) w.check();
  }

  private summary(): string {
    const keys = (items: { routingKey: string }[]) => items.map((i) => i.routingKey).join(', ') || '-';
    return [
      `events [${keys(this.events)}]`,
      `receipts [${this.receipts.map((r) => `${r.status}:${r.externalId}${r.error ? `:${r.error.code}` : ''}`).join(', ') || '-'}]`,
      `receipt copies [${keys(this.receiptCopies)}]`,
      `errors [${this.errors.map((e) => e.code ?? e.routingKey).join(', ') || '-'}]`,
      this.failures.length ? `failures [${this.failures.map((f) => f.message).join('; ')}]` : '',
    ]
      .filter(Boolean)
      .join('; ');
  }

  /** The confirm channel, re-opened if a previous publish got it closed (e.g. to a missing exchange). */
  private async confirmChannel(): Promise<amqp.ConfirmChannel> {
    if (this.pubChannel) return this.pubChannel;
    const ch = await this.conn.createConfirmChannel();
    ch.on('error', (err) => this.failures.push(err));
    ch.on('close', () => {
      if (this.pubChannel === ch) this.pubChannel = undefined;
    });
    ch.on('return', (msg) => {
      this.returned.push(msg);
      this.notify();
    });
    this.pubChannel = ch;
    return ch;
  }

  private async publish(exchange: string, routingKey: string, content: Buffer, options: amqp.Options.Publish): Promise<void> {
    const ch = await this.confirmChannel();
    const confirmed = new Promise<void>((resolve, reject) => {
      ch.publish(exchange, routingKey, content, options, (err) => {
        if (err) reject(new Error(`publish to ${exchange || '(default)'}/${routingKey} was nacked or failed: ${String(err)}`));
        else resolve();
      });
    });
    await withTimeout(confirmed, CONFIRM_TIMEOUT_MS, `confirm of publish to ${exchange || '(default)'}/${routingKey}`);
  }
}
