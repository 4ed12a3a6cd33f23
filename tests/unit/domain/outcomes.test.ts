import { buildOverview } from '../../../src/adapters/http/dashboard/overview';
import { summarize } from '../../../src/cli/commands/report';
import { addCount, COUNTERS, emptyCounts, MESSAGE_OUTCOMES, storedMetricName } from '../../../src/domain/outcomes';
import { minuteBucket } from '../../../src/domain/time-buckets';
import type { StatsRow } from '../../../src/ports/state-store';

/** Issue 23 part A: one name per outcome, the names of /metrics (ItemOutcome), in the report and the dashboard. */
describe('outcome names', () => {
  it('the report and dashboard counters are the outcomes /metrics counts', () => {
    // Every ItemOutcome of src/ports/metrics.ts, in the order the report prints them.
    expect([...COUNTERS]).toEqual([
      'received',
      'accepted',
      'buffered',
      'scheduled',
      'duplicate',
      'rejected',
      'updated',
      'withdrawn',
      'completed',
      'expired',
      'activated',
    ]);
  });

  it('received is every message outcome; completed, expired and activated are not', () => {
    const c = emptyCounts();
    for (const m of MESSAGE_OUTCOMES) addCount(c, m, 2);
    for (const m of ['completed', 'expired', 'activated', 'handledMs', 'received', 'unknown']) addCount(c, m, 5);
    expect(c.received).toBe(2 * MESSAGE_OUTCOMES.length);
    expect(c).toMatchObject({ completed: 5, expired: 5, activated: 5, buffered: 2, scheduled: 2, updated: 2 });
  });

  it('a counter stored as `parked` (hours written before issue 23) is read as buffered', () => {
    expect(storedMetricName('parked')).toBe('buffered');
    expect(storedMetricName('buffered')).toBe('buffered');
    expect(storedMetricName('handledMs')).toBe('handledMs');
  });

  it('report and dashboard agree on the same rows', () => {
    const now = Date.parse('2026-11-23T10:30:45.000Z');
    const hourRows: StatsRow[] = [
      'accepted',
      'buffered',
      'scheduled',
      'duplicate',
      'rejected',
      'updated',
      'withdrawn',
      'completed',
      'expired',
      'activated',
    ].map((metric, i) => ({ hour: '2026112310', metric, taskType: 't', entrance: 'loans', value: i + 1 }));
    const { total } = summarize(hourRows, 'task-type');
    const o = buildOverview({
      nowMs: now,
      refreshMs: 1000,
      hourRows,
      minuteRows: hourRows.map(({ hour: _h, ...r }) => ({ ...r, minute: minuteBucket(now) })),
      unfinished: 0,
      oldestReceivedAt: null,
      entrances: [],
      errorQueue: 0,
      hourRowsSinceMs: now - 24 * 3_600_000,
      overdueByTaskType: [],
    });
    const counts = Object.fromEntries(COUNTERS.map((c) => [c, total[c]]));
    expect(o.counts.last24h).toEqual(counts);
    expect(o.counts.lastHour).toEqual(counts);
    expect(counts.received).toBe(1 + 2 + 3 + 4 + 5 + 6 + 7);
  });

  it("disposition counters make the report's dispositions, not a column or received", () => {
    const row = (metric: string, value: number, taskType = 't') => ({ hour: '2026112310', metric, taskType, entrance: 'loans', value });
    const { total, dispositions } = summarize(
      [row('completed', 3), row('disposition:resolved', 1), row('disposition:resolved', 1, 'u'), row('disposition:other', 1)],
      'task-type',
    );
    expect(total.completed).toBe(3);
    expect(total.received).toBe(0);
    expect(dispositions).toEqual({ resolved: 2, other: 1 });
  });
});
