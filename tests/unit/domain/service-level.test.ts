import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  quantileMs,
  serviceLevel,
  TIME_TO_END_BOUNDS_S,
  TIME_TO_END_MAX_FACTOR,
  TIME_TO_END_MAX_MS,
  timeToEndBound,
  timeToEndMetric,
  type ServiceLevelCounter,
} from '../../../src/domain/service-level';
import { OTHER_TASK_TYPE, TaskTypeLabels } from '../../../src/domain/task-types';

const BOUNDS_MS = TIME_TO_END_BOUNDS_S.map((s) => Math.round(s * 1000));

/** A histogram of the buckets holding these times (ms), as the End transition counts them. */
function histogramOf(times: number[]): Map<number, number> {
  const h = new Map<number, number>();
  for (const t of times) {
    const bound = timeToEndBound(timeToEndMetric(t))!;
    h.set(bound, (h.get(bound) ?? 0) + 1);
  }
  return h;
}

/** The nearest-rank q-percentile: the value the estimate approximates. */
function nearestRank(times: number[], q: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

/** A small deterministic generator (xorshift), so a failure can be reproduced. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('time-to-end buckets', () => {
  it('are the R5 numbers from 1 s to 2,500,000 s, each at most 1.6 times the one before', () => {
    expect(TIME_TO_END_BOUNDS_S).toHaveLength(33);
    expect(TIME_TO_END_BOUNDS_S[0]).toBe(1);
    expect(TIME_TO_END_MAX_MS).toBe(2_500_000_000);
    for (let i = 1; i < BOUNDS_MS.length; i++) {
      expect(BOUNDS_MS[i] / BOUNDS_MS[i - 1]).toBeGreaterThan(1.5);
      expect(BOUNDS_MS[i] / BOUNDS_MS[i - 1]).toBeLessThanOrEqual(TIME_TO_END_MAX_FACTOR);
    }
  });

  it('includes/service-level.lua counts with the same bounds', () => {
    const lua = readFileSync(path.join(__dirname, '../../../src/adapters/redis/lua/includes/service-level.lua'), 'utf8');
    const table = /local TTE_BOUNDS_MS = \{([^}]*)\}/.exec(lua)?.[1] ?? '';
    expect(table.split(',').map((s) => Number(s.trim()))).toEqual(BOUNDS_MS);
  });

  it('a time falls in the first bucket whose bound is not below it (inclusive, as Prometheus le)', () => {
    expect(timeToEndMetric(0)).toBe('tte:1000');
    expect(timeToEndMetric(1000)).toBe('tte:1000');
    expect(timeToEndMetric(1001)).toBe('tte:1600');
    expect(timeToEndMetric(6300)).toBe('tte:6300');
    expect(timeToEndMetric(6301)).toBe('tte:10000');
    expect(timeToEndMetric(2_500_000_000)).toBe('tte:2500000000');
    expect(timeToEndMetric(2_500_000_001)).toBe('tte:inf');
  });

  it('reads a stored bucket counter back; other counters are no bucket', () => {
    expect(timeToEndBound('tte:1600')).toBe(1600);
    expect(timeToEndBound('tte:inf')).toBe(Infinity);
    for (const m of ['completed', 'tte:', 'tte:-5', 'tte:1.5', 'tte:0', 'tte:abc']) expect(timeToEndBound(m)).toBeUndefined();
  });
});

describe('quantileMs (Prometheus histogram_quantile over the buckets)', () => {
  it('is null for no items', () => {
    expect(quantileMs(new Map(), 0.5)).toBeNull();
    expect(quantileMs(new Map([[1600, 0]]), 0.9)).toBeNull();
  });

  it('interpolates linearly within the bucket that holds the rank, from the bound below it', () => {
    // One item in (4 s, 6.3 s]: rank 0.5 is half-way through that bucket.
    expect(quantileMs(new Map([[6300, 1]]), 0.5)).toBe(4000 + 2300 * 0.5);
    // The first bucket starts at 0.
    expect(quantileMs(new Map([[1000, 4]]), 0.5)).toBe(500);
    // Empty buckets in between still give the lower bound: (4 s, 6.3 s] follows 4 s even with nothing at 2.5-4 s.
    const h = new Map([
      [1000, 1],
      [6300, 2],
      [10_000, 2],
    ]);
    // n = 5: median rank 2.5 → 1.5 of 2 into (4, 6.3]; p90 rank 4.5 → 1.5 of 2 into (6.3, 10].
    expect(quantileMs(h, 0.5)).toBeCloseTo(5725, 6);
    expect(quantileMs(h, 0.9)).toBeCloseTo(9075, 6);
    // A rank on a bucket's cumulative count is that bucket's upper bound.
    expect(quantileMs(h, 0.2)).toBe(1000);
  });

  it('beyond the last bound it is that bound (a lower bound of the true value)', () => {
    expect(quantileMs(new Map([[Infinity, 3]]), 0.5)).toBe(TIME_TO_END_MAX_MS);
    expect(
      quantileMs(
        new Map([
          [1000, 1],
          [Infinity, 9],
        ]),
        0.9,
      ),
    ).toBe(TIME_TO_END_MAX_MS);
  });

  it('a bound that is not in today’s list (an older one) still counts as a bucket edge', () => {
    expect(quantileMs(new Map([[5000, 2]]), 0.5)).toBe(4000 + 1000 * 0.5);
  });

  it.each([0.5, 0.9])('the estimate of q=%s is within the stated error of the true percentile', (q) => {
    const next = random(12345);
    for (let run = 0; run < 500; run++) {
      const n = 1 + Math.floor(next() * 60);
      // Log-uniform from 10 ms to about 60 days: every bucket and the overflow are hit across runs.
      const times = Array.from({ length: n }, () => Math.round(10 * Math.exp(next() * Math.log(5e8))));
      const truth = nearestRank(times, q);
      const est = quantileMs(histogramOf(times), q)!;
      if (truth > TIME_TO_END_MAX_MS) expect(est).toBe(TIME_TO_END_MAX_MS);
      else if (truth <= 1000) expect(Math.abs(est - truth)).toBeLessThanOrEqual(1000);
      else {
        expect(est / truth).toBeLessThanOrEqual(TIME_TO_END_MAX_FACTOR);
        expect(truth / est).toBeLessThanOrEqual(TIME_TO_END_MAX_FACTOR);
      }
    }
  });
});

describe('serviceLevel', () => {
  const c = (metric: string, taskType: string, entrance: string, value: number): ServiceLevelCounter => ({
    metric,
    taskType,
    entrance,
    value,
  });
  const counters = [
    // loan-review: 3 new items at loans (one scheduled, one buffered), 1 at support; a duplicate and an update are no items.
    c('accepted', 'loan-review', 'loans', 1),
    c('scheduled', 'loan-review', 'loans', 1),
    c('buffered', 'loan-review', 'loans', 1),
    c('accepted', 'loan-review', 'support', 1),
    c('duplicate', 'loan-review', 'loans', 5),
    c('updated', 'loan-review', 'loans', 5),
    c('rejected', '', '', 2),
    // 3 ended at loans (2 with a dueAt, 1 before it), 1 at support (with a dueAt, before it).
    c('completed', 'loan-review', 'loans', 3),
    c('endedWithDue', 'loan-review', 'loans', 2),
    c('endedBeforeDue', 'loan-review', 'loans', 1),
    c('tte:1000', 'loan-review', 'loans', 1),
    c('tte:6300', 'loan-review', 'loans', 2),
    c('completed', 'loan-review', 'support', 1),
    c('endedWithDue', 'loan-review', 'support', 1),
    c('endedBeforeDue', 'loan-review', 'support', 1),
    c('tte:10000', 'loan-review', 'support', 1),
    // complaint: ended without a dueAt only.
    c('accepted', 'complaint', 'support', 2),
    c('completed', 'complaint', 'support', 1),
    c('tte:inf', 'complaint', 'support', 1),
    c('handledMs', 'complaint', 'support', 99),
    c('disposition:resolved', 'complaint', 'support', 1),
    // an old hour of a task type with only duplicates: no row
    c('duplicate', 'old-type', 'loans', 3),
  ];
  const overdue = [
    { taskType: 'loan-review', entrance: 'support', count: 2 },
    { taskType: 'callback', entrance: 'loans', count: 1 },
  ];

  it('per task type: received (new items), ended, before due %, median and p90, overdue now; total merges the buckets', () => {
    const { rows, total } = serviceLevel(counters, overdue, { byEntrance: false });
    expect(rows).toEqual([
      {
        taskType: 'callback',
        received: 0,
        ended: 0,
        endedWithDue: 0,
        endedBeforeDue: 0,
        endedBeforeDuePct: null,
        medianToEndMs: null,
        p90ToEndMs: null,
        overdueNow: 1,
      },
      {
        taskType: 'complaint',
        received: 2,
        ended: 1,
        endedWithDue: 0,
        endedBeforeDue: 0,
        endedBeforeDuePct: null,
        medianToEndMs: TIME_TO_END_MAX_MS,
        p90ToEndMs: TIME_TO_END_MAX_MS,
        overdueNow: 0,
      },
      {
        taskType: 'loan-review',
        received: 4,
        ended: 4,
        endedWithDue: 3,
        endedBeforeDue: 2,
        endedBeforeDuePct: 66.7,
        // buckets 1 s: 1, 6.3 s: 2, 10 s: 1; median rank 2 → the 6.3 s bucket half-way (4 s + 1/2 × 2.3 s)
        medianToEndMs: 5150,
        // p90 rank 3.6 → 0.6 into (6.3 s, 10 s]
        p90ToEndMs: 8520,
        overdueNow: 2,
      },
    ]);
    expect(total).toEqual({
      received: 6,
      ended: 5,
      endedWithDue: 3,
      endedBeforeDue: 2,
      endedBeforeDuePct: 66.7,
      // 5 items: 1 s: 1, 6.3 s: 2, 10 s: 1, overflow: 1; median rank 2.5 → 0.75 into (4, 6.3]
      medianToEndMs: 5725,
      // p90 rank 4.5 → in the overflow bucket: the last bound
      p90ToEndMs: TIME_TO_END_MAX_MS,
      overdueNow: 3,
    });
  });

  it('split by entrance', () => {
    const { rows } = serviceLevel(counters, overdue, { byEntrance: true });
    expect(rows.map((r) => [r.taskType, r.entrance, r.received, r.ended, r.endedBeforeDuePct, r.overdueNow])).toEqual([
      ['callback', 'loans', 0, 0, null, 1],
      ['complaint', 'support', 2, 1, null, 0],
      ['loan-review', 'loans', 3, 3, 50, 0],
      ['loan-review', 'support', 1, 1, 100, 2],
    ]);
    expect(rows.find((r) => r.entrance === 'support' && r.taskType === 'loan-review')).toMatchObject({
      medianToEndMs: 6300 + 3700 * 0.5,
      p90ToEndMs: 6300 + 3700 * 0.9,
    });
  });
});

describe('task type labels on /metrics', () => {
  it('configured ones by name, then the first others, then other', () => {
    const labels = new TaskTypeLabels(['loan-review'], 2);
    expect(['a', 'loan-review', 'b', 'c', 'a', '', 'loan-review', 'd'].map((t) => labels.label(t))).toEqual([
      'a',
      'loan-review',
      'b',
      OTHER_TASK_TYPE,
      'a',
      '',
      'loan-review',
      OTHER_TASK_TYPE,
    ]);
  });
});
