import type { Deps } from './deps';
import { routeParkedInOrder, unroutableMarker } from './parked-items';

/** How often each instance looks (jittered ±20 %); one pipelined read of every entrance's state and parked count. */
export const PARKED_WATCH_MS = 10_000;

/**
 * The safety net under the reopen flush: an open entrance whose parked items have waited, with no flush running and
 * no "nobody takes its events" marker, for longer than a park retry (plus a look) is flushed from here. Normally the
 * `entrance.opened` flush or the items' own TTL retries route them first and this does nothing; it matters when a
 * flush died or froze past its lease after the park queue was drained, or a parked item has no message in the park
 * queue (a crash between its Redis write and its park publish): nothing else would ever come for them.
 *
 * Bound: such an item is routed within park.retrySeconds + 2 × PARKED_WATCH_MS (+ the flush lease, while a frozen
 * flusher still holds it). Cost while nothing is stranded: one pipelined read (2 commands per entrance) per look.
 */
export class ParkedWatch {
  /** Entrance → since when (ms) it has been seen open with parked items, no flush and no marker. */
  private readonly waitingSince = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly d: Deps,
    /** False while Redis or the broker is down, or the service stops: the look is skipped. */
    private readonly ready: () => boolean,
    private readonly intervalMs = PARKED_WATCH_MS,
  ) {}

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        this.running = (this.ready() ? this.look() : Promise.resolve())
          .catch((err: Error) => {
            this.d.log.warn('parked watch: look failed; tried again next time', { error: err.message });
          })
          .finally(() => {
            this.running = null;
            this.schedule();
          });
      },
      Math.round(this.intervalMs * (0.8 + Math.random() * 0.4)),
    );
    this.timer.unref();
  }

  /** One look over every entrance (public for tests). */
  async look(): Promise<void> {
    const d = this.d;
    const graceMs = d.cfg.park.retrySeconds * 1000 + this.intervalMs;
    for (const e of await d.store.entrances(Object.keys(d.cfg.entrances))) {
      if (!e.open || e.parked === 0 || this.stopped) {
        this.waitingSince.delete(e.name);
        continue;
      }
      if (await d.store.hasMarker(unroutableMarker(e.name))) {
        // Nobody takes its events now: the items' TTL retries probe again when the marker runs out.
        this.waitingSince.delete(e.name);
        continue;
      }
      const since = this.waitingSince.get(e.name) ?? d.now();
      this.waitingSince.set(e.name, since);
      if (d.now() - since < graceMs) continue;
      const r = await routeParkedInOrder(d, e.name, `watch:${d.instanceId}`, { waitForLease: false });
      if (r === 'busy') continue;
      this.waitingSince.delete(e.name);
      if (r.routed || r.expired) {
        d.log.warn('parked items of an open entrance waited with no flush or retry coming; routed by the parked watch', {
          entrance: e.name,
          routed: r.routed,
          expired: r.expired,
          stopped: r.stopped,
        });
      }
    }
  }
}
