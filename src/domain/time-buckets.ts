/** UTC time buckets of the report and dashboard counters (pure; the Redis adapter names keys after them). */

/** Hour bucket of the durable report counters, e.g. `2026112318` (UTC). */
export function hourBucket(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13).replace(/[-T]/g, '');
}

/** Minute bucket of the short-lived per-minute counters, e.g. `202611231842` (UTC); its first 10 characters are the hour. */
export function minuteBucket(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace(/[-T:]/g, '');
}
