--[[
  The agent pressed End: the item leaves every index, a tombstone stays, completion and handling time are counted, and
  its service level (includes/service-level.lua: time-to-end bucket, ended with / before its dueAt, read from its entry
  in due:overdue or, once overdue, in its entrance's overdue set; both scores are the dueAt).

  Input:
    KEYS[1]  item hash of ARGV[1]
    KEYS[2]  attachment of ARGV[1]
    KEYS[3]  tombstone of ARGV[1]
    KEYS[4]  index hash
    KEYS[5]  unfinished sorted set
    KEYS[6]  parked sorted set of ARGV[2]
    KEYS[7]  due:expire sorted set
    KEYS[8]  due:activate sorted set
    KEYS[9]  stats hash of this hour
    KEYS[10] stats hash of this minute
    KEYS[11] finished entry of ARGV[8]
    KEYS[12] due:overdue sorted set
    KEYS[13] overdue sorted set of ARGV[2]
    KEYS[14] due:resume sorted set
    KEYS[15] notifications due sorted set
    KEYS[16] notifications body hash
    KEYS[17] overdue-now count hash (per task type|entrance)
    KEYS[18] due:escalate sorted set

    ARGV[1]  contactId
    ARGV[2]  its entrance (as the caller read it)
    ARGV[3]  now (ms)
    ARGV[4]  tombstone TTL (s)
    ARGV[5]  TTL of the hourly stats (s)
    ARGV[6]  TTL of the per-minute stats (s)
    ARGV[7]  disposition code (already bounded by the caller), or '': counted as `disposition:<code>`
    ARGV[8]  the item's source|externalId (as the caller read it)
    ARGV[9]  how long the finished entry lives (s; dedupe.afterEndSeconds, 0: none)
    ARGV[10] disposition code as the contact center sent it, or '' (the `ended` notification's)
    ARGV[11] disposition text, or ''

  Output (JSON):
    {outcome='ended', entrance, taskType, handledMs, hadAttachment, due}   due: 'before', 'after' (its dueAt) or 'none'
    {outcome='unknown'}
    {outcome='moved', entrance}   the item is at another entrance: call again with that one's keys
]]
--- @include "item-fields"
--- @include "remove-item"
--- @include "stat"
--- @include "notify"
--- @include "service-level"
local k = { item = KEYS[1], attachment = KEYS[2], tombstone = KEYS[3], index = KEYS[4], unfinished = KEYS[5],
  parked = KEYS[6], due_expire = KEYS[7], due_activate = KEYS[8], finished = KEYS[11], finished_for = ARGV[8],
  due_overdue = KEYS[12], overdue = KEYS[13], due_resume = KEYS[14], notes_due = KEYS[15], notes_body = KEYS[16],
  due_escalate = KEYS[18] }
k.overdue_now = KEYS[17]
local stats = { hour = KEYS[9], minute = KEYS[10], hour_ttl = ARGV[5], minute_ttl = ARGV[6] }
local cid, now = ARGV[1], tonumber(ARGV[3])
local f = item_fields(k.item)
if not f then return cjson.encode({ outcome = 'unknown' }) end
if f.entrance ~= ARGV[2] then return cjson.encode({ outcome = 'moved', entrance = f.entrance }) end
-- fs/s3 stores keep no attachment key: the record says whether there is one to remove after this step.
local had_attachment = redis.call('EXISTS', k.attachment) == 1
  or (f.rec ~= nil and string.find(f.rec, '"attachment":{', 1, true) ~= nil)
local disposition = nil
if ARGV[10] ~= '' then disposition = { dispositionCode = ARGV[10], dispositionText = ARGV[11] } end
-- Still marked `nr` (routed from waiting, its confirm never recorded: the instance died in between, and the event
-- reached the contact center another way, e.g. a start-up replay): the agent ended it, so it was routed; say so first.
if redis.call('HDEL', k.item, 'nr') == 1 then notify(k, 'routed', cid, f, now) end
notify(k, 'ended', cid, f, now, disposition)
local due_ms = tonumber(redis.call('ZSCORE', k.due_overdue, cid) or redis.call('ZSCORE', k.overdue, cid))
remove_item(k, cid, f, 'ended', ARGV[4], { now = now, ttl = ARGV[9] })
local handled = now - f.receivedAt
stat(stats, 'completed', f.taskType, f.entrance, 1)
stat(stats, 'handledMs', f.taskType, f.entrance, handled)
if ARGV[7] ~= '' then stat(stats, 'disposition:' .. ARGV[7], f.taskType, f.entrance, 1) end
local due = ended_service_level(stats, f, now, due_ms)
return cjson.encode({ outcome = 'ended', entrance = f.entrance, taskType = f.taskType, handledMs = handled,
  hadAttachment = had_attachment, due = due })
