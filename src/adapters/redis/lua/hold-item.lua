--[[
  Contract 1.2: puts an unfinished item on hold, by its sender (<holdWorkItem>) or an operator (the dashboard), in one
  step. A routed item leaves the agents' queue: marked `withdrawing` until its contact.withdrawn (reason held) is
  confirmed (confirm-withdrawn.lua); every later hold of it answers withdraw=true meanwhile, so the event is published
  again after a crash or a refusal. A parked item leaves its entrance's parked order (its parked message, when it comes
  back, is dropped); a scheduled one leaves the activation timer (its activateAt instant is kept for the resume). The
  item's other timers (expiresAt, dueAt) keep running. With an until it joins due:resume (claim-resumes.lua).
  A held item held again keeps where it was held from; the new hold's until and reason replace the old ones. The hold
  id of the last hold applied is kept: the same hold again (sameAgain) changes nothing, even after a resume.

  Input:
    KEYS[1]  item hash of ARGV[1]
    KEYS[2]  index hash (source|externalId -> contactId)
    KEYS[3]  parked sorted set of ARGV[4]
    KEYS[4]  due:activate sorted set
    KEYS[5]  due:resume sorted set (score: until ms)
    KEYS[6]  notifications due sorted set
    KEYS[7]  notifications body hash

    ARGV[1]  contactId the index named (as the caller read it)
    ARGV[2]  source
    ARGV[3]  externalId
    ARGV[4]  its entrance (as the caller read it)
    ARGV[5]  now (ms)
    ARGV[6]  until as written, or '' (held until resumed)
    ARGV[7]  until (ms)
    ARGV[8]  reason, or ''
    ARGV[9]  hold id, or '' (an operator's hold)
    ARGV[10] '1': a hold whose id is the item's last hold id is that hold again (redelivered, or the same message_id)
    ARGV[11] by: 'sender', or 'dashboard:<user>' (an operator)
  Each hold, and each change of a hold, writes the `held` notification (with its until and reason). A routed item whose
  contact.created was not confirmed yet loses its `nr` mark: its sender hears `held`, never `routed`.

  Output (JSON):
    {outcome='held', from, rec, withdraw}     put on hold now; from: its state then (routed, buffered, scheduled)
    {outcome='rehold', from, rec, withdraw}   it was held: until and reason replaced
    {outcome='already', state, from, rec, withdraw} this hold again: nothing changed (state: where the item is now;
                                              from: where it was held from, while held)
    {outcome='not_found'}
    {outcome='moved'}   the index names another item, or the item is at another entrance: read again
]]
--- @include "item-fields"
--- @include "notify"
local k_item, k_index, k_parked, k_due_activate, k_due_resume = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cid, now, hold_id = ARGV[1], ARGV[5], ARGV[9]
local named = redis.call('HGET', k_index, ARGV[2] .. '|' .. ARGV[3])
if not named then return cjson.encode({ outcome = 'not_found' }) end
if named ~= cid then return cjson.encode({ outcome = 'moved' }) end
local f = item_fields(k_item)
if not f then return cjson.encode({ outcome = 'not_found' }) end
if f.entrance ~= ARGV[4] then return cjson.encode({ outcome = 'moved' }) end
local v = redis.call('HMGET', k_item, 'holdId', 'withdrawing', 'heldFrom')
local withdrawing = f.state == 'held' and v[2] ~= false
if ARGV[10] == '1' and hold_id ~= '' and v[1] == hold_id then
  return cjson.encode({ outcome = 'already', state = f.state, from = v[3] or nil, rec = f.rec, withdraw = withdrawing })
end

local function set_terms()
  if ARGV[6] ~= '' then
    redis.call('HSET', k_item, 'heldUntil', ARGV[6])
    redis.call('ZADD', k_due_resume, ARGV[7], cid)
  else
    redis.call('HDEL', k_item, 'heldUntil')
    redis.call('ZREM', k_due_resume, cid)
  end
  if ARGV[8] ~= '' then redis.call('HSET', k_item, 'heldReason', ARGV[8]) else redis.call('HDEL', k_item, 'heldReason') end
  if hold_id ~= '' then redis.call('HSET', k_item, 'holdId', hold_id) end
end

local function notify_held()
  local extra = { by = ARGV[11] }
  if ARGV[6] ~= '' then extra['until'] = ARGV[6] end
  if ARGV[8] ~= '' then extra.reason = ARGV[8] end
  notify({ item = k_item, notes_due = KEYS[6], notes_body = KEYS[7] }, 'held', cid, f, tonumber(now), extra)
end

if f.state == 'held' then
  set_terms()
  notify_held()
  return cjson.encode({ outcome = 'rehold', from = v[3], rec = f.rec, withdraw = withdrawing })
end
if f.state == 'routed' then
  -- A flush's unconfirmed placing is over: the item is not to be placed any more.
  redis.call('HDEL', k_item, 'placing')
  redis.call('HSET', k_item, 'withdrawing', now)
  redis.call('HDEL', k_item, 'nr')
elseif f.state == 'buffered' then
  redis.call('ZREM', k_parked, cid)
  redis.call('HDEL', k_item, 'parkedAt')
elseif f.state == 'scheduled' then
  local activate_ms = redis.call('ZSCORE', k_due_activate, cid)
  redis.call('ZREM', k_due_activate, cid)
  if activate_ms then redis.call('HSET', k_item, 'activateMs', activate_ms) end
else
  return cjson.encode({ outcome = 'not_found' })
end
redis.call('HSET', k_item, 'state', 'held', 'heldFrom', f.state, 'heldAt', now)
set_terms()
notify_held()
return cjson.encode({ outcome = 'held', from = f.state, rec = f.rec, withdraw = f.state == 'routed' })
