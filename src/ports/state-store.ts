import type { ContactRecord } from '../domain/contact-event';
import type { EscalationStep } from '../domain/escalation';
import type { Notification } from '../domain/notification';
import type { FinishedState, PlacedState, UnfinishedState } from '../domain/receipt';
import type { OverdueNowCount } from '../domain/service-level';

/**
 * routed: the contact center has it; parked: waits at a closed entrance (or for a listener); scheduled: waits for its
 * activateAt; held (contract 1.2): waits for a resume or its until, nothing routes it. (The receipts and the HTTP API
 * call a parked item `buffered`: that word is on the wire only.)
 */
export type ItemState = UnfinishedState;

/** An item on hold: where it was when held, since when, and the hold's terms. */
export interface HoldInfo {
  /** Its state when it was held (a hold of a held item keeps the first one). */
  from: PlacedState;
  atMs: number;
  /** `<until>` as written: resumed by itself then. */
  until?: string;
  reason?: string;
}

export interface AcceptInput {
  record: ContactRecord;
  maxParked: number;
  replyTo?: string;
  correlationId?: string;
  nowMs: number;
  /** sha256 (hex) of the body, so an update can tell whether it changes the body (only the preview is stored). */
  bodySha?: string;
  /** `<expiresAt>`: as written, and its instant (the due-set score). */
  expiresAt?: { text: string; ms: number };
  /** The trace context to continue when the item is routed later (Tracing.current()); only with tracing on. */
  trace?: string;
  /** `<activateAt>`: after nowMs, the item is `scheduled` until then. */
  activateAt?: { text: string; ms: number };
  /** `<dueAt>` (given or the task type's default): its instant is the overdue timer's score; a past one is due at once. */
  dueAt?: { text: string; ms: number };
  /** `<workItem restart="true">` (contract 1.2): an item of (source, externalId) that finished does not make a duplicate. */
  restart?: boolean;
  /**
   * Its task type's escalation rules at their instants (a plan needs a dueAt), and how many of them already applied on
   * arrival (folded into the record's priority): the next one is its due:escalate entry.
   */
  escalation?: { plan: EscalationStep[]; done: number };
}

/** A claimed activation: the item is routed or parked in Redis already; its event or parked message is to send. */
export interface ActivationClaim {
  contactId: string;
  state: 'routed' | 'parked';
  record: ContactRecord;
  /** The activateAt instant (0 for a retaken claim). */
  dueMs: number;
  retaken: boolean;
  /** It came back from hold (a resume made it scheduled again): its contact.created says `resumed`. */
  resumed?: boolean;
}

/**
 * A claimed resume (a held item's until reached): the item is routed, parked or scheduled in Redis already (resumed
 * as a new arrival); its event or parked message is to send.
 */
export interface ResumeClaim {
  contactId: string;
  state: PlacedState;
  record: ContactRecord;
  /** The until instant (0 for a retaken claim). */
  dueMs: number;
  retaken: boolean;
  /** Scheduled again: its activateAt instant (ms). */
  activateAtMs?: number;
}

/** A hold (contract 1.2), by the item's sender (`<holdWorkItem>`) or an operator (dashboard). */
export interface HoldInput {
  source: string;
  externalId: string;
  /** An operator names the item by contactId: only that item is held (another one under the identity is not_found). */
  contactId?: string;
  until?: { text: string; ms: number };
  reason?: string;
  /** Identifies the hold message (its message_id and body), '' for an operator's: kept as the item's last hold id. */
  holdId: string;
  /** True when a hold whose id is the item's last hold id is that same hold again (a redelivery, the same message_id). */
  sameAgain: boolean;
  /** Who holds it (`sender`, `dashboard:<user>`): for the lifecycle notification. */
  by: string;
  nowMs: number;
}

/**
 * withdraw: the hold took a routed item off the agents' queue and its contact.withdrawn is not confirmed yet (the mark
 * confirmWithdrawn clears): publish it, also on a later hold of the same item after a crash or a refusal.
 */
export type HoldResult =
  /** held now, from where it was. */
  | { outcome: 'held'; contactId: string; from: PlacedState; record: ContactRecord; withdraw: boolean }
  /** It was held already: the new hold's until and reason replace the old ones. */
  | { outcome: 'rehold'; contactId: string; from: PlacedState; record: ContactRecord; withdraw: boolean }
  /**
   * This hold again (sameAgain and its id): nothing changed; `state` is where the item is now (resumed since?), `from`
   * where it was held from while it is held.
   */
  | { outcome: 'already'; contactId: string; state: ItemState; from?: PlacedState; record: ContactRecord; withdraw: boolean }
  | { outcome: 'not_found' };

