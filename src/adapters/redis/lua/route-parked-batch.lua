--[[
  The reopen flush of one entrance, one batch: its parked items oldest first are routed (or expired, when they waited
  too long), stopping at the first one that finds the entrance closed again. The caller read the head of the parked
  set and passes those items' keys; should the head differ now (an item parked again in between), the batch stops
  there and says so.

  Input:
    KEYS[1]  parked sorted set of ARGV[1]
    KEYS[2]  entrance hash of ARGV[1]
    KEYS[3]  index hash
    KEYS[4]  unfinished sorted set
    KEYS[5]  due:expire sorted set
    KEYS[6]  due:activate sorted set
    KEYS[7]  stats hash of this hour
    KEYS[8]  stats hash of this minute
    KEYS[9]  due:overdue sorted set
    KEYS[10] overdue sorted set of ARGV[1]
    KEYS[11] due:resume sorted set
    KEYS[12] notifications due sorted set
    KEYS[13] notifications body hash
    KEYS[14] due:escalate sorted set
    KEYS[15..] per item, in the order of ARGV[8..]: item hash, attachment, tombstone, finished entry of its
              source|externalId
    KEYS[#KEYS] (last, after the items) overdue-now count hash (per task type|entrance)

    ARGV[1]  entrance
    ARGV[2]  now (ms)
    ARGV[3]  longest an item may stay parked (ms)
    ARGV[4]  tombstone TTL (s)
    ARGV[5]  TTL of the hourly stats (s)
    ARGV[6]  TTL of the per-minute stats (s)
    ARGV[7]  how long a finished entry lives (s; dedupe.afterEndSeconds, 0: none)
    ARGV[8..] per item: contactId, its source|externalId ('' when unknown): the head of the parked set as the caller
              read it, oldest first

  Output (JSON):
    {results=[route_one answer...], stale}   stale: the head no longer matched the contactIds of ARGV[8..] where the batch stopped
]]
--- @include "route-one"
local k_parked = KEYS[1]
local o = {
  now = tonumber(ARGV[2]), max_park_ms = tonumber(ARGV[3]), tomb_ttl = ARGV[4], route = true, fin_ttl = ARGV[7],
  stats = { hour = KEYS[7], minute = KEYS[8], hour_ttl = ARGV[5], minute_ttl = ARGV[6] },
}
local n = (#ARGV - 7) / 2
local head = redis.call('ZRANGE', k_parked, 0, n - 1)
local results, stale = {}, false
for i = 1, n do
  local cid = ARGV[6 + 2 * i]
  if head[i] ~= cid then
    stale = true
    break
  end
  local k = { parked = k_parked, entrance = KEYS[2], index = KEYS[3], unfinished = KEYS[4], due_expire = KEYS[5],
    due_activate = KEYS[6], due_overdue = KEYS[9], overdue = KEYS[10], due_resume = KEYS[11], notes_due = KEYS[12],
    notes_body = KEYS[13], due_escalate = KEYS[14], item = KEYS[11 + 4 * i], attachment = KEYS[12 + 4 * i],
    tombstone = KEYS[13 + 4 * i], finished = KEYS[14 + 4 * i], finished_for = ARGV[7 + 2 * i] }
  k.overdue_now = KEYS[#KEYS]
  local r = route_one(k, cid, item_fields(k.item), o)
  if r.outcome == 'gone' or r.outcome == 'held' then redis.call('ZREM', k_parked, cid) end
  table.insert(results, r)
  if r.outcome == 'closed' then break end
end
return cjson.encode({ results = results, stale = stale })
