import { wireState } from '../domain/receipt';
import type { ActivationClaim, EscalationClaim, OverdueClaim, ResumeClaim } from '../ports/state-store';
import type { Deps } from './deps';
import { recordStep } from './record-step';
import { WakeLoop } from './wake-loop';
import { placeResumed } from './resume-work-item';
import { expireContact, notPlacedReason, recordBody, routeContact, type RouteResult } from './route-contact';
import { publishUpdated } from './update-item';

/** A claim not finished within this long (its instance died, or the broker did not confirm) is taken over. */
export const CLAIM_LEASE_MS = 60_000;
/** Claims per script call; a tick goes on while batches come back full (bounded per tick). */
const BATCH = 200;
const MAX_BATCHES_PER_TICK = 25;
/**
 * The poller never sleeps longer than this, so an item due soon that another instance accepted is seen within the
 * contract's 5 s; the instance that stores a due time wakes its own poller for it (nudge), so it fires on time. Idle,
 * a poll costs a few Redis reads: waiting timers cost (almost) nothing.
 */
const MAX_SLEEP_MS = 4_000;
const JITTER_MS = 25;

export interface TickResult {
  expired: number;
  activated: number;
  /** Items that became overdue (dueAt passed while unfinished). */
  overdue: number;
  /** Held items resumed because their until was reached (contract 1.2). */
  resumed: number;
  /** Items whose priority an escalation rule raised at its time (contract 1.2). */
  escalated: number;
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
  // Expiries first: an item whose expiresAt and activateAt are both due expires rather than routes (nor becomes overdue).
  const exp = await fireDueExpiries(d);
  // Escalations before activations and resumes: an item they route now goes out with its raised priority.
  const esc = await fireDueEscalations(d);
  const act = await fireDueActivations(d);
  const over = await fireDueOverdue(d);
  const res = await fireDueResumes(d);
  const nexts = [exp.nextDueMs, esc.nextDueMs, act.nextDueMs, over.nextDueMs, res.nextDueMs].filter((n): n is number => n !== null);
  return {
    expired: exp.done,
    activated: act.done,
    overdue: over.done,
    resumed: res.done,
    escalated: esc.done,
    failed: exp.failed + esc.failed + act.failed + over.failed + res.failed,
    nextDueMs: nexts.length ? Math.min(...nexts) : null,
  };
}

interface KindResult {
  done: number;
  failed: number;
  nextDueMs: number | null;
}

async function fireDueExpiries(d: Deps): Promise<KindResult> {
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
  return { done: expired, nextDueMs, failed };
}

/**
 * A scheduled item's activateAt is reached: the claim made it a new arrival in Redis (routed, or parked when its
 * entrance is closed now); publish its contact.created (an event nobody takes parks it, as for any arrival) or its
 * parked message. No receipt: the sender had `scheduled`.
 */
async function activate(d: Deps, c: ActivationClaim): Promise<void> {
  const labels = { entrance: c.record.entrance, taskType: c.record.taskType };
  let outcome: RouteResult | 'parked';
  if (c.state === 'routed') {
    outcome = await routeContact(d, c.record, { replayed: false, resumed: c.resumed });
    if (outcome === 'routed') {
      // Placed: its `routed` notification is written now, and a resumed item's later events are not `resumed`. A
      // failure fails the activation: its claim is taken over after the lease, publishes again and confirms then.
      await d.store.confirmPlaced([c.contactId], d.now());
      d.notifications?.nudge();
    }
  } else {
    await d.messaging.parkRecord(c.record.entrance, c.contactId, recordBody(c.record));
    outcome = 'parked';
  }
  await d.store.finishActivation(c.contactId);
  await recordStep(d, c.contactId, {
    step: outcome === 'routed' ? 'routed' : 'parked',
    reason:
      outcome === 'routed'
        ? 'activateAt reached'
        : outcome === 'parked'
          ? 'activateAt reached; entrance closed'
          : `activateAt reached; ${notPlacedReason(outcome)}`,
  });
  d.metrics.item('activated', labels);
  d.log.info('scheduled item activated', {
    contactId: c.contactId,
    entrance: c.record.entrance,
    outcome,
    ...(c.retaken ? { retaken: true } : { lateMs: d.now() - c.dueMs }),
  });
}

