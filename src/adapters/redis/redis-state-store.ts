import type Redis from 'ioredis';
import { copyContactData } from '../../domain/contact-data';
import type { ContactRecord } from '../../domain/contact-event';
import type {
  AcceptInput,
  ActivationClaim,
  AcceptResult,
  ApplyUpdateInput,
  ApplyUpdateResult,
  CancelResult,
  EndResult,
  EntranceState,
  ExpiryClaim,
  ItemState,
  MinuteStatsRow,
  ParkResult,
  RouteParkedResult,
  StateStore,
  StatsDelta,
  StatsRow,
  StoredItem,
  UpdateSnapshot,
} from '../../ports/state-store';
import { hourBucket, minuteBucket } from '../../domain/time-buckets';
import { redisKeys } from './keys';
import { SCRIPTS, ScriptName } from './scripts';

type ScriptRunner = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Redis replicates asynchronously: a failover can lose the last writes. WAIT after each state write
 * narrows that window to what the replicas have not confirmed within the timeout.
 */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
  onShortfall: (acked: number) => void;
}

const READ_ONLY = new Set<ScriptName>(['pageUnfinished', 'readForUpdate']);

/** Per-minute counters live this long (the Lua `stat()` helper sets the same TTL). */
const MINUTE_STATS_TTL_SECONDS = 7200;

/** Parses a stored record; contactData comes back as a null-prototype object like the original. */
function parseRecord(json: string): ContactRecord {
  const rec = JSON.parse(json) as ContactRecord;
  rec.contactData = copyContactData(rec.contactData);
  return rec;
}

function toRouteResult(r: string[]): RouteParkedResult {
  const [outcome, contactId, payload, replyTo, corrId, expiredTrace] = r;
  switch (outcome) {
    case 'routed':
      // The 4th value of a routed item is its stored trace context.
      return { outcome, record: parseRecord(payload), ...(replyTo && { trace: replyTo }) };
    case 'not_buffered':
      return { outcome, record: parseRecord(payload), flushing: replyTo === '1' };
    case 'expired':
      return {
        outcome,
        record: parseRecord(payload),
        replyTo: replyTo || undefined,
        correlationId: corrId || undefined,
        ...(expiredTrace && { trace: expiredTrace }),
      };
    case 'closed':
    case 'open':
      return { outcome, contactId };
    default:
      return { outcome: 'gone', contactId, tombstone: payload === '1' };
  }
}

