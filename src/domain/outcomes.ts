/**
 * One name per outcome, end to end: the stored report counters (Redis stats hashes), the `outcome` label of
 * workitem_items_total on /metrics, `workitem report`, the dashboard and the Grafana panels all use these words. A
 * parked item is `buffered` everywhere outside the code, as in its receipt.
 */

/** What a sender's message ended as: each one counts as received. */
export const MESSAGE_OUTCOMES = ['accepted', 'buffered', 'scheduled', 'duplicate', 'rejected', 'updated', 'withdrawn'] as const;

/** What happens later to an item already received. */
export const ITEM_OUTCOMES = ['completed', 'expired', 'activated'] as const;

/** Every counter the report and the dashboard show, received first: received = the sum of MESSAGE_OUTCOMES. */
export const COUNTERS = ['received', ...MESSAGE_OUTCOMES, ...ITEM_OUTCOMES] as const;
export type Counter = (typeof COUNTERS)[number];
export type Counts = Record<Counter, number>;

const MESSAGE_SET: ReadonlySet<string> = new Set(MESSAGE_OUTCOMES);
const COUNTER_SET: ReadonlySet<string> = new Set(COUNTERS);

/** True for the stored counters that make up received. */
export function countsAsReceived(metric: string): boolean {
  return MESSAGE_SET.has(metric);
}

/**
 * Stored counter names of earlier versions, read as today's: from issue 15 part 5 until issue 23 a parked arrival
 * was written as `parked`; hours written then still count as `buffered`.
 */
const LEGACY_NAMES: Readonly<Record<string, Counter>> = { parked: 'buffered' };

/**
 * The name a stored metric is read as: a legacy name mapped to today's, any other name as it is (handledMs…). The
 * Redis adapter applies it to every counter it reads, so no reader sees `parked`.
 */
export function storedMetricName(stored: string): string {
  return Object.hasOwn(LEGACY_NAMES, stored) ? LEGACY_NAMES[stored] : stored;
}

export function emptyCounts(): Counts {
  return Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counts;
}

/** Adds a stored counter to counts (received too, for a message outcome); other metrics (handledMs) are ignored. */
export function addCount(counts: Counts, metric: string, value: number): void {
  if (metric === 'received' || !COUNTER_SET.has(metric)) return;
  counts[metric as Counter] += value;
  if (countsAsReceived(metric)) counts.received += value;
}

/** The stored counter of completed items with a disposition code: `disposition:<code>` (contract 1.2). */
export const DISPOSITION_METRIC_PREFIX = 'disposition:';

/** The disposition code a stored counter counts, or undefined when it counts something else. */
export function dispositionOf(metric: string): string | undefined {
  return metric.startsWith(DISPOSITION_METRIC_PREFIX) ? metric.slice(DISPOSITION_METRIC_PREFIX.length) : undefined;
}
