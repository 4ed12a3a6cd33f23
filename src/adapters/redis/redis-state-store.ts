import { copyContactData } from '../../domain/contact-data';
import type { ContactRecord } from '../../domain/contact-event';
import type { EscalationStep } from '../../domain/escalation';
import type {
  AcceptInput,
  ActivationClaim,
  AcceptResult,
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
  MinuteStatsRow,
  OverdueClaim,
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
} from '../../ports/state-store';
import { isNotificationEvent, type Notification } from '../../domain/notification';
import { storedMetricName } from '../../domain/outcomes';
import type { OverdueNowCount } from '../../domain/service-level';
import type { FinishedState } from '../../domain/receipt';
import { hourBucket, minuteBucket } from '../../domain/time-buckets';
import { redisKeys, STATS_TTL_SECONDS, type RedisKeys } from './keys';
import type { RedisConnection } from './redis-client';
import { itemState, luaList, ScriptRunner, type ReplicaWait, type RouteOneReply, type ScriptName, type ScriptReplies } from './scripts';

export type { ReplicaWait } from './scripts';

/** How many of an item's latest update ids are kept, so a redelivered update is recognised and not applied twice. */
export const UPDATE_IDS_KEPT = 16;

/**
 * A script answers `moved` when a value the keys were chosen by (which item the index names, an item's entrance, the
 * head of a parked set) changed between the read and the script; the call is made again with fresh keys. Each of those
 * values changes at most once or twice in an item's life, so a few attempts always suffice.
 */
const MAX_ATTEMPTS = 5;

/** Parses a stored record; contactData comes back as a null-prototype object like the original. */
function parseRecord(json: string): ContactRecord {
  const rec = JSON.parse(json) as ContactRecord;
  rec.contactData = copyContactData(rec.contactData);
  return rec;
}

function toRouteResult(r: RouteOneReply): RouteParkedResult {
  switch (r.outcome) {
    case 'routed':
      return { outcome: 'routed', record: parseRecord(r.rec), ...(r.trace && { trace: r.trace }), ...(r.resumed && { resumed: true }) };
    case 'not_parked':
      return {
        outcome: 'not_parked',
        record: parseRecord(r.rec),
        flushing: r.flushing,
        ...(typeof r.placing === 'number' && { placingSinceMs: r.placing }),
        ...(r.resumed && { resumed: true }),
      };
    case 'held':
      return { outcome: 'held', contactId: r.contactId };
    case 'expired':
      return {
        outcome: 'expired',
        record: parseRecord(r.rec),
        replyTo: r.replyTo || undefined,
        correlationId: r.corrId || undefined,
        ...(r.trace && { trace: r.trace }),
      };
    case 'closed':
    case 'open':
      return { outcome: r.outcome, contactId: r.contactId };
    case 'gone':
      return { outcome: 'gone', contactId: r.contactId, tombstone: r.tombstone };
  }
}

/**
 * contactId → entrance, which never changes in an item's life: the keys of its entrance (its parked set) are known
 * without a read. A stale entry is harmless (the scripts check the entrance and answer `moved`). Bounded: the
 * oldest entries go first.
 */
class EntranceCache {
  private readonly map = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  get(contactId: string): string | undefined {
    return this.map.get(contactId);
  }

