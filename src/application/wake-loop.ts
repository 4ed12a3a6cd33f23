import type { Deps } from './deps';

/** What one round reports: when it should run next (null: nothing waits, sleep the longest). */
export interface RoundResult {
  nextDueMs: number | null;
}

export interface WakeLoopOptions {
  /** The longest sleep between rounds (what another instance left behind is seen within it). */
  maxSleepMs: number;
  /** Added to each sleep, so instances do not all call Redis in the same millisecond. */
  jitterMs: number;
  /** Names the loop in its warning when a round fails. */
  name: string;
}

const MIN_SLEEP_MS = 5;

/**
 * One background loop per instance (due timers, the notification relay): runs `round` when the next thing it waits for
 * is due, and at least every maxSleepMs, only while `canRun()` (Redis and the broker up, not stopping). Rounds never
 * overlap: a nudge during a round is taken into account when the round schedules the next. Holds nothing per item:
 * what waits is in Redis.
 */
export class WakeLoop {
  private timer: NodeJS.Timeout | null = null;
  /** When the scheduled wake-up is (ms), while one is scheduled. */
  private wakeAt: number | null = null;
  /** A nudge that came while a round was running: the round's next wake-up takes it into account. */
  private nudgedDue: number | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly d: Pick<Deps, 'now' | 'log'>,
    private readonly canRun: () => boolean,
    private readonly round: () => Promise<RoundResult>,
    private readonly opts: WakeLoopOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops waking; waits (bounded by the caller) for a round under way to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Something this instance stored is due at `dueMs` (default now): wake up for it if the next round would be later. */
  nudge(dueMs: number = this.d.now()): void {
    if (this.stopped) return;
    if (this.running || this.wakeAt === null) {
      this.nudgedDue = Math.min(this.nudgedDue ?? dueMs, dueMs);
      return;
    }
    if (dueMs >= this.wakeAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.schedule(Math.max(MIN_SLEEP_MS, dueMs - this.d.now()));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.wakeAt = this.d.now() + ms;
    this.timer = setTimeout(() => {
      this.wakeAt = null;
      this.running = this.tick().finally(() => (this.running = null));
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let sleep = this.opts.maxSleepMs;
    if (this.canRun()) {
      try {
        const r = await this.round();
        if (r.nextDueMs !== null) sleep = Math.min(sleep, Math.max(MIN_SLEEP_MS, r.nextDueMs - this.d.now()));
      } catch (err) {
        this.d.log.warn(`${this.opts.name}: round failed; retried`, { error: (err as Error).message });
      }
    }
    if (this.nudgedDue !== null) sleep = Math.min(sleep, Math.max(MIN_SLEEP_MS, this.nudgedDue - this.d.now()));
    this.nudgedDue = null;
    this.schedule(sleep + Math.floor(Math.random() * this.opts.jitterMs));
  }
}
