--[[
  Events of items routed from waiting (a flush, an activation, a resume) are confirmed: the items are placed. Their
  `placing` mark (set by route-one) goes, and their armed `routed` notification (the `note` field, includes/notify.lua)
  is released to be published now. An item that is no longer routed (parked again, ended) is left as it is.

  Input:
    KEYS[1]    notifications due sorted set
    KEYS[2]    item hash of the first routed item
    KEYS[3..]  item hashes of the others

    ARGV[1]    now (ms)

  Output (JSON):
    {confirmed}   how many marks were cleared
]]
local confirmed = 0
for i = 2, #KEYS do
  if redis.call('HGET', KEYS[i], 'state') == 'routed' then
    confirmed = confirmed + redis.call('HDEL', KEYS[i], 'placing')
    local note = redis.call('HGET', KEYS[i], 'note')
    if note then
      redis.call('ZADD', KEYS[1], 'XX', ARGV[1], note)
      redis.call('HDEL', KEYS[i], 'note')
    end
  end
end
return cjson.encode({ confirmed = confirmed })
