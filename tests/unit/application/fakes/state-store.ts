import type { ContactRecord } from '../../../../src/domain/contact-event';
import type { EscalationStep } from '../../../../src/domain/escalation';
import type { Notification, NotificationEvent } from '../../../../src/domain/notification';
import type { FinishedState, PlacedState } from '../../../../src/domain/receipt';
import type { OverdueNowCount } from '../../../../src/domain/service-level';
import type {
  AcceptInput,
  AcceptResult,
  ActivationClaim,
  ApplyUpdateInput,
  ApplyUpdateResult,
  CancelResult,
  EndDisposition,
  EndResult,
  EntranceState,
  EscalationClaim,
  ExpiryClaim,
  HoldInput,
  HoldResult,
  ItemLookup,
  ItemState,
  OverdueClaim,
  MinuteStatsRow,
  ParkResult,
  ResumeClaim,
  ResumeInput,
  ResumeResult,
  RouteParkedResult,
  StateStore,
  StatsDelta,
  StatsRow,
  StoredItem,
  UpdateSnapshot,
} from '../../../../src/ports/state-store';

/** As UPDATE_IDS_KEPT in the Redis scripts. */
const UPDATE_IDS_KEPT = 16;

interface Item {
  record: ContactRecord;
  state: ItemState;
  seq: number;
  receivedAt: number;
  parkedAt?: number;
  /** Routed by a flush whose event is not confirmed yet (confirmPlaced clears it). */
  placing?: number;
  replyTo?: string;
  correlationId?: string;
  trace?: string;
  bodySha?: string;
  expiresAt?: { text: string; ms: number };
  activateAt?: { text: string; ms: number };
  /** Its entry in due:overdue (dueAt ms): waiting to become overdue. */
  overdueDue?: number;
  /** Overdue now (the item field overdueAt, its entry in its entrance's overdue set with the dueAt passed). */
  overdueAt?: number;
  overdueDueMs?: number;
  version: number;
  /** The last revision applied (0: none). */
  revision: number;
  updateIds: string[];
  lastChanged: string[];
  lastRevision?: number;
  /** Notifications written for it so far (the id counter of includes/notify.lua). */
  notes?: number;
  /** Its armed `routed` notification (released by confirmPlaced, withdrawn by parkRouted). */
  nr?: boolean;
  /** Contract 1.2, while held: where from, since when, the hold's terms (untilMs: its due:resume entry). */
  held?: { from: PlacedState; atMs: number; until?: string; untilMs?: number; reason?: string };
  /** A routed item held: its contact.withdrawn not confirmed yet (hold-item.lua's `withdrawing`). */
  withdrawing?: number;
  /** Resumed: its contact.created not confirmed yet (resume-one.lua's `resumed`). */
  resumed?: boolean;
  holdId?: string;
  resumeId?: string;
  /** Contract 1.2, as includes/escalation.lua: its plan, how many rules fired, its due:escalate entry, its last raise. */
  escalation?: { plan: EscalationStep[]; done: number; dueMs?: number; last?: { from: number; to: number; rules: string[] } };
}

/** As ESCALATION_ARRIVAL_MS and ESCALATION_RETRY_MS of the Redis store. */
const ESCALATION_ARRIVAL_MS = 2_000;
const ESCALATION_RETRY_MS = 500;

/**
 * The Redis state store's decisions, in memory; each method is one synchronous step, as each Lua script is atomic.
 * Same rules as the scripts: accept (duplicate by source|externalId, scheduled for a future activateAt, parked at a
 * closed entrance up to maxParked), parked items in arrival order (seq; parkRouted keeps an item's place), checkParked
 * and routeParkedBatch (expire after maxParkMs, stop at a closed entrance), end/cancel/expiry leave a tombstone, update
 * compare-and-set (update ids, revision, version), due timers claimed under a lease and taken over after it (the
 * overdue one as claim-overdue.lua: marked at the claim, re-armed by an update moving dueAt later, gone with the item).
 * Simplified: tombstones never expire; locks and markers expire by the given clock; records are kept as JSON copies;
 * the report counters are not kept (`rejections` lists what countRejected got); nothing is replicated.
 */
export class MemoryStateStore implements StateStore {
  private readonly items = new Map<string, Item>();
  /** source|externalId → contactId */
  private readonly ext = new Map<string, string>();
  private readonly closed = new Map<string, { since: string; by: string }>();
  private readonly opened = new Map<string, { since: string; by: string }>();
  readonly tombstones = new Map<string, 'ended' | 'cancelled' | 'expired'>();
  private readonly locks = new Map<string, { owner: string; until: number }>();
  private readonly fences = new Map<string, number>();
  private readonly markers = new Map<string, number>();
  private readonly expiring = new Map<string, { claim: ExpiryClaim; until: number }>();
  private readonly activating = new Map<string, number>();
  /** due:overdue:claimed: contactId → lease deadline. */
  private readonly overdueClaims = new Map<string, number>();
  /** due:resume:claimed: contactId → lease deadline. */
  private readonly resumeClaims = new Map<string, number>();
  /** due:escalate:claimed: contactId → lease deadline. */
  private readonly escalationClaims = new Map<string, number>();
  readonly rejections: StatsDelta[] = [];
  /** The disposition codes end() counted (end-item.lua's `disposition:<code>` report counter), in order. */
  readonly dispositions: string[] = [];
  private seq = 0;
  /** The notification outbox: id → the notification and when it is due (a lease ahead while taken). */
  readonly outbox = new Map<string, { note: Notification; due: number }>();

