--[[
  A work item whose (source, externalId) the index holds already (accept-item.lua answered 'known'): counted as a
  duplicate, answered with the stored item. An index entry whose item is gone is dropped: accept again.

  Input:
    KEYS[1]  item hash of ARGV[1]
    KEYS[2]  index hash
    KEYS[3]  stats hash of this hour
    KEYS[4]  stats hash of this minute

    ARGV[1]  contactId the index named
    ARGV[2]  source
    ARGV[3]  externalId
    ARGV[4]  taskType of the new message
    ARGV[5]  entrance of the new message
    ARGV[6]  TTL of the hourly stats (s)
    ARGV[7]  TTL of the per-minute stats (s)

  Output (JSON):
    {outcome='duplicate', contactId, state, rec}
    {outcome='moved'}   the index no longer names ARGV[1] (it changed meanwhile, or its item was gone): accept again
]]
--- @include "item-fields"
--- @include "stat"
local k_item, k_index = KEYS[1], KEYS[2]
local stats = { hour = KEYS[3], minute = KEYS[4], hour_ttl = ARGV[6], minute_ttl = ARGV[7] }
local cid, index_field = ARGV[1], ARGV[2] .. '|' .. ARGV[3]

if redis.call('HGET', k_index, index_field) ~= cid then return cjson.encode({ outcome = 'moved' }) end
local f = item_fields(k_item)
if not f then
  redis.call('HDEL', k_index, index_field)
  return cjson.encode({ outcome = 'moved' })
end
stat(stats, 'duplicate', ARGV[4], ARGV[5], 1)
return cjson.encode({ outcome = 'duplicate', contactId = cid, state = f.state, rec = f.rec })
