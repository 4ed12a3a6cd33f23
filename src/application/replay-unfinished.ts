import { TransientError } from '../ports/messaging';
import type { Deps } from './deps';
import { recordStep } from './record-step';
import { notPlacedReason, routeContact } from './route-contact';

const PAGE = 500;
const LEASE_MS = 60_000;
/** Instances that start together (a deployment) share one replay: a start within this window skips. */
const RECENT_REPLAY_MS = 3_000;
const LOCK_WAIT_MS = 120_000;

export type ReplayReason = 'service.start' | 'server.started';

export interface ReplayResult {
  skipped: boolean;
  replayed: number;
  scanned: number;
  ms: number;
}

/**
 * Re-publishes every routed unfinished item as `contact.created` with `replayed: true` and its original
 * contactId (after our start, or the contact center's): the items unfinished when it begins (seq up to the newest
 * one then). Pages through the unfinished set by sequence, so memory stays bounded whatever the count. Parked items
 * stay parked. A Redis lease makes one instance do it; each page renews the lease and stops if another owner has
 * taken over (fencing). `stopRequested` (a shutdown) ends it between pages; the rest stays unfinished in Redis for the
 * next start.
 */
export async function replayUnfinished(
  d: Deps,
  reason: ReplayReason,
  owner: string,
  onProgress?: (done: number) => void,
  stopRequested: () => boolean = () => false,
): Promise<ReplayResult> {
  const started = d.now();
  const skipped = { skipped: true, replayed: 0, scanned: 0, ms: 0 };
  if (reason === 'service.start' && (await d.store.hasMarker('replay-done'))) {
    d.log.info('replay finished moments ago on another instance; skipped', { reason });
    return skipped;
  }
  let fence = await d.store.acquireLock('replay', owner, LEASE_MS);
  if (fence === null && reason === 'service.start') {
    d.log.info('replay already running on another instance; skipped', { reason });
    return skipped;
  }
  // The contact center restarted: a replay already under way may have sent items before that restart,
  // so wait for it and replay everything again.
  while (fence === null) {
    if (d.now() - started > LOCK_WAIT_MS) throw new TransientError('replay lock busy; server.started will be retried');
    await new Promise((r) => setTimeout(r, 250));
    fence = await d.store.acquireLock('replay', owner, LEASE_MS);
  }
  // Only what is unfinished now: an item accepted from here on has had its own event published after this point (a
  // replay that kept paging would chase the consumer and send those again).
  const until = await d.store.lastSeq();
  let after = 0;
  let replayed = 0;
  let scanned = 0;
  let lastLog = started;
  try {
    d.log.info('replay of unfinished items started', { reason, fence, untilSeq: until });
    for (;;) {
      const page = await d.store.pageUnfinished(after, PAGE, until);
      if (page.length === 0) break;
      after = page[page.length - 1].seq;
      scanned += page.length;
      const routed = page.filter((it) => it.state === 'routed');
      await Promise.all(
        routed.map(async (it) => {
          const r = await routeContact(d, it.record, { replayed: true });
          await recordStep(
            d,
            it.contactId,
            r === 'routed' ? { step: 'replayed', reason } : { step: 'parked', reason: `${reason} replay: ${notPlacedReason(r)}` },
          );
        }),
      );
      replayed += routed.length;
      onProgress?.(replayed);
      if (d.now() - lastLog > 2000) {
        lastLog = d.now();
        d.log.info('replay progress', { reason, replayed, scanned });
      }
      // The caller says so in its log; no 'done' marker, so another instance starting now replays again.
      if (stopRequested()) return { skipped: false, replayed, scanned, ms: d.now() - started };
      if (!(await d.store.renewLock('replay', owner, LEASE_MS))) {
        d.log.warn('replay lease lost to another instance; stopping', { reason, replayed });
        break;
      }
    }
    await d.store.setMarker('replay-done', RECENT_REPLAY_MS);
  } finally {
    await d.store.releaseLock('replay', owner).catch(() => undefined);
  }
  const ms = d.now() - started;
  d.metrics.replayed(reason, replayed);
  d.log.info('replay of unfinished items done', { reason, replayed, scanned, ms });
  return { skipped: false, replayed, scanned, ms };
}
