--[[
  The notification relay takes what is due from the outbox (includes/notify.lua): each taken notification is pushed
  `lease` ms ahead, so no other relay takes it meanwhile; once its publish is confirmed finish-notifications.lua
  removes it. A relay that dies (or a publish the broker never confirms) leaves it to be taken again after the lease:
  at least once, with the same id. Oldest due first.

  Input:
    KEYS[1]  notifications due sorted set (score: when to publish, ms)
    KEYS[2]  notifications body hash (id → JSON)

    ARGV[1]  now (ms)
    ARGV[2]  lease (ms)
    ARGV[3]  at most this many

  Output (JSON):
    {notes=[JSON text...], nextDueMs}   nextDueMs: when the next one not taken is due (absent: none waits)
]]
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local notes = {}
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[2], id)
  if body then
    redis.call('ZADD', KEYS[1], now + lease, id)
    table.insert(notes, body)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return cjson.encode({ notes = notes, nextDueMs = nxt[2] })
