import type { Deps } from './deps';
import { WakeLoop } from './wake-loop';

/** Notifications per claim; a round goes on while batches come back full (bounded per round). */
const BATCH = 500;
const MAX_BATCHES_PER_ROUND = 20;
/**
 * Idle, the relay looks this often (one Redis call) for what another instance left behind (it died before publishing)
 * (it died before publishing); the instance that writes a notification nudges its own relay.
 */
const IDLE_MS = 5_000;

export interface RelayRound {
  published: number;
  failed: number;
  nextDueMs: number | null;
}

/**
 * One round: takes the due notifications from the outbox, publishes them (confirmed; in order on one channel, the
 * confirms awaited together), removes the confirmed ones. One the broker does not confirm stays taken and is published
 * again after notifications.leaseSeconds, with the same id (message_id): at least once. Nobody bound is fine (not mandatory).
 */
export async function relayNotifications(d: Deps): Promise<RelayRound> {
  let published = 0;
  let failed = 0;
  let nextDueMs: number | null = null;
  for (let i = 0; i < MAX_BATCHES_PER_ROUND; i++) {
    const leaseMs = d.cfg.notifications.leaseSeconds * 1000;
    const { notes, nextDueMs: next } = await d.store.claimNotifications(d.now(), BATCH, leaseMs);
    nextDueMs = next;
    if (notes.length === 0) break;
    d.faultPoint?.('notify:claimed');
    const results = await Promise.allSettled(notes.map((n) => d.messaging.publishNotification(n)));
    const done: string[] = [];
    results.forEach((r, j) => {
      const n = notes[j];
      if (r.status === 'fulfilled') {
        done.push(n.id);
        d.metrics.notified(n.event);
      } else {
        failed++;
        d.log.warn('notification not confirmed; published again after the lease', {
          notificationId: n.id,
          contactId: n.contactId,
          leaseMs,
          error: (r.reason as Error)?.message,
        });
      }
    });
    if (done.length > 0) d.faultPoint?.('notify:published');
    await d.store.finishNotifications(done);
    published += done.length;
    if (notes.length < BATCH) break;
  }
  return { published, failed, nextDueMs };
}

/**
 * One relay per instance: a round when nudged (this instance wrote a notification), else when a taken one's lease runs
 * out, and at least every IDLE_MS; only while `canRun()` (Redis and the broker up, not stopping).
 */
export class NotificationRelay extends WakeLoop {
  constructor(d: Deps, canRun: () => boolean) {
    super(d, canRun, () => relayNotifications(d), { maxSleepMs: IDLE_MS, jitterMs: 25, name: 'notifications' });
  }
}
