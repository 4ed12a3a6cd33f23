--[[
  A flush's events are confirmed: its routed items are placed (their `placing` mark, set by route-one, goes). An item
  that is no longer routed (parked again, ended) is left as it is.

  Input:
    KEYS[1]    item hash of the first routed item
    KEYS[2..]  item hashes of the others

  Output (JSON):
    {confirmed}   how many marks were cleared
]]
local confirmed = 0
for i = 1, #KEYS do
  if redis.call('HGET', KEYS[i], 'state') == 'routed' then confirmed = confirmed + redis.call('HDEL', KEYS[i], 'placing') end
end
return cjson.encode({ confirmed = confirmed })
