--[[
  Takes a lease (or extends it for its owner) and answers its fencing token, incremented at each new owner.

  Input:
    KEYS[1]  lock
    KEYS[2]  fencing counter of the lock

    ARGV[1]  owner
    ARGV[2]  lease (ms)

  Output (JSON):
    {outcome='acquired', fence}
    {outcome='held'}   another owner holds it
]]
local k_lock, k_fence = KEYS[1], KEYS[2]
if redis.call('SET', k_lock, ARGV[1], 'NX', 'PX', ARGV[2]) then
  return cjson.encode({ outcome = 'acquired', fence = redis.call('INCR', k_fence) })
end
if redis.call('GET', k_lock) == ARGV[1] then
  redis.call('PEXPIRE', k_lock, ARGV[2])
  return cjson.encode({ outcome = 'acquired', fence = tonumber(redis.call('GET', k_fence)) })
end
return cjson.encode({ outcome = 'held' })
