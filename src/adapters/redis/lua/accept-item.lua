--[[
  A new item: recorded as unfinished, routed, parked (its entrance is closed) or scheduled (a future activateAt),
  decided from the entrance state read in this same step, so a close or an open can never split an item's fate.
  An item the index already holds under (source, externalId) is not touched: the answer names it and
  answer-duplicate.lua, given that item's keys, answers the duplicate. With no unfinished one, an item of the same
  (source, externalId) that finished within dedupe.afterEndSeconds (its finished entry, remove-item.lua) makes this a
  duplicate too (contract 1.2), unless the sender asks for a restart.

  Input:
    KEYS[1]  item hash of ARGV[1]
    KEYS[2]  index hash (source|externalId -> contactId)
    KEYS[3]  unfinished sorted set (score: seq)
    KEYS[4]  seq counter
    KEYS[5]  entrance hash of ARGV[4]
    KEYS[6]  parked sorted set of ARGV[4] (score: seq)
    KEYS[7]  due:expire sorted set (score: expiresAt ms)
    KEYS[8]  due:activate sorted set (score: activateAt ms)
    KEYS[9]  stats hash of this hour
    KEYS[10] stats hash of this minute
    KEYS[11] finished entry of ARGV[2]|ARGV[3]
    KEYS[12] due:overdue sorted set (score: dueAt ms)
    KEYS[13] due:escalate sorted set (score: the time of the item's next escalation rule, ms)

    ARGV[1]  contactId
    ARGV[2]  source
    ARGV[3]  externalId
    ARGV[4]  entrance
    ARGV[5]  record (JSON)
    ARGV[6]  now (ms)
    ARGV[7]  most items the entrance may hold parked
    ARGV[8]  replyTo, or ''
    ARGV[9]  correlationId, or ''
    ARGV[10] taskType
    ARGV[11] sha256 of the body, or ''
    ARGV[12] expiresAt as written, or ''
    ARGV[13] expiresAt (ms)
    ARGV[14] activateAt as written, or ''
    ARGV[15] activateAt (ms): after now, the item is scheduled
    ARGV[16] trace context (the reopen flush continues it), or ''
    ARGV[17] TTL of the hourly stats (s)
    ARGV[18] TTL of the per-minute stats (s)
    ARGV[19] '1': restart="true" (a finished entry does not make a duplicate), else ''
    ARGV[20] dedupe.afterEndSeconds (0: a finished entry never makes a duplicate)
    ARGV[21] dueAt (ms), or '' (none): the overdue timer; a dueAt already past is due at once (overdue on arrival)
    ARGV[22] escalation plan (JSON, includes/escalation.lua), or '' (none)
    ARGV[23] how many of its rules applied on arrival already (the record's priority has them)

  Output (JSON):
    {outcome='accepted'|'parked'|'scheduled', contactId}  (stored state routed, buffered, scheduled)
    {outcome='known', contactId}   the index holds another item under (source, externalId)
    {outcome='finished', contactId, state}   an item of (source, externalId) finished (state ended, cancelled or
                                   expired) within dedupe.afterEndSeconds: a duplicate, counted as one here
    {outcome='park_limit'}         the entrance is closed and holds its most parked items
]]
--- @include "stat"
--- @include "escalation"
local k_item, k_index, k_unfinished, k_seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local k_entrance, k_parked, k_due_expire, k_due_activate = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local stats = { hour = KEYS[9], minute = KEYS[10], hour_ttl = ARGV[17], minute_ttl = ARGV[18] }
local cid, source, ext, entrance = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, max_parked, task = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[10]
local index_field = source .. '|' .. ext

local existing = redis.call('HGET', k_index, index_field)
if existing then return cjson.encode({ outcome = 'known', contactId = existing }) end
local after_end = tonumber(ARGV[20]) or 0
if ARGV[19] ~= '1' and after_end > 0 then
  local finished = redis.call('GET', KEYS[11])
  if finished then
    local f_cid, f_state, f_at = string.match(finished, '^([^|]*)|([^|]*)|(%d+)$')
    -- Its TTL was set with the afterEndSeconds of its end; a shorter one configured since counts from now on.
    if f_cid and now - tonumber(f_at) < after_end * 1000 then
      stat(stats, 'duplicate', task, entrance, 1)
      return cjson.encode({ outcome = 'finished', contactId = f_cid, state = f_state })
    end
  end
end

local state = 'routed'
local activate_ms = tonumber(ARGV[15])
if ARGV[14] ~= '' and activate_ms and activate_ms > now then
  state = 'scheduled'
elseif redis.call('HGET', k_entrance, 'state') == 'closed' then
  if redis.call('ZCARD', k_parked) >= max_parked then return cjson.encode({ outcome = 'park_limit' }) end
  state = 'buffered'
end
local seq = redis.call('INCR', k_seq)
redis.call('HSET', k_item, 'rec', ARGV[5], 'state', state, 'entrance', entrance, 'source', source,
  'externalId', ext, 'taskType', task, 'seq', seq, 'receivedAt', now, 'replyTo', ARGV[8], 'corrId', ARGV[9])
if ARGV[11] ~= '' then redis.call('HSET', k_item, 'bodySha', ARGV[11]) end
if ARGV[16] ~= '' then redis.call('HSET', k_item, 'tp', ARGV[16]) end
if ARGV[12] ~= '' then
  redis.call('HSET', k_item, 'expiresAt', ARGV[12])
  redis.call('ZADD', k_due_expire, ARGV[13], cid)
end
if state == 'buffered' then
  redis.call('HSET', k_item, 'parkedAt', now)
  redis.call('ZADD', k_parked, seq, cid)
elseif state == 'scheduled' then
  redis.call('HSET', k_item, 'activateAt', ARGV[14])
  redis.call('ZADD', k_due_activate, activate_ms, cid)
end
if ARGV[21] ~= '' then redis.call('ZADD', KEYS[12], ARGV[21], cid) end
if ARGV[22] ~= '' then
  redis.call('HSET', k_item, 'escPlan', ARGV[22])
  esc_arm(k_item, KEYS[13], cid, cjson.decode(ARGV[22]), tonumber(ARGV[23]))
end
redis.call('HSET', k_index, index_field, cid)
redis.call('ZADD', k_unfinished, seq, cid)
local outcome = ({ routed = 'accepted', buffered = 'parked', scheduled = 'scheduled' })[state]
-- The report counter has the wire word (receipt, metrics, report, dashboard): a parked arrival counts as buffered.
stat(stats, ({ parked = 'buffered' })[outcome] or outcome, task, entrance, 1)
return cjson.encode({ outcome = outcome, contactId = cid })
