import { buildOverview, CHART_MINUTES, NO_TASK_TYPE, type OverviewInput } from '../../../src/adapters/http/dashboard/overview';
import { minuteBucket } from '../../../src/domain/time-buckets';
import type { MinuteStatsRow, StatsRow } from '../../../src/ports/state-store';

const NOW = Date.parse('2026-11-23T10:30:45.000Z');
const minute = (agoMinutes: number) => minuteBucket(NOW - agoMinutes * 60_000);

function row(ago: number, metric: string, taskType: string, value: number, entrance = 'loans'): MinuteStatsRow {
  return { minute: minute(ago), metric, taskType, entrance, value };
}

function input(over: Partial<OverviewInput> = {}): OverviewInput {
  return {
    nowMs: NOW,
    refreshMs: 5000,
    minuteRows: [],
    hourRows: [],
    unfinished: 0,
    oldestReceivedAt: null,
    entrances: [],
    errorQueue: 0,
    hourRowsSinceMs: NOW - 24 * 3_600_000,
    overdueByTaskType: [],
    ...over,
  };
}

describe('dashboard overview', () => {
  it('charts the last 60 minutes, the current one last, as ISO minute starts', () => {
    const o = buildOverview(input());
    expect(o.chart.minutes).toHaveLength(CHART_MINUTES);
    expect(o.chart.minutes[CHART_MINUTES - 1]).toBe('2026-11-23T10:30:00.000Z');
    expect(o.chart.minutes[0]).toBe('2026-11-23T09:31:00.000Z');
    expect(o.chart.series).toEqual([]);
  });

  it('counts received messages per minute by task type (accepted + buffered + scheduled + duplicate + rejected + updated + withdrawn)', () => {
    const o = buildOverview(
      input({
        minuteRows: [
          row(0, 'accepted', 'loan-review', 3),
          row(0, 'buffered', 'loan-review', 1),
          row(0, 'duplicate', 'loan-review', 1),
          row(2, 'accepted', 'voicemail', 7),
          row(2, 'rejected', '', 2, ''),
          row(1, 'completed', 'loan-review', 4),
          row(1, 'handledMs', 'loan-review', 90_000),
          row(75, 'accepted', 'loan-review', 100), // older than the chart: ignored
        ],
      }),
    );
    const byType = Object.fromEntries(o.chart.series.map((s) => [s.taskType, s]));
    expect(o.chart.series.map((s) => s.taskType)).toEqual(['voicemail', 'loan-review', NO_TASK_TYPE]);
    expect(byType['loan-review'].data[CHART_MINUTES - 1]).toBe(5);
    expect(byType['loan-review'].total).toBe(5);
    expect(byType.voicemail.data[CHART_MINUTES - 3]).toBe(7);
    expect(byType[NO_TASK_TYPE].total).toBe(2);
    expect(o.counts.lastHour).toEqual({
      received: 14,
      accepted: 10,
      buffered: 1,
      scheduled: 0,
      duplicate: 1,
      rejected: 2,
      updated: 0,
      withdrawn: 0,
      completed: 4,
      expired: 0,
      activated: 0,
    });
  });

  it('sums the hourly counters for the last 24 h', () => {
    const hourRows: StatsRow[] = [
      { hour: '2026112309', metric: 'accepted', taskType: 'a', entrance: 'loans', value: 10 },
      { hour: '2026112310', metric: 'rejected', taskType: '', entrance: '', value: 3 },
      { hour: '2026112310', metric: 'completed', taskType: 'a', entrance: 'loans', value: 6 },
    ];
    const o = buildOverview(input({ hourRows }));
    expect(o.counts.last24h).toMatchObject({ received: 13, accepted: 10, rejected: 3, completed: 6 });
  });

  it('reports the unfinished count and the age of the oldest item', () => {
    const o = buildOverview(input({ unfinished: 42, oldestReceivedAt: new Date(NOW - 125_000).toISOString() }));
    expect(o.unfinished).toEqual({ count: 42, oldestReceivedAt: '2026-11-23T10:28:40.000Z', oldestAgeSeconds: 125 });
    expect(buildOverview(input()).unfinished).toEqual({ count: 0, oldestReceivedAt: null, oldestAgeSeconds: null });
  });
});
