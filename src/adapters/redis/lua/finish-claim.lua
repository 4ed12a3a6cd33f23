--[[
  A due-timer claim is done (an activation's or a resume's event or parked message is confirmed; an item's overdue
  steps are written; an escalation's contact.updated is confirmed): the claim is dropped from its claimed set.

  Input:
    KEYS[1]  the claimed sorted set (due:activate:claimed, due:overdue:claimed, due:resume:claimed or
             due:escalate:claimed)

    ARGV[1]  contactId

  Output (JSON): {}
]]
redis.call('ZREM', KEYS[1], ARGV[1])
return cjson.encode({})
