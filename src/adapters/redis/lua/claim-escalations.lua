--[[
  Contract 1.2: claims due escalations (the time of an item's next rule reached). The due rules of the item's plan
  (includes/escalation.lua; from escDone on, several when their times passed together, e.g. after a downtime) are
  applied in this step: they count as fired, the next rule is armed, and the stored priority rises to the highest of
  them when it is lower (the record's priority, and `ver`, so that a sender's update read before this merges again
  instead of writing the old priority back). A raise is a claim, in the claimed set with a lease deadline until
  finish-claim.lua (its contact.updated confirmed, for a routed item); its from, to and rules are kept in `escLast`,
  so a claim whose lease ran out (its instance died) is taken over with them: the stored change happens once, the
  event at least once. Rules that raise nothing (the priority is not lower) fire without a claim.
  A routed item whose contact.created may not be confirmed yet (a flush's or a resume's `placing`, an activation's
  `nr` mark, or an arrival less than ARGV[4] ms ago) is not escalated now: its entry moves ARGV[5] ms ahead, so its
  contact.updated never overtakes that event.
  The caller read the candidates (claims whose lease ran out first, then due entries) and passes their item keys;
  each is checked again here and skipped when no longer due (another instance claimed it).

  Input:
    KEYS[1]  due:escalate sorted set (score: the time of the item's next rule, ms)
    KEYS[2]  due:escalate:claimed sorted set (score: lease deadline ms)
    KEYS[3..] per candidate, in the order of ARGV[6..]: item hash

    ARGV[1]  now (ms)
    ARGV[2]  lease (ms)
    ARGV[3]  how many of the candidates are claims to take over (they come first)
    ARGV[4]  how long after its arrival a routed item's contact.created may still be on its way (ms)
    ARGV[5]  how long a routed item whose contact.created is not confirmed waits before it is looked at again (ms)
    ARGV[6..] per candidate: contactId

  Output (JSON):
    {claims=[{contactId, state, rec, from, to, rules, dueMs, retaken}...], nextDueMs}
      state: as stored; rec: the record with the raised priority; rules: those that fired, as configured; dueMs: the
      time of the first of them ('0' for a claim taken over); nextDueMs: absent when none is waiting
]]
--- @include "item-fields"
--- @include "escalation"
local k_due, k_claimed = KEYS[1], KEYS[2]
local now, lease, retakes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local arrival_ms, wait_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
local unfinished = { routed = true, buffered = true, scheduled = true, held = true }
local claims = {}
for i = 1, #ARGV - 5 do
  local cid, k_item = ARGV[5 + i], KEYS[2 + i]
  local f = item_fields(k_item)
  if i <= retakes then
    local deadline = tonumber(redis.call('ZSCORE', k_claimed, cid) or '')
    if deadline and deadline <= now then
      local last = redis.call('HGET', k_item, 'escLast')
      if f and unfinished[f.state] and last then
        local l = cjson.decode(last)
        redis.call('ZADD', k_claimed, now + lease, cid)
        table.insert(claims, { contactId = cid, state = f.state, rec = f.rec, from = l.from, to = l.to, rules = l.rules,
          dueMs = '0', retaken = true })
      else
        redis.call('ZREM', k_claimed, cid)
      end
    end
  else
    local due_ms = redis.call('ZSCORE', k_due, cid)
    if due_ms and tonumber(due_ms) <= now then
      local v = redis.call('HMGET', k_item, 'placing', 'nr', 'escPlan', 'escDone')
      if not f or not unfinished[f.state] or not v[3] then
        redis.call('ZREM', k_due, cid)
      elseif f.state == 'routed' and (v[1] or v[2] or now - f.receivedAt < arrival_ms) then
        redis.call('ZADD', k_due, now + wait_ms, cid)
      else
        local plan, done = cjson.decode(v[3]), tonumber(v[4] or '0')
        local top, fired = 0, {}
        while done < #plan and plan[done + 1].at <= now do
          done = done + 1
          if plan[done].p > top then top = plan[done].p end
          table.insert(fired, plan[done].rule)
        end
        esc_arm(k_item, k_due, cid, plan, done)
        local from = esc_priority(f.rec)
        if from and top > from then
          local rec = esc_with_priority(f.rec, top)
          redis.call('HSET', k_item, 'rec', rec, 'escLast', cjson.encode({ from = from, to = top, rules = fired }))
          redis.call('HINCRBY', k_item, 'ver', 1)
          redis.call('ZADD', k_claimed, now + lease, cid)
          table.insert(claims, { contactId = cid, state = f.state, rec = rec, from = from, to = top, rules = fired,
            dueMs = due_ms, retaken = false })
        end
      end
    end
  end
end
local nxt = redis.call('ZRANGE', k_due, 0, 0, 'WITHSCORES')
return cjson.encode({ claims = claims, nextDueMs = nxt[2] })
