--[[
  A routed item goes back to parked (the contact center rejected it, or nobody took its event), keeping its place
  (seq) in its entrance's parked order. Its sender hears `buffered` (ARGV[4]) unless it never heard `routed`: an item
  routed from waiting whose event was never confirmed (still marked `nr`) just loses the mark.

  Input:
    KEYS[1]  item hash of ARGV[1]
    KEYS[2]  parked sorted set of ARGV[2]
    KEYS[3]  notifications due sorted set
    KEYS[4]  notifications body hash

    ARGV[1]  contactId
    ARGV[2]  its entrance (as the caller read it)
    ARGV[3]  now (ms)
    ARGV[4]  the `buffered` notification's reason, or '': none (an arrival, whose receipt says buffered)

  Output (JSON):
    {outcome='parked', rec}
    {outcome='not_routed'}
    {outcome='unknown'}
    {outcome='moved', entrance}   the item is at another entrance: call again with that one's keys
]]
--- @include "item-fields"
--- @include "notify"
local k_item, k_parked = KEYS[1], KEYS[2]
local k = { item = k_item, notes_due = KEYS[3], notes_body = KEYS[4] }
local cid = ARGV[1]
local f = item_fields(k_item)
if not f then return cjson.encode({ outcome = 'unknown' }) end
if f.entrance ~= ARGV[2] then return cjson.encode({ outcome = 'moved', entrance = f.entrance }) end
if f.state ~= 'routed' then return cjson.encode({ outcome = 'not_routed' }) end
redis.call('HSET', k_item, 'state', 'buffered', 'parkedAt', ARGV[3])
redis.call('HDEL', k_item, 'placing')
if redis.call('HDEL', k_item, 'nr') == 0 and ARGV[4] ~= '' then
  notify(k, 'buffered', cid, f, tonumber(ARGV[3]), { reason = ARGV[4] })
end
redis.call('ZADD', k_parked, f.seq, cid)
return cjson.encode({ outcome = 'parked', rec = f.rec })
