--[[
  Claims due expiries (expiresAt passed; routed, parked, scheduled or held). Each item leaves every index in this step (tombstoned, counted) and an outbox
  entry keeps what its event and receipt need; the claim, in the claimed set with a lease deadline, lasts until
  finish-expired.lua. A claim whose lease ran out (its instance died before finishing) is taken over. So with several
  instances each expiry is claimed once, and an unfinished one is finished after a crash.
  The caller read the candidates (claims whose lease ran out first, then due entries) and each one's entrance, and
  passes their keys; each is checked again here and skipped when no longer due (another instance claimed it).

  Input:
    KEYS[1]  due:expire sorted set (score: expiresAt ms)
    KEYS[2]  due:expire:claimed sorted set (score: lease deadline ms)
    KEYS[3]  index hash
    KEYS[4]  unfinished sorted set
    KEYS[5]  due:activate sorted set
    KEYS[6]  stats hash of this hour
    KEYS[7]  stats hash of this minute
    KEYS[8]  due:overdue sorted set
    KEYS[9]  due:resume sorted set
    KEYS[10] notifications due sorted set
    KEYS[11] notifications body hash
    KEYS[12] due:escalate sorted set
    KEYS[13..] per candidate, in the order of ARGV[8..]: item hash, attachment, tombstone, outbox entry (expiring:),
              parked sorted set of its entrance, finished entry of its source|externalId, overdue sorted set of its
              entrance
    KEYS[#KEYS] (last, after the candidates) overdue-now count hash (per task type|entrance)

    ARGV[1]  now (ms)
    ARGV[2]  lease (ms)
    ARGV[3]  tombstone TTL (s); the outbox entry lives as long
    ARGV[4]  TTL of the hourly stats (s)
    ARGV[5]  TTL of the per-minute stats (s)
    ARGV[6]  how many of the candidates are claims to take over (they come first)
    ARGV[7]  how long a finished entry lives (s; dedupe.afterEndSeconds, 0: none)
    ARGV[8..] per candidate: contactId, entrance ('' when the caller found no item), its source|externalId (or '')

  Output (JSON):
    {claims=[{contactId, rec, replyTo, corrId, state, expiresAt, dueMs, retaken}...], nextDueMs}
      state: the item's state when it expired; nextDueMs: when the next expiry is due (absent: none)
]]
--- @include "item-fields"
--- @include "claim-due"
--- @include "remove-item"
--- @include "stat"
--- @include "notify"
local k_due, k_claimed = KEYS[1], KEYS[2]
local stats = { hour = KEYS[6], minute = KEYS[7], hour_ttl = ARGV[4], minute_ttl = ARGV[5] }
local now, lease, tomb_ttl, retakes = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[6])
local fin = { now = now, ttl = ARGV[7] }
local claims = {}
local c = { due = k_due, claimed = k_claimed, now = now, lease = lease, claims = claims }
local unfinished = { routed = true, buffered = true, scheduled = true, held = true }
for i = 1, (#ARGV - 7) / 3 do
  local cid, entrance = ARGV[5 + 3 * i], ARGV[6 + 3 * i]
  local base = 13 + 7 * (i - 1)
  local k = { item = KEYS[base], attachment = KEYS[base + 1], tombstone = KEYS[base + 2], outbox = KEYS[base + 3],
    parked = KEYS[base + 4], index = KEYS[3], unfinished = KEYS[4], due_expire = k_due, due_activate = KEYS[5],
    finished = KEYS[base + 5], finished_for = ARGV[7 + 3 * i], due_overdue = KEYS[8], overdue = KEYS[base + 6],
    due_resume = KEYS[9], notes_due = KEYS[10], notes_body = KEYS[11], due_escalate = KEYS[12] }
  k.overdue_now = KEYS[#KEYS]
  local f = item_fields(k.item)
  claim_due(c, cid, entrance, f, i <= retakes, {
    retake = function()
      local v = redis.call('HMGET', k.outbox, 'rec', 'replyTo', 'corrId', 'state', 'expiresAt', 'dueMs')
      if not v[1] then return nil end
      return { contactId = cid, rec = v[1], replyTo = v[2] or '', corrId = v[3] or '', state = v[4] or '',
        expiresAt = v[5] or '', dueMs = v[6] or '0' }
    end,
    fresh = function(due_ms)
      if not (f and unfinished[f.state]) then return nil end
      local expires_at = redis.call('HGET', k.item, 'expiresAt') or ''
      redis.call('HSET', k.outbox, 'rec', f.rec, 'replyTo', f.replyTo, 'corrId', f.corrId, 'state', f.state,
        'expiresAt', expires_at, 'dueMs', due_ms)
      redis.call('EXPIRE', k.outbox, tomb_ttl)
      notify(k, 'expired', cid, f, now, { reason = 'expires-at' })
      remove_item(k, cid, f, 'expired', tomb_ttl, fin)
      stat(stats, 'expired', f.taskType, f.entrance, 1)
      return { contactId = cid, rec = f.rec, replyTo = f.replyTo, corrId = f.corrId, state = f.state,
        expiresAt = expires_at, dueMs = due_ms }
    end,
  })
end
local nxt = redis.call('ZRANGE', k_due, 0, 0, 'WITHSCORES')
return cjson.encode({ claims = claims, nextDueMs = nxt[2] })
