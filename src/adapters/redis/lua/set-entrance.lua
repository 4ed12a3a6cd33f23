--[[
  Opens or closes an entrance (its state, since when, by whom).

  Input:
    KEYS[1]  entrance hash

    ARGV[1]  state: open | closed
    ARGV[2]  by (who changed it)
    ARGV[3]  since (ISO time)

  Output (JSON): {changed}   false: it was in that state already
]]
local old = redis.call('HGET', KEYS[1], 'state') or 'open'
if old == ARGV[1] then return cjson.encode({ changed = false }) end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'since', ARGV[3], 'by', ARGV[2])
return cjson.encode({ changed = true })
