--[[
  remove_item(k, cid, f, why, tomb_ttl): removes every trace of an unfinished item (f: its item_fields) and leaves a
  tombstone saying why, so a late retry cannot revive it.
  k = { item, attachment, tombstone, index, unfinished, parked (of f.entrance), due_expire, due_activate }
]]
local function remove_item(k, cid, f, why, tomb_ttl)
  redis.call('DEL', k.item, k.attachment)
  redis.call('HDEL', k.index, f.source .. '|' .. f.externalId)
  redis.call('ZREM', k.unfinished, cid)
  redis.call('ZREM', k.parked, cid)
  redis.call('ZREM', k.due_expire, cid)
  redis.call('ZREM', k.due_activate, cid)
  redis.call('SET', k.tombstone, why, 'EX', tomb_ttl)
end
