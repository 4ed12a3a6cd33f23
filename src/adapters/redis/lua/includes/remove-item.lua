--[[
  remove_item(k, cid, f, why, tomb_ttl, fin): removes every trace of an unfinished item (f: its item_fields) and leaves a
  tombstone saying why, so a late retry cannot revive it; and (contract 1.2) the finished entry of its source|externalId,
  `<contactId>|<why>|<now ms>` for fin.ttl seconds, so a resend is answered `duplicate` (none when fin.ttl is 0).
  k = { item, attachment, tombstone, index, unfinished, parked (of f.entrance), due_expire, due_activate, due_overdue,
        overdue (the overdue sorted set of f.entrance), due_resume (a held item's until), due_escalate (its next
        escalation rule), finished (the finished key the caller named), finished_for (the source|externalId it named
        it for), overdue_now }
  An overdue item leaving its entrance's overdue set is the workitem_overdue gauge going down by one, and its task
  type's overdue-now count (k.overdue_now, the hash of includes/service-level.lua) too.
  fin = { now = ms, ttl = seconds (dedupe.afterEndSeconds) }
  The finished entry is written only when finished_for is the item's own source|externalId (the caller's read of them
  cannot be stale, they never change; a mismatch would name another item's key, so nothing is written then).
]]
--- @include "service-level"
local function remove_item(k, cid, f, why, tomb_ttl, fin)
  redis.call('DEL', k.item, k.attachment)
  redis.call('HDEL', k.index, f.source .. '|' .. f.externalId)
  redis.call('ZREM', k.unfinished, cid)
  redis.call('ZREM', k.parked, cid)
  redis.call('ZREM', k.due_expire, cid)
  redis.call('ZREM', k.due_activate, cid)
  redis.call('ZREM', k.due_overdue, cid)
  if redis.call('ZREM', k.overdue, cid) == 1 then overdue_now(k.overdue_now, f.taskType, f.entrance, -1) end
  redis.call('ZREM', k.due_resume, cid)
  redis.call('ZREM', k.due_escalate, cid)
  redis.call('SET', k.tombstone, why, 'EX', tomb_ttl)
  local ttl = tonumber(fin.ttl) or 0
  if ttl > 0 and k.finished and k.finished_for == f.source .. '|' .. f.externalId then
    redis.call('SET', k.finished, cid .. '|' .. why .. '|' .. fin.now, 'EX', ttl)
  end
end
