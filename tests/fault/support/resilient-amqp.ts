import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import { sleep, withTimeout } from '../../helpers/wait';

/**
 * AMQP clients for the fault suite's sender and contact center that survive broker restarts and dropped
 * connections: they reconnect by themselves, re-declare their (durable) queues and go on. A publish whose
 * confirm did not arrive rejects with PublishUncertainError: the caller decides whether to send again.
 */

export class PublishUncertainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishUncertainError';
  }
}

/** One connection that comes back after every loss (jittered backoff, forever until close()). */
export class ReconnectingConnection {
  private conn: amqp.ChannelModel | null = null;
  private closed = false;
  private connecting: Promise<void> | null = null;
  private readonly upListeners = new Set<(conn: amqp.ChannelModel) => void | Promise<void>>();
  private readonly downListeners = new Set<() => void>();
  /** How many times the connection was (re)established. */
  connects = 0;
  readonly errors: string[] = [];

  constructor(
    private readonly url: string,
    readonly name: string,
  ) {}

  get current(): amqp.ChannelModel | null {
    return this.conn;
  }

  onUp(fn: (conn: amqp.ChannelModel) => void | Promise<void>): void {
    this.upListeners.add(fn);
    if (this.conn) void fn(this.conn);
  }

  onDown(fn: () => void): void {
    this.downListeners.add(fn);
  }

  start(): Promise<void> {
    this.connecting ??= this.loop().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private note(msg: string): void {
    if (this.errors.length < 200) this.errors.push(`${new Date().toISOString()} ${msg}`);
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const connecting = amqp.connect(`${this.url}${this.url.includes('?') ? '&' : '?'}heartbeat=5`, {
          clientProperties: { connection_name: `fault-test ${this.name}` },
        });
        const conn = await withTimeout(connecting, 10_000, `connect ${this.name}`).catch((err: unknown) => {
          // A connect that completes after the timeout must not leak.
          connecting.then((late) => late.close()).catch(() => undefined);
          throw err;
        });
        if (this.closed) {
          await conn.close().catch(() => undefined);
          return;
        }
        conn.on('error', (err: Error) => this.note(`connection error: ${err.message}`));
        conn.once('close', () => {
          if (this.conn !== conn) return;
          this.conn = null;
          for (const fn of this.downListeners) fn();
          // While the loop runs it notices the loss itself (see below).
          if (!this.closed && !this.connecting) void this.start();
        });
        this.conn = conn;
        this.connects++;
        let ok = true;
        for (const fn of this.upListeners) {
          try {
            await fn(conn);
          } catch (err) {
            this.note(`setup after connect failed: ${(err as Error).message}`);
            ok = false;
            break;
          }
        }
        if (ok && this.conn === conn) return;
        // Setup failed (broker still booting, connection dying) or the connection is already gone: again.
        if (this.conn === conn) {
          this.conn = null;
          for (const fn of this.downListeners) fn();
        }
        await conn.close().catch(() => undefined);
        await sleep(300);
      } catch (err) {
        this.note(`connect failed: ${(err as Error).message}`);
        await sleep(Math.min(2000, 200 * 2 ** Math.min(attempt, 4)) * (0.5 + Math.random()));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.conn;
    this.conn = null;
    if (c) await withTimeout(c.close(), 5_000, `close ${this.name}`).catch(() => undefined);
  }
}

export interface DurableQueueSpec {
  queue: string;
  /** Queue arguments (e.g. x-queue-type); the queue is always durable. */
  arguments?: Record<string, unknown>;
  bindings: { exchange: string; routingKey: string }[];
  /** Exchanges to declare (topic, durable) before binding; default: those of the bindings. */
  exchanges?: string[];
}

/**
 * Consumes a durable queue with manual acks (ack after the handler ran), so nothing delivered is lost when
 * the connection goes: unacked messages come back after the reconnect (the handler must be idempotent).
 */
export class DurableConsumer {
  readonly conn: ReconnectingConnection;
  delivered = 0;

  constructor(
    url: string,
    private readonly spec: DurableQueueSpec,
    private readonly handler: (msg: amqp.ConsumeMessage) => void,
    private readonly prefetch = 500,
  ) {
    this.conn = new ReconnectingConnection(url, `consumer ${spec.queue}`);
    this.conn.onUp((c) => this.setup(c));
  }

  async start(): Promise<void> {
    await this.conn.start();
  }

