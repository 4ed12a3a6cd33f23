import type { EntranceState, MinuteStatsRow, StatsRow } from '../../../ports/state-store';
import { addCount, COUNTERS, countsAsReceived, emptyCounts, type Counter, type Counts } from '../../../domain/outcomes';
import {
  serviceLevel,
  TIME_TO_END_MAX_FACTOR,
  TIME_TO_END_MAX_MS,
  type OverdueNowCount,
  type ServiceLevelFigures,
  type ServiceLevelRow,
} from '../../../domain/service-level';
import { minuteBucket } from '../../../domain/time-buckets';

/** Counters as `workitem report` and /metrics name them (src/domain/outcomes.ts); received = every sender's message. */
export { COUNTERS };
export type { Counter, Counts };

export const CHART_MINUTES = 60;
/** Rejections that never got as far as a task type (malformed XML…) are charted under this name. */
export const NO_TASK_TYPE = '(none)';

export interface EntranceView {
  name: string;
  displayName: string;
  state: 'open' | 'closed';
  since: string | null;
  by: string | null;
  parked: number;
}

export interface Overview {
  generatedAt: string;
  refreshMs: number;
  counts: { lastHour: Counts; last24h: Counts };
  unfinished: { count: number; oldestReceivedAt: string | null; oldestAgeSeconds: number | null };
  entrances: EntranceView[];
  /** Messages waiting in the error queue; null when the broker could not be asked. */
  errorQueue: number | null;
  /** Items received per minute by task type, oldest minute first, the current minute last. */
  chart: { minutes: string[]; series: { taskType: string; data: number[]; total: number }[] };
  /** Service level per task type, as `workitem report --since 24h` shows it. */
  serviceLevel: ServiceLevelView;
}

export interface ServiceLevelView {
  /** Start of the period of the counted figures (the UTC hour 24 h ago began); overdue now is now. */
  since: string;
  rows: ServiceLevelRow[];
  /** The same split by entrance (rows with `entrance`). */
  byEntrance: ServiceLevelRow[];
  total: ServiceLevelFigures;
  /** Median and p90 are approximate: within this factor of the true value. */
  maxErrorFactor: number;
  /** A median or p90 of this many ms is a lower bound (the last bucket's). */
  maxTimeToEndMs: number;
}

export interface OverviewInput {
  nowMs: number;
  refreshMs: number;
  minuteRows: MinuteStatsRow[];
  hourRows: StatsRow[];
  unfinished: number;
  oldestReceivedAt: string | null;
  entrances: EntranceView[];
  errorQueue: number | null;
  /** Since when hourRows count (ms). */
  hourRowsSinceMs: number;
  overdueByTaskType: OverdueNowCount[];
}

/** ISO time of the start of the minute `YYYYMMDDHHmm`. */
function minuteIso(bucket: string): string {
  return `${bucket.slice(0, 4)}-${bucket.slice(4, 6)}-${bucket.slice(6, 8)}T${bucket.slice(8, 10)}:${bucket.slice(10, 12)}:00.000Z`;
}

export function entranceViews(states: EntranceState[], displayNames: Record<string, { displayName: string }>): EntranceView[] {
  return states.map((e) => ({
    name: e.name,
    displayName: displayNames[e.name]?.displayName ?? e.name,
    state: e.open ? 'open' : 'closed',
    since: e.since ?? null,
    by: e.by ?? null,
    parked: e.parked,
  }));
}

function serviceLevelView(i: OverviewInput): ServiceLevelView {
  const byType = serviceLevel(i.hourRows, i.overdueByTaskType, { byEntrance: false });
  return {
    since: new Date(i.hourRowsSinceMs - (i.hourRowsSinceMs % 3_600_000)).toISOString(),
    rows: byType.rows,
    byEntrance: serviceLevel(i.hourRows, i.overdueByTaskType, { byEntrance: true }).rows,
    total: byType.total,
    maxErrorFactor: TIME_TO_END_MAX_FACTOR,
    maxTimeToEndMs: TIME_TO_END_MAX_MS,
  };
}

/** What the overview shows, from the raw counters and state (pure, so it is tested without Redis). */
export function buildOverview(i: OverviewInput): Overview {
  const buckets: string[] = [];
  const nowMinute = i.nowMs - (i.nowMs % 60_000);
  for (let k = CHART_MINUTES - 1; k >= 0; k--) buckets.push(minuteBucket(nowMinute - k * 60_000));
  const index = new Map(buckets.map((b, n) => [b, n]));

  const lastHour = emptyCounts();
  const perType = new Map<string, number[]>();
  for (const row of i.minuteRows) {
    const n = index.get(row.minute);
    if (n === undefined) continue;
    addCount(lastHour, row.metric, row.value);
    if (!countsAsReceived(row.metric)) continue;
    const type = row.taskType || NO_TASK_TYPE;
    let data = perType.get(type);
    if (!data) perType.set(type, (data = new Array<number>(CHART_MINUTES).fill(0)));
    data[n] += row.value;
  }
  const last24h = emptyCounts();
  for (const row of i.hourRows) addCount(last24h, row.metric, row.value);

  const series = [...perType.entries()]
    .map(([taskType, data]) => ({ taskType, data, total: data.reduce((a, b) => a + b, 0) }))
    .sort((a, b) => b.total - a.total || a.taskType.localeCompare(b.taskType));

  const oldestMs = i.oldestReceivedAt ? Date.parse(i.oldestReceivedAt) : NaN;
  return {
    generatedAt: new Date(i.nowMs).toISOString(),
    refreshMs: i.refreshMs,
    counts: { lastHour, last24h },
    unfinished: {
      count: i.unfinished,
      oldestReceivedAt: i.oldestReceivedAt,
      oldestAgeSeconds: Number.isNaN(oldestMs) ? null : Math.max(0, Math.round((i.nowMs - oldestMs) / 1000)),
    },
    entrances: i.entrances,
    errorQueue: i.errorQueue,
    chart: { minutes: buckets.map(minuteIso), series },
    serviceLevel: serviceLevelView(i),
  };
}
