--[[
  Claims due activations (activateAt reached): each scheduled item becomes a new arrival in this step, with a new seq:
  routed, or parked (in the parked order) when its entrance is closed now. The claim, in the claimed set with a lease
  deadline, lasts until finish-claim.lua (its event published or its parked message sent). A claim whose lease
  ran out is taken over, the item's state (routed or buffered) saying what is left to do.
  The caller read the candidates (claims whose lease ran out first, then due entries) and each one's entrance, and
  passes their keys; each is checked again here and skipped when no longer due (another instance claimed it).

  Input:
    KEYS[1]  due:activate sorted set (score: activateAt ms)
    KEYS[2]  due:activate:claimed sorted set (score: lease deadline ms)
    KEYS[3]  unfinished sorted set
    KEYS[4]  seq counter
    KEYS[5]  stats hash of this hour
    KEYS[6]  stats hash of this minute
    KEYS[7..] per candidate, in the order of ARGV[6..]: item hash, parked sorted set and entrance hash of its entrance

    ARGV[1]  now (ms)
    ARGV[2]  lease (ms)
    ARGV[3]  TTL of the hourly stats (s)
    ARGV[4]  TTL of the per-minute stats (s)
    ARGV[5]  how many of the candidates are claims to take over (they come first)
    ARGV[6..] per candidate: contactId, entrance ('' when the caller found no item)

  Output (JSON):
    {claims=[{contactId, state, rec, dueMs, retaken, resumed}...], nextDueMs}
      state: routed or buffered; dueMs: '0' for a claim taken over; resumed: it came back from hold (a resume made it
      scheduled again), its contact.created says so; nextDueMs: absent when none is due
]]
--- @include "item-fields"
--- @include "stat"
--- @include "claim-due"
local k_due, k_claimed, k_unfinished, k_seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local stats = { hour = KEYS[5], minute = KEYS[6], hour_ttl = ARGV[3], minute_ttl = ARGV[4] }
local now, lease, retakes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[5])
local claims = {}
local c = { due = k_due, claimed = k_claimed, now = now, lease = lease, claims = claims }
for i = 1, (#ARGV - 5) / 2 do
  local cid, entrance = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  local base = 7 + 3 * (i - 1)
  local k_item, k_parked, k_entrance = KEYS[base], KEYS[base + 1], KEYS[base + 2]
  local f = item_fields(k_item)
  claim_due(c, cid, entrance, f, i <= retakes, {
    retake = function()
      if not f or (f.state ~= 'routed' and f.state ~= 'buffered') then return nil end
      return { contactId = cid, state = f.state, rec = f.rec, dueMs = '0', resumed = redis.call('HGET', k_item, 'resumed') == '1' }
    end,
    fresh = function(due_ms)
      if not f or f.state ~= 'scheduled' then return nil end
      local state = 'routed'
      if redis.call('HGET', k_entrance, 'state') == 'closed' then state = 'buffered' end
      local seq = redis.call('INCR', k_seq)
      redis.call('HSET', k_item, 'state', state, 'seq', seq)
      -- `nr`: its `routed` notification is written once its event is confirmed (confirm-placed.lua).
      if state == 'routed' then redis.call('HSET', k_item, 'nr', '1') end
      redis.call('ZADD', k_unfinished, seq, cid)
      if state == 'buffered' then
        redis.call('HSET', k_item, 'parkedAt', now)
        redis.call('ZADD', k_parked, seq, cid)
      end
      stat(stats, 'activated', f.taskType, f.entrance, 1)
      return { contactId = cid, state = state, rec = f.rec, dueMs = due_ms, resumed = redis.call('HGET', k_item, 'resumed') == '1' }
    end,
  })
end
local nxt = redis.call('ZRANGE', k_due, 0, 0, 'WITHSCORES')
return cjson.encode({ claims = claims, nextDueMs = nxt[2] })
