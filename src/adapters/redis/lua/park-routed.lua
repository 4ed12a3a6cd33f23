--[[
  A routed item goes back to parked (the contact center rejected it, or nobody took its event), keeping its place
  (seq) in its entrance's parked order.

  Input:
    KEYS[1]  item hash of ARGV[1]
    KEYS[2]  parked sorted set of ARGV[2]

    ARGV[1]  contactId
    ARGV[2]  its entrance (as the caller read it)
    ARGV[3]  now (ms)

  Output (JSON):
    {outcome='parked', rec}
    {outcome='not_routed'}
    {outcome='unknown'}
    {outcome='moved', entrance}   the item is at another entrance: call again with that one's keys
]]
--- @include "item-fields"
local k_item, k_parked = KEYS[1], KEYS[2]
local cid = ARGV[1]
local f = item_fields(k_item)
if not f then return cjson.encode({ outcome = 'unknown' }) end
if f.entrance ~= ARGV[2] then return cjson.encode({ outcome = 'moved', entrance = f.entrance }) end
if f.state ~= 'routed' then return cjson.encode({ outcome = 'not_routed' }) end
redis.call('HSET', k_item, 'state', 'buffered', 'parkedAt', ARGV[3])
redis.call('HDEL', k_item, 'placing')
redis.call('ZADD', k_parked, f.seq, cid)
return cjson.encode({ outcome = 'parked', rec = f.rec })