  /**
   * source|externalId → the item of it that finished last (contract 1.2, the Redis `finished:` entry): a resend within
   * afterEndSeconds of `at` is a duplicate of it (unless restart).
   */
  readonly finished = new Map<string, { contactId: string; state: FinishedState; at: number }>();

  /** afterEndSeconds: dedupe.afterEndSeconds (0: no finished entry is written or read). */
  constructor(
    private readonly now: () => number,
    private readonly afterEndSeconds = 7 * 24 * 3600,
  ) {}

  async accept(input: AcceptInput): Promise<AcceptResult> {
    const r = input.record;
    const existing = this.ext.get(`${r.source}|${r.externalId}`);
    const dup = existing !== undefined ? this.items.get(existing) : undefined;
    if (existing !== undefined && dup) return { outcome: 'duplicate', contactId: existing, state: dup.state, record: copy(dup.record) };
    const fin = this.finished.get(`${r.source}|${r.externalId}`);
    if (!input.restart && this.afterEndSeconds > 0 && fin && input.nowMs - fin.at < this.afterEndSeconds * 1000) {
      return { outcome: 'finished', contactId: fin.contactId, state: fin.state };
    }
    let state: ItemState = 'routed';
    if (input.activateAt && input.activateAt.ms > input.nowMs) state = 'scheduled';
    else if (this.closed.has(r.entrance)) {
      if (this.parkedIds(r.entrance).length >= input.maxParked) return { outcome: 'park_limit' };
      state = 'parked';
    }
    this.items.set(r.contactId, {
      record: copy(r),
      state,
      seq: ++this.seq,
      receivedAt: input.nowMs,
      ...(state === 'parked' && { parkedAt: input.nowMs }),
      ...(input.replyTo !== undefined && { replyTo: input.replyTo }),
      ...(input.correlationId !== undefined && { correlationId: input.correlationId }),
      ...(input.trace !== undefined && { trace: input.trace }),
      ...(input.bodySha !== undefined && { bodySha: input.bodySha }),
      ...(input.expiresAt && { expiresAt: input.expiresAt }),
      ...(state === 'scheduled' && { activateAt: input.activateAt }),
      // A dueAt already past is due at once, as in accept-item.lua.
      ...(input.dueAt && { overdueDue: input.dueAt.ms }),
      ...(input.escalation && input.escalation.plan.length > 0 && { escalation: armed(input.escalation.plan, input.escalation.done) }),
      version: 0,
      revision: 0,
      updateIds: [],
      lastChanged: [],
    });
    this.ext.set(`${r.source}|${r.externalId}`, r.contactId);
    return { outcome: state === 'routed' ? 'accepted' : state, contactId: r.contactId };
  }

  async parkRouted(contactId: string, nowMs: number, notifyReason?: string): Promise<ParkResult> {
    const it = this.items.get(contactId);
    if (!it) return { outcome: 'unknown' };
    if (it.state !== 'routed') return { outcome: 'not_routed' };
    it.state = 'parked';
    it.parkedAt = nowMs;
    delete it.placing;
    const unheard = it.nr === true;
    delete it.nr;
    // An item routed from waiting whose event was never confirmed: its sender never heard `routed`.
    if (!unheard && notifyReason) this.notify(contactId, it, 'buffered', nowMs, { reason: notifyReason });
    return { outcome: 'parked', record: copy(it.record) };
  }

  async confirmPlaced(contactIds: string[], nowMs: number): Promise<void> {
    for (const id of contactIds) {
      const it = this.items.get(id);
      if (it?.state !== 'routed') continue;
      delete it.placing;
      delete it.resumed;
      if (it.nr) this.notify(id, it, 'routed', nowMs);
      delete it.nr;
    }
  }

  async claimNotifications(nowMs: number, limit: number, leaseMs: number): Promise<{ notes: Notification[]; nextDueMs: number | null }> {
    const due = [...this.outbox.values()]
      .filter((e) => e.due <= nowMs)
      .sort((a, b) => a.due - b.due)
      .slice(0, limit);
    for (const e of due) e.due = nowMs + leaseMs;
    return { notes: due.map((e) => ({ ...e.note })), nextDueMs: earliest([...this.outbox.values()].map((e) => e.due)) };
  }

  async finishNotifications(ids: string[]): Promise<void> {
    for (const id of ids) this.outbox.delete(id);
  }

  async countNotifications(): Promise<number> {
    return this.outbox.size;
  }

