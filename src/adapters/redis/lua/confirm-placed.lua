--[[
  Routed items' contact.created events are confirmed (a flush's, a resume's, an activation's of a resumed item): they
  are placed (their `placing` mark, set by route-one or resume-one, goes) and, resumed from hold, no longer `resumed`
  (later events of them are not). An item that is no longer routed (parked again, ended) is left as it is.

  Input:
    KEYS[1]    item hash of the first routed item
    KEYS[2..]  item hashes of the others

  Output (JSON):
    {confirmed}   how many marks were cleared
]]
local confirmed = 0
for i = 1, #KEYS do
  if redis.call('HGET', KEYS[i], 'state') == 'routed' then
    confirmed = confirmed + redis.call('HDEL', KEYS[i], 'placing')
    redis.call('HDEL', KEYS[i], 'resumed')
  end
end
return cjson.encode({ confirmed = confirmed })