async function fireDueActivations(d: Deps): Promise<KindResult> {
  let activated = 0;
  let failed = 0;
  let nextDueMs: number | null = null;
  for (let i = 0; i < MAX_BATCHES_PER_TICK; i++) {
    const { claims, nextDueMs: next } = await d.store.claimDueActivations(d.now(), BATCH, CLAIM_LEASE_MS);
    nextDueMs = next;
    // In claim order (oldest due first) on one channel; confirms are awaited together.
    const results = await Promise.allSettled(claims.map((c) => activate(d, c)));
    results.forEach((r, j) => {
      if (r.status === 'fulfilled') activated++;
      else {
        failed++;
        d.log.warn('activation not confirmed; its claim is taken over after the lease', {
          contactId: claims[j].contactId,
          leaseMs: CLAIM_LEASE_MS,
          error: (r.reason as Error)?.message,
        });
      }
    });
    if (claims.length < BATCH) break;
  }
  return { done: activated, nextDueMs, failed };
}

/**
 * An unfinished item's dueAt passed: the claim marked it overdue in Redis (overdueAt, its entrance's overdue set behind
 * the workitem_overdue gauge, the report counter `overdue`); here its history step and workitem_overdue_total.
 * A retaken claim (its instance died before finishing) does these again: at least once, twice only after a crash.
 */
async function markOverdue(d: Deps, c: OverdueClaim): Promise<void> {
  const labels = { entrance: c.record.entrance, taskType: c.record.taskType };
  const dueAt = c.record.dueAt ?? new Date(c.dueMs).toISOString();
  await recordStep(d, c.contactId, { step: 'overdue', at: c.overdueAtMs, reason: `dueAt ${dueAt} passed` });
  // Its `overdue` notification was written by the claim (in the outbox, published by the relay).
  d.notifications?.nudge();
  d.metrics.overdue(labels);
  await d.store.finishOverdue(c.contactId);
  d.log.info('item overdue', {
    contactId: c.contactId,
    entrance: c.record.entrance,
    dueAt,
    ...(c.retaken ? { retaken: true } : { lateMs: d.now() - c.dueMs }),
  });
}

async function fireDueOverdue(d: Deps): Promise<KindResult> {
  let done = 0;
  let failed = 0;
  let nextDueMs: number | null = null;
  for (let i = 0; i < MAX_BATCHES_PER_TICK; i++) {
    const { claims, nextDueMs: next } = await d.store.claimDueOverdue(d.now(), BATCH, CLAIM_LEASE_MS);
    nextDueMs = next;
    const results = await Promise.allSettled(claims.map((c) => markOverdue(d, c)));
    results.forEach((r, j) => {
      if (r.status === 'fulfilled') done++;
      else {
        failed++;
        d.log.warn('overdue not finished; its claim is taken over after the lease', {
          contactId: claims[j].contactId,
          leaseMs: CLAIM_LEASE_MS,
          error: (r.reason as Error)?.message,
        });
      }
    });
    if (claims.length < BATCH) break;
  }
  return { done, nextDueMs, failed };
}

/**
 * A held item's until was reached (contract 1.2): the claim resumed it in Redis as a new arrival (routed, parked, or
 * scheduled again); here its contact.created (`"resumed": true`) or parked message, then the claim is finished. A
 * retaken claim (its instance died before the event was confirmed) publishes again: at least once, one contactId.
 * No receipt: the sender learns of it from the `resumed` notification.
 */
async function resumeOnTime(d: Deps, c: ResumeClaim): Promise<void> {
  const placed = await placeResumed(d, c.contactId, c.record, c.state, c.activateAtMs);
  await d.store.finishResume(c.contactId);
  await recordStep(d, c.contactId, {
    step: 'resumed',
    by: 'until',
    state: wireState(placed.state),
    reason: `${c.retaken ? 'until reached (taken over)' : `until ${new Date(c.dueMs).toISOString()} reached`}; ${placed.reason}`,
  });
  d.metrics.resumed({ entrance: c.record.entrance, taskType: c.record.taskType, by: 'until' });
  d.log.info('held item resumed: until reached', {
    contactId: c.contactId,
    entrance: c.record.entrance,
    state: placed.state,
    ...(c.retaken ? { retaken: true } : { lateMs: d.now() - c.dueMs }),
  });
}

