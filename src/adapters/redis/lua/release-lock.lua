--[[
  Gives a lease back, if its owner still holds it.

  Input:
    KEYS[1]  lock

    ARGV[1]  owner

  Output (JSON): {released}
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return cjson.encode({ released = true })
end
return cjson.encode({ released = false })