  set(contactId: string, entrance: string): void {
    if (!entrance || this.map.get(contactId) === entrance) return;
    this.map.delete(contactId);
    this.map.set(contactId, entrance);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

function finishedState(s: string): FinishedState {
  if (s === 'ended' || s === 'cancelled' || s === 'expired') return s;
  throw new Error(`Redis: unexpected finished state ${JSON.stringify(s)}`);
}

function movedTooOften(what: string): Error {
  return new Error(`Redis: ${what} kept changing between the read and the script (${MAX_ATTEMPTS} attempts); retried later`);
}

/**
 * A routed item's escalation waits while its contact.created may still be on its way (claim-escalations.lua): for this
 * long after its arrival (the accept publishes it right after its Redis step), and while a flush's, resume's or
 * activation's event is not confirmed; it is looked at again this often meanwhile. So contact.updated never overtakes it.
 */
export const ESCALATION_ARRIVAL_MS = 2_000;
export const ESCALATION_RETRY_MS = 500;

/** An escalation plan as the item hash keeps it (includes/escalation.lua). */
function storedPlan(plan: readonly EscalationStep[]): string {
  return JSON.stringify(plan.map((s) => ({ at: s.atMs, p: s.priority, rule: s.rule })));
}

/** An outbox entry as includes/notify.lua writes it. */
interface StoredNote {
  id: string;
  event: string;
  contactId: string;
  source: string;
  externalId: string;
  entrance: string;
  at: number;
  corrId?: string;
  reason?: string;
  until?: string;
  dueMs?: string | number;
  dispositionCode?: string;
  dispositionText?: string;
}

function toNotification(json: string): Notification | null {
  const n = JSON.parse(json) as StoredNote;
  if (!isNotificationEvent(n.event)) return null;
  return {
    id: n.id,
    event: n.event,
    contactId: n.contactId,
    source: n.source,
    externalId: n.externalId,
    entrance: n.entrance,
    atMs: Number(n.at),
    ...(n.corrId && { correlationId: n.corrId }),
    ...(n.reason && { reason: n.reason }),
    ...(n.until && { until: n.until }),
    ...(n.dueMs !== undefined && n.dueMs !== '' && { dueMs: Number(n.dueMs) }),
    ...(n.dispositionCode && { disposition: { code: n.dispositionCode, ...(n.dispositionText && { text: n.dispositionText }) } }),
  };
}

/** The item hash fields a StoredItem is read from, in the order storedItem takes them. */
const ITEM_READ = ['state', 'seq', 'parkedAt', 'rec', 'expiresAt', 'activateAt', 'heldFrom', 'heldAt', 'heldUntil', 'heldReason'] as const;

/** An item as read by ITEM_READ; null when it is gone. activateAt only while scheduled, the hold only while held. */
function storedItem(contactId: string, row: (string | null)[]): StoredItem | null {
  const [state, seq, parkedAt, rec, expiresAt, activateAt, heldFrom, heldAt, heldUntil, heldReason] = row;
  if (!state || !rec) return null;
  return {
    contactId,
    seq: Number(seq),
    state: itemState(state),
    parkedAt: parkedAt ? Number(parkedAt) : undefined,
    record: parseRecord(rec),
    ...(expiresAt && { expiresAt }),
    ...(activateAt && state === 'scheduled' && { activateAt }),
    ...(state === 'held' && {
      held: {
        from: itemState((heldFrom ?? 'routed') as 'routed' | 'buffered' | 'scheduled'),
        atMs: Number(heldAt ?? 0),
        ...(heldUntil && { until: heldUntil }),
        ...(heldReason && { reason: heldReason }),
      },
    }),
  };
}

/** Contract 1.2: dedupe.afterEndSeconds by default (7 days). */
export const DEFAULT_AFTER_END_SECONDS = 7 * 24 * 3600;

export class RedisStateStore implements StateStore {
  private readonly keys: RedisKeys;
  private readonly scripts: ScriptRunner;
  private readonly entranceCache = new EntranceCache();
  /** contactId → `source|externalId` (never changes): names the finished entry an ending transition writes. */
  private readonly identityCache = new EntranceCache();

  constructor(
    private readonly redis: RedisConnection,
    prefix: string,
    private readonly tombstoneSeconds: number,
    wait?: ReplicaWait,
    /** How long a finished item's finished entry lives (dedupe.afterEndSeconds); 0: none is written or read. */
    private readonly afterEndSeconds = DEFAULT_AFTER_END_SECONDS,
  ) {
    this.keys = redisKeys(prefix, redis.isCluster);
    this.scripts = new ScriptRunner(redis, wait);
  }

  private run<N extends ScriptName>(name: N, keys: string[], args: (string | number)[]): Promise<ScriptReplies[N]> {
    return this.scripts.run(name, keys, args);
  }

  /** The hourly and per-minute stats keys of the current minute, made once per minute (every accept names them). */
  private statsMinute = { minute: -1, keys: [] as string[] };

  private statsKeys(nowMs: number): string[] {
    const minute = Math.floor(nowMs / 60_000);
    if (minute !== this.statsMinute.minute) {
      this.statsMinute = { minute, keys: [this.keys.stats(hourBucket(nowMs)), this.keys.statsMinute(minuteBucket(nowMs))] };
    }
    return this.statsMinute.keys;
  }

  private static readonly STATS_TTLS = [STATS_TTL_SECONDS.hour, STATS_TTL_SECONDS.minute];

  /** An item's entrance (it never changes), to pick its parked set: '' when the item is gone. */
  private async entranceOf(contactId: string): Promise<string> {
    const known = this.entranceCache.get(contactId);
    if (known) return known;
    const entrance = (await this.redis.hget(this.keys.item(contactId), 'entrance')) ?? '';
    this.entranceCache.set(contactId, entrance);
    return entrance;
  }

  /**
   * An item's `source|externalId` ('' when the item is gone), to name its finished entry; cached (it never changes).
   * The entrance is read and cached in the same round trip.
   */
  private async identityOf(contactId: string): Promise<string> {
    const known = this.identityCache.get(contactId);
    if (known) return known;
    const [entrance, source, externalId] = await this.redis.hmget(this.keys.item(contactId), 'entrance', 'source', 'externalId');
    if (!entrance || source === null || externalId === null) return '';
    this.entranceCache.set(contactId, entrance);
    const id = `${source}|${externalId}`;
    this.identityCache.set(contactId, id);
    return id;
  }

  /** The finished entry's key for an identity as identityOf gives it. */
  private finishedKey(identity: string): string {
    const bar = identity.indexOf('|');
    return bar < 0 ? this.keys.finished('', '') : this.keys.finished(identity.slice(0, bar), identity.slice(bar + 1));
  }

  /** The entrance a script found the item at (answer `moved`), for the next attempt and later calls. */
  private movedTo(contactId: string, entrance: string): string {
    this.entranceCache.set(contactId, entrance);
    return entrance;
  }

  /** The keys remove_item (includes/remove-item.lua) takes, in the order the scripts list them. */
  private removeKeys(contactId: string, entrance: string): string[] {
    const k = this.keys;
    return [
      k.item(contactId),
      k.attachment(contactId),
      k.tombstone(contactId),
      k.externalIndex,
      k.unfinished,
      k.parked(entrance),
      k.dueExpire,
      k.dueActivate,
    ];
  }

  async accept(input: AcceptInput): Promise<AcceptResult> {
    const r = input.record;
    const k = this.keys;
    const stats = this.statsKeys(input.nowMs);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const res = await this.run(
        'accept-item',
        [
          k.item(r.contactId),
          k.externalIndex,
          k.unfinished,
          k.seq,
          k.entrance(r.entrance),
          k.parked(r.entrance),
          k.dueExpire,
          k.dueActivate,
          ...stats,
          k.finished(r.source, r.externalId),
          k.dueOverdue,
          k.dueEscalate,
        ],
        [
          r.contactId,
          r.source,
          r.externalId,
          r.entrance,
          JSON.stringify(r),
          input.nowMs,
          input.maxParked,
          input.replyTo ?? '',
          input.correlationId ?? '',
          r.taskType,
          input.bodySha ?? '',
          input.expiresAt?.text ?? '',
          input.expiresAt?.ms ?? 0,
          input.activateAt?.text ?? '',
          input.activateAt?.ms ?? 0,
          input.trace ?? '',
          ...RedisStateStore.STATS_TTLS,
          input.restart ? '1' : '',
          this.afterEndSeconds,
          input.dueAt?.ms ?? '',
          input.escalation && input.escalation.plan.length > 0 ? storedPlan(input.escalation.plan) : '',
          input.escalation?.done ?? 0,
        ],
      );
      if (res.outcome === 'finished') return { outcome: 'finished', contactId: res.contactId, state: finishedState(res.state) };
      if (res.outcome !== 'known') {
        if (res.outcome !== 'park_limit') {
          this.entranceCache.set(r.contactId, r.entrance);
          this.identityCache.set(r.contactId, `${r.source}|${r.externalId}`);
        }
        return res;
      }
      const dup = await this.run(
        'answer-duplicate',
        [k.item(res.contactId), k.externalIndex, ...stats],
        [res.contactId, r.source, r.externalId, r.taskType, r.entrance, ...RedisStateStore.STATS_TTLS],
      );
      if (dup.outcome === 'duplicate') {
        return { outcome: 'duplicate', contactId: dup.contactId, state: itemState(dup.state), record: parseRecord(dup.rec) };
      }
    }
    throw movedTooOften(`the item of ${r.source}/${r.externalId}`);
  }

  async parkRouted(contactId: string, nowMs: number, notifyReason = ''): Promise<ParkResult> {
    let entrance = await this.entranceOf(contactId);
    if (!entrance) return { outcome: 'unknown' };
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const r = await this.run(
        'park-routed',
        [this.keys.item(contactId), this.keys.parked(entrance), this.keys.notesDue, this.keys.notesBody],
        [contactId, entrance, nowMs, notifyReason],
      );
      if (r.outcome === 'parked') return { outcome: 'parked', record: parseRecord(r.rec) };
      if (r.outcome !== 'moved') return { outcome: r.outcome };
      entrance = this.movedTo(contactId, r.entrance);
    }
    throw movedTooOften(`the entrance of ${contactId}`);
  }

