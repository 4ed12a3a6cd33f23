import { workItemError } from '../domain/error-codes';
import { TransientError, type InboundMessage } from '../ports/messaging';
import type { Deps } from './deps';
import type { Outcome } from './outcome';
import { processMessage } from './process-message';
import { recordPlaced, recordStep } from './record-step';
import { rejectMessage } from './reject-message';
import { expireContact, routeContact } from './route-contact';

const BATCH = 200;
const LOCK_WAIT_MS = 60_000;

const leaseMs = (d: Deps) => d.cfg.park.flushLeaseSeconds * 1000;

export interface FlushCounts {
  routed: number;
  expired: number;
  /**
   * Why the flush ended: 'done' (nothing parked is left), or it stopped with items still waiting — an event
   * nobody took ('unroutable': the entrance is marked until the next TTL retry), the entrance closed again, or
   * the lease was lost. Only a 'done' flush drains the park queue: the messages of waiting items keep their TTL.
   */
  stopped: 'done' | 'unroutable' | 'closed' | 'lease_lost';
}

/** Marker set when a flush found nobody listening for the entrance: TTL retries re-park instead of flushing again. */
export const unroutableMarker = (entrance: string) => `unroutable:${entrance}`;

/** The lease a flush of the entrance holds. */
export const flushLock = (entrance: string) => `flush:${entrance}`;

/**
 * Routes an entrance's parked items, oldest first, while it is open. Redis holds the order (a sorted set by
 * arrival). This is the only path that routes parked items, under a lease per entrance, so a TTL retry and a
 * reopen flush running at once can never publish out of order. Stops when the entrance closes again, or at
 * the first batch with an event nobody took (the rest wait for their TTL retry: no hot loop).
 */
