--[[
  Notifications whose publish the broker confirmed leave the outbox (claim-notifications.lua took them).

  Input:
    KEYS[1]  notifications due sorted set
    KEYS[2]  notifications body hash

    ARGV[1..] notification ids

  Output (JSON):
    {removed}
]]
local removed = 0
for i = 1, #ARGV do
  removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
end
return cjson.encode({ removed = removed })