  async confirmPlaced(contactIds: string[], nowMs: number): Promise<void> {
    if (contactIds.length === 0) return;
    await this.run(
      'confirm-placed',
      [this.keys.notesDue, this.keys.notesBody, ...contactIds.map((cid) => this.keys.item(cid))],
      [nowMs, ...contactIds],
    );
  }

  async checkParked(contactId: string, nowMs: number, maxParkMs: number, flushLock = ''): Promise<RouteParkedResult> {
    const k = this.keys;
    const identity = await this.identityOf(contactId);
    let entrance = await this.entranceOf(contactId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const [item, att, tomb, index, unfinished, parked, dueExpire, dueActivate] = this.removeKeys(contactId, entrance);
      const r = await this.run(
        'check-parked',
        [
          item,
          att,
          tomb,
          index,
          unfinished,
          parked,
          k.entrance(entrance),
          dueExpire,
          dueActivate,
          ...this.statsKeys(nowMs),
          this.finishedKey(identity),
          k.dueOverdue,
          k.overdue(entrance),
          k.dueResume,
          k.notesDue,
          k.notesBody,
          k.overdueNow,
          k.dueEscalate,
          ...(flushLock ? [k.lock(flushLock)] : []),
        ],
        [contactId, entrance, nowMs, maxParkMs, this.tombstoneSeconds, ...RedisStateStore.STATS_TTLS, identity, this.afterEndSeconds],
      );
      if (r.outcome !== 'moved') return toRouteResult(r);
      entrance = this.movedTo(contactId, r.entrance);
    }
    throw movedTooOften(`the entrance of ${contactId}`);
  }

