import type * as amqp from 'amqplib';
import type { Logger } from '../../ports/logger';
import { TransientError } from '../../ports/messaging';
import { sleep } from '../timing';
import type { AmqpConnection } from './amqp-connection';
import { assertTopology } from './assert-topology';
import type { Topology } from './topology';

/** What the handler decided; the consumer turns it into ack/nack on the channel that delivered. */
export type Disposition = 'ack' | 'requeue';

export type DeliveryHandler = (msg: amqp.ConsumeMessage) => Promise<Disposition>;

/**
 * Consumes one queue on its own channel of the consume connection. The only place that acks.
 * It can be paused (consumer cancelled, in-flight work finishes) when a dependency is down, and drained
 * on shutdown.
 */
export class QueueConsumer {
  private ch: amqp.Channel | null = null;
  private consumerTag: string | null = null;
  /** Starts paused: the service resumes it once Redis and the publisher are ready. */
  private paused = true;
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();
  private acks: AckBatcher | null = null;

  constructor(
    private readonly conn: AmqpConnection,
    private readonly queue: string,
    private readonly prefetch: number,
    private readonly topology: Topology,
    private readonly handler: DeliveryHandler,
    private readonly log: Logger,
    private readonly requeueDelayMs = 1000,
  ) {
    conn.on('up', (model: amqp.ChannelModel) => void this.open(model));
    conn.on('down', () => {
      this.ch = null;
      this.consumerTag = null;
    });
  }

  get active(): boolean {
    return this.consumerTag !== null;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  private async open(model: amqp.ChannelModel): Promise<void> {
    try {
      await assertTopology(model, this.topology, this.log);
      const ch = await model.createChannel();
      ch.on('error', (err: Error) => this.log.warn('consume channel error', { queue: this.queue, error: err.message }));
      ch.on('close', () => {
        if (this.ch !== ch) return;
        this.ch = null;
        this.consumerTag = null;
        if (this.conn.current === model && !this.stopped) void this.open(model);
      });
      await ch.prefetch(this.prefetch);
      this.ch = ch;
      if (!this.paused && !this.stopped) await this.consume();
    } catch (err) {
      this.log.error('cannot open consume channel', { queue: this.queue, error: (err as Error).message });
    }
  }

  private async consume(): Promise<void> {
    const ch = this.ch;
    if (!ch || this.consumerTag) return;
    const { consumerTag } = await ch.consume(this.queue, (msg) => {
      if (msg) this.track(ch, msg);
      else this.log.warn('consumer cancelled by broker', { queue: this.queue });
    });
    if (this.ch !== ch) return;
    this.consumerTag = consumerTag;
    this.log.info('consuming', { queue: this.queue, prefetch: this.prefetch });
  }

  private track(ch: amqp.Channel, msg: amqp.ConsumeMessage): void {
    this.acksFor(ch).delivered(msg);
    const p = this.dispatch(ch, msg).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async dispatch(ch: amqp.Channel, msg: amqp.ConsumeMessage): Promise<void> {
    let disposition: Disposition;
    try {
      disposition = await this.handler(msg);
    } catch (err) {
      const e = err as Error;
      // Broker/Redis trouble is expected now and then (a Redis Cluster failover: CLUSTERDOWN, TRYAGAIN, "Too many
      // Cluster redirections"; a Redis that stopped answering: "Command timed out"); anything else is a bug worth a
      // stack trace.
      if (e instanceof TransientError || /redis|connection|stream|socket|closed|cluster|tryagain|timed out/i.test(e.message)) {
        this.log.warn('message requeued after a transient failure', { queue: this.queue, error: e.message });
      } else {
        this.log.error('unexpected error handling message; requeued', { queue: this.queue, error: e.message, stack: e.stack });
      }
      disposition = 'requeue';
    }
    // Ack on the channel that delivered. If it is gone, the broker redelivers the message: never lost.
    if (this.ch !== ch) return;
    const acks = this.acksFor(ch);
    try {
      if (disposition === 'ack') await acks.ack(msg);
      else {
        // A short pause keeps a failing dependency from turning into a hot redelivery loop.
        await sleep(this.requeueDelayMs);
        if (this.ch === ch) {
          acks.forget(msg);
          ch.nack(msg, false, true);
        }
      }
    } catch (err) {
      this.log.warn('could not settle message; it will be redelivered', { queue: this.queue, error: (err as Error).message });
    }
  }

  private acksFor(ch: amqp.Channel): AckBatcher {
    if (this.acks?.ch !== ch) this.acks = new AckBatcher(ch);
    return this.acks;
  }

  /** Stops taking new deliveries; in-flight ones finish. */
  async pause(reason: string): Promise<void> {
    if (this.paused) return;
    this.paused = true;
    this.log.warn('consumer paused', { queue: this.queue, reason });
    await this.cancel();
  }

  async resume(): Promise<void> {
    if (!this.paused || this.stopped) return;
    this.paused = false;
    this.log.info('consumer resumed', { queue: this.queue });
    await this.consume().catch((err) => this.log.warn('resume failed', { queue: this.queue, error: (err as Error).message }));
  }

  private async cancel(): Promise<void> {
    const ch = this.ch;
    const tag = this.consumerTag;
    this.consumerTag = null;
    if (ch && tag) await ch.cancel(tag).catch(() => undefined);
  }

  /** Graceful shutdown: no new deliveries, wait (bounded) for in-flight ones to be settled. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.stopped = true;
    await this.cancel();
    const deadline = Date.now() + timeoutMs;
    while (this.inflight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.inflight]), sleep(Math.max(0, deadline - Date.now()))]);
    }
    return this.inflight.size === 0;
  }
}

/**
 * Coalesces the acks of one channel: once per tick, the contiguous run of finished deliveries from the oldest
 * outstanding one is acked with a single `basic.ack multiple`; finished ones behind an unfinished delivery are
 * acked one by one, so a slow message never holds the others' prefetch slots. A multiple ack never covers a
 * delivery that is still in work or about to be requeued: those stay outstanding and end the run.
 */
export class AckBatcher {
  private readonly outstanding: number[] = [];
  private readonly finished = new Map<number, amqp.Message>();
  private flushing: Promise<void> | null = null;

  constructor(readonly ch: amqp.Channel) {}

  delivered(msg: amqp.Message): void {
    this.outstanding.push(msg.fields.deliveryTag);
  }

  /** Resolves once the ack is handed to the channel (thrown errors surface to the caller). */
  ack(msg: amqp.Message): Promise<void> {
    this.finished.set(msg.fields.deliveryTag, msg);
    this.flushing ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        this.flushing = null;
        try {
          this.flush();
          resolve();
        } catch (err) {
          reject(err);
        }
      }),
    );
    return this.flushing;
  }

  /** A delivery settled some other way (nack): it no longer ends a run. */
  forget(msg: amqp.Message): void {
    const i = this.outstanding.indexOf(msg.fields.deliveryTag);
    if (i >= 0) this.outstanding.splice(i, 1);
  }

  private flush(): void {
    let upTo: amqp.Message | undefined;
    let n = 0;
    while (n < this.outstanding.length && this.finished.has(this.outstanding[n])) {
      upTo = this.finished.get(this.outstanding[n]);
      this.finished.delete(this.outstanding[n]);
      n++;
    }
    this.outstanding.splice(0, n);
    if (upTo) this.ch.ack(upTo, n > 1);
    for (const [tag, msg] of this.finished) {
      this.forget(msg);
      this.finished.delete(tag);
      this.ch.ack(msg);
    }
  }
}