  /** Test helper: the notifications in the outbox, oldest due first. */
  notes(): Notification[] {
    return [...this.outbox.values()].sort((a, b) => a.due - b.due).map((e) => e.note);
  }

  /** As includes/notify.lua: a new id per notification, counted on the item. */
  private notify(id: string, it: Item, event: NotificationEvent, nowMs: number, extra: Partial<Notification> = {}): string {
    it.notes = (it.notes ?? 0) + 1;
    const noteId = `${id}.${it.notes}.${event}`;
    const r = it.record;
    this.outbox.set(noteId, {
      note: {
        id: noteId,
        event,
        contactId: id,
        source: r.source,
        externalId: r.externalId,
        entrance: r.entrance,
        atMs: nowMs,
        ...(it.correlationId !== undefined && { correlationId: it.correlationId }),
        ...extra,
      },
      due: nowMs,
    });
    return noteId;
  }

  /** Test helper: the flush that routed the item has not confirmed its event. */
  placingOf(contactId: string): number | undefined {
    return this.items.get(contactId)?.placing;
  }

  async checkParked(contactId: string, nowMs: number, maxParkMs: number, flushLock?: string): Promise<RouteParkedResult> {
    return this.routeOne(contactId, nowMs, maxParkMs, false, flushLock);
  }

  async routeParkedBatch(entrance: string, nowMs: number, maxParkMs: number, limit: number): Promise<RouteParkedResult[]> {
    const out: RouteParkedResult[] = [];
    for (const id of this.parkedIds(entrance).slice(0, limit)) {
      const r = this.routeOne(id, nowMs, maxParkMs, true);
      out.push(r);
      if (r.outcome === 'closed') break;
    }
    return out;
  }

  async end(contactId: string, nowMs: number, disposition?: EndDisposition): Promise<EndResult> {
    const it = this.items.get(contactId);
    if (!it) return { outcome: 'unknown' };
    // As end-item.lua: still marked (its confirm never recorded), it reached the contact center: `routed` first.
    if (it.nr) this.notify(contactId, it, 'routed', nowMs);
    delete it.nr;
    this.notify(
      contactId,
      it,
      'ended',
      nowMs,
      disposition ? { disposition: { code: disposition.code, ...(disposition.text !== undefined && { text: disposition.text }) } } : {},
    );
    const dueMs = it.overdueDue ?? it.overdueDueMs;
    this.remove(contactId, 'ended');
    if (disposition !== undefined) this.dispositions.push(disposition.counted);
    const { entrance, taskType } = it.record;
    const due = dueMs === undefined ? 'none' : nowMs <= dueMs ? 'before' : 'after';
    return {
      outcome: 'ended',
      entrance,
      taskType,
      handledMs: nowMs - it.receivedAt,
      hadAttachment: it.record.attachment !== undefined,
      due,
    };
  }

  /** The operators' cancels (opts.by other than sender), in order: cancel-item.lua counts no `withdrawn` for them. */
  readonly operatorCancels: string[] = [];

  async cancel(source: string, externalId: string, nowMs: number, opts: { contactId?: string; by?: string } = {}): Promise<CancelResult> {
    const id = this.ext.get(`${source}|${externalId}`);
    if (opts.contactId !== undefined && id !== undefined && id !== opts.contactId) return { outcome: 'not_found' };
    const it = id !== undefined ? this.items.get(id) : undefined;
    if (opts.by !== undefined && opts.by !== 'sender' && it) this.operatorCancels.push(id as string);
    if (id === undefined || !it) {
      const before = this.cancelledRecords.get(`${source}|${externalId}`);
      return before ? { outcome: 'cancelled_before', record: copy(before) } : { outcome: 'not_found' };
    }
    if (opts.by !== undefined && opts.by !== 'sender') this.notify(id, it, 'cancelled', nowMs);
    this.remove(id, 'cancelled');
    this.cancelledRecords.set(`${source}|${externalId}`, copy(it.record));
    return { outcome: 'cancelled', record: copy(it.record) };
  }

  /** source|externalId → the record of an item its sender cancelled (kept like Redis keeps it, for a redelivery). */
  private readonly cancelledRecords = new Map<string, ContactRecord>();

  async readForUpdate(source: string, externalId: string): Promise<UpdateSnapshot | null> {
    const id = this.ext.get(`${source}|${externalId}`);
    const it = id !== undefined ? this.items.get(id) : undefined;
    if (id === undefined || !it) return null;
    return {
      contactId: id,
      state: it.state,
      record: copy(it.record),
      version: it.version,
      revision: it.revision,
      recentUpdates: [...it.updateIds],
      lastChanged: [...it.lastChanged],
      ...(it.lastRevision !== undefined && { lastRevision: it.lastRevision }),
      ...(it.expiresAt && { expiresAt: it.expiresAt.text }),
      ...(it.bodySha !== undefined && { bodySha: it.bodySha }),
    };
  }

