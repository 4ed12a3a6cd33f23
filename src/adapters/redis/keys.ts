/** Key names, in one place (the Lua scripts in scripts.ts build the same names from the same prefix). */
export function redisKeys(prefix: string) {
  return {
    prefix,
    item: (contactId: string) => `${prefix}item:${contactId}`,
    attachment: (contactId: string) => `${prefix}att:${contactId}`,
    tombstone: (contactId: string) => `${prefix}tomb:${contactId}`,
    parked: (entrance: string) => `${prefix}parked:${entrance}`,
    entrance: (name: string) => `${prefix}entrance:${name}`,
    unfinished: `${prefix}unfinished`,
    externalIndex: `${prefix}ext`,
    stats: (hour: string) => `${prefix}stats:${hour}`,
    /** Per-minute copies of the same counters, kept ~2 h for the dashboard's last-hour chart. */
    statsMinute: (minute: string) => `${prefix}stats:m:${minute}`,
    marker: (name: string) => `${prefix}marker:${name}`,
  };
}

/** Hour bucket of the durable report counters, e.g. `2026112318` (UTC). */
export function hourBucket(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13).replace(/[-T]/g, '');
}

/** Minute bucket of the short-lived per-minute counters, e.g. `202611231842` (UTC); its first 10 characters are the hour. */
export function minuteBucket(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace(/[-T:]/g, '');
}
