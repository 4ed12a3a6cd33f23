--[[
  notify(k, event, cid, f, now, extra): writes a lifecycle notification (contract 1.2) to the outbox in
  the same step as the transition it tells of, so a crash at any point leaves it there for the relay
  (claim-notifications.lua) to publish: at least once, always with the id written here.
  k = { item (the item hash, still there), notes_due (sorted set: score = when to publish, ms), notes_body (hash:
        id → the notification as JSON) }
  f: the item's item_fields; extra: fields added to the notification (reason, dispositionCode, dispositionText);
  `routed` is not written when an item is routed from waiting but when its contact.created is confirmed
  (confirm-placed.lua): the routing marks the item `nr` (in the same HSET as its state), confirm-placed.lua turns the
  mark into the notification, park-routed.lua and hold-item.lua drop it (its sender never heard `routed`).
  The id, `<contactId>.<n>.<event>` with n counted on the item, is new for each notification and the same every time
  that one is published again.
]]
local function notify(k, event, cid, f, now, extra)
  local n = redis.call('HINCRBY', k.item, 'notes', 1)
  local id = cid .. '.' .. n .. '.' .. event
  local note = { id = id, event = event, contactId = cid, source = f.source, externalId = f.externalId,
    entrance = f.entrance, at = now, corrId = f.corrId }
  if extra then
    for key, v in pairs(extra) do note[key] = v end
  end
  redis.call('HSET', k.notes_body, id, cjson.encode(note))
  redis.call('ZADD', k.notes_due, now, id)
  return id
end
