/**
 * Service level per task type (issue 25 part 4; contract 1.2 "Task types"): received, ended, ended before due (%),
 * median and p90 time to end, overdue now. Pure: it reads the counters the Lua transitions keep (hourly, per task type
 * and entrance; no scan of the items) and the overdue-now counts; `workitem report` and the dashboard show its figures,
 * and /metrics observes the same time-to-end buckets for Grafana.
 */

/** Stored hourly counter: items with a dueAt that ended (End). Items without one are not in the percentage. */
export const ENDED_WITH_DUE = 'endedWithDue';
/** Stored hourly counter: items with a dueAt that ended at or before it. */
export const ENDED_BEFORE_DUE = 'endedBeforeDue';
/** Stored hourly counter of the time-to-end histogram: `tte:<upper bound in ms>`, or `tte:inf` beyond the last bound. */
export const TIME_TO_END_PREFIX = 'tte:';

/**
 * Upper bounds of the time-to-end buckets in seconds, inclusive (as Prometheus `le`): the R5 preferred numbers (ISO 3)
 * from 1 s to 2,500,000 s (about 29 days), and one more bucket for anything longer; 34 buckets in all. Each bound is at
 * most TIME_TO_END_MAX_FACTOR times the one before. includes/service-level.lua has the same list in ms (a unit test
 * compares them); /metrics uses it for workitem_time_to_end_seconds.
 */
export const TIME_TO_END_BOUNDS_S: readonly number[] = [
  1, 1.6, 2.5, 4, 6.3, 10, 16, 25, 40, 63, 100, 160, 250, 400, 630, 1000, 1600, 2500, 4000, 6300, 10_000, 16_000, 25_000, 40_000, 63_000,
  100_000, 160_000, 250_000, 400_000, 630_000, 1_000_000, 1_600_000, 2_500_000,
];

/**
 * The error bound of a percentile read from the buckets: the estimate and the true value (the nearest-rank percentile
 * of the items counted) lie in the same bucket, whose upper bound is at most this factor times its lower bound. So an
 * estimate is at most 60 % above or 37.5 % below the true value; in the first bucket (0 to 1 s) it is within 1 s; beyond
 * the last bound it is that bound (2,500,000 s), a lower bound of the true value.
 */
export const TIME_TO_END_MAX_FACTOR = 1.6;

const BOUNDS_MS = TIME_TO_END_BOUNDS_S.map((s) => Math.round(s * 1000));
/** The last finite bound in ms: a percentile in the overflow bucket is reported as this (as Prometheus does). */
export const TIME_TO_END_MAX_MS = BOUNDS_MS[BOUNDS_MS.length - 1];

/** The stored counter of the bucket holding a time to end (as includes/service-level.lua names it). */
export function timeToEndMetric(ms: number): string {
  const bound = BOUNDS_MS.find((b) => ms <= b);
  return `${TIME_TO_END_PREFIX}${bound ?? 'inf'}`;
}

/** The upper bound (ms; Infinity for the overflow bucket) a stored counter counts, or undefined when it is no bucket. */
export function timeToEndBound(metric: string): number | undefined {
  if (!metric.startsWith(TIME_TO_END_PREFIX)) return undefined;
  const text = metric.slice(TIME_TO_END_PREFIX.length);
  if (text === 'inf') return Infinity;
  const ms = Number(text);
  return /^\d+$/.test(text) && ms > 0 ? ms : undefined;
}

/** Bucket counts of a time-to-end histogram: upper bound (ms, Infinity for overflow) → items. */
export type TimeToEndHistogram = Map<number, number>;

/**
 * The q-quantile (0 < q ≤ 1) of a histogram in ms, or null when it is empty: Prometheus's histogram_quantile, so the
 * report and Grafana read the same buckets the same way. rank = q × count; the bucket where the cumulative count first
 * reaches rank holds it; the estimate is interpolated linearly between that bucket's lower bound (the bound before it
 * in TIME_TO_END_BOUNDS_S and any other bound counted, 0 for the first) and its upper bound. In the overflow bucket the
 * estimate is the last finite bound. Approximate: see TIME_TO_END_MAX_FACTOR.
 */
export function quantileMs(histogram: ReadonlyMap<number, number>, q: number): number | null {
  const total = [...histogram.values()].reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const bounds = [...new Set([...BOUNDS_MS, ...histogram.keys(), Infinity])].sort((a, b) => a - b);
  const rank = q * total;
  let below = 0;
  let lower = 0;
  for (const upper of bounds) {
    const n = histogram.get(upper) ?? 0;
    if (n > 0 && below + n >= rank) {
      if (upper === Infinity) return lower;
      return lower + ((upper - lower) * (rank - below)) / n;
    }
    below += n;
    if (upper !== Infinity) lower = upper;
  }
  return lower;
}

/** A stored counter as the service-level figures read it (the Redis adapter's hourly rows fit). */
export interface ServiceLevelCounter {
  metric: string;
  taskType: string;
  entrance: string;
  value: number;
}

