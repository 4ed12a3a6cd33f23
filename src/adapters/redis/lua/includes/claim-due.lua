--[[
  claim_due(c, cid, entrance, f, retake, hooks): one candidate of a due-timer claim script (claim-activations,
  claim-overdue, claim-expired, claim-resumes all take their candidates this way).
  retake: the caller named it as a claim whose lease ran out (its instance died before finishing): it is taken over,
    its lease renewed, when hooks.retake() answers its claim entry (there is still something to do), else it leaves
    the claimed set.
  else: when it is due now and its item (f: its item_fields, nil when gone) is still at the entrance the caller read,
    it leaves the due set, and hooks.fresh(due_ms) makes the transition and answers its claim entry (held under a lease
    until finish-claim.lua), or nil (nothing to do, no claim).
  Each answered entry gets `retaken` and goes to c.claims.
  c = { due (sorted set: score due time), claimed (sorted set: score lease deadline), now, lease, claims }
]]
local function claim_due(c, cid, entrance, f, retake, hooks)
  if retake then
    local deadline = tonumber(redis.call('ZSCORE', c.claimed, cid) or '')
    if not deadline or deadline > c.now then return end
    local entry = hooks.retake()
    if entry then
      redis.call('ZADD', c.claimed, c.now + c.lease, cid)
      entry.retaken = true
      table.insert(c.claims, entry)
    else
      redis.call('ZREM', c.claimed, cid)
    end
    return
  end
  local due_ms = redis.call('ZSCORE', c.due, cid)
  if not due_ms or tonumber(due_ms) > c.now or (f and f.entrance ~= entrance) then return end
  redis.call('ZREM', c.due, cid)
  local entry = hooks.fresh(due_ms)
  if entry then
    redis.call('ZADD', c.claimed, c.now + c.lease, cid)
    entry.retaken = false
    table.insert(c.claims, entry)
  end
end
