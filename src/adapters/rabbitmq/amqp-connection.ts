import { EventEmitter } from 'node:events';
import type { ConnectionOptions } from 'node:tls';
import * as amqp from 'amqplib';
import type { Logger } from '../../ports/logger';
import { classifyAmqpConnectError, PermanentConnectError } from '../connect-errors';
import { redactUrl } from '../redact-url';
import { jitteredBackoff, sleep } from '../timing';
import { coalesceAmqpSocketWrites } from './coalesce-writes';

/**
 * One AMQP connection that reconnects by itself with jittered backoff, trying each broker node of
 * AMQP_URL in turn. Emits `up` (with the new connection) after every (re)connect and `down` when lost,
 * so owners re-create their channels and re-assert topology.
 *
 * The first connect sorts its failures: a refused login, a vhost that does not exist or a server certificate that
 * does not verify make start() throw PermanentConnectError (retrying would fail the same way); anything else
 * (refused, timed out, unreachable, reset) is retried, one warning per attempt. Once connected, every failure is
 * retried: a password rotated while the service runs is logged as an error on each attempt until it is fixed.
 *
 * A broker that stops answering without closing the socket is noticed by the AMQP heartbeat (AMQP_HEARTBEAT_SECONDS,
 * default 10): amqplib checks once per heartbeat and gives up after two checks without a byte from the broker, so
 * 2-3 heartbeats after it fell silent (20-30 s by default); the connection is then re-made like any lost one.
 *
 * `blocked` (with the broker's reason, e.g. "low on memory") and `unblocked`: the broker holds this connection's
 * publishes during a resource alarm (connection.blocked). A lost connection is no longer blocked (`unblocked` then).
 */
export class AmqpConnection extends EventEmitter {
  private conn: amqp.ChannelModel | null = null;
  private stopping = false;
  private readonly abort = new AbortController();
  private nextUrl = 0;
  private everConnected = false;
  private readonly heartbeatSeconds: number;
  private readonly tls: ConnectionOptions;
  private blockedReason: string | null = null;

  constructor(
    private readonly urls: string[],
    private readonly name: string,
    private readonly log: Logger,
    opts: { heartbeatSeconds?: number; tls?: ConnectionOptions } = {},
  ) {
    super();
    this.heartbeatSeconds = opts.heartbeatSeconds ?? 10;
    this.tls = opts.tls ?? {};
    coalesceAmqpSocketWrites();
  }

  get current(): amqp.ChannelModel | null {
    return this.conn;
  }

  /** The broker's reason while it blocks this connection's publishes (resource alarm), else null. */
  get blocked(): string | null {
    return this.blockedReason;
  }

  private setBlocked(reason: string | null): void {
    if (this.blockedReason === reason) return;
    this.blockedReason = reason;
    if (reason === null) this.emit('unblocked');
    else this.emit('blocked', reason);
  }

  /**
   * Connects (retrying transient failures until stop()), then keeps the connection alive. Throws
   * PermanentConnectError when the first connect fails for good.
   */
  async start(): Promise<void> {
    await this.connectLoop();
  }

  private async connectLoop(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      const url = this.urls[this.nextUrl % this.urls.length];
      this.nextUrl++;
      try {
        const conn = await amqp.connect(withHeartbeat(url, this.heartbeatSeconds), {
          // Used by amqps:// URLs only (amqplib hands socket options to tls.connect).
          ...(url.startsWith('amqps:') ? this.tls : {}),
          timeout: 10_000,
          keepAlive: true,
          // Without it Nagle's algorithm holds small frames (acks, confirms) for ~40 ms.
          noDelay: true,
          clientProperties: { connection_name: `workitem-server ${this.name}` },
        });
        if (this.stopping) {
          await conn.close().catch(() => undefined);
          return;
        }
        this.everConnected = true;
        this.attach(conn);
        this.log.info('amqp connected', { connection: this.name, node: redactUrl(url) });
        this.emit('up', conn);
        return;
      } catch (err) {
        if (this.stopping) return;
        const failure = classifyAmqpConnectError(err as Error, url);
        if (failure.permanent && !this.everConnected) throw new PermanentConnectError(url, failure);
        const delay = jitteredBackoff(attempt);
        const fields = {
          connection: this.name,
          node: redactUrl(url),
          code: failure.code,
          error: failure.cause,
          attempt: attempt + 1,
          retryInMs: delay,
        };
        if (failure.permanent) this.log.error('amqp reconnect refused; retrying until it is fixed', fields);
        else this.log.warn('amqp connect failed; retrying', fields);
        await sleep(delay, this.abort.signal);
      }
    }
  }

  private attach(conn: amqp.ChannelModel): void {
    this.conn = conn;
    conn.on('error', (err: Error) => this.log.warn('amqp connection error', { connection: this.name, error: err.message }));
    conn.on('blocked', (reason: string) => {
      if (this.conn === conn) this.setBlocked(reason || 'blocked');
    });
    conn.on('unblocked', () => {
      if (this.conn === conn) this.setBlocked(null);
    });
    conn.once('close', () => {
      if (this.conn !== conn) return;
      this.conn = null;
      this.setBlocked(null);
      this.emit('down');
      if (this.stopping) return;
      this.log.warn('amqp connection lost; reconnecting', { connection: this.name });
      void this.connectLoop();
    });
  }

  /**
   * Closes the connection for good. Bounded: a broker that does not answer the close within timeoutMs (a half-open
   * socket) has the socket destroyed rather than waited on; its unacked deliveries go back to their queues.
   */
  async stop(timeoutMs = 3000): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    const conn = this.conn;
    this.conn = null;
    if (conn) {
      let closed = false;
      await Promise.race([
        conn.close().then(
          () => (closed = true),
          () => (closed = true),
        ),
        sleep(timeoutMs),
      ]);
      if (!closed) (conn as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }
  }
}

/** Heartbeats detect a dead peer (e.g. a dropped TCP connection) without waiting for the OS. */
function withHeartbeat(url: string, seconds: number): string {
  if (/[?&]heartbeat=/.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}heartbeat=${seconds}`;
}
