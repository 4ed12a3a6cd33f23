--[[
  notify(k, event, cid, f, now, extra, visible_at): writes a lifecycle notification (contract 1.2) to the outbox in
  the same step as the transition it tells of, so a crash at any point leaves it there for the relay
  (claim-notifications.lua) to publish: at least once, always with the id written here.
  k = { item (the item hash, still there), notes_due (sorted set: score = when to publish, ms), notes_body (hash:
        id → the notification as JSON) }
  f: the item's item_fields; extra: fields added to the notification (reason, dispositionCode, dispositionText);
  visible_at: when the relay may publish it (default now). An armed note (visible later) is released by
  confirm-placed.lua once the event it tells of is confirmed.
  The id, `<contactId>.<n>.<event>` with n counted on the item, is new for each notification and the same every time
  that one is published again.
]]
local function notify(k, event, cid, f, now, extra, visible_at)
  local n = redis.call('HINCRBY', k.item, 'notes', 1)
  local id = cid .. '.' .. n .. '.' .. event
  local note = { id = id, event = event, contactId = cid, source = f.source, externalId = f.externalId,
    entrance = f.entrance, at = now, corrId = f.corrId }
  if extra then
    for key, v in pairs(extra) do note[key] = v end
  end
  redis.call('HSET', k.notes_body, id, cjson.encode(note))
  redis.call('ZADD', k.notes_due, visible_at or now, id)
  return id
end

--[[
  notify_routed(k, cid, f, now, arm_ms): `routed` for an item routed from waiting (parked, scheduled, held): armed until
  its contact.created is confirmed (the item's `note` field names it; confirm-placed.lua releases it, park-routed.lua
  withdraws it when the event was not placed). Should the instance die in between, it is published after arm_ms.
]]
local function notify_routed(k, cid, f, now, arm_ms)
  local id = notify(k, 'routed', cid, f, now, nil, now + arm_ms)
  redis.call('HSET', k.item, 'note', id)
end
