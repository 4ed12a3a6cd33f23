--[[
  Service level per task type (issue 25 part 4): counters kept at the transitions, so `workitem report` and the
  dashboard read them without a scan of the items.

  ended_service_level(stats, f, now, due_ms): at End, adds to the hourly report counters of the item's task type and
  entrance (hourly only: nothing charts them per minute)
    tte:<bound ms>   the time-to-end bucket holding now - receivedAt: the first bound of TTE_BOUNDS_MS not below it
                     (inclusive, as Prometheus `le`), tte:inf beyond the last; so at most 34 fields per task type and
                     entrance in an hour's hash
    endedWithDue     the item had a dueAt (due_ms; nil: none, not counted in the percentage)
    endedBeforeDue   ... and ended at or before it
  and answers 'before', 'after' or 'none' (no dueAt).
  TTE_BOUNDS_MS: the R5 preferred numbers from 1 s to 2,500,000 s, the list of src/domain/service-level.ts in ms.

  overdue_now(key, task, entrance, n): adds n to the items overdue now of (task type, entrance), the field
  `task|entrance` of the hash key (the overdue-now count); a field that reaches 0 is removed, so the hash holds what is
  overdue now and no more. Kept exact where an item enters or leaves its entrance's overdue sorted set (claim-overdue,
  remove_item, update-item) and where an overdue item's task type changes (update-item).
]]
local TTE_BOUNDS_MS = { 1000, 1600, 2500, 4000, 6300, 10000, 16000, 25000, 40000, 63000, 100000, 160000, 250000,
  400000, 630000, 1000000, 1600000, 2500000, 4000000, 6300000, 10000000, 16000000, 25000000, 40000000, 63000000,
  100000000, 160000000, 250000000, 400000000, 630000000, 1000000000, 1600000000, 2500000000 }

local function stat_hourly(stats, metric, task, entrance, n)
  redis.call('HINCRBY', stats.hour, metric .. '|' .. task .. '|' .. entrance, n)
  redis.call('EXPIRE', stats.hour, stats.hour_ttl)
end

local function ended_service_level(stats, f, now, due_ms)
  local tte, bucket = now - f.receivedAt, 'inf'
  for _, bound in ipairs(TTE_BOUNDS_MS) do
    if tte <= bound then
      bucket = tostring(bound)
      break
    end
  end
  stat_hourly(stats, 'tte:' .. bucket, f.taskType, f.entrance, 1)
  if not due_ms then return 'none' end
  stat_hourly(stats, 'endedWithDue', f.taskType, f.entrance, 1)
  if now > due_ms then return 'after' end
  stat_hourly(stats, 'endedBeforeDue', f.taskType, f.entrance, 1)
  return 'before'
end

local function overdue_now(key, task, entrance, n)
  local field = task .. '|' .. entrance
  if redis.call('HINCRBY', key, field, n) <= 0 then redis.call('HDEL', key, field) end
end
