--[[
  An update's one atomic step (compare-and-set on the version readForUpdate gave): a repeated update id is answered
  'already'; a revision not above the last 'stale'; another update since the caller's read 'conflict'; else the merged
  record, revision, update id (the latest ARGV[12] are kept), what changed, task type and expiry (its due-set entry
  too) are stored. A new dueAt re-arms the overdue timer: its due-set entry is moved; an item overdue already whose
  dueAt moves into the future is not overdue any more (out of its entrance's overdue set) until the new one passes;
  one whose new dueAt has passed too stays overdue and is not marked again. The overdue-now count per task type follows
  (includes/service-level.lua): down when the item leaves the overdue set, moved when an overdue item's task type changes.
  A new escalation plan (ARGV[17]: the dueAt or the task type changed) replaces the item's (includes/escalation.lua):
  with the same rules, those that fired stay fired while their new time has passed, one whose new time is ahead fires
  again then (priority only rises by rule: it raises only a priority lower than its own), and one not fired whose time
  has passed is due at once; with other rules (another task type) none counts as fired.

  Input:
    KEYS[1]  item hash of ARGV[1]
    KEYS[2]  due:expire sorted set
    KEYS[3]  stats hash of this hour
    KEYS[4]  stats hash of this minute
    KEYS[5]  due:overdue sorted set
    KEYS[6]  overdue sorted set of the item's entrance
    KEYS[7]  overdue-now count hash (per task type|entrance)
    KEYS[8]  due:escalate sorted set

    ARGV[1]  contactId
    ARGV[2]  expected version
    ARGV[3]  update id
    ARGV[4]  how many of the latest update ids count as "this update again"
    ARGV[5]  revision, or ''
    ARGV[6]  merged record (JSON)
    ARGV[7]  what changed (JSON list)
    ARGV[8]  expiresAt as written, or '' (unchanged)
    ARGV[9]  expiresAt (ms)
    ARGV[10] sha256 of the body, or '' (unchanged)
    ARGV[11] taskType
    ARGV[12] how many update ids are kept
    ARGV[13] TTL of the hourly stats (s)
    ARGV[14] TTL of the per-minute stats (s)
    ARGV[15] dueAt (ms), or '' (unchanged)
    ARGV[16] now (ms)
    ARGV[17] the item's escalation plan made again (JSON), or '' (unchanged)

  Output (JSON):
    {outcome='updated', state}
    {outcome='already', state, last}   last: it is the latest update applied
    {outcome='stale', lastRevision}    lastRevision as stored (a string: it may exceed what cjson prints exactly)
    {outcome='conflict'}
    {outcome='not_found'}
]]
--- @include "item-fields"
--- @include "stat"
--- @include "service-level"
--- @include "escalation"
local k_item, k_due_expire = KEYS[1], KEYS[2]
local stats = { hour = KEYS[3], minute = KEYS[4], hour_ttl = ARGV[13], minute_ttl = ARGV[14] }
local cid = ARGV[1]
local f = item_fields(k_item)
if not f or (f.state ~= 'routed' and f.state ~= 'buffered' and f.state ~= 'scheduled' and f.state ~= 'held') then
  return cjson.encode({ outcome = 'not_found' })
end
local v = redis.call('HMGET', k_item, 'ver', 'rev', 'uids')
local ver, rev_text, uids = tonumber(v[1] or '0'), v[2] or '0', v[3] or ''
local id, depth, kept_max = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[12])
local n, kept = 0, {}
for u in string.gmatch(uids, '%S+') do
  n = n + 1
  if n <= depth and u == id then return cjson.encode({ outcome = 'already', state = f.state, last = n == 1 }) end
  if n < kept_max then table.insert(kept, u) end
end
if ARGV[5] ~= '' and tonumber(ARGV[5]) <= tonumber(rev_text) then
  return cjson.encode({ outcome = 'stale', lastRevision = rev_text })
end
if ver ~= tonumber(ARGV[2]) then return cjson.encode({ outcome = 'conflict' }) end
table.insert(kept, 1, id)
redis.call('HSET', k_item, 'rec', ARGV[6], 'ver', tostring(ver + 1), 'uids', table.concat(kept, ' '), 'uchg', ARGV[7],
  'urev', ARGV[5], 'taskType', ARGV[11])
if ARGV[5] ~= '' then redis.call('HSET', k_item, 'rev', ARGV[5]) end
if ARGV[8] ~= '' then
  redis.call('HSET', k_item, 'expiresAt', ARGV[8])
  redis.call('ZADD', k_due_expire, ARGV[9], cid)
end
if ARGV[10] ~= '' then redis.call('HSET', k_item, 'bodySha', ARGV[10]) end
if ARGV[15] ~= '' then
  local overdue_at = redis.call('HGET', k_item, 'overdueAt')
  if not overdue_at then
    redis.call('ZADD', KEYS[5], ARGV[15], cid)
  elseif tonumber(ARGV[15]) > tonumber(ARGV[16]) then
    redis.call('HDEL', k_item, 'overdueAt')
    if redis.call('ZREM', KEYS[6], cid) == 1 then overdue_now(KEYS[7], f.taskType, f.entrance, -1) end
    redis.call('ZADD', KEYS[5], ARGV[15], cid)
  end
end
if ARGV[11] ~= f.taskType and redis.call('ZSCORE', KEYS[6], cid) then
  overdue_now(KEYS[7], f.taskType, f.entrance, -1)
  overdue_now(KEYS[7], ARGV[11], f.entrance, 1)
end
if ARGV[17] ~= '' then
  local plan, now = cjson.decode(ARGV[17]), tonumber(ARGV[16])
  local e = redis.call('HMGET', k_item, 'escPlan', 'escDone')
  local done = 0
  if e[1] and esc_same_rules(cjson.decode(e[1]), plan) then
    done = tonumber(e[2] or '0')
    for j = 1, done do
      if plan[j].at > now then
        done = j - 1
        break
      end
    end
  end
  if #plan == 0 then
    redis.call('HDEL', k_item, 'escPlan', 'escDone')
    redis.call('ZREM', KEYS[8], cid)
  else
    redis.call('HSET', k_item, 'escPlan', ARGV[17])
    esc_arm(k_item, KEYS[8], cid, plan, done)
  end
end
stat(stats, 'updated', ARGV[11], f.entrance, 1)
return cjson.encode({ outcome = 'updated', state = f.state })