/** A resume (contract 1.2), by the item's sender (`<resumeWorkItem>`) or an operator (dashboard). */
export interface ResumeInput {
  source: string;
  externalId: string;
  /** An operator names the item by contactId, as for a hold. */
  contactId?: string;
  /** Identifies the resume message, '' for an operator's: kept as the item's last resume id. */
  resumeId: string;
  sameAgain: boolean;
  /** Who resumes it (`sender`, `dashboard:<user>`): for the lifecycle notification. */
  by: string;
  nowMs: number;
}

export type ResumeResult =
  /** Resumed as a new arrival: routed (its event is to publish), parked (its parked message) or scheduled again. */
  | { outcome: 'resumed'; contactId: string; state: PlacedState; record: ContactRecord; activateAtMs?: number }
  /**
   * Resumed before and not held now: this resume again (sameAgain and its id), or an item whose resumed contact.created
   * is not confirmed yet (placingSinceMs: routed, its event not confirmed: publish it again).
   */
  | { outcome: 'already'; contactId: string; state: ItemState; record: ContactRecord; placingSinceMs?: number }
  | { outcome: 'not_held'; contactId: string; state: ItemState; record: ContactRecord }
  | { outcome: 'not_found' };

/**
 * A claimed overdue timer: the item is marked overdue in the store already (overdueAt, its entrance's overdue set, the
 * report counter); its history step and metric are still to do.
 */
export interface OverdueClaim {
  contactId: string;
  record: ContactRecord;
  /** The dueAt instant that passed (0 when unknown, for a retaken claim). */
  dueMs: number;
  /** When the store marked it overdue. */
  overdueAtMs: number;
  /** true: taken over from a claim whose lease ran out (its instance died before finishing). */
  retaken: boolean;
}

/**
 * A claimed escalation (contract 1.2): the due rules of the item's plan are applied in the store already (its stored
 * priority raised from `from` to `to`, the rules marked fired, the next one armed); its contact.updated (routed items
 * only), history step and metric are still to do. Rules that did not raise the priority (it was not lower) give no claim.
 */
export interface EscalationClaim {
  contactId: string;
  /** Its state at the claim: only a routed item's contact center is told (contact.updated). */
  state: ItemState;
  /** The record with the raised priority. */
  record: ContactRecord;
  from: number;
  to: number;
  /** The rules that fired (as configured, e.g. `before PT2H`); several when their times passed together. */
  rules: string[];
  /** The time of the first rule that fired (0 for a retaken claim). */
  dueMs: number;
  /** true: taken over from a claim whose lease ran out (its instance died before finishing): the raise was stored then. */
  retaken: boolean;
}

/** A claimed expiry: the item has already left every index; its event, receipt and error copy are still to send. */
export interface ExpiryClaim {
  contactId: string;
  record: ContactRecord;
  replyTo?: string;
  correlationId?: string;
  /** The state the item was in when it expired. */
  state: ItemState;
  expiresAt?: string;
  dueMs: number;
  /** true: taken over from a claim whose lease ran out (its instance died before finishing). */
  retaken: boolean;
}

export type AcceptResult =
  | { outcome: 'accepted' | 'parked' | 'scheduled'; contactId: string }
  | { outcome: 'duplicate'; contactId: string; state: ItemState; record: ContactRecord }
  /**
   * No unfinished item, but one of (source, externalId) finished within dedupe.afterEndSeconds and no restart was asked
   * for (contract 1.2): a duplicate of that one (counted as a duplicate in the report counters).
   */
  | { outcome: 'finished'; contactId: string; state: FinishedState }
  | { outcome: 'park_limit' };

/** Result of trying to move one parked item on (retry, reopen flush). */
export type RouteParkedResult =
  /**
   * trace: the context stored at accept (AcceptInput.trace), for the flush's event to continue. resumed: it came back
   * from hold; its contact.created says so.
   */
  | { outcome: 'routed'; record: ContactRecord; trace?: string; resumed?: boolean }
  | { outcome: 'closed'; contactId: string }
  /** checkParked only: still parked and its entrance is open; the in-order flush routes it. */
  | { outcome: 'open'; contactId: string }
  /**
   * flushing (checkParked with a flushLock): that lock is held, so a flush may yet put the item back. placingSinceMs: a
   * flush routed it then and has not confirmed its event yet (it may still be publishing, or have died or frozen).
   */
  | { outcome: 'not_parked'; record: ContactRecord; flushing?: boolean; placingSinceMs?: number; resumed?: boolean }
  /** Held (contract 1.2): nothing routes it, nor expires it as parked too long, until it is resumed. */
  | { outcome: 'held'; contactId: string }
  | { outcome: 'expired'; record: ContactRecord; replyTo?: string; correlationId?: string; trace?: string }
  | { outcome: 'gone'; contactId: string; tombstone: boolean };