export class RedisStateStore implements StateStore {
  private readonly keys;
  private readonly run: Record<ScriptName, ScriptRunner>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly tombstoneSeconds: number,
    private readonly wait: ReplicaWait = { replicas: 0, timeoutMs: 0, onShortfall: () => undefined },
  ) {
    this.keys = redisKeys(prefix);
    const run = {} as Record<ScriptName, ScriptRunner>;
    for (const [name, lua] of Object.entries(SCRIPTS) as [ScriptName, string][]) {
      const command = `wi_${name}`;
      // defineCommand uses EVALSHA and falls back to EVAL, so scripts survive a Redis restart (SCRIPT FLUSH).
      if (!(command in redis)) redis.defineCommand(command, { numberOfKeys: 0, lua });
      const call = (...args: (string | number)[]) =>
        (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[command](prefix, ...args);
      run[name] = READ_ONLY.has(name) || this.wait.replicas === 0 ? call : (...args) => this.replicated(call(...args));
    }
    this.run = run;
  }

  private async replicated(write: Promise<unknown>): Promise<unknown> {
    const result = await write;
    const acked = Number(await this.redis.call('WAIT', this.wait.replicas, this.wait.timeoutMs));
    if (acked < this.wait.replicas) this.wait.onShortfall(acked);
    return result;
  }

  async accept(input: AcceptInput): Promise<AcceptResult> {
    const r = input.record;
    const [outcome, contactId, state, rec] = (await this.run.acceptItem(
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
      minuteBucket(input.nowMs),
      input.bodySha ?? '',
      input.expiresAt?.text ?? '',
      input.expiresAt?.ms ?? 0,
      input.activateAt?.text ?? '',
      input.activateAt?.ms ?? 0,
      input.trace ?? '',
    )) as string[];
    if (outcome === 'park_limit') return { outcome };
    if (outcome === 'duplicate') return { outcome, contactId, state: state as ItemState, record: parseRecord(rec) };
    return { outcome: outcome as 'accepted' | 'buffered' | 'scheduled', contactId };
  }

  async parkRouted(contactId: string, nowMs: number): Promise<ParkResult> {
    const [outcome, rec] = (await this.run.parkRouted(contactId, nowMs)) as string[];
    if (outcome === 'parked') return { outcome, record: parseRecord(rec) };
    return { outcome: outcome as 'not_routed' | 'unknown' };
  }

  async checkParked(contactId: string, nowMs: number, maxParkMs: number, flushLock = ''): Promise<RouteParkedResult> {
    const r = (await this.run.checkParked(contactId, nowMs, maxParkMs, this.tombstoneSeconds, minuteBucket(nowMs), flushLock)) as string[];
    return toRouteResult(r);
  }

  async routeParkedBatch(entrance: string, nowMs: number, maxParkMs: number, limit: number): Promise<RouteParkedResult[]> {
    const rows = (await this.run.routeParkedBatch(
      entrance,
      nowMs,
      maxParkMs,
      limit,
      this.tombstoneSeconds,
      minuteBucket(nowMs),
    )) as string[][];
    return rows.map(toRouteResult);
  }

  async end(contactId: string, nowMs: number): Promise<EndResult> {
    const r = (await this.run.endItem(contactId, nowMs, this.tombstoneSeconds, minuteBucket(nowMs))) as string[];
    if (r[0] !== 'ended') return { outcome: 'unknown' };
    return { outcome: 'ended', entrance: r[1], taskType: r[2], handledMs: Number(r[3]), hadAttachment: r[4] === '1' };
  }

  async cancel(source: string, externalId: string, nowMs: number): Promise<CancelResult> {
    const [outcome, rec] = (await this.run.cancelItem(source, externalId, nowMs, this.tombstoneSeconds, minuteBucket(nowMs))) as string[];
    return outcome === 'cancelled' ? { outcome, record: parseRecord(rec) } : { outcome: 'not_found' };
  }

  async readForUpdate(source: string, externalId: string): Promise<UpdateSnapshot | null> {
    const r = (await this.run.readForUpdate(source, externalId)) as string[] | null;
    if (!r) return null;
    const [contactId, state, rec, ver, rev, uids, uchg, urev, expiresAt, bodySha] = r;
    return {
      contactId,
      state: state as ItemState,
      record: parseRecord(rec),
      version: Number(ver),
      revision: Number(rev),
      recentUpdates: uids.split(' ').filter(Boolean),
      lastChanged: JSON.parse(uchg) as string[],
      ...(urev !== '' && { lastRevision: Number(urev) }),
      ...(expiresAt !== '' && { expiresAt }),
      ...(bodySha !== '' && { bodySha }),
    };
  }

  async applyUpdate(u: ApplyUpdateInput): Promise<ApplyUpdateResult> {
    const r = (await this.run.updateItem(
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
      minuteBucket(u.nowMs),
    )) as string[];
    switch (r[0]) {
      case 'updated':
        return { outcome: 'updated', state: r[1] as ItemState };
      case 'already':
        return { outcome: 'already_applied', state: r[1] as ItemState, last: r[2] === '1' };
      case 'stale':
        return { outcome: 'stale', lastRevision: Number(r[1]) };
      case 'conflict':
        return { outcome: 'conflict' };
      default:
        return { outcome: 'not_found' };
    }
  }

  async claimDueExpiries(nowMs: number, limit: number, leaseMs: number): Promise<{ claims: ExpiryClaim[]; nextDueMs: number | null }> {
    const [rows, next] = (await this.run.claimExpired(nowMs, limit, leaseMs, this.tombstoneSeconds, minuteBucket(nowMs))) as [
      string[][],
      string,
    ];
    const claims = rows.map(([contactId, rec, replyTo, corrId, state, expiresAt, dueMs, retaken]) => ({
      contactId,
      record: parseRecord(rec),
      ...(replyTo !== '' && { replyTo }),
      ...(corrId !== '' && { correlationId: corrId }),
      state: state as ItemState,
      ...(expiresAt !== '' && { expiresAt }),
      dueMs: Number(dueMs),
      retaken: retaken === '1',
    }));
    return { claims, nextDueMs: next === '' ? null : Number(next) };
  }

  async finishExpiry(contactId: string): Promise<void> {
    await this.run.finishExpired(contactId);
  }

  async claimDueActivations(
    nowMs: number,
    limit: number,
    leaseMs: number,
  ): Promise<{ claims: ActivationClaim[]; nextDueMs: number | null }> {
    const [rows, next] = (await this.run.claimActivations(nowMs, limit, leaseMs, minuteBucket(nowMs))) as [string[][], string];
    const claims = rows.map(([contactId, state, rec, dueMs, retaken]) => ({
      contactId,
      state: state as 'routed' | 'buffered',
      record: parseRecord(rec),
      dueMs: Number(dueMs),
      retaken: retaken === '1',
    }));
    return { claims, nextDueMs: next === '' ? null : Number(next) };
  }

  async finishActivation(contactId: string): Promise<void> {
    await this.run.finishActivation(contactId);
  }

  async setEntrance(name: string, open: boolean, by: string, nowMs: number): Promise<{ changed: boolean }> {
    const changed = await this.run.setEntrance(name, open ? 'open' : 'closed', by, new Date(nowMs).toISOString());
    return { changed: changed === 1 };
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

  async pageUnfinished(afterSeq: number, limit: number): Promise<StoredItem[]> {
    const flat = (await this.run.pageUnfinished(afterSeq, limit)) as string[];
    const items: StoredItem[] = [];
    for (let i = 0; i < flat.length; i += 7) {
      items.push({
        seq: Number(flat[i]),
        contactId: flat[i + 1],
        state: flat[i + 2] as ItemState,
        parkedAt: flat[i + 3] ? Number(flat[i + 3]) : undefined,
        record: parseRecord(flat[i + 4]),
        ...(flat[i + 5] && { expiresAt: flat[i + 5] }),
        ...(flat[i + 6] && flat[i + 2] === 'scheduled' && { activateAt: flat[i + 6] }),
      });
    }
    return items;
  }

  async getItem(contactId: string): Promise<StoredItem | null> {
    const [state, seq, parkedAt, rec, expiresAt, activateAt] = await this.redis.hmget(
      this.keys.item(contactId),
      'state',
      'seq',
      'parkedAt',
      'rec',
      'expiresAt',
      'activateAt',
    );
    if (!state || !rec) return null;
    return {
      contactId,
      seq: Number(seq),
      state: state as ItemState,
      parkedAt: parkedAt ? Number(parkedAt) : undefined,
      record: parseRecord(rec),
      ...(expiresAt && { expiresAt }),
      ...(activateAt && state === 'scheduled' && { activateAt }),
    };
  }

  countUnfinished(): Promise<number> {
    return this.redis.zcard(this.keys.unfinished);
  }

  async countRejected(d: StatsDelta, nowMs: number): Promise<void> {
    const key = this.keys.stats(hourBucket(nowMs));
    const minuteKey = this.keys.statsMinute(minuteBucket(nowMs));
    const field = `rejected|${d.taskType}|${d.entrance}`;
    await this.redis
      .multi()
      .hincrby(key, field, 1)
      .expire(key, 400 * 24 * 3600)
      .hincrby(minuteKey, field, 1)
      .expire(minuteKey, MINUTE_STATS_TTL_SECONDS)
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
        rows.push({ hour: hours[i], metric, taskType, entrance, value: Number(value) });
      }
    });
    return rows;
  }

  async minuteStats(sinceMs: number, nowMs: number): Promise<MinuteStatsRow[]> {
    const minutes: string[] = [];
    const from = Math.max(sinceMs, nowMs - MINUTE_STATS_TTL_SECONDS * 1000);
    for (let t = from - (from % 60_000); t <= nowMs; t += 60_000) minutes.push(minuteBucket(t));
    const pipe = this.redis.pipeline();
    for (const m of minutes) pipe.hgetall(this.keys.statsMinute(m));
    const res = (await pipe.exec()) ?? [];
    const rows: MinuteStatsRow[] = [];
    res.forEach(([err, h], i) => {
      if (err) throw err;
      for (const [field, value] of Object.entries(h as Record<string, string>)) {
        const [metric, taskType, entrance] = field.split('|');
        rows.push({ minute: minutes[i], metric, taskType, entrance, value: Number(value) });
      }
    });
    return rows;
  }

  async acquireLock(name: string, owner: string, ttlMs: number): Promise<number | null> {
    const fence = await this.run.acquireLock(name, owner, ttlMs);
    return fence === null ? null : Number(fence);
  }

  async renewLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.run.renewLock(name, owner, ttlMs)) === 1;
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    await this.run.releaseLock(name, owner);
  }

  async setMarker(name: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.marker(name), String(Date.now()), 'PX', ttlMs);
  }

  async hasMarker(name: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.marker(name))) === 1;
  }
}
