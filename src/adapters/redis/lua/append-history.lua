--[[
  Appends steps to an item's history: a repeat of the latest step (same step and reason, ARGV[4] = '1', one step)
  is collapsed into it (counted, first time kept); the list keeps its first step plus the latest (max - 1), counting
  what was dropped in between. The expiry is set from a final step (ended, cancelled, expired), and for a history
  whose item is not in Redis (a late step after the end, or an item Redis lost): a history never outlives its item by
  more than that, and never stays without an expiry once the item is gone.

  Input:
    KEYS[1]  history list of the item
    KEYS[2]  its dropped-steps counter
    KEYS[3]  item hash

    ARGV[1]  most steps kept
    ARGV[2]  expiry (ms)
    ARGV[3]  '1': a final step is among them
    ARGV[4]  '1': collapse a repeat of the latest step
    ARGV[5..] steps (JSON), oldest first

  Output (JSON): {length}   steps in the list now
]]
local list, dropped, item = KEYS[1], KEYS[2], KEYS[3]
local max = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local from = 5
if ARGV[4] == '1' and #ARGV == 5 then
  local last = redis.call('LINDEX', list, -1)
  if last then
    local ok, l = pcall(cjson.decode, last)
    local ok2, s = pcall(cjson.decode, ARGV[5])
    if ok and ok2 and type(l) == 'table' and type(s) == 'table' and l.s == s.s and l.r == s.r then
      s.n = (tonumber(l.n) or 1) + 1
      s.t0 = l.t0 or l.t
      redis.call('LSET', list, -1, cjson.encode(s))
      from = 6
    end
  end
end
for i = from, #ARGV do redis.call('RPUSH', list, ARGV[i]) end
local len = redis.call('LLEN', list)
if len > max then
  local excess = len - max
  local head = redis.call('LINDEX', list, 0)
  redis.call('LTRIM', list, excess, -1)
  redis.call('LSET', list, 0, head)
  redis.call('INCRBY', dropped, excess)
end
if ARGV[3] == '1' or (redis.call('PTTL', list) == -1 and redis.call('EXISTS', item) == 0) then
  redis.call('PEXPIRE', list, ttl)
end
local pttl = redis.call('PTTL', list)
if pttl > 0 and redis.call('EXISTS', dropped) == 1 then redis.call('PEXPIRE', dropped, pttl) end
return cjson.encode({ length = len })