/** An item as an update reads it (one atomic read); `version` is the compare-and-set token of applyUpdate. */
export interface UpdateSnapshot {
  contactId: string;
  state: ItemState;
  record: ContactRecord;
  version: number;
  /** The last applied revision; 0 when no update carried one. */
  revision: number;
  /** Ids of the latest updates applied, newest first (a bounded list). */
  recentUpdates: string[];
  /** What the latest update changed, and its revision. */
  lastChanged: string[];
  lastRevision?: number;
  expiresAt?: string;
  bodySha?: string;
}

export interface ApplyUpdateInput {
  contactId: string;
  /** The snapshot's version: the write happens only if no other update came in between. */
  expectVersion: number;
  updateId: string;
  /** How many of the latest update ids count as "this update again" (1: only the latest). */
  dedupeDepth: number;
  revision?: number;
  record: ContactRecord;
  changed: string[];
  /** Set when the update changes it (and its due time). */
  expiresAt?: { text: string; ms: number };
  /** Set when the update changes it: re-arms the overdue timer (an overdue item whose new dueAt is ahead is not overdue any more). */
  dueAt?: { text: string; ms: number };
  bodySha?: string;
  /**
   * Set when the update changes the item's dueAt or task type: its escalation plan made again. The store keeps the rules
   * that fired as fired while their new time has passed; a fired rule whose new time is ahead fires again then, one not
   * fired whose time has passed is due at once. A plan with other rules (another task type) starts over.
   */
  escalation?: { plan: EscalationStep[] };
  nowMs: number;
}

export type ApplyUpdateResult =
  | { outcome: 'updated'; state: ItemState }
  | { outcome: 'already_applied'; state: ItemState; last: boolean }
  | { outcome: 'stale'; lastRevision: number }
  /** Another update was applied since the snapshot: read again and merge again. */
  | { outcome: 'conflict' }
  | { outcome: 'not_found' };

export interface StoredItem {
  contactId: string;
  seq: number;
  state: ItemState;
  record: ContactRecord;
  parkedAt?: number;
  /** Contract 1.1, as the sender wrote them; activateAt only while the item is scheduled. */
  expiresAt?: string;
  activateAt?: string;
  /** Contract 1.2: while it is held. */
  held?: HoldInfo;
}

export interface EntranceState {
  name: string;
  open: boolean;
  since?: string;
  by?: string;
  parked: number;
}

export interface EndDisposition {
  code: string;
  text?: string;
  counted: string;
}

/** An ended item against its dueAt: ended at or before it, after it, or it had none. */
export type EndedDue = 'before' | 'after' | 'none';

export type EndResult =
  | {
      outcome: 'ended';
      entrance: string;
      taskType: string;
      /** Time from receipt to End (ms): the time to end of the service level. */
      handledMs: number;
      hadAttachment: boolean;
      due: EndedDue;
    }
  | { outcome: 'unknown' };

export type CancelResult =
  | { outcome: 'cancelled'; record: ContactRecord }
  /** Not unfinished, but cancelled by its sender earlier (within the tombstone's time): its record then. */
  | { outcome: 'cancelled_before'; record: ContactRecord }
  | { outcome: 'not_found' };

export type ParkResult = { outcome: 'parked'; record: ContactRecord } | { outcome: 'not_routed' } | { outcome: 'unknown' };

export interface StatsDelta {
  metric: 'rejected';
  taskType: string;
  entrance: string;
  code?: string;
}

/** Durable per-hour counters behind `workitem report`. */
export interface StatsRow {
  hour: string;
  metric: string;
  taskType: string;
  entrance: string;
  value: number;
}

/** Short-lived per-minute counters (about the last two hours), for the dashboard's chart. */
export interface MinuteStatsRow {
  /** UTC minute, `YYYYMMDDHHmm`. */
  minute: string;
  metric: string;
  taskType: string;
  entrance: string;
  value: number;
}

/**
 * Unfinished work-item state changes. Every method is one atomic transition (a Lua script in the Redis adapter), so
 * concurrent instances never disagree about an item.
 */
