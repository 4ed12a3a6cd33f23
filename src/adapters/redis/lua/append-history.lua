--[[
  Appends steps to the histories of one or more items (the appends of one event-loop tick, in the order they were
  made). Per item: a repeat of the latest step (same step and reason, collapse '1', one step) is collapsed into it
  (counted, first time kept); the list keeps its first step plus the latest (max - 1), counting what was dropped in
  between. The expiry is set from a final step (ended, cancelled, expired), and for a history whose item is not in
  Redis (a late step after the end, or an item Redis lost): a history never outlives its item by more than that, and
  never stays without an expiry once the item is gone.

  Input:
    KEYS[1], KEYS[2], KEYS[3]   the first append's item: history list, dropped-steps counter, item hash
    KEYS[3i-2], KEYS[3i-1], KEYS[3i]   the same for the i-th append

    ARGV[1]  most steps kept
    ARGV[2]  expiry (ms)
    then per append, in KEYS order:
      final     '1': a final step is among them
      collapse  '1': collapse a repeat of the latest step
      n         how many steps follow
      n steps (JSON), oldest first

  Output (JSON): {lengths}   per append, the steps in its list afterwards
]]
local max = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])

local function append(list, dropped, item, final, collapse, first, last)
  local from = first
  if collapse and first == last then
    local latest = redis.call('LINDEX', list, -1)
    if latest then
      local ok, l = pcall(cjson.decode, latest)
      local ok2, s = pcall(cjson.decode, ARGV[first])
      if ok and ok2 and type(l) == 'table' and type(s) == 'table' and l.s == s.s and l.r == s.r then
        s.n = (tonumber(l.n) or 1) + 1
        s.t0 = l.t0 or l.t
        redis.call('LSET', list, -1, cjson.encode(s))
        from = first + 1
      end
    end
  end
  for i = from, last do redis.call('RPUSH', list, ARGV[i]) end
  local len = redis.call('LLEN', list)
  if len > max then
    local excess = len - max
    local head = redis.call('LINDEX', list, 0)
    redis.call('LTRIM', list, excess, -1)
    redis.call('LSET', list, 0, head)
    redis.call('INCRBY', dropped, excess)
  end
  if final or (redis.call('PTTL', list) == -1 and redis.call('EXISTS', item) == 0) then
    redis.call('PEXPIRE', list, ttl)
  end
  local pttl = redis.call('PTTL', list)
  if pttl > 0 and redis.call('EXISTS', dropped) == 1 then redis.call('PEXPIRE', dropped, pttl) end
  return len
end

local lengths = {}
local a = 3
for k = 1, #KEYS, 3 do
  local n = tonumber(ARGV[a + 2])
  lengths[#lengths + 1] = append(KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[a] == '1', ARGV[a + 1] == '1', a + 3, a + 2 + n)
  a = a + 3 + n
end
return cjson.encode({ lengths = lengths })
