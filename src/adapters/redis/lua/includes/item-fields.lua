--[[
  item_fields(item_key): the fields most transitions read from an item hash, or nil when the item is gone.
  state: 'routed', 'buffered' (parked at a closed entrance: the receipt's word, kept as the stored value so the data
  of running deployments stays valid) or 'scheduled' (waits for its activateAt).
]]
local function item_fields(item_key)
  local v = redis.call('HMGET', item_key, 'state', 'entrance', 'source', 'externalId', 'taskType',
    'receivedAt', 'parkedAt', 'rec', 'replyTo', 'corrId', 'seq')
  if not v[1] then return nil end
  return { state = v[1], entrance = v[2], source = v[3], externalId = v[4], taskType = v[5],
    receivedAt = tonumber(v[6]), parkedAt = tonumber(v[7] or '0'), rec = v[8], replyTo = v[9] or '',
    corrId = v[10] or '', seq = tonumber(v[11]) }
end