  private async setup(c: amqp.ChannelModel): Promise<void> {
    const ch = await c.createChannel();
    ch.on('error', () => undefined);
    ch.on('close', () => {
      // A channel-level close with the connection still up: consume again on a new channel.
      if (this.conn.current === c) void this.setup(c).catch(() => undefined);
    });
    await ch.prefetch(this.prefetch);
    const exchanges = this.spec.exchanges ?? [...new Set(this.spec.bindings.map((b) => b.exchange))];
    for (const ex of exchanges) await ch.assertExchange(ex, 'topic', { durable: true, autoDelete: false });
    await ch.assertQueue(this.spec.queue, { durable: true, arguments: this.spec.arguments });
    for (const b of this.spec.bindings) await ch.bindQueue(this.spec.queue, b.exchange, b.routingKey);
    await ch.consume(this.spec.queue, (msg) => {
      if (!msg) return;
      this.delivered++;
      this.handler(msg);
      try {
        ch.ack(msg);
      } catch {
        // channel gone: the broker redelivers
      }
    });
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

/**
 * Confirmed publishing over a ReconnectingConnection. publish() waits (bounded) for a channel, then for the
 * broker's confirm; a nack, a lost channel or a timeout rejects with PublishUncertainError.
 *
 * Deliberately not the service's ConfirmChannelPublisher (which the CLI shares): this is the sender side of the
 * no-loss ledger, an observer that publishes with none of the service's code (like tests/helpers/amqp-client.ts), so a
 * defect in the service's publishing cannot also hide in how the test counts what it sent. It also does something
 * else: no back-pressure wait (the suite drives its own rate through the faults), no mandatory/return matching, and
 * every publish in flight rejects as uncertain the moment its connection goes (the ledger resends those).
 */
export class ResilientPublisher {
  readonly conn: ReconnectingConnection;
  private ch: amqp.ConfirmChannel | null = null;
  private waiters: (() => void)[] = [];
  private readonly pendingRejects = new Set<(err: Error) => void>();
  readonly returned: amqp.Message[] = [];

  constructor(
    url: string,
    name: string,
    private readonly onChannel?: (ch: amqp.ConfirmChannel) => Promise<void>,
    private readonly confirmTimeoutMs = 20_000,
  ) {
    this.conn = new ReconnectingConnection(url, name);
    this.conn.onUp((c) => this.open(c));
    this.conn.onDown(() => this.lost('connection lost'));
  }

  async start(): Promise<void> {
    await this.conn.start();
  }

  get ready(): boolean {
    return this.ch !== null;
  }

  private lost(why: string): void {
    this.ch = null;
    for (const reject of [...this.pendingRejects]) reject(new PublishUncertainError(why));
    this.pendingRejects.clear();
  }

  private async open(c: amqp.ChannelModel): Promise<void> {
    const ch = await c.createConfirmChannel();
    ch.on('error', () => undefined);
    ch.on('return', (m: amqp.Message) => this.returned.push(m));
    ch.on('close', () => {
      if (this.ch === ch) this.lost('channel closed');
      // A channel-level close with the connection up: open another one.
      if (this.conn.current === c) void this.open(c).catch(() => undefined);
    });
    if (this.onChannel) await this.onChannel(ch);
    this.ch = ch;
    for (const w of this.waiters.splice(0)) w();
  }

  private async channel(timeoutMs: number): Promise<amqp.ConfirmChannel> {
    if (this.ch) return this.ch;
    await withTimeout(new Promise<void>((resolve) => this.waiters.push(resolve)), timeoutMs, 'publish channel').catch(() => {
      throw new PublishUncertainError('no channel (broker unreachable)');
    });
    if (!this.ch) throw new PublishUncertainError('no channel');
    return this.ch;
  }

  /** The channel the next publish will use, if any (e.g. to learn the reply queue of this connection). */
  get channelNow(): amqp.ConfirmChannel | null {
    return this.ch;
  }

  async publish(exchange: string, routingKey: string, body: Buffer, options: amqp.Options.Publish, channelWaitMs = 30_000): Promise<void> {
    const ch = await this.channel(channelWaitMs);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pendingRejects.delete(fail);
        if (err) reject(err);
        else resolve();
      };
      const fail = (err: Error): void => finish(err);
      const timer = setTimeout(() => finish(new PublishUncertainError(`no confirm in ${this.confirmTimeoutMs} ms`)), this.confirmTimeoutMs);
      this.pendingRejects.add(fail);
      try {
        ch.publish(exchange, routingKey, body, options, (err) =>
          finish(err ? new PublishUncertainError(`nacked: ${String(err)}`) : undefined),
        );
      } catch (err) {
        finish(new PublishUncertainError(`publish failed: ${(err as Error).message}`));
      }
    });
  }

  close(): Promise<void> {
    this.lost('closed');
    return this.conn.close();
  }
}

/**
 * Publishes a contact-center control event (JSON, persistent) and retries while its confirm is uncertain (a broker
 * restart or a dropped connection mid-publish), 250 ms apart, at most `attempts` times.
 */
export async function publishControlConfirmed(
  publisher: ResilientPublisher,
  exchange: string,
  routingKey: string,
  body: object,
  attempts: number,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await publisher.publish(exchange, routingKey, Buffer.from(JSON.stringify(body)), {
        contentType: 'application/json',
        persistent: true,
        messageId: randomUUID(),
      });
      return;
    } catch (err) {
      if (!(err instanceof PublishUncertainError) || attempt > attempts) throw err;
      await sleep(250);
    }
  }
}