  async applyUpdate(u: ApplyUpdateInput): Promise<ApplyUpdateResult> {
    const it = this.items.get(u.contactId);
    if (!it) return { outcome: 'not_found' };
    const seen = it.updateIds.slice(0, u.dedupeDepth).indexOf(u.updateId);
    if (seen >= 0) return { outcome: 'already_applied', state: it.state, last: seen === 0 };
    if (u.revision !== undefined && u.revision <= it.revision) return { outcome: 'stale', lastRevision: it.revision };
    if (it.version !== u.expectVersion) return { outcome: 'conflict' };
    it.record = copy(u.record);
    it.version++;
    it.updateIds = [u.updateId, ...it.updateIds].slice(0, UPDATE_IDS_KEPT);
    it.lastChanged = [...u.changed];
    it.lastRevision = u.revision;
    if (u.revision !== undefined) it.revision = u.revision;
    if (u.expiresAt) it.expiresAt = u.expiresAt;
    if (u.bodySha !== undefined) it.bodySha = u.bodySha;
    if (u.escalation) {
      // As update-item.lua: the same rules keep those fired whose new time has passed; other rules start over.
      const { plan } = u.escalation;
      const old = it.escalation;
      let done = 0;
      if (old && sameRules(old.plan, plan)) {
        done = old.done;
        const ahead = plan.slice(0, done).findIndex((s) => s.atMs > u.nowMs);
        if (ahead >= 0) done = ahead;
      }
      if (plan.length === 0) delete it.escalation;
      else it.escalation = { ...armed(plan, done), ...(old?.last && { last: old.last }) };
    }
    if (u.dueAt) {
      // As update-item.lua: re-armed unless overdue already with the new dueAt passed too.
      if (it.overdueAt === undefined) it.overdueDue = u.dueAt.ms;
      else if (u.dueAt.ms > u.nowMs) {
        delete it.overdueAt;
        delete it.overdueDueMs;
        it.overdueDue = u.dueAt.ms;
      }
    }
    return { outcome: 'updated', state: it.state };
  }

  async claimDueExpiries(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: ExpiryClaim[]; nextDueMs: number | null }> {
    const claims: ExpiryClaim[] = [];
    for (const c of this.expiring.values()) {
      if (claims.length >= limit) break;
      if (c.until > nowMs) continue;
      c.until = nowMs + leaseMs;
      claims.push({ ...c.claim, retaken: true });
    }
    const due = [...this.items]
      .filter(([, it]) => it.expiresAt && it.expiresAt.ms <= nowMs)
      .sort(([, a], [, b]) => (a.expiresAt?.ms ?? 0) - (b.expiresAt?.ms ?? 0))
      .slice(0, limit - claims.length);
    for (const [id, it] of due) {
      const claim: ExpiryClaim = {
        contactId: id,
        record: copy(it.record),
        ...(it.replyTo !== undefined && { replyTo: it.replyTo }),
        ...(it.correlationId !== undefined && { correlationId: it.correlationId }),
        state: it.state,
        ...(it.expiresAt && { expiresAt: it.expiresAt.text }),
        dueMs: it.expiresAt?.ms ?? 0,
        retaken: false,
      };
      this.notify(id, it, 'expired', nowMs, { reason: 'expires-at' });
      this.remove(id, 'expired');
      this.expiring.set(id, { claim, until: nowMs + leaseMs });
      claims.push(claim);
    }
    return { claims, nextDueMs: earliest([...this.items.values()].map((it) => it.expiresAt?.ms)) };
  }

  async finishExpiry(contactId: string): Promise<void> {
    this.expiring.delete(contactId);
  }

  async claimDueActivations(
    nowMs: number,
    limit: number,
    leaseMs: number,
  ): Promise<{ claims: ActivationClaim[]; nextDueMs: number | null }> {
    const claims: ActivationClaim[] = [];
    for (const [id, until] of this.activating) {
      if (claims.length >= limit) break;
      if (until > nowMs) continue;
      const it = this.items.get(id);
      if (!it || (it.state !== 'routed' && it.state !== 'parked')) {
        this.activating.delete(id);
        continue;
      }
      this.activating.set(id, nowMs + leaseMs);
      claims.push({
        contactId: id,
        state: it.state,
        record: copy(it.record),
        dueMs: 0,
        retaken: true,
        ...(it.resumed && { resumed: true }),
      });
    }
    const due = [...this.items]
      .filter(([, it]) => it.state === 'scheduled' && (it.activateAt?.ms ?? Infinity) <= nowMs)
      .sort(([, a], [, b]) => (a.activateAt?.ms ?? 0) - (b.activateAt?.ms ?? 0))
      .slice(0, limit - claims.length);
    for (const [id, it] of due) {
      // A new arrival: routed, or parked when its entrance is closed now (no park limit, as in the script).
      const state = this.closed.has(it.record.entrance) ? 'parked' : 'routed';
      it.state = state;
      it.seq = ++this.seq;
      if (state === 'parked') it.parkedAt = nowMs;
      if (state === 'routed') it.nr = true;
      this.activating.set(id, nowMs + leaseMs);
      claims.push({
        contactId: id,
        state,
        record: copy(it.record),
        dueMs: it.activateAt?.ms ?? 0,
        retaken: false,
        ...(it.resumed && { resumed: true }),
      });
    }
    const waiting = [...this.items.values()].filter((it) => it.state === 'scheduled');
    return { claims, nextDueMs: earliest(waiting.map((it) => it.activateAt?.ms)) };
  }

