--[[
  Escalation (contract 1.2): an item's plan is its task type's rules at their instants, stored as `escPlan` (JSON
  [{at = ms, p = priority, rule = 'before PT2H'}...], in time order), with `escDone` (how many of them fired, in order);
  its next rule's time is its due:escalate score.

  esc_arm(k_item, k_due, cid, plan, done): stores escDone and arms the next rule (or takes the item out of due:escalate
  when none is left).
  esc_same_rules(a, b): two plans of the same rules (rule and priority, in order), whatever their times.
  esc_priority(rec), esc_with_priority(rec, p): the priority of a stored record (JSON), and the record with another one.
  The record's only numeric "priority" is its own: every other field with that name (contactData, customer) is a string.
]]
local function esc_arm(k_item, k_due, cid, plan, done)
  redis.call('HSET', k_item, 'escDone', done)
  if done < #plan then
    redis.call('ZADD', k_due, plan[done + 1].at, cid)
  else
    redis.call('ZREM', k_due, cid)
  end
end

local function esc_same_rules(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i].rule ~= b[i].rule or a[i].p ~= b[i].p then return false end
  end
  return true
end

local function esc_priority(rec)
  return tonumber(string.match(rec, '"priority":(%d+)'))
end

local function esc_with_priority(rec, p)
  local out = string.gsub(rec, '"priority":%d+', '"priority":' .. p, 1)
  return out
end
