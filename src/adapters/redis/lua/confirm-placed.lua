--[[
  Routed items' contact.created events are confirmed (a flush's, a resume's, an activation's): they are placed (their
  `placing` mark, set by route-one or resume-one, goes), no longer `resumed` (later events of them are not), and an
  item routed from waiting (marked `nr` by its routing) gets its `routed` notification now (includes/notify.lua). An
  item that is no longer routed (parked again, held, ended) is left as it is.

  Input:
    KEYS[1]    notifications due sorted set
    KEYS[2]    notifications body hash
    KEYS[3..]  item hashes, in the order of ARGV[2..]

    ARGV[1]    now (ms)
    ARGV[2..]  their contactIds

  Output (JSON):
    {confirmed}   how many marks were cleared
]]
--- @include "item-fields"
--- @include "notify"
local now = tonumber(ARGV[1])
local confirmed = 0
for i = 3, #KEYS do
  local k_item = KEYS[i]
  local f = item_fields(k_item)
  if f and f.state == 'routed' then
    confirmed = confirmed + redis.call('HDEL', k_item, 'placing')
    redis.call('HDEL', k_item, 'resumed')
    if redis.call('HDEL', k_item, 'nr') == 1 then
      notify({ item = k_item, notes_due = KEYS[1], notes_body = KEYS[2] }, 'routed', ARGV[i - 1], f, now)
    end
  end
end
return cjson.encode({ confirmed = confirmed })
