--[[
  An item's overdue steps are done (history, metric): its claim is dropped.

  Input:
    KEYS[1]  due:overdue:claimed sorted set

    ARGV[1]  contactId

  Output (JSON): {}
]]
redis.call('ZREM', KEYS[1], ARGV[1])
return cjson.encode({})
