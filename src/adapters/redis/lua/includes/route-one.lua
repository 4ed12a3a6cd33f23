--[[
  route_one(k, cid, f, o): one parked item at its entrance (f: its item_fields, nil when gone). Answers
    {outcome='gone', contactId, tombstone}                 the item is gone; tombstone: it ended, was cancelled or expired
    {outcome='held', contactId}                            held (contract 1.2): nothing routes it, nor expires it as
                                                           parked too long, until it is resumed
    {outcome='not_parked', contactId, rec, flushing, placing, resumed}   not parked (any more); flushing: o.flush_lock
                                                           is held; placing: when a flush (or a resume) routed it, its
                                                           event not yet confirmed; resumed: it came back from hold
    {outcome='expired', contactId, rec, replyTo, corrId, trace}   parked longer than o.max_park_ms: removed, counted
    {outcome='closed', contactId}                          its entrance is closed
    {outcome='open', contactId}                            o.route false (a check only): its entrance is open
    {outcome='routed', contactId, rec, trace, resumed}     now routed, out of the parked order; resumed: it came back
                                                           from hold (its contact.created says so)
  k: remove_item's keys (with finished, finished_for, due_overdue, overdue, due_resume, due_escalate) plus entrance (the entrance
     hash) and notify's notes_due, notes_body (an expiry's `expired` notification);
  o = { now, max_park_ms, tomb_ttl, fin_ttl (dedupe.afterEndSeconds), stats, route, flush_lock (a lock key, or nil) }
  A routed item is marked `placing` and `nr` (its `routed` notification is written when its event is confirmed).
]]
--- @include "item-fields"
--- @include "remove-item"
--- @include "stat"
--- @include "notify"
local function route_one(k, cid, f, o)
  if not f then
    return { outcome = 'gone', contactId = cid, tombstone = redis.call('EXISTS', k.tombstone) == 1 }
  end
  if f.state == 'held' then return { outcome = 'held', contactId = cid } end
  if f.state ~= 'buffered' then
    local flushing = o.flush_lock ~= nil and redis.call('EXISTS', o.flush_lock) == 1
    local v = redis.call('HMGET', k.item, 'placing', 'resumed')
    return { outcome = 'not_parked', contactId = cid, rec = f.rec, flushing = flushing, placing = tonumber(v[1]),
      resumed = v[2] == '1' }
  end
  if o.now - f.parkedAt > o.max_park_ms then
    local trace = redis.call('HGET', k.item, 'tp') or nil
    notify(k, 'expired', cid, f, o.now, { reason = 'parked-too-long' })
    remove_item(k, cid, f, 'expired', o.tomb_ttl, { now = o.now, ttl = o.fin_ttl })
    stat(o.stats, 'expired', f.taskType, f.entrance, 1)
    return { outcome = 'expired', contactId = cid, rec = f.rec, replyTo = f.replyTo, corrId = f.corrId, trace = trace }
  end
  if redis.call('HGET', k.entrance, 'state') == 'closed' then return { outcome = 'closed', contactId = cid } end
  if not o.route then return { outcome = 'open', contactId = cid } end
  -- `placing`: routed by a flush whose event is not confirmed yet (confirm-placed.lua clears it). Should the flush die
  -- or freeze before that, the item's parked message, still in the park queue, publishes the event (retryParked).
  redis.call('HSET', k.item, 'state', 'routed', 'placing', o.now, 'nr', '1')
  redis.call('HDEL', k.item, 'parkedAt')
  redis.call('ZREM', k.parked, cid)
  local v = redis.call('HMGET', k.item, 'tp', 'resumed')
  return { outcome = 'routed', contactId = cid, rec = f.rec, trace = v[1] or nil, resumed = v[2] == '1' }
end
