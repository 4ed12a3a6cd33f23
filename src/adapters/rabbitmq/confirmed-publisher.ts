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

/** Why a publish on a confirm channel failed; its owner decides what that means (retried later, or told to the operator). */
export type PublishFailure =
  /** No confirm within the confirm timeout. */
  | { kind: 'timeout'; ms: number }
  /** The broker nacked the message, or the channel closed before its confirm. */
  | { kind: 'nacked'; cause: Error }
  /** The client did not send it (it cannot encode the message, or the channel is closed already). */
  | { kind: 'refused'; cause: Error };

interface Pending {
  returned: boolean;
}

/**
 * Publishing on one confirm channel, the core the service's ConfirmedPublisher and the CLI share: a publish resolves
 * only when the broker confirmed it and tells whether a `mandatory` message was returned (matched by its publish id,
 * so many publishes may be in flight); every wait is bounded by `confirmTimeoutMs`. A publish the channel does not take
 * at once starts `backPressure` (its `drain` or end, bounded): callers wait for it before their next publish.
 */
export class ConfirmChannelPublisher {
  private readonly pending = new Map<string, Pending>();
  private drain: Promise<void> | null = null;

  constructor(
    readonly ch: amqp.ConfirmChannel,
    private readonly confirmTimeoutMs: number,
    /** The owner's error for a failure (and what it does about it: the service replaces a nacked channel). */
    private readonly failed: (failure: PublishFailure, exchange: string, routingKey: string) => Error,
  ) {
    ch.on('return', (msg: amqp.Message) => {
      const id = publishIdOf(msg.properties);
      const p = id ? this.pending.get(id) : undefined;
      if (p) p.returned = true;
    });
  }

  /** Set while the channel's write buffer is full: resolves at `drain`, the channel's end or the confirm timeout. */
  get backPressure(): Promise<void> | null {
    return this.drain;
  }

  /** `id`: what a returned copy is matched by, its PUBLISH_ID_HEADER or else its messageId (see publishIdOf). */
  async publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
    id: string,
  ): Promise<PublishOutcome> {
    const pending: Pending = { returned: false };
    if (mandatory) this.pending.set(id, pending);
    try {
      return await new Promise<PublishOutcome>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(this.failed({ kind: 'timeout', ms: this.confirmTimeoutMs }, exchange, routingKey)),
          this.confirmTimeoutMs,
        );
        let ok: boolean;
        try {
          ok = this.ch.publish(exchange, routingKey, body, { ...options, mandatory }, (err) => {
            clearTimeout(timer);
            if (err) reject(this.failed({ kind: 'nacked', cause: err }, exchange, routingKey));
            else resolve(pending.returned ? 'returned' : 'confirmed');
          });
        } catch (err) {
          clearTimeout(timer);
          reject(this.failed({ kind: 'refused', cause: err as Error }, exchange, routingKey));
          return;
        }
        if (!ok && !this.drain) {
          // Back-pressure: later publishes wait for `drain` (or the channel's end), bounded.
          this.drain = withTimeout(
            new Promise<void>((res) => {
              this.ch.once('drain', res);
              this.ch.once('close', res);
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
}

/**
 * Publishes on a confirm channel of the publish connection (re-opened after every reconnect, the topology asserted
 * first). Every publish resolves only when the broker confirmed it, tells whether a `mandatory` message was returned,
 * respects back-pressure (`drain`) and is bounded by a timeout. A nack, a closed channel or a timeout is a
 * TransientError.
 */
export class ConfirmedPublisher extends EventEmitter {
  private core: ConfirmChannelPublisher | null = null;
  private waiters: (() => void)[] = [];
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
      this.core = null;
      this.emit('lost');
    });
  }

  get ready(): boolean {
    return this.core !== null;
  }

  private async open(model: amqp.ChannelModel): Promise<void> {
    try {
      await assertTopology(model, this.topology, this.log);
      const ch = await model.createConfirmChannel();
      ch.on('error', (err: Error) => this.log.warn('publish channel error', { error: err.message }));
      const core = new ConfirmChannelPublisher(ch, this.confirmTimeoutMs, (f, exchange, routingKey) =>
        this.failure(ch, f, exchange, routingKey),
      );
      ch.on('close', () => {
        if (this.core?.ch !== ch) return;
        this.core = null;
        this.emit('lost');
        // A channel closed by a channel-level error (connection still up) is re-opened at once.
        if (this.conn.current === model) void this.open(model);
      });
      this.core = core;
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

  private async channel(): Promise<ConfirmChannelPublisher> {
    if (this.core) return this.core;
    await withTimeout(
      new Promise<void>((resolve) => this.waiters.push(resolve)),
      this.channelWaitMs,
      'waiting for the publish channel',
    ).catch((err) => {
      throw new TransientError((err as Error).message, { cause: err });
    });
    if (!this.core) throw new TransientError('publish channel not available');
    return this.core;
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
    // Waited for before taking a channel: after a reconnect, a new channel has no back-pressure of the old one.
    while (this.core?.backPressure) await this.core.backPressure;
    const core = await this.channel();
    let id = publishIdOf(options);
    if (id === undefined) {
      // Nothing to match a returned copy by: give it a publish id of its own.
      id = randomUUID();
      options = { ...options, headers: { ...options.headers, [PUBLISH_ID_HEADER]: id } };
    }
    return core.publish(exchange, routingKey, body, options, mandatory, id);
  }

  private failure(ch: amqp.ConfirmChannel, f: PublishFailure, exchange: string, routingKey: string): Error {
    switch (f.kind) {
      case 'timeout':
        return new TransientError(`publish to ${exchange}/${routingKey} not confirmed in ${f.ms} ms`);
      case 'nacked':
        this.replaceAfterNack(ch);
        return new TransientError(`publish to ${exchange}/${routingKey} nacked or channel closed`, { cause: f.cause });
      case 'refused':
        // amqplib refuses to encode some headers (a table over 64 KiB, a nested table with a `!` key):
        // retrying the same message would fail forever, so that is not a transient failure.
        if (f.cause instanceof RangeError || /encod/i.test(f.cause.message)) {
          return new UnencodableMessageError(f.cause.message, { cause: f.cause });
        }
        return new TransientError(`publish failed: ${f.cause.message}`, { cause: f.cause });
    }
  }

  /**
   * A nack means the broker could not take the message; on RabbitMQ 3.10, a channel that first published to a
   * quorum queue while its leader was being re-elected gets every later publish to that queue nacked, for good
   * (found by the cluster test). So a nacked channel is closed (once); the close handler opens a fresh one.
   */
  private replaceAfterNack(ch: amqp.ConfirmChannel): void {
    if (this.core?.ch !== ch || this.replacing.has(ch)) return;
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
