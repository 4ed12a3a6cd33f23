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
    marker: (name: string) => `${prefix}marker:${name}`,
  };
}

/** Hour bucket of the durable report counters, e.g. `2026112318` (UTC). */
export function hourBucket(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13).replace(/[-T]/g, '');
}
