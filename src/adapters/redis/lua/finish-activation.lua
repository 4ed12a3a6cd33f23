--[[
  An activation's event is confirmed, or its parked message is: the claim is dropped.

  Input:
    KEYS[1]  due:activate:claimed sorted set

    ARGV[1]  contactId

  Output (JSON): {}
]]
redis.call('ZREM', KEYS[1], ARGV[1])
return cjson.encode({})
