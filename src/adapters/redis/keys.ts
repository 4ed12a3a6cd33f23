/**
 * Every Redis key name, in one place: the Lua scripts are given theirs in KEYS, none is built inside a script.
 *
 * With Redis Cluster (REDIS_CLUSTER_NODES) the prefix is wrapped in braces, `{workitem:}item:<contactId>`: the
 * whole prefix is the hash tag, so every key of a deployment is in one slot and each transition, which touches an
 * item together with the deployment's indexes, stays one atomic script (docs/scale-out.md says what that costs).
 * A single Redis or Sentinel keeps the names as they were (`workitem:item:<contactId>`).
 */
export function redisKeys(prefix: string, cluster = false) {
  const p = cluster ? `{${prefix}}` : prefix;
  return {
    item: (contactId: string) => `${p}item:${contactId}`,
    attachment: (contactId: string) => `${p}att:${contactId}`,
    tombstone: (contactId: string) => `${p}tomb:${contactId}`,
    /** The item's history (a list of steps) and the count of steps dropped from its middle (redis-item-history.ts). */
    history: (contactId: string) => `${p}hist:${contactId}`,
    historyDropped: (contactId: string) => `${p}hist:dropped:${contactId}`,
    /** An expiry claimed but not yet confirmed: what its event and receipt need. */
    expiring: (contactId: string) => `${p}expiring:${contactId}`,
    parked: (entrance: string) => `${p}parked:${entrance}`,
    entrance: (name: string) => `${p}entrance:${name}`,
    unfinished: `${p}unfinished`,
    /**
     * An item its sender cancelled, by source|externalId: its record, kept for the tombstone's time so a cancel the
     * broker redelivers (its first handling died after the removal) still tells the contact center and the sender.
     */
    cancelled: (source: string, externalId: string) => `${p}cancelled:${source}|${externalId}`,
    /**
     * A finished item by source|externalId (contract 1.2 "Duplicates after the end"): `<contactId>|<state>|<at ms>`,
     * state ended, cancelled or expired; written by the transition that removes the item, lives dedupe.afterEndSeconds.
     */
    finished: (source: string, externalId: string) => `${p}finished:${source}|${externalId}`,
    /** source|externalId → contactId of the unfinished item. */
    externalIndex: `${p}ext`,
    seq: `${p}seq`,
    /** Timers (contract 1.1): score = due time in ms, member = contactId; claims: score = lease deadline. */
    dueExpire: `${p}due:expire`,
    dueExpireClaimed: `${p}due:expire:claimed`,
    dueActivate: `${p}due:activate`,
    dueActivateClaimed: `${p}due:activate:claimed`,
    /** dueAt of unfinished items not overdue yet (score: dueAt ms); a claim (score: lease deadline) marks one overdue. */
    dueOverdue: `${p}due:overdue`,
    dueOverdueClaimed: `${p}due:overdue:claimed`,
    /**
     * The lifecycle-notification outbox (contract 1.2): due (score: when to publish, ms; pushed a lease ahead while a
     * relay publishes it) and body (id → the notification as JSON). Written by the transitions (includes/notify.lua).
     */
    notesDue: `${p}notes:due`,
    notesBody: `${p}notes:body`,
    /** Held items with an until (contract 1.2; score: until ms); a claim (score: lease deadline) resumes one. */
    dueResume: `${p}due:resume`,
    dueResumeClaimed: `${p}due:resume:claimed`,
    /**
     * Unfinished items with an escalation rule ahead (contract 1.2; score: the time of the item's next rule, ms; the item
     * hash keeps its plan, `escPlan`, and how many rules fired, `escDone`); a claim (score: lease deadline) applies it.
     */
    dueEscalate: `${p}due:escalate`,
    dueEscalateClaimed: `${p}due:escalate:claimed`,
    /** The entrance's unfinished items that are overdue now (score: dueAt ms): the workitem_overdue gauge is its ZCARD. */
    overdue: (entrance: string) => `${p}overdue:${entrance}`,
    /**
     * Items overdue now per task type and entrance (field `taskType|entrance`, no field when none): kept by the
     * transitions that move an item in or out of its entrance's overdue set (includes/service-level.lua).
     */
    overdueNow: `${p}overdue-now`,
    /** Hourly report counters (hour: YYYYMMDDHH, UTC). */
    stats: (hour: string) => `${p}stats:${hour}`,
    /** Per-minute copies of the same counters (minute: YYYYMMDDHHmm), for the dashboard's last-hour chart. */
    statsMinute: (minute: string) => `${p}stats:m:${minute}`,
    lock: (name: string) => `${p}lock:${name}`,
    fence: (name: string) => `${p}fence:${name}`,
    marker: (name: string) => `${p}marker:${name}`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;

/** How long the report counters live: hourly ones for `workitem report`, per-minute ones for the dashboard. */
export const STATS_TTL_SECONDS = { hour: 400 * 24 * 3600, minute: 2 * 3600 } as const;
