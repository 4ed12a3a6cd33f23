--[[
  Routed items' contact.created events are confirmed (a flush's, a resume's, an activation's): they are placed (their
  `placing` mark, set by route-one or resume-one, goes), no longer `resumed` (later events of them are not), and their
  armed `routed` notification (the `note` field, includes/notify.lua) is released to be published now. An item that is
  no longer routed (parked again, ended) is left as it is.

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
    redis.call('HDEL', KEYS[i], 'resumed')
    local note = redis.call('HGET', KEYS[i], 'note')
    if note then
      redis.call('ZADD', KEYS[1], 'XX', ARGV[1], note)
      redis.call('HDEL', KEYS[i], 'note')
    end
  end
end
return cjson.encode({ confirmed = confirmed })