  async finishActivation(contactId: string): Promise<void> {
    this.activating.delete(contactId);
  }

  async claimDueOverdue(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: OverdueClaim[]; nextDueMs: number | null }> {
    const claims: OverdueClaim[] = [];
    for (const [id, until] of this.overdueClaims) {
      if (claims.length >= limit) break;
      if (until > nowMs) continue;
      const it = this.items.get(id);
      if (!it || it.overdueAt === undefined) {
        this.overdueClaims.delete(id);
        continue;
      }
      this.overdueClaims.set(id, nowMs + leaseMs);
      claims.push({ contactId: id, record: copy(it.record), dueMs: it.overdueDueMs ?? 0, overdueAtMs: it.overdueAt, retaken: true });
    }
    const due = [...this.items]
      .filter(([, it]) => it.overdueDue !== undefined && it.overdueDue <= nowMs)
      .sort(([, a], [, b]) => (a.overdueDue ?? 0) - (b.overdueDue ?? 0))
      .slice(0, limit - claims.length);
    for (const [id, it] of due) {
      const dueMs = it.overdueDue as number;
      delete it.overdueDue;
      if (it.overdueAt !== undefined) continue;
      it.overdueAt = nowMs;
      it.overdueDueMs = dueMs;
      this.notify(id, it, 'overdue', nowMs, { dueMs });
      this.overdueClaims.set(id, nowMs + leaseMs);
      claims.push({ contactId: id, record: copy(it.record), dueMs, overdueAtMs: nowMs, retaken: false });
    }
    return { claims, nextDueMs: earliest([...this.items.values()].map((it) => it.overdueDue)) };
  }

  async finishOverdue(contactId: string): Promise<void> {
    this.overdueClaims.delete(contactId);
  }

  /** As hold-item.lua. */
  async hold(h: HoldInput): Promise<HoldResult> {
    const id = this.ext.get(`${h.source}|${h.externalId}`);
    const it = id !== undefined ? this.items.get(id) : undefined;
    if (id === undefined || !it || (h.contactId !== undefined && h.contactId !== id)) return { outcome: 'not_found' };
    const withdraw = it.state === 'held' && it.withdrawing !== undefined;
    if (h.sameAgain && h.holdId !== '' && it.holdId === h.holdId) {
      return {
        outcome: 'already',
        contactId: id,
        state: it.state,
        ...(it.held && { from: it.held.from }),
        record: copy(it.record),
        withdraw,
      };
    }
    const terms = {
      ...(h.until && { until: h.until.text, untilMs: h.until.ms }),
      ...(h.reason !== undefined && { reason: h.reason }),
    };
    if (h.holdId !== '') it.holdId = h.holdId;
    const notifyHeld = () =>
      this.notify(id, it, 'held', h.nowMs, {
        ...(h.until && { until: h.until.text }),
        ...(h.reason !== undefined && { reason: h.reason }),
      });
    if (it.state === 'held' && it.held) {
      it.held = { from: it.held.from, atMs: it.held.atMs, ...terms };
      notifyHeld();
      return { outcome: 'rehold', contactId: id, from: it.held.from, record: copy(it.record), withdraw };
    }
    const from = it.state as PlacedState;
    if (from === 'routed') {
      delete it.placing;
      it.withdrawing = h.nowMs;
      delete it.nr;
    }
    delete it.parkedAt;
    it.state = 'held';
    it.held = { from, atMs: h.nowMs, ...terms };
    notifyHeld();
    return { outcome: 'held', contactId: id, from, record: copy(it.record), withdraw: from === 'routed' };
  }

  async confirmWithdrawn(contactId: string): Promise<void> {
    const it = this.items.get(contactId);
    if (it?.state === 'held') delete it.withdrawing;
  }

  /** As resume-item.lua. */
  async resume(u: ResumeInput): Promise<ResumeResult> {
    const id = this.ext.get(`${u.source}|${u.externalId}`);
    const it = id !== undefined ? this.items.get(id) : undefined;
    if (id === undefined || !it || (u.contactId !== undefined && u.contactId !== id)) return { outcome: 'not_found' };
    if ((u.sameAgain && u.resumeId !== '' && it.resumeId === u.resumeId) || (it.state !== 'held' && it.resumed)) {
      return {
        outcome: 'already',
        contactId: id,
        state: it.state,
        record: copy(it.record),
        ...(it.placing !== undefined && { placingSinceMs: it.placing }),
      };
    }
    if (it.state !== 'held') return { outcome: 'not_held', contactId: id, state: it.state, record: copy(it.record) };
    if (u.by !== 'sender') this.notify(id, it, 'resumed', u.nowMs);
    const r = this.resumeOne(it, u.nowMs);
    if (u.resumeId !== '') it.resumeId = u.resumeId;
    return { outcome: 'resumed', contactId: id, record: copy(it.record), ...r };
  }

