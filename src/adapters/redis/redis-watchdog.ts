import { EventEmitter } from 'node:events';
import type { RedisConnection } from './redis-client';

/** How often a ready connection is probed. */
export const WATCHDOG_INTERVAL_MS = 1000;

/**
 * Notices a Redis connection that stops answering without closing (a half-open socket: a partition, a NAT or proxy
 * holding the bytes), which ioredis alone never does. While the connection is ready it sends a PING every
 * WATCHDOG_INTERVAL_MS (never two at once); a PING without a reply within `stallMs` emits `stalled` (with how long it
 * waited) and disconnects the client with reconnect, so a fresh socket replaces the stalled one. The owner marks
 * Redis unavailable on `stalled` and available again on the client's next `ready`.
 *
 * Bound: a stall is noticed at most stallMs + WATCHDOG_INTERVAL_MS after it begins. Commands in flight meanwhile are
 * rejected by ioredis' commandTimeout (= stallMs), never resent (autoResendUnfulfilledCommands off).
 */
export class RedisWatchdog extends EventEmitter {
  private timer: NodeJS.Timeout | null = null;
  private probing = false;

  constructor(
    private readonly client: RedisConnection,
    private readonly stallMs: number,
    private readonly intervalMs = Math.min(WATCHDOG_INTERVAL_MS, stallMs),
  ) {
    super();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private probe(): void {
    if (this.probing || this.client.status !== 'ready') return;
    this.probing = true;
    const sent = Date.now();
    let done = false;
    const finish = (stalled: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      this.probing = false;
      if (!stalled || !this.timer) return;
      this.emit('stalled', Date.now() - sent);
      // Reconnect: ioredis ends the socket (destroying it after disconnectTimeout, 2 s, if the peer never closes it).
      this.client.disconnect(true);
    };
    // commandTimeout (the same bound) usually rejects the PING first; this timer covers a client without it.
    const deadline = setTimeout(() => finish(true), this.stallMs);
    deadline.unref();
    // Any reply counts, an error reply too: Redis answered. A rejection for a closed connection is no stall either.
    this.client.ping().then(
      () => finish(false),
      (err: Error) => finish(/timed out/i.test(err.message)),
    );
  }
}
