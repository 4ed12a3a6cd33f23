import type { EntranceState, MinuteStatsRow, StatsRow } from '../../../ports/state-store';
import { minuteBucket } from '../../../domain/time-buckets';

/** Counters as `workitem report` names them; received = accepted + buffered + duplicate + rejected. */
export const COUNTERS = ['received', 'accepted', 'buffered', 'duplicate', 'rejected', 'completed', 'withdrawn', 'expired'] as const;
export type Counter = (typeof COUNTERS)[number];
export type Counts = Record<Counter, number>;

const RECEIVED_PARTS = new Set(['accepted', 'buffered', 'duplicate', 'rejected']);
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
}

function emptyCounts(): Counts {
  return { received: 0, accepted: 0, buffered: 0, duplicate: 0, rejected: 0, completed: 0, withdrawn: 0, expired: 0 };
}

function add(counts: Counts, metric: string, value: number): void {
  if ((COUNTERS as readonly string[]).includes(metric) && metric !== 'received') counts[metric as Counter] += value;
  if (RECEIVED_PARTS.has(metric)) counts.received += value;
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
    add(lastHour, row.metric, row.value);
    if (!RECEIVED_PARTS.has(row.metric)) continue;
    const type = row.taskType || NO_TASK_TYPE;
    let data = perType.get(type);
    if (!data) perType.set(type, (data = new Array<number>(CHART_MINUTES).fill(0)));
    data[n] += row.value;
  }
  const last24h = emptyCounts();
  for (const row of i.hourRows) add(last24h, row.metric, row.value);

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
  };
}
