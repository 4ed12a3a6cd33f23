--[[
  stat(stats, metric, task, entrance, n): adds n to the report counter `metric|task|entrance` in the hourly hash
  (durable, for `workitem report`) and in the per-minute copy (the dashboard's last-hour chart).
  metric: the outcome as src/domain/outcomes.ts names it (accepted, buffered, scheduled, duplicate, rejected, updated,
  withdrawn, completed, expired, activated; handledMs), the same word as the outcome label on /metrics; and overdue
  (an item's dueAt passed, claim-overdue.lua: workitem_overdue_total on /metrics).
  stats = { hour = key, minute = key, hour_ttl = seconds, minute_ttl = seconds }, all given by the caller.
]]
local function stat(stats, metric, task, entrance, n)
  local field = metric .. '|' .. task .. '|' .. entrance
  redis.call('HINCRBY', stats.hour, field, n)
  redis.call('EXPIRE', stats.hour, stats.hour_ttl)
  redis.call('HINCRBY', stats.minute, field, n)
  redis.call('EXPIRE', stats.minute, stats.minute_ttl)
end