  /** As claim-resumes.lua: a retake while the item still carries its `resumed` mark. */
  async claimDueResumes(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: ResumeClaim[]; nextDueMs: number | null }> {
    const claims: ResumeClaim[] = [];
    for (const [id, until] of this.resumeClaims) {
      if (claims.length >= limit) break;
      if (until > nowMs) continue;
      const it = this.items.get(id);
      if (!it || it.state === 'held' || !it.resumed) {
        this.resumeClaims.delete(id);
        continue;
      }
      this.resumeClaims.set(id, nowMs + leaseMs);
      claims.push({ contactId: id, state: it.state, record: copy(it.record), dueMs: 0, retaken: true });
    }
    const due = [...this.items]
      .filter(([, it]) => it.state === 'held' && (it.held?.untilMs ?? Infinity) <= nowMs)
      .sort(([, a], [, b]) => (a.held?.untilMs ?? 0) - (b.held?.untilMs ?? 0))
      .slice(0, limit - claims.length);
    for (const [id, it] of due) {
      const dueMs = it.held?.untilMs ?? 0;
      this.notify(id, it, 'resumed', nowMs);
      const r = this.resumeOne(it, nowMs);
      this.resumeClaims.set(id, nowMs + leaseMs);
      claims.push({ contactId: id, record: copy(it.record), dueMs, retaken: false, ...r });
    }
    const waiting = [...this.items.values()].filter((it) => it.state === 'held');
    return { claims, nextDueMs: earliest(waiting.map((it) => it.held?.untilMs)) };
  }

  async finishResume(contactId: string): Promise<void> {
    this.resumeClaims.delete(contactId);
  }

  /** As claim-escalations.lua: due rules applied (one raise to the highest, if higher), the next one armed. */
  async claimDueEscalations(
    nowMs: number,
    limit: number,
    leaseMs: number,
  ): Promise<{ claims: EscalationClaim[]; nextDueMs: number | null }> {
    const claims: EscalationClaim[] = [];
    for (const [id, until] of this.escalationClaims) {
      if (claims.length >= limit) break;
      if (until > nowMs) continue;
      const it = this.items.get(id);
      const last = it?.escalation?.last;
      if (!it || !last) {
        this.escalationClaims.delete(id);
        continue;
      }
      this.escalationClaims.set(id, nowMs + leaseMs);
      claims.push({ contactId: id, state: it.state, record: copy(it.record), ...last, rules: [...last.rules], dueMs: 0, retaken: true });
    }
    const due = [...this.items]
      .filter(([, it]) => it.escalation?.dueMs !== undefined && it.escalation.dueMs <= nowMs)
      .sort(([, a], [, b]) => (a.escalation?.dueMs ?? 0) - (b.escalation?.dueMs ?? 0))
      .slice(0, limit - claims.length);
    for (const [id, it] of due) {
      const esc = it.escalation as NonNullable<Item['escalation']>;
      const dueMs = esc.dueMs as number;
      if (it.state === 'routed' && (it.placing !== undefined || it.nr === true || nowMs - it.receivedAt < ESCALATION_ARRIVAL_MS)) {
        esc.dueMs = nowMs + ESCALATION_RETRY_MS;
        continue;
      }
      const fired: EscalationStep[] = [];
      while (esc.done < esc.plan.length && esc.plan[esc.done].atMs <= nowMs) fired.push(esc.plan[esc.done++]);
      esc.dueMs = esc.plan[esc.done]?.atMs;
      const top = Math.max(0, ...fired.map((s) => s.priority));
      const from = it.record.priority;
      if (top <= from) continue;
      it.record.priority = top;
      it.version++;
      esc.last = { from, to: top, rules: fired.map((s) => s.rule) };
      this.escalationClaims.set(id, nowMs + leaseMs);
      claims.push({
        contactId: id,
        state: it.state,
        record: copy(it.record),
        ...esc.last,
        rules: [...esc.last.rules],
        dueMs,
        retaken: false,
      });
    }
    return { claims, nextDueMs: earliest([...this.items.values()].map((it) => it.escalation?.dueMs)) };
  }

  async finishEscalation(contactId: string): Promise<void> {
    this.escalationClaims.delete(contactId);
  }

  /** Test helper: the item's escalation as stored (plan, rules fired, next due time), or undefined. */
  escalationOf(contactId: string): { done: number; dueMs?: number; priority: number } | undefined {
    const it = this.items.get(contactId);
    return (
      it?.escalation && {
        done: it.escalation.done,
        ...(it.escalation.dueMs !== undefined && { dueMs: it.escalation.dueMs }),
        priority: it.record.priority,
      }
    );
  }

