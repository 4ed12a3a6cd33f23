--[[
  The item's own source withdraws it (cancelWorkItem), or an operator cancels it (the dashboard, ARGV[10]): it leaves
  every index, a tombstone stays, it is counted (report counter `withdrawn`: a sender's cancel only, the message outcome;
  an operator's cancel is not a message).

  Input:
    KEYS[1]  item hash of ARGV[1]
    KEYS[2]  attachment of ARGV[1]
    KEYS[3]  tombstone of ARGV[1]
    KEYS[4]  index hash
    KEYS[5]  unfinished sorted set
    KEYS[6]  parked sorted set of ARGV[4]
    KEYS[7]  due:expire sorted set
    KEYS[8]  due:activate sorted set
    KEYS[9]  stats hash of this hour
    KEYS[10] stats hash of this minute
    KEYS[11] cancelled record of ARGV[2]|ARGV[3] (kept for a redelivered cancel)
    KEYS[12] finished entry of ARGV[2]|ARGV[3]
    KEYS[13] due:overdue sorted set
    KEYS[14] overdue sorted set of ARGV[4]
    KEYS[15] due:resume sorted set
    KEYS[16] notifications due sorted set
    KEYS[17] notifications body hash
    KEYS[18] overdue-now count hash (per task type|entrance)
    KEYS[19] due:escalate sorted set

    ARGV[1]  contactId the index named (as the caller read it)
    ARGV[2]  source
    ARGV[3]  externalId
    ARGV[4]  its entrance (as the caller read it)
    ARGV[5]  tombstone TTL (s)
    ARGV[6]  TTL of the hourly stats (s)
    ARGV[7]  TTL of the per-minute stats (s)
    ARGV[8]  now (ms)
    ARGV[9]  how long the finished entry lives (s; dedupe.afterEndSeconds, 0: none)
    ARGV[10] by: 'sender', or 'dashboard:<user>' (an operator)

  Output (JSON):
    {outcome='cancelled', rec}
    {outcome='not_found'}
    {outcome='moved'}   the index names another item, or the item is at another entrance: read again
]]
--- @include "item-fields"
--- @include "remove-item"
--- @include "stat"
--- @include "notify"
local k = { item = KEYS[1], attachment = KEYS[2], tombstone = KEYS[3], index = KEYS[4], unfinished = KEYS[5],
  parked = KEYS[6], due_expire = KEYS[7], due_activate = KEYS[8], finished = KEYS[12], finished_for = ARGV[2] .. '|' .. ARGV[3],
  due_overdue = KEYS[13], overdue = KEYS[14], due_resume = KEYS[15], due_escalate = KEYS[19] }
k.overdue_now = KEYS[18]
local stats = { hour = KEYS[9], minute = KEYS[10], hour_ttl = ARGV[6], minute_ttl = ARGV[7] }
local cid, index_field = ARGV[1], ARGV[2] .. '|' .. ARGV[3]
local named = redis.call('HGET', k.index, index_field)
if not named then return cjson.encode({ outcome = 'not_found' }) end
if named ~= cid then return cjson.encode({ outcome = 'moved' }) end
local f = item_fields(k.item)
if not f then
  redis.call('HDEL', k.index, index_field)
  return cjson.encode({ outcome = 'not_found' })
end
if f.entrance ~= ARGV[4] then return cjson.encode({ outcome = 'moved' }) end
-- An operator's cancel is notified `cancelled`; a sender's own cancel is answered by its receipt.
if ARGV[10] ~= 'sender' then
  notify({ item = k.item, notes_due = KEYS[16], notes_body = KEYS[17] }, 'cancelled', cid, f, tonumber(ARGV[8]), { by = ARGV[10] })
end
remove_item(k, cid, f, 'cancelled', ARGV[5], { now = ARGV[8], ttl = ARGV[9] })
redis.call('SET', KEYS[11], f.rec, 'EX', ARGV[5])
if ARGV[10] == 'sender' then stat(stats, 'withdrawn', f.taskType, f.entrance, 1) end
return cjson.encode({ outcome = 'cancelled', rec = f.rec })