export interface ItemTransitions {
  accept(input: AcceptInput): Promise<AcceptResult>;
  /**
   * A routed item goes back to parked (contact center rejected it, or its event was unroutable). notifyReason: the
   * `buffered` notification's reason (absent: none, an arrival whose receipt says buffered); a sender that was never
   * told `routed` (its event not confirmed) hears nothing either way.
   */
  parkRouted(contactId: string, nowMs: number, notifyReason?: string): Promise<ParkResult>;
  /**
   * A parked message's TTL retry: expires the item if it is too old, else reports its state; never routes it.
   * flushLock: the lock name of its entrance's flush, reported as `flushing` on a not_parked answer.
   */
  checkParked(contactId: string, nowMs: number, maxParkMs: number, flushLock?: string): Promise<RouteParkedResult>;
  /** Oldest-first batch for a reopen flush; stops at the first item when the entrance is closed again. */
  routeParkedBatch(entrance: string, nowMs: number, maxParkMs: number, limit: number): Promise<RouteParkedResult[]>;
  /**
   * The contact.created of items routed from waiting is confirmed (a flush's, an activation's, a resume's): they are
   * placed, no retry publishes them again, a resumed one's later events are not `resumed` any more, and their `routed`
   * notifications are released.
   */
  confirmPlaced(contactIds: string[], nowMs: number): Promise<void>;
  /**
   * disposition: the contact center's, for the `ended` notification; `counted` (the code, or `other` past the bounded
   * set) is counted with the completion (report counter `disposition:<code>`).
   */
  end(contactId: string, nowMs: number, disposition?: EndDisposition): Promise<EndResult>;
  /**
   * The unfinished item of (source, externalId) is cancelled. opts.contactId: only that item (an operator's cancel
   * names it); opts.by: who cancels (`sender`, default, or `dashboard:<user>`), for the lifecycle notification.
   */
  cancel(source: string, externalId: string, nowMs: number, opts?: { contactId?: string; by?: string }): Promise<CancelResult>;
  /**
   * Contract 1.2: one atomic step puts the item on hold (a routed one leaves the agents' queue; a parked one leaves
   * its entrance's parked order; a scheduled one its activation timer) or changes the hold of a held one; a
   * redelivered hold after a resume holds nothing again.
   */
  hold(input: HoldInput): Promise<HoldResult>;
  /** A held item's contact.withdrawn is confirmed: a later hold does not publish it again. */
  confirmWithdrawn(contactId: string): Promise<void>;
  /**
   * Contract 1.2: one atomic step resumes a held item as a new arrival (new seq): scheduled again when its activateAt
   * is still ahead, else parked at a closed entrance (no park limit), else routed (its event to publish; marked
   * placing until confirmPlaced).
   */
  resume(input: ResumeInput): Promise<ResumeResult>;
  /** The unfinished item of (source, externalId) as an update needs it, or null: the read half of applyUpdate. */
  readForUpdate(source: string, externalId: string): Promise<UpdateSnapshot | null>;
  /**
   * One atomic step: refuses a repeated update id (already_applied), a revision not above the last (stale) and a
   * changed version (conflict); else stores the merged record, revision, update id and the new expiry.
   */
  applyUpdate(input: ApplyUpdateInput): Promise<ApplyUpdateResult>;
  /**
   * Claims up to `limit` expiries due at `nowMs` (and claims whose lease ran out), removing each item in the same
   * step; `nextDueMs`: when the next one is due (null: none). Each claim is held for `leaseMs` until finishExpiry.
   */
  claimDueExpiries(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: ExpiryClaim[]; nextDueMs: number | null }>;
  finishExpiry(contactId: string): Promise<void>;
  /**
   * Claims up to `limit` scheduled items whose activateAt is reached (and claims whose lease ran out): each is routed
   * or parked (entrance closed) in the same step, as a new arrival; held for `leaseMs` until finishActivation.
   */
  claimDueActivations(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: ActivationClaim[]; nextDueMs: number | null }>;
  finishActivation(contactId: string): Promise<void>;
  /**
   * Claims up to `limit` unfinished items whose dueAt has passed and that are not overdue yet (and claims whose lease ran
   * out): each is marked overdue in the same step; held for `leaseMs` until finishOverdue.
   */
  claimDueOverdue(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: OverdueClaim[]; nextDueMs: number | null }>;
  finishOverdue(contactId: string): Promise<void>;
  /**
   * Claims up to `limit` held items whose until is reached (and claims whose lease ran out): each is resumed in the
   * same step, as resume does; held for `leaseMs` until finishResume.
   */
  claimDueResumes(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: ResumeClaim[]; nextDueMs: number | null }>;
  finishResume(contactId: string): Promise<void>;
  /**
   * Claims up to `limit` items whose next escalation rule is due (and claims whose lease ran out): the due rules are
   * applied in the same step (priority raised if lower, next rule armed); a raise is held for `leaseMs` until
   * finishEscalation. A routed item whose contact.created is not confirmed yet waits a little (nothing is applied).
   */
  claimDueEscalations(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: EscalationClaim[]; nextDueMs: number | null }>;
  finishEscalation(contactId: string): Promise<void>;
  /** An entrance opens or closes (what later arrivals and flushes go by). */
  setEntrance(name: string, open: boolean, by: string, nowMs: number): Promise<{ changed: boolean }>;
}