/** Items overdue now of a task type at an entrance (a counted index kept by the transitions). */
export interface OverdueNowCount {
  taskType: string;
  entrance: string;
  count: number;
}

export interface ServiceLevelFigures {
  /** New items: accepted + buffered + scheduled (not duplicates, updates, cancels or rejections). */
  received: number;
  /** Items whose agent pressed End (`completed`). */
  ended: number;
  /** Ended items that had a dueAt. */
  endedWithDue: number;
  /** Ended items that had a dueAt and ended at or before it. */
  endedBeforeDue: number;
  /** endedBeforeDue / endedWithDue in %, one decimal; null when no ended item had a dueAt. */
  endedBeforeDuePct: number | null;
  /** Median time from receipt to End (ms, approximate: TIME_TO_END_MAX_FACTOR); null when none ended. */
  medianToEndMs: number | null;
  /** 90th percentile of the time from receipt to End (ms, approximate); null when none ended. */
  p90ToEndMs: number | null;
  /** Unfinished items whose dueAt has passed, now (not limited to the period). */
  overdueNow: number;
}

export interface ServiceLevelRow extends ServiceLevelFigures {
  taskType: string;
  /** Only when split by entrance. */
  entrance?: string;
}

/** Counters that make up received: the new items. */
const RECEIVED = new Set(['accepted', 'buffered', 'scheduled']);

interface Tally {
  received: number;
  ended: number;
  endedWithDue: number;
  endedBeforeDue: number;
  histogram: TimeToEndHistogram;
  overdueNow: number;
}

function emptyTally(): Tally {
  return { received: 0, ended: 0, endedWithDue: 0, endedBeforeDue: 0, histogram: new Map(), overdueNow: 0 };
}

function isServiceLevelMetric(metric: string): boolean {
  return (
    RECEIVED.has(metric) ||
    metric === 'completed' ||
    metric === ENDED_WITH_DUE ||
    metric === ENDED_BEFORE_DUE ||
    timeToEndBound(metric) !== undefined
  );
}

/** Adds one service-level counter to a tally. */
function add(t: Tally, metric: string, value: number): void {
  if (RECEIVED.has(metric)) t.received += value;
  else if (metric === 'completed') t.ended += value;
  else if (metric === ENDED_WITH_DUE) t.endedWithDue += value;
  else if (metric === ENDED_BEFORE_DUE) t.endedBeforeDue += value;
  else {
    const bound = timeToEndBound(metric);
    if (bound !== undefined) t.histogram.set(bound, (t.histogram.get(bound) ?? 0) + value);
  }
}

function figures(t: Tally): ServiceLevelFigures {
  const round = (ms: number | null) => (ms === null ? null : Math.round(ms));
  return {
    received: t.received,
    ended: t.ended,
    endedWithDue: t.endedWithDue,
    endedBeforeDue: t.endedBeforeDue,
    endedBeforeDuePct: t.endedWithDue > 0 ? Math.round((1000 * t.endedBeforeDue) / t.endedWithDue) / 10 : null,
    medianToEndMs: round(quantileMs(t.histogram, 0.5)),
    p90ToEndMs: round(quantileMs(t.histogram, 0.9)),
    overdueNow: t.overdueNow,
  };
}

/**
 * The service level per task type (per task type and entrance with byEntrance) over the counters given (the caller
 * picks the period), with the overdue-now counts; rows sorted by task type (then entrance), each with something to
 * show (received, ended or overdue now); total: all of them, its percentiles from the merged buckets.
 */
export function serviceLevel(
  counters: readonly ServiceLevelCounter[],
  overdue: readonly OverdueNowCount[],
  opts: { byEntrance: boolean },
): { rows: ServiceLevelRow[]; total: ServiceLevelFigures } {
  const groups = new Map<string, { taskType: string; entrance: string; tally: Tally }>();
  const total = emptyTally();
  const group = (taskType: string, entrance: string) => {
    const key = opts.byEntrance ? `${taskType}\u0000${entrance}` : taskType;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { taskType, entrance, tally: emptyTally() }));
    return g.tally;
  };
  for (const c of counters) {
    if (!isServiceLevelMetric(c.metric)) continue;
    add(group(c.taskType, c.entrance), c.metric, c.value);
    add(total, c.metric, c.value);
  }
  for (const o of overdue) {
    group(o.taskType, o.entrance).overdueNow += o.count;
    total.overdueNow += o.count;
  }
  const rows = [...groups.values()]
    .filter((g) => g.tally.received > 0 || g.tally.ended > 0 || g.tally.overdueNow > 0)
    .sort((a, b) => a.taskType.localeCompare(b.taskType) || a.entrance.localeCompare(b.entrance))
    .map((g) => ({ taskType: g.taskType, ...(opts.byEntrance && { entrance: g.entrance }), ...figures(g.tally) }));
  return { rows, total: figures(total) };
}
