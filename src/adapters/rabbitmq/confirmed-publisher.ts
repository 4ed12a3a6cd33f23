import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type * as amqp from 'amqplib';
import type { Logger } from '../../ports/logger';
import { PublishOutcome, TransientError } from '../../ports/messaging';
import { withTimeout } from '../timing';
import { NO_TRACING, type MessageTracing } from './message-tracing';
import type { AmqpConnection } from './amqp-connection';
import { assertTopology } from './assert-topology';
import type { Topology } from './topology';

/** The message's properties cannot be encoded by the client: send it again with fewer headers. */
export class UnencodableMessageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnencodableMessageError';
  }
}

/** Header that lets a returned (unroutable) copy be matched to its publish when message_id is not ours. */
export const PUBLISH_ID_HEADER = 'x-wi-publish-id';

interface Pending {
  returned: boolean;
}

/**
 * Publishes on a confirm channel of the publish connection. Every publish resolves only when the broker
 * confirmed it, tells whether a `mandatory` message was returned, respects back-pressure (`drain`)
 * and is bounded by a timeout. A nack, a closed channel or a timeout is a TransientError.
 */
export class ConfirmedPublisher extends EventEmitter {
  private ch: amqp.ConfirmChannel | null = null;
  private waiters: (() => void)[] = [];
  private drain: Promise<void> | null = null;
  private readonly pending = new Map<string, Pending>();
  private readonly replacing = new WeakSet<amqp.ConfirmChannel>();

  constructor(
    private readonly conn: AmqpConnection,
    private readonly topology: Topology,
    private readonly log: Logger,
    private readonly confirmTimeoutMs: number,
    /** How long a publish waits for a channel while the connection is re-established. */
    private readonly channelWaitMs = confirmTimeoutMs,
    /** Off by default: then a publish creates no span and adds no header. */
    private readonly tracing: MessageTracing = NO_TRACING,
  ) {
    super();
    conn.on('up', (model: amqp.ChannelModel) => void this.open(model));
    conn.on('down', () => {
      this.ch = null;
      this.emit('lost');
    });
  }

  get ready(): boolean {
    return this.ch !== null;
  }

  private async open(model: amqp.ChannelModel): Promise<void> {
    try {
      const ch = await model.createConfirmChannel();
      ch.on('error', (err: Error) => this.log.warn('publish channel error', { error: err.message }));
      ch.on('return', (msg: amqp.Message) => {
        const id = publishIdOf(msg.properties);
        const p = id ? this.pending.get(id) : undefined;
        if (p) p.returned = true;
      });
      ch.on('close', () => {
        if (this.ch !== ch) return;
        this.ch = null;
        this.emit('lost');
        // A channel closed by a channel-level error (connection still up) is re-opened at once.
        if (this.conn.current === model) void this.open(model);
      });
      await assertTopology(ch, this.topology);
      this.ch = ch;
      this.drain = null;
      const w = this.waiters;
      this.waiters = [];
      w.forEach((fn) => fn());
      this.log.info('publish channel ready');
      this.emit('ready');
    } catch (err) {
      this.log.warn('cannot open publish channel', { error: (err as Error).message });
      // The connection is likely going down; its `up` will call open() again.
    }
  }

  private async channel(): Promise<amqp.ConfirmChannel> {
    if (this.ch) return this.ch;
    await withTimeout(
      new Promise<void>((resolve) => this.waiters.push(resolve)),
      this.channelWaitMs,
      'waiting for the publish channel',
    ).catch((err) => {
      throw new TransientError((err as Error).message, { cause: err });
    });
    if (!this.ch) throw new TransientError('publish channel not available');
    return this.ch;
  }

  /**
   * With tracing on, the publish is a PRODUCER span and the message carries its `traceparent`; `destination` names the
   * span when the exchange is the default one and the routing key is a sender's queue (a reply_to).
   */
  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
    destination?: string,
  ): Promise<PublishOutcome> {
    if (!this.tracing.enabled) return this.send(exchange, routingKey, body, options, mandatory);
    return this.tracing.publish(exchange, routingKey, body.length, options, destination, (traced) =>
      this.send(exchange, routingKey, body, traced, mandatory),
    );
  }

  private async send(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
  ): Promise<PublishOutcome> {
    while (this.drain) await this.drain;
    const ch = await this.channel();
    let id = publishIdOf(options);
    if (id === undefined) {
      // Nothing to match a returned copy by: give it a publish id of its own.
      id = randomUUID();
      options = { ...options, headers: { ...options.headers, [PUBLISH_ID_HEADER]: id } };
    }
    const pending: Pending = { returned: false };
    if (mandatory) this.pending.set(id, pending);
    try {
      return await new Promise<PublishOutcome>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new TransientError(`publish to ${exchange}/${routingKey} not confirmed in ${this.confirmTimeoutMs} ms`)),
          this.confirmTimeoutMs,
        );
        let ok: boolean;
        try {
          ok = ch.publish(exchange, routingKey, body, { ...options, mandatory }, (err) => {
            clearTimeout(timer);
            if (err) {
              this.replaceAfterNack(ch);
              reject(new TransientError(`publish to ${exchange}/${routingKey} nacked or channel closed`, { cause: err }));
            } else resolve(pending.returned ? 'returned' : 'confirmed');
          });
        } catch (err) {
          clearTimeout(timer);
          // amqplib refuses to encode some headers (a table over 64 KiB, a nested table with a `!` key):
          // retrying the same message would fail forever, so that is not a transient failure.
          const e = err as Error;
          if (e instanceof RangeError || /encod/i.test(e.message)) reject(new UnencodableMessageError(e.message, { cause: e }));
          else reject(new TransientError(`publish failed: ${e.message}`, { cause: e }));
          return;
        }
        if (!ok && !this.drain) {
          // Back-pressure: later publishes wait for `drain` (or the channel's end), bounded.
          this.drain = withTimeout(
            new Promise<void>((res) => {
              ch.once('drain', res);
              ch.once('close', res);
            }),
            this.confirmTimeoutMs,
            'publish channel drain',
          )
            .catch(() => undefined)
            .finally(() => {
              this.drain = null;
            });
        }
      });
    } finally {
      if (mandatory) this.pending.delete(id);
    }
  }

  /**
   * A nack means the broker could not take the message; on RabbitMQ 3.10, a channel that first published to a
   * quorum queue while its leader was being re-elected gets every later publish to that queue nacked, for good
   * (found by the cluster test). So a nacked channel is closed (once); the close handler opens a fresh one.
   */
  private replaceAfterNack(ch: amqp.ConfirmChannel): void {
    if (this.ch !== ch || this.replacing.has(ch)) return;
    this.replacing.add(ch);
    this.log.warn('publish nacked by the broker; replacing the publish channel');
    ch.close().catch(() => undefined);
  }
}

function publishIdOf(props: { headers?: Record<string, unknown>; messageId?: string }): string | undefined {
  const h = props.headers?.[PUBLISH_ID_HEADER];
  if (typeof h === 'string') return h;
  return props.messageId;
}