async function fireDueResumes(d: Deps): Promise<KindResult> {
  let done = 0;
  let failed = 0;
  let nextDueMs: number | null = null;
  for (let i = 0; i < MAX_BATCHES_PER_TICK; i++) {
    const { claims, nextDueMs: next } = await d.store.claimDueResumes(d.now(), BATCH, CLAIM_LEASE_MS);
    nextDueMs = next;
    const results = await Promise.allSettled(claims.map((c) => resumeOnTime(d, c)));
    results.forEach((r, j) => {
      if (r.status === 'fulfilled') done++;
      else {
        failed++;
        d.log.warn('resume not confirmed; its claim is taken over after the lease', {
          contactId: claims[j].contactId,
          leaseMs: CLAIM_LEASE_MS,
          error: (r.reason as Error)?.message,
        });
      }
    });
    if (claims.length < BATCH) break;
  }
  return { done, nextDueMs, failed };
}

/**
 * Escalation rules were due (contract 1.2): the claim raised the item's stored priority and armed its next rule; here a
 * routed item's contact.updated (`changed` ["priority"], `reason` escalation, the whole current record, under the
 * per-item lock a sender's update publishes under), then the claim is finished, its history step written and counted.
 * A waiting item (parked, scheduled, held) only has its stored priority changed: its later contact.created carries it.
 * A retaken claim (its instance died before the event was confirmed) publishes again: at least once for the event.
 */
async function escalate(d: Deps, c: EscalationClaim): Promise<void> {
  const labels = { entrance: c.record.entrance, taskType: c.record.taskType };
  const delivery =
    c.state === 'routed' ? await publishUpdated(d, c.contactId, ['priority'], undefined, 'escalation') : `${wireState(c.state)}: no event`;
  await d.store.finishEscalation(c.contactId);
  await recordStep(d, c.contactId, {
    step: 'escalated',
    changed: ['priority'],
    state: wireState(c.state),
    reason: `priority ${c.from} → ${c.to} (${c.rules.join(', ')}${c.retaken ? '; taken over' : ''}); ${delivery}`,
  });
  d.metrics.escalated(labels);
  d.log.info('item escalated', {
    contactId: c.contactId,
    entrance: c.record.entrance,
    from: c.from,
    to: c.to,
    rules: c.rules,
    delivery,
    ...(c.retaken ? { retaken: true } : { lateMs: d.now() - c.dueMs }),
  });
}

async function fireDueEscalations(d: Deps): Promise<KindResult> {
  let done = 0;
  let failed = 0;
  let nextDueMs: number | null = null;
  for (let i = 0; i < MAX_BATCHES_PER_TICK; i++) {
    const { claims, nextDueMs: next } = await d.store.claimDueEscalations(d.now(), BATCH, CLAIM_LEASE_MS);
    nextDueMs = next;
    const results = await Promise.allSettled(claims.map((c) => escalate(d, c)));
    results.forEach((r, j) => {
      if (r.status === 'fulfilled') done++;
      else {
        failed++;
        d.log.warn('escalation not confirmed; its claim is taken over after the lease', {
          contactId: claims[j].contactId,
          leaseMs: CLAIM_LEASE_MS,
          error: (r.reason as Error)?.message,
        });
      }
    });
    // Rules that raise nothing give no claim: a short batch may still leave due entries (each candidate left "due now").
    if (claims.length < BATCH && (next === null || next > d.now())) break;
  }
  return { done, nextDueMs, failed };
}

/**
 * One poller per instance: wakes when the next timer is due (at most every MAX_SLEEP_MS, plus a little jitter so
 * instances do not all call Redis in the same millisecond), runs `fireDueTimers` while `canRun()` (Redis and the
 * broker up, not stopping). Holds nothing per item: 100 000 scheduled items cost a sorted-set entry each in Redis.
 */
export class DueTimerPoller extends WakeLoop {
  constructor(d: Deps, canRun: () => boolean) {
    super(
      d,
      canRun,
      async () => {
        const r = await fireDueTimers(d);
        if (r.expired + r.activated + r.overdue + r.resumed + r.escalated > 0) {
          d.log.info('due timers fired', {
            expired: r.expired,
            activated: r.activated,
            overdue: r.overdue,
            resumed: r.resumed,
            escalated: r.escalated,
          });
        }
        return r;
      },
      { maxSleepMs: MAX_SLEEP_MS, jitterMs: JITTER_MS, name: 'due timers' },
    );
  }
}