export async function routeParkedInOrder(d: Deps, entrance: string, owner: string): Promise<FlushCounts>;
/** waitForLease false: 'busy' at once when another flush of the entrance holds the lease. */
export async function routeParkedInOrder(
  d: Deps,
  entrance: string,
  owner: string,
  opts: { waitForLease: false },
): Promise<FlushCounts | 'busy'>;
export async function routeParkedInOrder(
  d: Deps,
  entrance: string,
  owner: string,
  opts: { waitForLease: boolean } = { waitForLease: true },
): Promise<FlushCounts | 'busy'> {
  const ent = d.cfg.entrances[entrance];
  const lock = flushLock(entrance);
  const started = d.now();
  // Another flush of this entrance may be stopping at a close that came before this open: wait for it,
  // then flush again, so nothing parked in between waits for the TTL.
  while ((await d.store.acquireLock(lock, owner, leaseMs(d))) === null) {
    if (!opts.waitForLease) return 'busy';
    if (d.now() - started > LOCK_WAIT_MS) throw new TransientError(`flush of ${entrance} still busy elsewhere; retried later`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let routed = 0;
  let expired = 0;
  let stopped: FlushCounts['stopped'] = 'done';
  d.faultPoint?.('flush:leased');
  try {
    // The first batch is the oldest item alone: while nobody listens (a TTL retry's probe), a flush costs one
    // event and a few Redis commands however many items wait, instead of marking a whole batch routed and back.
    for (let size = 1; ; size = BATCH) {
      const batch = await d.store.routeParkedBatch(entrance, d.now(), ent.maxParkSeconds * 1000, size);
      if (batch.length === 0) break;
      d.faultPoint?.('flush:marked');
      let unroutable = false;
      const placed: string[] = [];
      // Published in order on one channel; confirms are awaited together. Each item's parked message is still
      // in the park queue, so an event nobody takes needs no new one; and should this flush die or freeze before its
      // events are confirmed, that message publishes the event once the lease has run out (retryParked).
      const results = await Promise.allSettled(
        batch.map(async (r) => {
          // Tracing on: each item's event continues the trace of the message that brought it in (stored at accept).
          if (r.outcome === 'routed') {
            const route = () => routeContact(d, r.record, { replayed: false, parkMessage: false, resumed: r.resumed });
            const result = await (d.tracing?.enabled ? d.tracing.resume('workitem.parked route', r.trace, route) : route());
            if (result === 'routed') {
              routed++;
              placed.push(r.record.contactId);
            } else unroutable = true;
            await recordPlaced(d, r.record.contactId, result, 'entrance open');
          } else if (r.outcome === 'expired') {
            const expire = () => expireContact(d, r.record, { replyTo: r.replyTo, correlationId: r.correlationId }, null);
            await (d.tracing?.enabled ? d.tracing.resume('workitem.parked expire', r.trace, expire) : expire());
            expired++;
          }
        }),
      );
      d.faultPoint?.('flush:published');
      // Best effort: a mark left behind only means a later retry of the item publishes its event once more.
      await d.store
        .confirmPlaced(placed, d.now())
        .catch((err: Error) => d.log.warn('flush: confirmed events not marked placed', { entrance, error: err.message }));
      d.notifications?.nudge();
      d.faultPoint?.('flush:confirmed');
      const failed = results.findIndex((x) => x.status === 'rejected');
      if (failed >= 0) {
        // Put back what was marked routed but not confirmed; the next open or TTL retry picks it up.
        for (let i = 0; i < batch.length; i++) {
          const r = batch[i];
          // `unconfirmed`: a sender already told `routed` (another path confirmed its event while this flush froze) hears `buffered`.
          if (results[i].status === 'rejected' && r.outcome === 'routed')
            await d.store.parkRouted(r.record.contactId, d.now(), 'unconfirmed');
        }
        throw new TransientError(`flush of ${entrance} interrupted`, { cause: (results[failed] as PromiseRejectedResult).reason });
      }
      if (unroutable) {
        await d.store.setMarker(unroutableMarker(entrance), d.cfg.park.retrySeconds * 1000);
        stopped = 'unroutable';
        break;
      }
      if (batch.some((r) => r.outcome === 'closed')) {
        stopped = 'closed';
        break;
      }
      if (!(await d.store.renewLock(lock, owner, leaseMs(d)))) {
        d.log.warn('flush lease lost; stopping', { entrance });
        stopped = 'lease_lost';
        break;
      }
    }
  } finally {
    await d.store.releaseLock(lock, owner).catch(() => undefined);
  }
  d.faultPoint?.('flush:released');
  if (routed || expired) d.log.info('parked items routed', { entrance, routed, expired, stopped, ms: d.now() - started });
  return { routed, expired, stopped };
}

/**
 * The entrance reopened: route its parked items at once (never waiting for the park TTL), then, if none is left
 * waiting, drain its park queue of their now stale messages, so the broker UI shows it empty. A flush that
 * stopped with items still waiting (nobody listens, closed again) leaves the park queue alone: taking a waiting
 * item's message out only to park it again would spin (a re-parked message is at once in the queue again).
 * The drain takes only the messages there when it starts and stops at the first item still waiting.
 */
export async function flushEntrance(d: Deps, entrance: string, owner: string): Promise<FlushCounts> {
  const res = await routeParkedInOrder(d, entrance, owner);
  if (res.stopped !== 'done') return res;
  d.faultPoint?.('flush:draining');
  const drained = await d.messaging.drainParked(entrance, 100_000, async (m) => {
    if (!m.parked) return 'next';
    return (await retryParked(d, m, m.parked)).kind === 'reparked' ? 'stop' : 'next';
  });
  if (drained) d.log.info('park queue drained', { entrance, messages: drained });
  return res;
}

/**
 * One of our parked messages came back after its TTL (or from a reopen drain): re-park or expire it, or, if its
 * entrance is open, route the entrance's parked items oldest first (this one among them) under the flush lease.
 */
export async function retryParked(d: Deps, msg: InboundMessage, parked: { contactId: string; entrance: string }): Promise<Outcome> {
  const entrance = d.cfg.entrances[parked.entrance];
  if (!entrance) {
    const error = workItemError('UNKNOWN_ENTRANCE', `entrance "${parked.entrance}" is no longer configured`, '/workItem/entrance');
    return rejectMessage(d, msg, error, { contactId: parked.contactId, entrance: parked.entrance });
  }
  const check = () => d.store.checkParked(parked.contactId, d.now(), entrance.maxParkSeconds * 1000, flushLock(parked.entrance));
  let r = await check();
  if (r.outcome === 'open' && !(await d.store.hasMarker(unroutableMarker(parked.entrance)))) {
    // A flush already running routes this item too (oldest first): no need to hold a prefetch slot for it.
    if ((await routeParkedInOrder(d, parked.entrance, `retry:${d.newId()}`, { waitForLease: false })) !== 'busy') {
      r = await check();
      if (r.outcome === 'not_parked') return { kind: 'routed', contactId: parked.contactId };
    }
  }
  if (r.outcome === 'not_parked' && !r.flushing && r.placingSinceMs !== undefined && d.now() - r.placingSinceMs > leaseMs(d)) {
    // A flush routed the item longer than a lease ago and never confirmed its event: it died or froze in between (a
    // frozen one that wakes up publishes it too: at worst the contact center sees the same contactId twice). This
    // message is what is left of the item's place: publish from here.
    d.log.warn('a flush routed this item but never confirmed its event; publishing it from its parked message', {
      contactId: parked.contactId,
      entrance: parked.entrance,
      sinceMs: d.now() - r.placingSinceMs,
    });
    const result = await routeContact(d, r.record, { replayed: false, msg, resumed: r.resumed });
    if (result === 'routed') {
      await d.store.confirmPlaced([parked.contactId], d.now());
      d.notifications?.nudge();
    }
    await recordPlaced(d, parked.contactId, result, 'its flush never confirmed the event');
    return result === 'routed' ? { kind: 'routed', contactId: parked.contactId } : { kind: 'reparked', contactId: parked.contactId };
  }
  if (r.outcome === 'not_parked' && (r.flushing || r.placingSinceMs !== undefined)) {
    // A flush of the entrance is running and has marked the item routed: if nobody takes its event, the flush
    // puts it back counting on this message; if the flush dies before its confirm, this message publishes the event
    // (above) once the lease is over. Keep the message; once the item is truly placed it is dropped.
    await d.messaging.park(parked.entrance, parked.contactId, msg);
    return { kind: 'reparked', contactId: parked.contactId };
  }
  switch (r.outcome) {
    case 'open':
    case 'closed':
      // Still waiting: closed, closed again mid-flush, or nobody listens for the entrance yet.
      await d.messaging.park(parked.entrance, parked.contactId, msg);
      await recordStep(
        d,
        parked.contactId,
        { step: 'parked', reason: `park retry: ${r.outcome === 'closed' ? 'entrance closed' : 'still waiting'}` },
        { collapse: true },
      );
      return { kind: 'reparked', contactId: parked.contactId };
    case 'routed':
    case 'not_parked':
      // Already routed (by a reopen flush). On a redelivery we may have crashed before publishing: publish again.
      if (msg.redelivered) await routeContact(d, r.record, { replayed: false, msg, resumed: r.resumed });
      return { kind: 'dropped', reason: 'already routed' };
    case 'held':
      // Contract 1.2: a held item waits for its resume, which places it anew (a parked message of its own if its
      // entrance is closed then): this message is settled quietly, neither routed nor expired as parked too long.
      return { kind: 'dropped', reason: 'held' };
    case 'expired':
      await expireContact(d, r.record, { replyTo: r.replyTo, correlationId: r.correlationId }, msg);
      return { kind: 'expired', contactId: parked.contactId };
    case 'gone':
      if (r.tombstone) return { kind: 'dropped', reason: 'ended, cancelled or expired meanwhile' };
      // Redis lost the item (e.g. restarted without persistence): rebuild it from the parked original.
      d.log.warn('parked item unknown to Redis; re-processing the parked original', { contactId: parked.contactId });
      return processMessage(d, { ...msg, parked: undefined }, parked.contactId);
  }
}