  /** As resume-one.lua: a new arrival with a new seq; scheduled again, parked at a closed entrance (no limit), or routed. */
  private resumeOne(it: Item, nowMs: number): { state: PlacedState; activateAtMs?: number } {
    const from = it.held?.from;
    delete it.held;
    delete it.withdrawing;
    it.seq = ++this.seq;
    it.resumed = true;
    if (from === 'scheduled' && it.activateAt && it.activateAt.ms > nowMs) {
      it.state = 'scheduled';
      return { state: 'scheduled', activateAtMs: it.activateAt.ms };
    }
    if (this.closed.has(it.record.entrance)) {
      it.state = 'parked';
      it.parkedAt = nowMs;
      return { state: 'parked' };
    }
    it.state = 'routed';
    it.placing = nowMs;
    it.nr = true;
    return { state: 'routed' };
  }

  /** Test helper: the item's hold marks (withdrawing: its contact.withdrawn unconfirmed; resumed: its created unconfirmed). */
  marksOf(contactId: string): { withdrawing: boolean; resumed: boolean; placing: boolean } {
    const it = this.items.get(contactId);
    return { withdrawing: it?.withdrawing !== undefined, resumed: it?.resumed === true, placing: it?.placing !== undefined };
  }

  async setEntrance(name: string, open: boolean, by: string, nowMs: number): Promise<{ changed: boolean }> {
    if (open !== this.closed.has(name)) return { changed: false };
    const since = { since: new Date(nowMs).toISOString(), by };
    if (open) {
      this.closed.delete(name);
      this.opened.set(name, since);
    } else this.closed.set(name, since);
    return { changed: true };
  }

  async entrances(names: string[]): Promise<EntranceState[]> {
    return names.map((name) => ({
      name,
      open: !this.closed.has(name),
      ...(this.closed.get(name) ?? this.opened.get(name)),
      parked: this.parkedIds(name).length,
    }));
  }

  async isOpen(name: string): Promise<boolean> {
    return !this.closed.has(name);
  }

  async pageUnfinished(afterSeq: number, limit: number, untilSeq = Infinity): Promise<StoredItem[]> {
    return [...this.items]
      .filter(([, it]) => it.seq > afterSeq && it.seq <= untilSeq)
      .sort(([, a], [, b]) => a.seq - b.seq)
      .slice(0, limit)
      .map(([id, it]) => stored(id, it));
  }

  async getItem(contactId: string): Promise<StoredItem | null> {
    const it = this.items.get(contactId);
    return it ? stored(contactId, it) : null;
  }

  /** As the Redis store: the unfinished item by the index, else the finished entry while it lives. */
  async lookupItem(source: string, externalId: string): Promise<ItemLookup | null> {
    const id = this.ext.get(`${source}|${externalId}`);
    const it = id !== undefined ? this.items.get(id) : undefined;
    if (id !== undefined && it) return { kind: 'unfinished', item: stored(id, it), revision: it.revision };
    const fin = this.finished.get(`${source}|${externalId}`);
    if (this.afterEndSeconds <= 0 || !fin || this.now() - fin.at >= this.afterEndSeconds * 1000) return null;
    return { kind: 'finished', contactId: fin.contactId, state: fin.state, finishedAtMs: fin.at };
  }

  async lastSeq(): Promise<number> {
    return this.seq;
  }

  async countUnfinished(): Promise<number> {
    return this.items.size;
  }

  async countOverdue(entrances: string[]): Promise<Record<string, number>> {
    const overdue = [...this.items.values()].filter((it) => it.overdueAt !== undefined);
    return Object.fromEntries(entrances.map((e) => [e, overdue.filter((it) => it.record.entrance === e).length]));
  }

  async countOverdueByTaskType(): Promise<OverdueNowCount[]> {
    const counts = new Map<string, OverdueNowCount>();
    for (const it of this.items.values()) {
      if (it.overdueAt === undefined) continue;
      const { taskType, entrance } = it.record;
      const c = counts.get(`${taskType}|${entrance}`) ?? { taskType, entrance, count: 0 };
      c.count++;
      counts.set(`${taskType}|${entrance}`, c);
    }
    return [...counts.values()];
  }

  async countRejected(delta: StatsDelta): Promise<void> {
    this.rejections.push(delta);
  }

  async stats(): Promise<StatsRow[]> {
    return [];
  }

  async minuteStats(): Promise<MinuteStatsRow[]> {
    return [];
  }

  async acquireLock(name: string, owner: string, ttlMs: number): Promise<number | null> {
    const held = this.heldLock(name);
    if (held && held.owner !== owner) return null;
    if (!held) this.fences.set(name, (this.fences.get(name) ?? 0) + 1);
    this.locks.set(name, { owner, until: this.now() + ttlMs });
    return this.fences.get(name) as number;
  }

