--[[
  resume_one(k, cid, f, now): a held item (f: its item_fields, state 'held') comes back as a new arrival with a new seq
  (contract 1.2): scheduled again when the activateAt it was held with is still ahead (its due:activate entry back),
  else parked at a closed entrance (in its parked order; no park limit, as for an activation), else routed with a
  `placing` mark (its contact.created not confirmed yet; confirm-placed.lua clears it, and a redelivered resume
  publishes it again meanwhile). The hold's fields go; `resumed` marks the item until a contact.created of it is
  confirmed, so that event says `"resumed": true` wherever it is published from (the resume, a reopen flush, an
  activation).
  A routed one is marked `nr`: its `routed` notification is written when its event is confirmed (confirm-placed.lua).
  k = { item, unfinished, seq, entrance (hash of f.entrance), parked (of f.entrance), due_activate, due_resume }
  Answers state ('routed', 'buffered' or 'scheduled') and activate_ms (its activateAt in ms when scheduled, else nil).
]]
local function resume_one(k, cid, f, now)
  local activate_ms = tonumber(redis.call('HGET', k.item, 'activateMs') or '')
  redis.call('ZREM', k.due_resume, cid)
  redis.call('HDEL', k.item, 'heldFrom', 'heldAt', 'heldUntil', 'heldReason', 'activateMs', 'withdrawing')
  local seq = redis.call('INCR', k.seq)
  redis.call('ZADD', k.unfinished, seq, cid)
  local state = 'routed'
  if activate_ms and activate_ms > now then
    state = 'scheduled'
    redis.call('ZADD', k.due_activate, activate_ms, cid)
  elseif redis.call('HGET', k.entrance, 'state') == 'closed' then
    state = 'buffered'
    redis.call('HSET', k.item, 'parkedAt', now)
    redis.call('ZADD', k.parked, seq, cid)
  else
    redis.call('HSET', k.item, 'placing', now, 'nr', '1')
  end
  redis.call('HSET', k.item, 'state', state, 'seq', seq, 'resumed', '1')
  if state ~= 'scheduled' then activate_ms = nil end
  return state, activate_ms
end
