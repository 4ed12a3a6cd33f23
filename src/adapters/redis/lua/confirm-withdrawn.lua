--[[
  A held item's contact.withdrawn (reason held) is confirmed: its `withdrawing` mark (hold-item.lua) goes, so a later
  hold does not publish it again. An item that is no longer held is left as it is.

  Input:
    KEYS[1]  item hash

  Output (JSON): {confirmed}   whether a mark was cleared
]]
local confirmed = false
if redis.call('HGET', KEYS[1], 'state') == 'held' then confirmed = redis.call('HDEL', KEYS[1], 'withdrawing') == 1 end
return cjson.encode({ confirmed = confirmed })