  async renewLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    if (this.heldLock(name)?.owner !== owner) return false;
    this.locks.set(name, { owner, until: this.now() + ttlMs });
    return true;
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    if (this.heldLock(name)?.owner === owner) this.locks.delete(name);
  }

  async setMarker(name: string, ttlMs: number): Promise<void> {
    this.markers.set(name, this.now() + ttlMs);
  }

  async hasMarker(name: string): Promise<boolean> {
    return (this.markers.get(name) ?? 0) > this.now();
  }

  /** Test helper: Redis lost everything (restarted without persistence): items, tombstones, entrance states. */
  forgetEverything(): void {
    this.items.clear();
    this.ext.clear();
    this.tombstones.clear();
    this.closed.clear();
  }

  /** Test helper: the state of an item, or undefined when it is not unfinished. */
  stateOf(contactId: string): ItemState | undefined {
    return this.items.get(contactId)?.state;
  }

  /** contactIds of the entrance's parked items, oldest (lowest seq) first. */
  parkedIds(entrance: string): string[] {
    return [...this.items]
      .filter(([, it]) => it.state === 'parked' && it.record.entrance === entrance)
      .sort(([, a], [, b]) => a.seq - b.seq)
      .map(([id]) => id);
  }

  private heldLock(name: string) {
    const l = this.locks.get(name);
    return l && l.until > this.now() ? l : undefined;
  }

  /** As the scripts' route_one: route = false only checks (a TTL retry), and never routes. */
  private routeOne(id: string, nowMs: number, maxParkMs: number, route: boolean, flushLock?: string): RouteParkedResult {
    const it = this.items.get(id);
    if (!it) return { outcome: 'gone', contactId: id, tombstone: this.tombstones.has(id) };
    if (it.state === 'held') return { outcome: 'held', contactId: id };
    if (it.state !== 'parked') {
      return {
        outcome: 'not_parked',
        record: copy(it.record),
        flushing: flushLock !== undefined && this.heldLock(flushLock) !== undefined,
        ...(it.placing !== undefined && { placingSinceMs: it.placing }),
        ...(it.resumed && { resumed: true }),
      };
    }
    if (nowMs - (it.parkedAt ?? 0) > maxParkMs) {
      this.notify(id, it, 'expired', nowMs, { reason: 'parked-too-long' });
      this.remove(id, 'expired');
      return {
        outcome: 'expired',
        record: copy(it.record),
        ...(it.replyTo !== undefined && { replyTo: it.replyTo }),
        ...(it.correlationId !== undefined && { correlationId: it.correlationId }),
        ...(it.trace !== undefined && { trace: it.trace }),
      };
    }
    if (this.closed.has(it.record.entrance)) return { outcome: 'closed', contactId: id };
    if (!route) return { outcome: 'open', contactId: id };
    it.state = 'routed';
    it.placing = nowMs;
    delete it.parkedAt;
    it.nr = true;
    return {
      outcome: 'routed',
      record: copy(it.record),
      ...(it.trace !== undefined && { trace: it.trace }),
      ...(it.resumed && { resumed: true }),
    };
  }

  /** Every trace of the item goes (its due timers with it) and a tombstone stays, so a late retry cannot revive it. */
  private remove(id: string, why: 'ended' | 'cancelled' | 'expired'): void {
    const it = this.items.get(id);
    if (!it) return;
    this.items.delete(id);
    this.ext.delete(`${it.record.source}|${it.record.externalId}`);
    this.tombstones.set(id, why);
    if (this.afterEndSeconds > 0)
      this.finished.set(`${it.record.source}|${it.record.externalId}`, { contactId: id, state: why, at: this.now() });
  }
}

/** Stored as JSON, as in Redis (contactData read back null-prototype, as the adapter does): no object is shared with a caller. */
function copy(r: ContactRecord): ContactRecord {
  const rec = JSON.parse(JSON.stringify(r)) as ContactRecord;
  rec.contactData = Object.assign(Object.create(null) as Record<string, string>, rec.contactData);
  return rec;
}

function stored(contactId: string, it: Item): StoredItem {
  return {
    contactId,
    seq: it.seq,
    state: it.state,
    record: copy(it.record),
    ...(it.parkedAt !== undefined && { parkedAt: it.parkedAt }),
    ...(it.expiresAt && { expiresAt: it.expiresAt.text }),
    ...(it.state === 'scheduled' && it.activateAt && { activateAt: it.activateAt.text }),
    ...(it.state === 'held' &&
      it.held && {
        held: {
          from: it.held.from,
          atMs: it.held.atMs,
          ...(it.held.until !== undefined && { until: it.held.until }),
          ...(it.held.reason !== undefined && { reason: it.held.reason }),
        },
      }),
  };
}

/** A plan with its first `done` rules fired and the next one due (as esc_arm). */
function armed(plan: EscalationStep[], done: number): NonNullable<Item['escalation']> {
  return { plan: plan.map((s) => ({ ...s })), done, ...(done < plan.length && { dueMs: plan[done].atMs }) };
}

/** As esc_same_rules: the same rules (rule and priority, in order), whatever their times. */
function sameRules(a: EscalationStep[], b: EscalationStep[]): boolean {
  return a.length === b.length && a.every((s, i) => s.rule === b[i].rule && s.priority === b[i].priority);
}

function earliest(times: (number | undefined)[]): number | null {
  const known = times.filter((t): t is number => t !== undefined);
  return known.length ? Math.min(...known) : null;
}
