import type { ContactRecord } from '../domain/contact-event';
import { workItemError } from '../domain/error-codes';
import { wireState, type PlacedState } from '../domain/receipt';
import type { ResumeRequest } from '../domain/work-item';
import type { InboundMessage } from '../ports/messaging';
import type { ItemState } from '../ports/state-store';
import type { Deps } from './deps';
import { SENDER, type Actor } from './hold-work-item';
import { messageIdentity, receiptTarget } from './message-sender';
import type { Outcome } from './outcome';
import { recordStep } from './record-step';
import { rejectMessage } from './reject-message';
import { notPlacedReason, recordBody, routeContact } from './route-contact';

export interface ResumeCommand {
  source: string;
  externalId: string;
  /** An operator's resume names the item (only that one is resumed). */
  contactId?: string;
  /** The resume message's identity ('' for an operator's) and whether a match means "the same resume again". */
  resumeId: string;
  sameAgain: boolean;
  actor: Actor;
}

/**
 * What a resume did: `resumed` (now, to `state`), `already` (resumed before: this resume again, or one whose placement
 * is still under way), or `not_held` (the item is unfinished but not held: nothing changed).
 */
export interface Resumed {
  outcome: 'resumed' | 'already' | 'not_held';
  contactId: string;
  record: ContactRecord;
  state: ItemState;
}

/**
 * A resumed item is placed where the store put it, as a new arrival with its contactId: routed → its contact.created
 * with `"resumed": true` (nobody takes it or the broker refuses it: parked, as for any arrival), then its placing
 * mark goes; parked (its entrance is closed) → a parked message; scheduled again → its activation timer, nudged.
 * Returns the history's reason for where it went.
 */
export async function placeResumed(
  d: Deps,
  contactId: string,
  record: ContactRecord,
  state: PlacedState,
  activateAtMs?: number,
): Promise<{ state: PlacedState; reason: string }> {
  if (state === 'routed') {
    const routed = await routeContact(d, record, { replayed: false, resumed: true });
    if (routed !== 'routed') return { state: 'parked', reason: notPlacedReason(routed) };
    // Placed: its `routed` notification is written now. A failure fails the resume (the message is redelivered, or the
    // until claim taken over), which finds the item still marked and publishes its event again, then confirms.
    await d.store.confirmPlaced([contactId], d.now());
    d.notifications?.nudge();
    return { state: 'routed', reason: 'contact.created published (resumed)' };
  }
  if (state === 'parked') {
    await d.messaging.parkRecord(record.entrance, contactId, recordBody(record));
    return { state: 'parked', reason: 'entrance closed' };
  }
  if (activateAtMs !== undefined) d.dueTimers?.nudge(activateAtMs);
  return {
    state: 'scheduled',
    reason: `activateAt ${activateAtMs === undefined ? '' : new Date(activateAtMs).toISOString()} still ahead`.trim(),
  };
}

/**
 * Contract 1.2, the resume of a held item (a sender's `<resumeWorkItem>`, an operator's): one atomic step in the store
 * (a new arrival: scheduled again, parked, or routed), then its event or parked message. A resume answered `already`
 * whose item is routed with its event unconfirmed (a crash, a refusal) publishes the event again: at least once, one
 * contactId. null: no unfinished item of (source, externalId) (of contactId).
 */
export async function resumeItem(d: Deps, c: ResumeCommand): Promise<Resumed | null> {
  const res = await d.store.resume({
    source: c.source,
    externalId: c.externalId,
    ...(c.contactId !== undefined && { contactId: c.contactId }),
    resumeId: c.resumeId,
    sameAgain: c.sameAgain,
    by: c.actor.by,
    nowMs: d.now(),
  });
  if (res.outcome === 'not_found') return null;
  const { contactId, record } = res;
  const log = d.log.child({ contactId, externalId: record.externalId, source: record.source });
  if (res.outcome === 'not_held') return { outcome: 'not_held', contactId, record, state: res.state };
  if (res.outcome === 'already') {
    if (res.state === 'routed' && res.placingSinceMs !== undefined) {
      const placed = await placeResumed(d, contactId, record, 'routed');
      await recordStep(d, contactId, {
        step: 'resumed',
        by: c.actor.by,
        state: wireState(placed.state),
        reason: `again: ${placed.reason}`,
      });
      log.info('resume again: contact.created of the resumed item published again', { state: placed.state });
      return { outcome: 'already', contactId, record, state: placed.state };
    }
    log.info('resume already applied; nothing changed', { state: res.state });
    return { outcome: 'already', contactId, record, state: res.state };
  }
  d.faultPoint?.('resume:marked');
  const placed = await placeResumed(d, contactId, record, res.state, res.activateAtMs);
  await recordStep(d, contactId, { step: 'resumed', by: c.actor.by, state: wireState(placed.state), reason: placed.reason });
  d.metrics.resumed({ entrance: record.entrance, taskType: record.taskType, by: c.actor.kind });
  log.info('work item resumed', { state: placed.state, by: c.actor.by });
  return { outcome: 'resumed', contactId, record, state: placed.state };
}

/**
 * `<resumeWorkItem>`: the held item of the message's own source is resumed; receipt `resumed` (also for this resume
 * again). Unknown or finished: NOT_FOUND; unfinished but not held: NOT_HELD; both rejected with their copies. Like a
 * hold, counted (received and rejected) only when rejected.
 */
export async function resumeWorkItem(d: Deps, msg: InboundMessage, req: ResumeRequest): Promise<Outcome> {
  const { id, sameAgain } = messageIdentity(msg);
  const r = await resumeItem(d, { source: req.source, externalId: req.externalId, resumeId: id, sameAgain, actor: SENDER });
  const ids = { externalId: req.externalId, source: req.source };
  if (!r || r.outcome === 'not_held') {
    const labels = r ? { entrance: r.record.entrance, taskType: r.record.taskType } : {};
    d.metrics.item('received', labels);
    const error = r
      ? workItemError(
          'NOT_HELD',
          `item "${req.externalId}" of source "${req.source}" is not held (it is ${wireState(r.state)}): nothing to resume`,
          '/resumeWorkItem/externalId',
        )
      : workItemError(
          'NOT_FOUND',
          `no unfinished item "${req.externalId}" of source "${req.source}" to resume (never received, or already ended, cancelled or expired)`,
          '/resumeWorkItem/externalId',
        );
    return rejectMessage(d, msg, error, { ...ids, ...labels, ...(r && { contactId: r.contactId }) });
  }
  await d.messaging.sendReceipt(receiptTarget(msg), {
    status: 'resumed',
    externalId: r.record.externalId,
    source: r.record.source,
    contactId: r.contactId,
    entrance: r.record.entrance,
    receivedAt: r.record.receivedAt,
  });
  return { kind: 'resumed', contactId: r.contactId };
}
