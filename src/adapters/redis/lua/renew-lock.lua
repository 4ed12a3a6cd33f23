--[[
  Extends a lease while its owner still holds it.

  Input:
    KEYS[1]  lock

    ARGV[1]  owner
    ARGV[2]  lease (ms)

  Output (JSON): {renewed}
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return cjson.encode({ renewed = true })
end
return cjson.encode({ renewed = false })