  async routeParkedBatch(entrance: string, nowMs: number, maxParkMs: number, limit: number): Promise<RouteParkedResult[]> {
    const k = this.keys;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const head = await this.redis.zrange(k.parked(entrance), 0, limit - 1);
      if (head.length === 0) return [];
      const ids = await Promise.all(head.map((cid) => this.identityOf(cid)));
      const r = await this.run(
        'route-parked-batch',
        [
          k.parked(entrance),
          k.entrance(entrance),
          k.externalIndex,
          k.unfinished,
          k.dueExpire,
          k.dueActivate,
          ...this.statsKeys(nowMs),
          k.dueOverdue,
          k.overdue(entrance),
          k.dueResume,
          k.notesDue,
          k.notesBody,
          k.dueEscalate,
          ...head.flatMap((cid, i) => [k.item(cid), k.attachment(cid), k.tombstone(cid), this.finishedKey(ids[i])]),
          k.overdueNow,
        ],
        [
          entrance,
          nowMs,
          maxParkMs,
          this.tombstoneSeconds,
          ...RedisStateStore.STATS_TTLS,
          this.afterEndSeconds,
          ...head.flatMap((cid, i) => [cid, ids[i]]),
        ],
      );
      const results = luaList(r.results);
      // An empty answer means "none parked" to the flush: only a stale head with nothing done is read again.
      if (results.length > 0 || !r.stale) return results.map(toRouteResult);
    }
    throw movedTooOften(`the head of the parked items of ${entrance}`);
  }

  async end(contactId: string, nowMs: number, disposition?: EndDisposition): Promise<EndResult> {
    const identity = await this.identityOf(contactId);
    let entrance = await this.entranceOf(contactId);
    if (!entrance || !identity) return { outcome: 'unknown' };
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const r = await this.run(
        'end-item',
        [
          ...this.removeKeys(contactId, entrance),
          ...this.statsKeys(nowMs),
          this.finishedKey(identity),
          this.keys.dueOverdue,
          this.keys.overdue(entrance),
          this.keys.dueResume,
          this.keys.notesDue,
          this.keys.notesBody,
          this.keys.overdueNow,
          this.keys.dueEscalate,
        ],
        [
          contactId,
          entrance,
          nowMs,
          this.tombstoneSeconds,
          ...RedisStateStore.STATS_TTLS,
          disposition?.counted ?? '',
          identity,
          this.afterEndSeconds,
          disposition?.code ?? '',
          disposition?.text ?? '',
        ],
      );
      if (r.outcome === 'ended') {
        return {
          outcome: 'ended',
          entrance: r.entrance,
          taskType: r.taskType,
          handledMs: r.handledMs,
          hadAttachment: r.hadAttachment,
          due: r.due,
        };
      }
      if (r.outcome === 'unknown') return { outcome: 'unknown' };
      entrance = this.movedTo(contactId, r.entrance);
    }
    throw movedTooOften(`the entrance of ${contactId}`);
  }

  async cancel(source: string, externalId: string, nowMs: number, opts: { contactId?: string; by?: string } = {}): Promise<CancelResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const contactId = await this.redis.hget(this.keys.externalIndex, `${source}|${externalId}`);
      if (opts.contactId !== undefined && contactId !== opts.contactId) return { outcome: 'not_found' };
      if (!contactId) return this.cancelledBefore(source, externalId);
      const entrance = await this.entranceOf(contactId);
      const r = await this.run(
        'cancel-item',
        [
          ...this.removeKeys(contactId, entrance),
          ...this.statsKeys(nowMs),
          this.keys.cancelled(source, externalId),
          this.keys.finished(source, externalId),
          this.keys.dueOverdue,
          this.keys.overdue(entrance),
          this.keys.dueResume,
          this.keys.notesDue,
          this.keys.notesBody,
          this.keys.overdueNow,
          this.keys.dueEscalate,
        ],
        [
          contactId,
          source,
          externalId,
          entrance,
          this.tombstoneSeconds,
          ...RedisStateStore.STATS_TTLS,
          nowMs,
          this.afterEndSeconds,
          opts.by ?? 'sender',
        ],
      );
      if (r.outcome === 'cancelled') return { outcome: 'cancelled', record: parseRecord(r.rec) };
      if (r.outcome === 'not_found') return this.cancelledBefore(source, externalId);
    }
    throw movedTooOften(`the item of ${source}/${externalId}`);
  }

  /** No unfinished item: was it cancelled (within the tombstone's time)? Read only, in the not-found path. */
  private async cancelledBefore(source: string, externalId: string): Promise<CancelResult> {
    const rec = await this.redis.get(this.keys.cancelled(source, externalId));
    return rec ? { outcome: 'cancelled_before', record: parseRecord(rec) } : { outcome: 'not_found' };
  }

  async readForUpdate(source: string, externalId: string): Promise<UpdateSnapshot | null> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const contactId = await this.redis.hget(this.keys.externalIndex, `${source}|${externalId}`);
      if (!contactId) return null;
      const r = await this.run('read-for-update', [this.keys.externalIndex, this.keys.item(contactId)], [contactId, source, externalId]);
      if (r.outcome === 'not_found') return null;
      if (r.outcome === 'moved') continue;
      return {
        contactId,
        state: itemState(r.state),
        record: parseRecord(r.rec),
        version: Number(r.ver),
        revision: Number(r.rev),
        recentUpdates: r.uids.split(' ').filter(Boolean),
        lastChanged: JSON.parse(r.uchg) as string[],
        ...(r.urev !== '' && { lastRevision: Number(r.urev) }),
        ...(r.expiresAt !== '' && { expiresAt: r.expiresAt }),
        ...(r.bodySha !== '' && { bodySha: r.bodySha }),
      };
    }
    throw movedTooOften(`the item of ${source}/${externalId}`);
  }

  async applyUpdate(u: ApplyUpdateInput): Promise<ApplyUpdateResult> {
    const r = await this.run(
      'update-item',
      [
        this.keys.item(u.contactId),
        this.keys.dueExpire,
        ...this.statsKeys(u.nowMs),
        this.keys.dueOverdue,
        this.keys.overdue(u.record.entrance),
        this.keys.overdueNow,
        this.keys.dueEscalate,
      ],
      [
        u.contactId,
        u.expectVersion,
        u.updateId,
        u.dedupeDepth,
        u.revision ?? '',
        JSON.stringify(u.record),
        JSON.stringify(u.changed),
        u.expiresAt?.text ?? '',
        u.expiresAt?.ms ?? 0,
        u.bodySha ?? '',
        u.record.taskType,
        UPDATE_IDS_KEPT,
        ...RedisStateStore.STATS_TTLS,
        u.dueAt?.ms ?? '',
        u.nowMs,
        u.escalation ? storedPlan(u.escalation.plan) : '',
      ],
    );
    switch (r.outcome) {
      case 'updated':
        return { outcome: 'updated', state: itemState(r.state) };
      case 'already':
        return { outcome: 'already_applied', state: itemState(r.state), last: r.last };
      case 'stale':
        return { outcome: 'stale', lastRevision: Number(r.lastRevision) };
      default:
        return { outcome: r.outcome };
    }
  }

  /**
   * The candidates of a claim (claims whose lease ran out, then due entries, at most `limit` in all), each with its
   * entrance (to pass its parked set), and when the next entry is due. Idle (nothing due): this read is all.
   */
  private async dueCandidates(
    due: string,
    claimed: string,
    nowMs: number,
    limit: number,
    withEntrances = true,
  ): Promise<{ retakes: string[]; fresh: string[]; entrances: string[]; nextDueMs: number | null }> {
    const [retakes, dueIds, next] = await Promise.all([
      this.redis.zrangebyscore(claimed, '-inf', nowMs, 'LIMIT', 0, limit),
      this.redis.zrangebyscore(due, '-inf', nowMs, 'LIMIT', 0, limit),
      this.redis.zrange(due, 0, 0, 'WITHSCORES'),
    ]);
    const fresh = dueIds.slice(0, limit - retakes.length);
    const entrances = withEntrances ? await Promise.all([...retakes, ...fresh].map((cid) => this.entranceOf(cid))) : [];
    return { retakes, fresh, entrances, nextDueMs: next.length > 1 ? Number(next[1]) : null };
  }

  async claimDueExpiries(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: ExpiryClaim[]; nextDueMs: number | null }> {
    const k = this.keys;
    const c = await this.dueCandidates(k.dueExpire, k.dueExpireClaimed, nowMs, limit);
    const ids = [...c.retakes, ...c.fresh];
    if (ids.length === 0) return { claims: [], nextDueMs: c.nextDueMs };
    const identities = await Promise.all(ids.map((cid) => this.identityOf(cid)));
    const r = await this.run(
      'claim-expired',
      [
        k.dueExpire,
        k.dueExpireClaimed,
        k.externalIndex,
        k.unfinished,
        k.dueActivate,
        ...this.statsKeys(nowMs),
        k.dueOverdue,
        k.dueResume,
        k.notesDue,
        k.notesBody,
        k.dueEscalate,
        ...ids.flatMap((cid, i) => [
          k.item(cid),
          k.attachment(cid),
          k.tombstone(cid),
          k.expiring(cid),
          k.parked(c.entrances[i]),
          this.finishedKey(identities[i]),
          k.overdue(c.entrances[i]),
        ]),
        k.overdueNow,
      ],
      [
        nowMs,
        leaseMs,
        this.tombstoneSeconds,
        ...RedisStateStore.STATS_TTLS,
        c.retakes.length,
        this.afterEndSeconds,
        ...ids.flatMap((cid, i) => [cid, c.entrances[i], identities[i]]),
      ],
    );
    const claims = luaList(r.claims).map((x) => ({
      contactId: x.contactId,
      record: parseRecord(x.rec),
      ...(x.replyTo !== '' && { replyTo: x.replyTo }),
      ...(x.corrId !== '' && { correlationId: x.corrId }),
      state: itemState(x.state),
      ...(x.expiresAt !== '' && { expiresAt: x.expiresAt }),
      dueMs: Number(x.dueMs),
      retaken: x.retaken,
    }));
    return { claims, nextDueMs: r.nextDueMs === undefined ? null : Number(r.nextDueMs) };
  }

  async finishExpiry(contactId: string): Promise<void> {
    await this.run('finish-expired', [this.keys.expiring(contactId), this.keys.dueExpireClaimed], [contactId]);
  }

  async claimDueActivations(
    nowMs: number,
    limit: number,
    leaseMs: number,
  ): Promise<{ claims: ActivationClaim[]; nextDueMs: number | null }> {
    const k = this.keys;
    const c = await this.dueCandidates(k.dueActivate, k.dueActivateClaimed, nowMs, limit);
    const ids = [...c.retakes, ...c.fresh];
    if (ids.length === 0) return { claims: [], nextDueMs: c.nextDueMs };
    const r = await this.run(
      'claim-activations',
      [
        k.dueActivate,
        k.dueActivateClaimed,
        k.unfinished,
        k.seq,
        ...this.statsKeys(nowMs),
        ...ids.flatMap((cid, i) => [k.item(cid), k.parked(c.entrances[i]), k.entrance(c.entrances[i])]),
      ],
      [nowMs, leaseMs, ...RedisStateStore.STATS_TTLS, c.retakes.length, ...ids.flatMap((cid, i) => [cid, c.entrances[i]])],
    );
    const claims = luaList(r.claims).map((x) => ({
      contactId: x.contactId,
      state: itemState(x.state),
      record: parseRecord(x.rec),
      dueMs: Number(x.dueMs),
      retaken: x.retaken,
      ...(x.resumed && { resumed: true }),
    }));
    return { claims, nextDueMs: r.nextDueMs === undefined ? null : Number(r.nextDueMs) };
  }

  async finishActivation(contactId: string): Promise<void> {
    await this.run('finish-claim', [this.keys.dueActivateClaimed], [contactId]);
  }

  async claimDueOverdue(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: OverdueClaim[]; nextDueMs: number | null }> {
    const k = this.keys;
    const c = await this.dueCandidates(k.dueOverdue, k.dueOverdueClaimed, nowMs, limit);
    const ids = [...c.retakes, ...c.fresh];
    if (ids.length === 0) return { claims: [], nextDueMs: c.nextDueMs };
    const r = await this.run(
      'claim-overdue',
      [
        k.dueOverdue,
        k.dueOverdueClaimed,
        ...this.statsKeys(nowMs),
        k.notesDue,
        k.notesBody,
        ...ids.flatMap((cid, i) => [k.item(cid), k.overdue(c.entrances[i])]),
        k.overdueNow,
      ],
      [nowMs, leaseMs, ...RedisStateStore.STATS_TTLS, c.retakes.length, ...ids.flatMap((cid, i) => [cid, c.entrances[i]])],
    );
    const claims = luaList(r.claims).map((x) => ({
      contactId: x.contactId,
      record: parseRecord(x.rec),
      dueMs: Number(x.dueMs),
      overdueAtMs: Number(x.overdueAt),
      retaken: x.retaken,
    }));
    return { claims, nextDueMs: r.nextDueMs === undefined ? null : Number(r.nextDueMs) };
  }

  async finishOverdue(contactId: string): Promise<void> {
    await this.run('finish-claim', [this.keys.dueOverdueClaimed], [contactId]);
  }

  async claimNotifications(nowMs: number, limit: number, leaseMs: number): Promise<{ notes: Notification[]; nextDueMs: number | null }> {
    const r = await this.run('claim-notifications', [this.keys.notesDue, this.keys.notesBody], [nowMs, leaseMs, limit]);
    const notes = luaList(r.notes)
      .map(toNotification)
      .filter((n): n is Notification => n !== null);
    return { notes, nextDueMs: r.nextDueMs === undefined ? null : Number(r.nextDueMs) };
  }

  async finishNotifications(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.run('finish-notifications', [this.keys.notesDue, this.keys.notesBody], ids);
  }

  countNotifications(): Promise<number> {
    return this.redis.zcard(this.keys.notesDue);
  }

  /**
   * The item of (source, externalId) that a hold or resume is for, with its entrance (for its keys): the index's, or
   * none (not_found) when an operator named another contactId.
   */
  private async target(source: string, externalId: string, expected?: string): Promise<{ contactId: string; entrance: string } | null> {
    const contactId = await this.redis.hget(this.keys.externalIndex, `${source}|${externalId}`);
    if (!contactId || (expected !== undefined && contactId !== expected)) return null;
    return { contactId, entrance: await this.entranceOf(contactId) };
  }

  async hold(h: HoldInput): Promise<HoldResult> {
    const k = this.keys;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const t = await this.target(h.source, h.externalId, h.contactId);
      if (!t) return { outcome: 'not_found' };
      const r = await this.run(
        'hold-item',
        [k.item(t.contactId), k.externalIndex, k.parked(t.entrance), k.dueActivate, k.dueResume, k.notesDue, k.notesBody],
        [
          t.contactId,
          h.source,
          h.externalId,
          t.entrance,
          h.nowMs,
          h.until?.text ?? '',
          h.until?.ms ?? 0,
          h.reason ?? '',
          h.holdId,
          h.sameAgain ? '1' : '',
          h.by,
        ],
      );
      switch (r.outcome) {
        case 'held':
        case 'rehold':
          return { outcome: r.outcome, contactId: t.contactId, from: itemState(r.from), record: parseRecord(r.rec), withdraw: r.withdraw };
        case 'already':
          return {
            outcome: 'already',
            contactId: t.contactId,
            state: itemState(r.state),
            ...(r.from && { from: itemState(r.from) }),
            record: parseRecord(r.rec),
            withdraw: r.withdraw,
          };
        case 'not_found':
          return { outcome: 'not_found' };
        case 'moved':
          // The entrance of a contactId never changes: a stale cache entry, or the index moved on.
          this.entranceCache.set(t.contactId, (await this.redis.hget(k.item(t.contactId), 'entrance')) ?? '');
      }
    }
    throw movedTooOften(`the item of ${h.source}/${h.externalId}`);
  }

  async confirmWithdrawn(contactId: string): Promise<void> {
    await this.run('confirm-withdrawn', [this.keys.item(contactId)], []);
  }

  async resume(u: ResumeInput): Promise<ResumeResult> {
    const k = this.keys;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const t = await this.target(u.source, u.externalId, u.contactId);
      if (!t) return { outcome: 'not_found' };
      const r = await this.run(
        'resume-item',
        [
          k.item(t.contactId),
          k.externalIndex,
          k.unfinished,
          k.seq,
          k.entrance(t.entrance),
          k.parked(t.entrance),
          k.dueActivate,
          k.dueResume,
          k.notesDue,
          k.notesBody,
        ],
        [t.contactId, u.source, u.externalId, t.entrance, u.nowMs, u.resumeId, u.sameAgain ? '1' : '', u.by],
      );
      switch (r.outcome) {
        case 'resumed':
          return {
            outcome: 'resumed',
            contactId: t.contactId,
            state: itemState(r.state),
            record: parseRecord(r.rec),
            ...(typeof r.activateMs === 'number' && { activateAtMs: r.activateMs }),
          };
        case 'already':
          return {
            outcome: 'already',
            contactId: t.contactId,
            state: itemState(r.state),
            record: parseRecord(r.rec),
            ...(typeof r.placing === 'number' && { placingSinceMs: r.placing }),
          };
        case 'not_held':
          return { outcome: 'not_held', contactId: t.contactId, state: itemState(r.state), record: parseRecord(r.rec) };
        case 'not_found':
          return { outcome: 'not_found' };
        case 'moved':
          this.entranceCache.set(t.contactId, (await this.redis.hget(k.item(t.contactId), 'entrance')) ?? '');
      }
    }
    throw movedTooOften(`the item of ${u.source}/${u.externalId}`);
  }

  async claimDueResumes(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: ResumeClaim[]; nextDueMs: number | null }> {
    const k = this.keys;
    const c = await this.dueCandidates(k.dueResume, k.dueResumeClaimed, nowMs, limit);
    const ids = [...c.retakes, ...c.fresh];
    if (ids.length === 0) return { claims: [], nextDueMs: c.nextDueMs };
    const r = await this.run(
      'claim-resumes',
      [
        k.dueResume,
        k.dueResumeClaimed,
        k.unfinished,
        k.seq,
        k.dueActivate,
        k.notesDue,
        k.notesBody,
        ...ids.flatMap((cid, i) => [k.item(cid), k.parked(c.entrances[i]), k.entrance(c.entrances[i])]),
      ],
      [nowMs, leaseMs, c.retakes.length, ...ids.flatMap((cid, i) => [cid, c.entrances[i]])],
    );
    const claims = luaList(r.claims).map((x) => ({
      contactId: x.contactId,
      state: itemState(x.state),
      record: parseRecord(x.rec),
      dueMs: Number(x.dueMs),
      retaken: x.retaken,
      ...(typeof x.activateMs === 'number' && { activateAtMs: x.activateMs }),
    }));
    return { claims, nextDueMs: r.nextDueMs === undefined ? null : Number(r.nextDueMs) };
  }

  async finishResume(contactId: string): Promise<void> {
    await this.run('finish-claim', [this.keys.dueResumeClaimed], [contactId]);
  }

  async claimDueEscalations(
    nowMs: number,
    limit: number,
    leaseMs: number,
  ): Promise<{ claims: EscalationClaim[]; nextDueMs: number | null }> {
    const k = this.keys;
    // No entrance-dependent key: the candidates' entrances are not read.
    const c = await this.dueCandidates(k.dueEscalate, k.dueEscalateClaimed, nowMs, limit, false);
    const ids = [...c.retakes, ...c.fresh];
    if (ids.length === 0) return { claims: [], nextDueMs: c.nextDueMs };
    const r = await this.run(
      'claim-escalations',
      [k.dueEscalate, k.dueEscalateClaimed, ...ids.map((cid) => k.item(cid))],
      [nowMs, leaseMs, c.retakes.length, ESCALATION_ARRIVAL_MS, ESCALATION_RETRY_MS, ...ids],
    );
    const claims = luaList(r.claims).map((x) => ({
      contactId: x.contactId,
      state: itemState(x.state),
      record: parseRecord(x.rec),
      from: x.from,
      to: x.to,
      rules: luaList(x.rules),
      dueMs: Number(x.dueMs),
      retaken: x.retaken,
    }));
    return { claims, nextDueMs: r.nextDueMs === undefined ? null : Number(r.nextDueMs) };
  }

  async finishEscalation(contactId: string): Promise<void> {
    await this.run('finish-claim', [this.keys.dueEscalateClaimed], [contactId]);
  }

  async setEntrance(name: string, open: boolean, by: string, nowMs: number): Promise<{ changed: boolean }> {
    return this.run('set-entrance', [this.keys.entrance(name)], [open ? 'open' : 'closed', by, new Date(nowMs).toISOString()]);
  }

  async entrances(names: string[]): Promise<EntranceState[]> {
    const pipe = this.redis.pipeline();
    for (const n of names) {
      pipe.hgetall(this.keys.entrance(n));
      pipe.zcard(this.keys.parked(n));
    }
    const res = (await pipe.exec()) ?? [];
    return names.map((name, i) => {
      const [e1, h] = res[i * 2];
      const [e2, parked] = res[i * 2 + 1];
      if (e1 || e2) throw e1 ?? e2;
      const s = h as Record<string, string>;
      return { name, open: s.state !== 'closed', since: s.since, by: s.by, parked: Number(parked) };
    });
  }

  /** Reads only: the page of the unfinished index, then each item (one gone meanwhile is left out). */
  async pageUnfinished(afterSeq: number, limit: number, untilSeq?: number): Promise<StoredItem[]> {
    const max = untilSeq === undefined ? '+inf' : String(untilSeq);
    const page = await this.redis.zrangebyscore(this.keys.unfinished, `(${afterSeq}`, max, 'WITHSCORES', 'LIMIT', 0, limit);
    const rows = await Promise.all(page.filter((_, i) => i % 2 === 0).map((cid) => this.redis.hmget(this.keys.item(cid), ...ITEM_READ)));
    const items: StoredItem[] = [];
    rows.forEach((row, i) => {
      // The page's seq: the item's own may be newer (a resume gave it one since), then the next page has it again.
      const item = storedItem(page[i * 2], row);
      if (item && item.seq === Number(page[i * 2 + 1])) items.push(item);
    });
    return items;
  }

  async getItem(contactId: string): Promise<StoredItem | null> {
    return storedItem(contactId, await this.redis.hmget(this.keys.item(contactId), ...ITEM_READ));
  }

  /**
   * Read only, no script: the index names the item, then its hash is read. An item that finished between the two reads
   * (its hash is gone) is looked up again, and then found by its finished entry.
   */
  async lookupItem(source: string, externalId: string): Promise<ItemLookup | null> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const contactId = await this.redis.hget(this.keys.externalIndex, `${source}|${externalId}`);
      if (!contactId) return this.finishedEntry(source, externalId);
      const row = await this.redis.hmget(this.keys.item(contactId), ...ITEM_READ, 'rev');
      const item = storedItem(contactId, row);
      if (!item) continue;
      return { kind: 'unfinished', item, revision: Number(row[ITEM_READ.length] ?? 0) };
    }
    throw movedTooOften(`the item of ${source}/${externalId}`);
  }

  /** The finished entry `<contactId>|<state>|<at ms>` of (source, externalId), while it lives; null: none. */
  private async finishedEntry(source: string, externalId: string): Promise<ItemLookup | null> {
    if (this.afterEndSeconds <= 0) return null;
    const entry = await this.redis.get(this.keys.finished(source, externalId));
    const m = entry === null ? null : /^([^|]*)\|([^|]*)\|(\d+)$/.exec(entry);
    if (!m || (m[2] !== 'ended' && m[2] !== 'cancelled' && m[2] !== 'expired')) return null;
    return { kind: 'finished', contactId: m[1], state: m[2], finishedAtMs: Number(m[3]) };
  }

  async lastSeq(): Promise<number> {
    return Number((await this.redis.get(this.keys.seq)) ?? 0);
  }

  countUnfinished(): Promise<number> {
    return this.redis.zcard(this.keys.unfinished);
  }

  async countOverdue(entrances: string[]): Promise<Record<string, number>> {
    const pipe = this.redis.pipeline();
    for (const e of entrances) pipe.zcard(this.keys.overdue(e));
    const res = (await pipe.exec()) ?? [];
    return Object.fromEntries(
      entrances.map((e, i) => {
        const [err, n] = res[i];
        if (err) throw err;
        return [e, Number(n)];
      }),
    );
  }

  async countOverdueByTaskType(): Promise<OverdueNowCount[]> {
    const fields = await this.redis.hgetall(this.keys.overdueNow);
    return Object.entries(fields)
      .map(([field, n]) => {
        const bar = field.lastIndexOf('|');
        return { taskType: field.slice(0, bar), entrance: field.slice(bar + 1), count: Number(n) };
      })
      .filter((o) => o.count > 0);
  }

  async countRejected(d: StatsDelta, nowMs: number): Promise<void> {
    const key = this.keys.stats(hourBucket(nowMs));
    const minuteKey = this.keys.statsMinute(minuteBucket(nowMs));
    const field = `rejected|${d.taskType}|${d.entrance}`;
    await this.redis
      .multi()
      .hincrby(key, field, 1)
      .expire(key, STATS_TTL_SECONDS.hour)
      .hincrby(minuteKey, field, 1)
      .expire(minuteKey, STATS_TTL_SECONDS.minute)
      .exec();
  }

  async stats(sinceMs: number, nowMs: number): Promise<StatsRow[]> {
    const hours: string[] = [];
    for (let t = sinceMs - (sinceMs % 3_600_000); t <= nowMs; t += 3_600_000) hours.push(hourBucket(t));
    const pipe = this.redis.pipeline();
    for (const h of hours) pipe.hgetall(this.keys.stats(h));
    const res = (await pipe.exec()) ?? [];
    const rows: StatsRow[] = [];
    res.forEach(([err, h], i) => {
      if (err) throw err;
      for (const [field, value] of Object.entries(h as Record<string, string>)) {
        const [metric, taskType, entrance] = field.split('|');
        rows.push({ hour: hours[i], metric: storedMetricName(metric), taskType, entrance, value: Number(value) });
      }
    });
    return rows;
  }

  async minuteStats(sinceMs: number, nowMs: number): Promise<MinuteStatsRow[]> {
    const minutes: string[] = [];
    const from = Math.max(sinceMs, nowMs - STATS_TTL_SECONDS.minute * 1000);
    for (let t = from - (from % 60_000); t <= nowMs; t += 60_000) minutes.push(minuteBucket(t));
    const pipe = this.redis.pipeline();
    for (const m of minutes) pipe.hgetall(this.keys.statsMinute(m));
    const res = (await pipe.exec()) ?? [];
    const rows: MinuteStatsRow[] = [];
    res.forEach(([err, h], i) => {
      if (err) throw err;
      for (const [field, value] of Object.entries(h as Record<string, string>)) {
        const [metric, taskType, entrance] = field.split('|');
        rows.push({ minute: minutes[i], metric: storedMetricName(metric), taskType, entrance, value: Number(value) });
      }
    });
    return rows;
  }

  async acquireLock(name: string, owner: string, ttlMs: number): Promise<number | null> {
    const r = await this.run('acquire-lock', [this.keys.lock(name), this.keys.fence(name)], [owner, ttlMs]);
    return r.outcome === 'acquired' ? r.fence : null;
  }

  async renewLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.run('renew-lock', [this.keys.lock(name)], [owner, ttlMs])).renewed;
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    await this.run('release-lock', [this.keys.lock(name)], [owner]);
  }

  async setMarker(name: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.marker(name), String(Date.now()), 'PX', ttlMs);
  }

  async hasMarker(name: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.marker(name))) === 1;
  }
}
