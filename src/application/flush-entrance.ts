import { TransientError } from '../ports/messaging';
import type { Deps } from './deps';
import { retryParked } from './handle-inbound-message';
import { expireContact, routeContact } from './route-contact';

const BATCH = 200;
const LEASE_MS = 30_000;
const LOCK_WAIT_MS = 60_000;

/**
 * Routes an entrance's parked items, oldest first, as soon as it is open: Redis holds the order (a sorted
 * set by arrival), so this never waits for the park TTL. One instance at a time per entrance (a lease in
 * Redis). Afterwards the entrance's park queue is drained, so the broker UI shows it empty.
 */
export async function flushEntrance(d: Deps, entrance: string, owner: string): Promise<{ routed: number; expired: number }> {
  const ent = d.cfg.entrances[entrance];
  const lock = `flush:${entrance}`;
  const started = d.now();
  // Another flush of this entrance may be stopping at a close that came before this open: wait for it,
  // then flush again, so nothing parked in between waits for the TTL.
  while ((await d.store.acquireLock(lock, owner, LEASE_MS)) === null) {
    if (d.now() - started > LOCK_WAIT_MS) throw new TransientError(`flush of ${entrance} still busy elsewhere; retried later`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let routed = 0;
  let expired = 0;
  try {
    for (;;) {
      const batch = await d.store.routeParkedBatch(entrance, d.now(), ent.maxParkSeconds * 1000, BATCH);
      if (batch.length === 0) break;
      // Published in order on one channel; confirms are awaited together.
      const results = await Promise.allSettled(
        batch.map(async (r) => {
          if (r.outcome === 'routed') {
            await routeContact(d, r.record, { replayed: false });
            routed++;
          } else if (r.outcome === 'expired') {
            await expireContact(d, r.record, { replyTo: r.replyTo, correlationId: r.correlationId }, null);
            expired++;
          }
        }),
      );
      const failed = results.findIndex((x) => x.status === 'rejected');
      if (failed >= 0) {
        // Put back what was marked routed but not confirmed; the next open or TTL retry picks it up.
        for (let i = 0; i < batch.length; i++) {
          const r = batch[i];
          if (results[i].status === 'rejected' && r.outcome === 'routed') await d.store.parkRouted(r.record.contactId, d.now());
        }
        throw new TransientError(`flush of ${entrance} interrupted`, { cause: (results[failed] as PromiseRejectedResult).reason });
      }
      if (batch.some((r) => r.outcome === 'closed')) break;
      if (!(await d.store.renewLock(lock, owner, LEASE_MS))) {
        d.log.warn('flush lease lost; stopping', { entrance });
        break;
      }
    }
  } finally {
    await d.store.releaseLock(lock, owner).catch(() => undefined);
  }
  const ms = d.now() - started;
  if (routed || expired) d.log.info('parked items routed after reopen', { entrance, routed, expired, ms });
  const drained = await d.messaging.drainParked(entrance, 100_000, async (m) => {
    if (m.parked) await retryParked(d, m, m.parked);
  });
  if (drained) d.log.info('park queue drained', { entrance, messages: drained });
  return { routed, expired };
}
