import { FINAL_STEPS, type HistoryStep, type HistoryStepName, type ItemHistory, type ItemHistoryView } from '../../ports/item-history';
import { redisKeys } from './keys';
import type { RedisConnection } from './redis-client';
import { ScriptRunner } from './scripts';

/** Steps kept per item: the first one and the latest ones; the number dropped in between is counted. */
export const DEFAULT_HISTORY_MAX_STEPS = 200;

/** How a step is stored: short keys (a history is kept for days after its item's end, for every item). */
interface StoredStep {
  s: HistoryStepName;
  t: string;
  i: string;
  r?: string;
  c?: string;
  e?: string;
  v?: number;
  ch?: string[];
  st?: string;
  /** until (a `held` step), by (who took the step). */
  u?: string;
  b?: string;
  n?: number;
  t0?: string;
}

export function encodeStep(step: HistoryStep): string {
  const s: StoredStep = { s: step.step, t: step.at, i: step.instance };
  if (step.reason !== undefined) s.r = step.reason;
  if (step.code !== undefined) s.c = step.code;
  if (step.entrance !== undefined) s.e = step.entrance;
  if (step.revision !== undefined) s.v = step.revision;
  if (step.changed !== undefined && step.changed.length > 0) s.ch = step.changed;
  if (step.state !== undefined) s.st = step.state;
  if (step.until !== undefined) s.u = step.until;
  if (step.by !== undefined) s.b = step.by;
  return JSON.stringify(s);
}

export function decodeStep(json: string): HistoryStep | null {
  let s: StoredStep;
  try {
    s = JSON.parse(json) as StoredStep;
  } catch {
    return null;
  }
  if (typeof s !== 'object' || s === null || typeof s.s !== 'string' || typeof s.t !== 'string') return null;
  return {
    step: s.s,
    at: s.t,
    instance: typeof s.i === 'string' ? s.i : '',
    ...(typeof s.r === 'string' && { reason: s.r }),
    ...(typeof s.c === 'string' && { code: s.c }),
    ...(typeof s.e === 'string' && { entrance: s.e }),
    ...(typeof s.v === 'number' && { revision: s.v }),
    // cjson writes an empty array as {}: only a real array counts.
    ...(Array.isArray(s.ch) && { changed: s.ch.map(String) }),
    ...(typeof s.st === 'string' && { state: s.st }),
    ...(typeof s.u === 'string' && { until: s.u }),
    ...(typeof s.b === 'string' && { by: s.b }),
    ...(typeof s.n === 'number' && s.n > 1 && { times: s.n }),
    ...(typeof s.t0 === 'string' && { firstAt: s.t0 }),
  };
}

/** At most this many appends go into one script call; more in one tick make several calls. */
const MAX_BATCH = 64;

interface PendingAppend {
  contactId: string;
  steps: string[];
  final: boolean;
  collapse: boolean;
  done: (err?: Error) => void;
}

/**
 * Item histories in Redis: one list per item (plus a counter of dropped steps), next to the item's own keys
 * (keys.ts names them). The appends made in one event-loop tick (the items whose confirms arrived together) go to
 * Redis as one call of lua/append-history.lua, in the order they were made: a history write costs an item no
 * command of its own.
 */
export class RedisItemHistory implements ItemHistory {
  private readonly keys;
  private readonly maxSteps: number;
  private readonly scripts: ScriptRunner;
  private queued: PendingAppend[] = [];

  constructor(
    private readonly redis: RedisConnection,
    prefix: string,
    private readonly tombstoneSeconds: number,
    maxSteps = DEFAULT_HISTORY_MAX_STEPS,
  ) {
    this.keys = redisKeys(prefix, redis.isCluster);
    // The first step is kept in place of the oldest dropped one: at least two entries.
    this.maxSteps = Math.max(2, Math.floor(maxSteps));
    this.scripts = new ScriptRunner(redis);
  }

  append(contactId: string, steps: HistoryStep[], opts: { collapse?: boolean } = {}): Promise<void> {
    if (steps.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (this.queued.length === 0) process.nextTick(() => this.flush());
      this.queued.push({
        contactId,
        steps: steps.map(encodeStep),
        final: steps.some((s) => FINAL_STEPS.has(s.step)),
        collapse: opts.collapse === true,
        done: (err) => (err ? reject(err) : resolve()),
      });
    });
  }

  private flush(): void {
    const all = this.queued;
    this.queued = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) this.write(all.slice(i, i + MAX_BATCH));
  }

  private write(batch: PendingAppend[]): void {
    const keys: string[] = [];
    const args: (string | number)[] = [this.maxSteps, Math.max(1, Math.round(this.tombstoneSeconds * 1000))];
    for (const a of batch) {
      keys.push(this.keys.history(a.contactId), this.keys.historyDropped(a.contactId), this.keys.item(a.contactId));
      args.push(a.final ? '1' : '0', a.collapse ? '1' : '0', a.steps.length, ...a.steps);
    }
    this.scripts.run('append-history', keys, args).then(
      () => batch.forEach((a) => a.done()),
      (err: Error) => batch.forEach((a) => a.done(err)),
    );
  }

  async read(contactId: string): Promise<ItemHistoryView | null> {
    const key = this.keys.history(contactId);
    const res = (await this.redis.multi().lrange(key, 0, -1).get(this.keys.historyDropped(contactId)).pttl(key).exec()) ?? [];
    for (const [err] of res) if (err) throw err;
    const [[, raw], [, dropped], [, pttl]] = res as [unknown, unknown][];
    const list = raw as string[];
    if (list.length === 0) return null;
    const ms = Number(pttl);
    return {
      contactId,
      steps: list.map(decodeStep).filter((s): s is HistoryStep => s !== null),
      dropped: Number(dropped ?? 0) || 0,
      keptUntil: ms > 0 ? new Date(Date.now() + ms).toISOString() : null,
    };
  }
}
