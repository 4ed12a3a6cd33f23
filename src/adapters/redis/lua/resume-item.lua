--[[
  Contract 1.2: resumes a held item, by its sender (<resumeWorkItem>) or an operator (the dashboard), in one step: it
  comes back as a new arrival (resume_one: scheduled again, parked at a closed entrance, or routed and marked placing).
  The resume id of the last resume applied is kept: the same resume again (sameAgain: a redelivery, the same
  message_id) changes nothing, whatever the item's state now. An item that is not held is answered `already` while a
  resume of it is not placed yet (its `resumed` mark: routed with its event unconfirmed, parked, or scheduled again),
  else `not_held`.

  Input:
    KEYS[1]  item hash of ARGV[1]
    KEYS[2]  index hash (source|externalId -> contactId)
    KEYS[3]  unfinished sorted set (score: seq)
    KEYS[4]  seq counter
    KEYS[5]  entrance hash of ARGV[4]
    KEYS[6]  parked sorted set of ARGV[4]
    KEYS[7]  due:activate sorted set
    KEYS[8]  due:resume sorted set
    KEYS[9]  notifications due sorted set
    KEYS[10] notifications body hash

    ARGV[1]  contactId the index named (as the caller read it)
    ARGV[2]  source
    ARGV[3]  externalId
    ARGV[4]  its entrance (as the caller read it)
    ARGV[5]  now (ms)
    ARGV[6]  resume id, or '' (an operator's resume)
    ARGV[7]  '1': a resume whose id is the item's last resume id is that resume again
    ARGV[8]  by: 'sender', or 'dashboard:<user>' (an operator): an operator's resume is notified `resumed` (a sender's
             is answered by its receipt)

  Output (JSON):
    {outcome='resumed', state, rec, activateMs}   state: routed, buffered or scheduled; activateMs when scheduled
    {outcome='already', state, rec, placing}      resumed before; placing: routed with its event not confirmed (ms)
    {outcome='not_held', state, rec}
    {outcome='not_found'}
    {outcome='moved'}   the index names another item, or the item is at another entrance: read again
]]
--- @include "item-fields"
--- @include "resume-one"
--- @include "notify"
local k = { item = KEYS[1], unfinished = KEYS[3], seq = KEYS[4], entrance = KEYS[5], parked = KEYS[6],
  due_activate = KEYS[7], due_resume = KEYS[8], notes_due = KEYS[9], notes_body = KEYS[10] }
local cid, now, resume_id = ARGV[1], tonumber(ARGV[5]), ARGV[6]
local named = redis.call('HGET', KEYS[2], ARGV[2] .. '|' .. ARGV[3])
if not named then return cjson.encode({ outcome = 'not_found' }) end
if named ~= cid then return cjson.encode({ outcome = 'moved' }) end
local f = item_fields(k.item)
if not f then return cjson.encode({ outcome = 'not_found' }) end
if f.entrance ~= ARGV[4] then return cjson.encode({ outcome = 'moved' }) end
local v = redis.call('HMGET', k.item, 'resumeId', 'resumed', 'placing')
if (ARGV[7] == '1' and resume_id ~= '' and v[1] == resume_id) or (f.state ~= 'held' and v[2] == '1') then
  return cjson.encode({ outcome = 'already', state = f.state, rec = f.rec, placing = tonumber(v[3]) })
end
if f.state ~= 'held' then return cjson.encode({ outcome = 'not_held', state = f.state, rec = f.rec }) end
if ARGV[8] ~= 'sender' then notify(k, 'resumed', cid, f, now, { by = ARGV[8] }) end
local state, activate_ms = resume_one(k, cid, f, now)
if resume_id ~= '' then redis.call('HSET', k.item, 'resumeId', resume_id) end
return cjson.encode({ outcome = 'resumed', state = state, rec = f.rec, activateMs = activate_ms })
