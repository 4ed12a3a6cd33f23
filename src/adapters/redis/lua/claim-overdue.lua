--[[
  Claims due overdue timers (dueAt passed, the item unfinished: routed, parked, scheduled or held). Each item is marked
  overdue in this step: its `overdueAt` field, its entrance's overdue sorted set (the workitem_overdue gauge), its task
  type's overdue-now count and the report counter `overdue`, and its `overdue` notification in the outbox; so an update moving its dueAt or its end,
  racing this, is decided in one step. What the caller does then (history step, metric) is covered by the claim, in
  the claimed set with a lease deadline until finish-claim.lua; a claim whose lease ran out (its instance died) is taken over while the item
  is still overdue. So with several instances each item becomes overdue once per dueAt.
  The caller read the candidates (claims whose lease ran out first, then due entries) and each one's entrance, and
  passes their keys; each is checked again here and skipped when no longer due (another instance claimed it).

  Input:
    KEYS[1]  due:overdue sorted set (score: dueAt ms)
    KEYS[2]  due:overdue:claimed sorted set (score: lease deadline ms)
    KEYS[3]  stats hash of this hour
    KEYS[4]  stats hash of this minute
    KEYS[5]  notifications due sorted set
    KEYS[6]  notifications body hash
    KEYS[7..] per candidate, in the order of ARGV[6..]: item hash, overdue sorted set of its entrance
    KEYS[#KEYS] (last, after the candidates) overdue-now count hash (per task type|entrance)

    ARGV[1]  now (ms)
    ARGV[2]  lease (ms)
    ARGV[3]  TTL of the hourly stats (s)
    ARGV[4]  TTL of the per-minute stats (s)
    ARGV[5]  how many of the candidates are claims to take over (they come first)
    ARGV[6..] per candidate: contactId, entrance ('' when the caller found no item)

  Output (JSON):
    {claims=[{contactId, rec, dueMs, overdueAt, retaken}...], nextDueMs}
      dueMs: the dueAt passed (ms); overdueAt: when it was marked (ms); nextDueMs: absent when none is waiting
]]
--- @include "item-fields"
--- @include "claim-due"
--- @include "stat"
--- @include "notify"
--- @include "service-level"
local k_due, k_claimed = KEYS[1], KEYS[2]
local stats = { hour = KEYS[3], minute = KEYS[4], hour_ttl = ARGV[3], minute_ttl = ARGV[4] }
local now, lease, retakes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[5])
local unfinished = { routed = true, buffered = true, scheduled = true, held = true }
local claims = {}
local c = { due = k_due, claimed = k_claimed, now = now, lease = lease, claims = claims }
for i = 1, (#ARGV - 5) / 2 do
  local cid, entrance = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  local base = 7 + 2 * (i - 1)
  local k_item, k_overdue = KEYS[base], KEYS[base + 1]
  local f = item_fields(k_item)
  claim_due(c, cid, entrance, f, i <= retakes, {
    retake = function()
      local overdue_at = redis.call('HGET', k_item, 'overdueAt')
      if not (f and unfinished[f.state] and overdue_at and f.entrance == entrance) then return nil end
      return { contactId = cid, rec = f.rec, dueMs = redis.call('ZSCORE', k_overdue, cid) or '0', overdueAt = overdue_at }
    end,
    fresh = function(due_ms)
      if not (f and unfinished[f.state] and redis.call('HEXISTS', k_item, 'overdueAt') == 0) then return nil end
      redis.call('HSET', k_item, 'overdueAt', now)
      if redis.call('ZADD', k_overdue, due_ms, cid) == 1 then overdue_now(KEYS[#KEYS], f.taskType, f.entrance, 1) end
      stat(stats, 'overdue', f.taskType, f.entrance, 1)
      notify({ item = k_item, notes_due = KEYS[5], notes_body = KEYS[6] }, 'overdue', cid, f, now, { dueMs = due_ms })
      return { contactId = cid, rec = f.rec, dueMs = due_ms, overdueAt = tostring(now) }
    end,
  })
end
local nxt = redis.call('ZRANGE', k_due, 0, 0, 'WITHSCORES')
return cjson.encode({ claims = claims, nextDueMs = nxt[2] })
