--[[
  A parked message's TTL retry: expires its item when it waited too long, else says whether it is still parked and
  whether its entrance is open. Never routes it: only the in-order flush (route-parked-batch.lua) does, so parked
  items always leave oldest first.

  Input:
    KEYS[1]  item hash of ARGV[1]
    KEYS[2]  attachment of ARGV[1]
    KEYS[3]  tombstone of ARGV[1]
    KEYS[4]  index hash
    KEYS[5]  unfinished sorted set
    KEYS[6]  parked sorted set of ARGV[2]
    KEYS[7]  entrance hash of ARGV[2]
    KEYS[8]  due:expire sorted set
    KEYS[9]  due:activate sorted set
    KEYS[10] stats hash of this hour
    KEYS[11] stats hash of this minute
    KEYS[12] finished entry of ARGV[8]
    KEYS[13] due:overdue sorted set
    KEYS[14] overdue sorted set of ARGV[2]
    KEYS[15] due:resume sorted set
    KEYS[16] notifications due sorted set
    KEYS[17] notifications body hash
    KEYS[18] overdue-now count hash (per task type|entrance)
    KEYS[19] due:escalate sorted set
    KEYS[20] (optional) the lock of the entrance's flush: reported as `flushing` when the item is not parked

    ARGV[1]  contactId
    ARGV[2]  entrance (from the parked message)
    ARGV[3]  now (ms)
    ARGV[4]  longest an item may stay parked (ms)
    ARGV[5]  tombstone TTL (s)
    ARGV[6]  TTL of the hourly stats (s)
    ARGV[7]  TTL of the per-minute stats (s)
    ARGV[8]  the item's source|externalId (as the caller read it; '' when it found no item)
    ARGV[9]  how long the finished entry lives (s; dedupe.afterEndSeconds, 0: none)

  Output (JSON): route_one's answer with outcome 'gone', 'held', 'not_parked', 'expired', 'closed' or 'open'; or
    {outcome='moved', entrance}   the item is at another entrance: call again with that one's keys
]]
--- @include "route-one"
local cid, entrance = ARGV[1], ARGV[2]
local k = { item = KEYS[1], attachment = KEYS[2], tombstone = KEYS[3], index = KEYS[4], unfinished = KEYS[5],
  parked = KEYS[6], entrance = KEYS[7], due_expire = KEYS[8], due_activate = KEYS[9], finished = KEYS[12],
  finished_for = ARGV[8], due_overdue = KEYS[13], overdue = KEYS[14], due_resume = KEYS[15], notes_due = KEYS[16],
  notes_body = KEYS[17], due_escalate = KEYS[19] }
k.overdue_now = KEYS[18]
local f = item_fields(k.item)
if f and f.entrance ~= entrance then return cjson.encode({ outcome = 'moved', entrance = f.entrance }) end
return cjson.encode(route_one(k, cid, f, {
  now = tonumber(ARGV[3]), max_park_ms = tonumber(ARGV[4]), tomb_ttl = ARGV[5], route = false, flush_lock = KEYS[20], fin_ttl = ARGV[9],
  stats = { hour = KEYS[10], minute = KEYS[11], hour_ttl = ARGV[6], minute_ttl = ARGV[7] },
}))
