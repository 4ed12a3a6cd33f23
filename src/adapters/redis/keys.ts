/** Key names, in one place (the Lua scripts in scripts.ts build the same names from the same prefix). */
export function redisKeys(prefix: string) {
  return {
    prefix,
    item: (contactId: string) => `${prefix}item:${contactId}`,
    attachment: (contactId: string) => `${prefix}att:${contactId}`,
    tombstone: (contactId: string) => `${prefix}tomb:${contactId}`,
    /** The item's history (a list of steps) and the count of steps dropped from its middle (redis-item-history.ts). */
    history: (contactId: string) => `${prefix}hist:${contactId}`,
    historyDropped: (contactId: string) => `${prefix}hist:dropped:${contactId}`,
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
