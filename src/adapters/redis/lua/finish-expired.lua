--[[
  An expiry's event, receipt and error copy are confirmed: its outbox entry and claim are dropped.

  Input:
    KEYS[1]  outbox entry (expiring:) of ARGV[1]
    KEYS[2]  due:expire:claimed sorted set

    ARGV[1]  contactId

  Output (JSON): {}
]]
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return cjson.encode({})
