import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type * as amqp from 'amqplib';
import type { Logger } from '../../ports/logger';
import { TransientError, type DeliveryOutcome, type PublishOutcome } from '../../ports/messaging';
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
  /**
   * The broker nacked the message (`byBroker`: a basic.nack, e.g. a queue full with `x-overflow: reject-publish`), or
   * the channel closed before its confirm (`byBroker` false).
   */
  | { kind: 'nacked'; cause: Error; byBroker: boolean }
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
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];

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

  /** Resolves once every publish made so far on this channel is settled (confirmed, nacked, timed out or failed). */
  settled(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** `id`: what a returned copy is matched by, its PUBLISH_ID_HEADER or else its messageId (see publishIdOf). */
  async publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
    id: string,
  ): Promise<DeliveryOutcome> {
    const pending: Pending = { returned: false };
    if (mandatory) this.pending.set(id, pending);
    this.inflight++;
    try {
      return await new Promise<DeliveryOutcome>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(this.failed({ kind: 'timeout', ms: this.confirmTimeoutMs }, exchange, routingKey)),
          this.confirmTimeoutMs,
        );
        let ok: boolean;
        try {
          ok = this.ch.publish(exchange, routingKey, body, { ...options, mandatory }, (err) => {
            clearTimeout(timer);
            // amqplib's own words: 'message nacked' for a basic.nack, 'channel closed' when the channel ended first.
            if (err) reject(this.failed({ kind: 'nacked', cause: err, byBroker: err.message === 'message nacked' }, exchange, routingKey));
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
      if (--this.inflight === 0 && this.idleWaiters.length > 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        w.forEach((fn) => fn());
      }
    }
  }
}

/**
 * The broker nacked a publish (basic.nack): it refused the message, e.g. a queue full with `x-overflow: reject-publish`
 * or `reject-publish-dlx`. A TransientError for every publish but those whose caller takes a refusal as an outcome
 * (`refusable`: contact events; contact.created and contact.updated park their item and retry it after the park TTL,
 * contract 1.2 "Back-pressure"; withdrawn and expired ones are retried as a TransientError).
 */
export class RefusedByBrokerError extends TransientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RefusedByBrokerError';
  }
}

/** A nacked channel is replaced at most this often: a full queue nacks every publish to it, and that is no broken channel. */
export const NACK_REPLACE_INTERVAL_MS = 10_000;

/** What a publish may add: the span's destination (see publish), and whether a broker nack is an outcome. */
export interface PublishExtras {
  destination?: string;
  /** A basic.nack resolves as 'refused' instead of throwing RefusedByBrokerError. */
  refusable?: boolean;
}

/**
 * Publishes on a confirm channel of the publish connection (re-opened after every reconnect, the topology asserted
 * first). Every publish resolves only when the broker confirmed it, tells whether a `mandatory` message was returned,
 * respects back-pressure (`drain`) and is bounded by a timeout. A nack, a closed channel or a timeout is a
 * TransientError; a nack is an outcome ('refused') for a publish that says it is `refusable`.
 */
export class ConfirmedPublisher extends EventEmitter {
  private core: ConfirmChannelPublisher | null = null;
  private waiters: (() => void)[] = [];
  private readonly replacing = new WeakSet<amqp.ConfirmChannel>();
  private lastReplaceAt = -Infinity;

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
      const core = await this.createCore(model);
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

  /** A confirm channel of `model`; its unexpected close (while it is the current one) opens the next. */
  private async createCore(model: amqp.ChannelModel): Promise<ConfirmChannelPublisher> {
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
    return core;
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
   * span when the exchange is the default one and the routing key is a sender's queue (a reply_to). `refusable`: a
   * broker nack resolves as 'refused' (the caller parks the item) instead of throwing.
   */
  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
    extras?: PublishExtras & { refusable?: false },
  ): Promise<DeliveryOutcome>;
  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
    extras: PublishExtras & { refusable: true },
  ): Promise<PublishOutcome>;
  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
    extras: PublishExtras = {},
  ): Promise<PublishOutcome> {
    const send = (opts: amqp.Options.Publish) => this.send(exchange, routingKey, body, opts, mandatory, extras.refusable === true);
    if (!this.tracing.enabled) return send(options);
    return this.tracing.publish(exchange, routingKey, body.length, options, extras.destination, send);
  }

  private async send(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
    refusable: boolean,
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
    try {
      return await core.publish(exchange, routingKey, body, options, mandatory, id);
    } catch (err) {
      if (refusable && err instanceof RefusedByBrokerError) return 'refused';
      throw err;
    }
  }

  private failure(ch: amqp.ConfirmChannel, f: PublishFailure, exchange: string, routingKey: string): Error {
    switch (f.kind) {
      case 'timeout':
        return new TransientError(`publish to ${exchange}/${routingKey} not confirmed in ${f.ms} ms`);
      case 'nacked':
        if (!f.byBroker)
          return new TransientError(`publish to ${exchange}/${routingKey}: channel closed before the confirm`, { cause: f.cause });
        this.replaceAfterNack(ch);
        return new RefusedByBrokerError(`publish to ${exchange}/${routingKey} refused by the broker (nack)`, { cause: f.cause });
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
   * A nack usually means a queue refused the message (full, `x-overflow: reject-publish`). But on RabbitMQ 3.10 a
   * channel that first published to a quorum queue while its leader was being re-elected gets every later publish to
   * that queue nacked, for good (found by the cluster test). So a nacked channel is replaced, at most once per
   * NACK_REPLACE_INTERVAL_MS and without a gap: the new channel takes the next publishes at once (nothing pauses),
   * and the old one is closed once its publishes in flight are settled (bounded by the confirm timeout).
   */
  private replaceAfterNack(ch: amqp.ConfirmChannel): void {
    const old = this.core;
    const model = this.conn.current;
    if (old?.ch !== ch || !model || this.replacing.has(ch)) return;
    const now = Date.now();
    if (now - this.lastReplaceAt < NACK_REPLACE_INTERVAL_MS) return;
    this.lastReplaceAt = now;
    this.replacing.add(ch);
    this.log.warn('publish nacked by the broker; the publish channel is replaced (at most every 10 s)');
    void (async () => {
      const fresh = await this.createCore(model).catch((err: Error) => {
        this.log.warn('cannot open a replacement publish channel', { error: err.message });
        return null;
      });
      if (fresh && this.core === old) this.core = fresh;
      else if (fresh) fresh.ch.close().catch(() => undefined);
      await withTimeout(old.settled(), this.confirmTimeoutMs, 'nacked channel settling').catch(() => undefined);
      // Without a replacement this closes the current channel: its close handler opens one (the old way, with a gap).
      await ch.close().catch(() => undefined);
    })();
  }
}

function publishIdOf(props: { headers?: Record<string, unknown>; messageId?: string }): string | undefined {
  const h = props.headers?.[PUBLISH_ID_HEADER];
  if (typeof h === 'string') return h;
  return props.messageId;
}
