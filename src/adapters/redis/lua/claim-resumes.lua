--[[
  Contract 1.2: claims due resumes (a held item's until reached): each held item is resumed in this step as a new
  arrival (resume_one: scheduled again, parked at a closed entrance, or routed and marked placing). The claim, in the
  claimed set with a lease deadline, lasts until finish-claim.lua (its event published or its parked message sent). A
  claim whose lease ran out (its instance died) is taken over while the item still carries its `resumed` mark (its
  contact.created not confirmed), its state saying what is left to do; so with several instances each until resumes
  its item once, and a crash gives the event at least once, with the same contactId.
  The caller read the candidates (claims whose lease ran out first, then due entries) and each one's entrance, and
  passes their keys; each is checked again here and skipped when no longer due (another instance claimed it).

  Input:
    KEYS[1]  due:resume sorted set (score: until ms)
    KEYS[2]  due:resume:claimed sorted set (score: lease deadline ms)
    KEYS[3]  unfinished sorted set
    KEYS[4]  seq counter
    KEYS[5]  due:activate sorted set
    KEYS[6]  notifications due sorted set
    KEYS[7]  notifications body hash
    KEYS[8..] per candidate, in the order of ARGV[4..]: item hash, parked sorted set and entrance hash of its entrance

    ARGV[1]  now (ms)
    ARGV[2]  lease (ms)
    ARGV[3]  how many of the candidates are claims to take over (they come first)
    ARGV[4..] per candidate: contactId, entrance ('' when the caller found no item)

  Output (JSON):
    {claims=[{contactId, state, rec, dueMs, retaken, activateMs}...], nextDueMs}
      state: routed, buffered or scheduled; dueMs: '0' for a claim taken over; activateMs: when scheduled again;
      nextDueMs: absent when none is waiting
  Each resume writes the sender's `resumed` notification (its until came: there is no receipt).
]]
--- @include "item-fields"
--- @include "claim-due"
--- @include "resume-one"
--- @include "notify"
local k_due, k_claimed = KEYS[1], KEYS[2]
local now, lease, retakes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local placed = { routed = true, buffered = true, scheduled = true }
local claims = {}
local c = { due = k_due, claimed = k_claimed, now = now, lease = lease, claims = claims }
for i = 1, (#ARGV - 3) / 2 do
  local cid, entrance = ARGV[2 + 2 * i], ARGV[3 + 2 * i]
  local base = 8 + 3 * (i - 1)
  local k = { item = KEYS[base], parked = KEYS[base + 1], entrance = KEYS[base + 2], unfinished = KEYS[3], seq = KEYS[4],
    due_activate = KEYS[5], due_resume = k_due, notes_due = KEYS[6], notes_body = KEYS[7] }
  local f = item_fields(k.item)
  claim_due(c, cid, entrance, f, i <= retakes, {
    retake = function()
      if not (f and placed[f.state] and redis.call('HGET', k.item, 'resumed') == '1') then return nil end
      return { contactId = cid, state = f.state, rec = f.rec, dueMs = '0' }
    end,
    fresh = function(due_ms)
      if not f or f.state ~= 'held' then return nil end
      notify(k, 'resumed', cid, f, now, { by = 'until' })
      local state, activate_ms = resume_one(k, cid, f, now)
      return { contactId = cid, state = state, rec = f.rec, dueMs = due_ms, activateMs = activate_ms }
    end,
  })
end
local nxt = redis.call('ZRANGE', k_due, 0, 0, 'WITHSCORES')
return cjson.encode({ claims = claims, nextDueMs = nxt[2] })