/**
 * What the store knows of (source, externalId) for a status query: the unfinished item (index and item hash), or the
 * finished entry (contract 1.2, kept dedupe.afterEndSeconds): then only its contactId, how it finished and when.
 */
export type ItemLookup =
  | { kind: 'unfinished'; item: StoredItem; revision: number }
  | { kind: 'finished'; contactId: string; state: FinishedState; finishedAtMs: number };

/** Reads of the unfinished items and the entrances (API, dashboard, CLI, replay, orphan sweep); they change nothing. */
export interface ItemQueries {
  entrances(names: string[]): Promise<EntranceState[]>;
  /** Unfinished items with afterSeq < seq ≤ untilSeq (no upper bound when absent), oldest first. */
  pageUnfinished(afterSeq: number, limit: number, untilSeq?: number): Promise<StoredItem[]>;
  /** The seq the newest item got so far (0 when none): items accepted later have a higher one. */
  lastSeq(): Promise<number>;
  getItem(contactId: string): Promise<StoredItem | null>;
  /** A status query's read (changes nothing): the unfinished item of (source, externalId), else its finished entry; null: none. */
  lookupItem(source: string, externalId: string): Promise<ItemLookup | null>;
  countUnfinished(): Promise<number>;
  /** Unfinished items overdue now (dueAt passed), per entrance; no scan (a counted index per entrance). */
  countOverdue(entrances: string[]): Promise<Record<string, number>>;
  /** Unfinished items overdue now per task type and entrance (only those with some); no scan (a counted index). */
  countOverdueByTaskType(): Promise<OverdueNowCount[]>;
  /** Lifecycle notifications in the outbox, not yet confirmed by the broker: the workitem_notifications_waiting gauge. */
  countNotifications(): Promise<number>;
}

/** Coordination between instances: fenced leases (flush, replay, per-item event locks) and short-lived markers. */
export interface Leases {
  /** The lease's fencing token, or null when another owner holds it. */
  acquireLock(name: string, owner: string, ttlMs: number): Promise<number | null>;
  renewLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLock(name: string, owner: string): Promise<void>;
  /** A short-lived fact shared by all instances, e.g. "a replay just finished". */
  setMarker(name: string, ttlMs: number): Promise<void>;
  hasMarker(name: string): Promise<boolean>;
}

/** The report counters: per hour (durable, `workitem report`) and per minute (the dashboard's chart). */
export interface Counters {
  countRejected(delta: StatsDelta, nowMs: number): Promise<void>;
  stats(sinceMs: number, nowMs: number): Promise<StatsRow[]>;
  /** The same counters per minute, for minutes within the last two hours. */
  minuteStats(sinceMs: number, nowMs: number): Promise<MinuteStatsRow[]>;
}

/**
 * The notification outbox (contract 1.2 lifecycle notifications): the transitions write each notification in their own
 * atomic step; the relay takes what is due, publishes it and removes it once confirmed.
 */
export interface NotificationOutbox {
  /**
   * Takes up to `limit` notifications due at nowMs (oldest first), each held for `leaseMs` (taken again after that
   * unless finished); nextDueMs: when the next one waiting is due (null: none).
   */
  claimNotifications(nowMs: number, limit: number, leaseMs: number): Promise<{ notes: Notification[]; nextDueMs: number | null }>;
  /** These were published (confirmed): they leave the outbox. */
  finishNotifications(ids: string[]): Promise<void>;
}

/** The whole store, as the Redis adapter implements it and the use cases get it; a reader takes only its concern. */
export type StateStore = ItemTransitions & ItemQueries & Leases & Counters & NotificationOutbox;
