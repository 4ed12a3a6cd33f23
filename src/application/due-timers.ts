import type { Deps } from './deps';
import { expireContact } from './route-contact';

/** A claim not finished within this long (its instance died, or the broker did not confirm) is taken over. */
export const CLAIM_LEASE_MS = 60_000;
/** Claims per script call; a tick goes on while batches come back full (bounded per tick). */
const BATCH = 200;
const MAX_BATCHES_PER_TICK = 25;
/** The poller never sleeps longer than this, so an item due soon that another instance accepted is seen in time. */
const MAX_SLEEP_MS = 1_000;
const MIN_SLEEP_MS = 5;
const JITTER_MS = 25;

export interface TickResult {
  expired: number;
  /** The earliest due time still waiting (ms), or null. */
  nextDueMs: number | null;
  /** Claims whose publishing failed: left claimed, taken over after the lease. */
  failed: number;
}

/**
 * One round of due timers: claims what is due in Redis (an index per kind, no scan), publishes each one's outcome,
 * then finishes its claim. Many instances may run this at once: the claim scripts hand each entry to one of them.
 */
export async function fireDueTimers(d: Deps): Promise<TickResult> {
  let expired = 0;
  let failed = 0;
  let nextDueMs: number | null = null;
  for (let i = 0; i < MAX_BATCHES_PER_TICK; i++) {
    const now = d.now();
    const { claims, nextDueMs: next } = await d.store.claimDueExpiries(now, BATCH, CLAIM_LEASE_MS);
    nextDueMs = next;
    const results = await Promise.allSettled(
      claims.map(async (c) => {
        await expireContact(d, c.record, { replyTo: c.replyTo, correlationId: c.correlationId }, null, {
          kind: 'expires-at',
          ...(c.expiresAt !== undefined && { expiresAt: c.expiresAt }),
          state: c.state,
        });
        await d.store.finishExpiry(c.contactId);
        d.log.debug('expiry fired', { contactId: c.contactId, lateMs: d.now() - c.dueMs, retaken: c.retaken });
      }),
    );
    results.forEach((r, j) => {
      if (r.status === 'fulfilled') expired++;
      else {
        failed++;
        d.log.warn('expiry not confirmed; its claim is taken over after the lease', {
          contactId: claims[j].contactId,
          leaseMs: CLAIM_LEASE_MS,
          error: (r.reason as Error)?.message,
        });
      }
    });
    if (claims.length < BATCH) break;
  }
  return { expired, nextDueMs, failed };
}

/**
 * One poller per instance: wakes when the next timer is due (at most every second, plus a little jitter so
 * instances do not all call Redis in the same millisecond), runs `fireDueTimers` while `canRun()` (Redis and the
 * broker up, not stopping). Holds nothing per item: 100 000 scheduled items cost a sorted-set entry each in Redis.
 */
export class DueTimerPoller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly d: Deps,
    private readonly canRun: () => boolean,
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

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => (this.running = null));
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let sleep = MAX_SLEEP_MS;
    if (this.canRun()) {
      try {
        const r = await fireDueTimers(this.d);
        if (r.expired > 0) this.d.log.info('due timers fired', { expired: r.expired });
        if (r.nextDueMs !== null) sleep = Math.min(sleep, Math.max(MIN_SLEEP_MS, r.nextDueMs - this.d.now()));
      } catch (err) {
        this.d.log.warn('due timers: round failed; retried', { error: (err as Error).message });
      }
    }
    this.schedule(sleep + Math.floor(Math.random() * JITTER_MS));
  }
}
