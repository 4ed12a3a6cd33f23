/**
 * Every Redis state transition, each one Lua script = one atomic step (the bullmq way).
 * Scripts receive the key prefix as ARGV[1] and build key names with the helpers below, which mirror
 * `keys.ts`: this folder is the only place that knows key names.
 */

/** How many of an item's latest update ids are kept, so a redelivered update is recognised and not applied twice. */
export const UPDATE_IDS_KEPT = 16;

const KEY_HELPERS = `
local p = ARGV[1]
local function item_key(cid) return p .. 'item:' .. cid end
local function parked_key(entrance) return p .. 'parked:' .. entrance end
-- Timers (contract 1.1): one sorted set per kind, score = due time in ms, member = contactId.
local due_expire, due_activate = p .. 'due:expire', p .. 'due:activate'
-- Durable hourly counter (report) plus a per-minute copy that lives ~2 h (dashboard chart).
-- minute: YYYYMMDDHHmm (UTC); its first 10 characters are the hour bucket.
local function stat(minute, metric, task, entrance, n)
  local field = metric .. '|' .. task .. '|' .. entrance
  local k = p .. 'stats:' .. string.sub(minute, 1, 10)
  redis.call('HINCRBY', k, field, n)
  redis.call('EXPIRE', k, 34560000)
  if #minute >= 12 then
    local km = p .. 'stats:m:' .. minute
    redis.call('HINCRBY', km, field, n)
    redis.call('EXPIRE', km, 7200)
  end
end
-- Removes every trace of an unfinished item and leaves a tombstone, so a late retry cannot revive it.
local function remove_item(cid, f, why, tomb_ttl)
  redis.call('DEL', item_key(cid), p .. 'att:' .. cid)
  redis.call('HDEL', p .. 'ext', f.source .. '|' .. f.externalId)
  redis.call('ZREM', p .. 'unfinished', cid)
  redis.call('ZREM', parked_key(f.entrance), cid)
  redis.call('ZREM', due_expire, cid)
  redis.call('ZREM', due_activate, cid)
  redis.call('SET', p .. 'tomb:' .. cid, why, 'EX', tomb_ttl)
end
local function fields(cid)
  local v = redis.call('HMGET', item_key(cid), 'state', 'entrance', 'source', 'externalId', 'taskType',
    'receivedAt', 'parkedAt', 'rec', 'replyTo', 'corrId', 'seq')
  if not v[1] then return nil end
  return { state = v[1], entrance = v[2], source = v[3], externalId = v[4], taskType = v[5],
    receivedAt = tonumber(v[6]), parkedAt = tonumber(v[7] or '0'), rec = v[8], replyTo = v[9] or '',
    corrId = v[10] or '', seq = tonumber(v[11]) }
end
`;

/**
 * Tries to route one parked item (the reopen flush), or only checks it (route = false: a TTL retry, which
 * answers 'open' and leaves the routing to the flush, so parked items always leave oldest first).
 * Returns {outcome, contactId, rec, replyTo, corrId}, for expired then the stored trace context (tp); routed:
 * {outcome, contactId, rec, tp}. For a check that finds the item not buffered, the 4th
 * value says whether the lock `flush_lock` is held (a flush marks items routed before it publishes, and puts
 * those nobody takes back, counting on their parked messages).
 */
const ROUTE_ONE = `
local function route_one(cid, now, max_park_ms, tomb_ttl, minute, route, flush_lock)
  local f = fields(cid)
  if not f then
    local tomb = redis.call('EXISTS', p .. 'tomb:' .. cid)
    return { 'gone', cid, tostring(tomb), '', '' }
  end
  if f.state ~= 'buffered' then
    local busy = 0
    if flush_lock and flush_lock ~= '' then busy = redis.call('EXISTS', p .. 'lock:' .. flush_lock) end
    return { 'not_buffered', cid, f.rec, tostring(busy), '' }
  end
  if now - f.parkedAt > max_park_ms then
    local tp = redis.call('HGET', item_key(cid), 'tp') or ''
    remove_item(cid, f, 'expired', tomb_ttl)
    stat(minute, 'expired', f.taskType, f.entrance, 1)
    return { 'expired', cid, f.rec, f.replyTo, f.corrId, tp }
  end
  if redis.call('HGET', p .. 'entrance:' .. f.entrance, 'state') == 'closed' then
    return { 'closed', cid, '', '', '' }
  end
  if not route then return { 'open', cid, '', '', '' } end
  redis.call('HSET', item_key(cid), 'state', 'routed')
  redis.call('HDEL', item_key(cid), 'parkedAt')
  redis.call('ZREM', parked_key(f.entrance), cid)
  return { 'routed', cid, f.rec, redis.call('HGET', item_key(cid), 'tp') or '', '' }
end
`;

export const SCRIPTS = {
  /**
   * Records a new item as unfinished, or reports the duplicate. Decides routed vs buffered from the
   * entrance state read in the same step, so a close/open can never split an item's fate.
   * ARGV: prefix, contactId, source, externalId, entrance, recJson, nowMs, maxParked, replyTo, corrId, taskType, minute,
   * bodySha|'', expiresAt|'', expireMs, activateAt|'', activateMs: an activateMs after nowMs makes the item `scheduled`
   * (entry in due:activate; the entrance is looked at when it activates); trace|'' (field tp: the trace context the
   * reopen flush continues).
   */
  acceptItem: `${KEY_HELPERS}
local cid, source, ext, entrance = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now, max_parked, task, minute = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[11], ARGV[12]
local existing = redis.call('HGET', p .. 'ext', source .. '|' .. ext)
if existing then
  local f = fields(existing)
  if f then
    stat(minute, 'duplicate', task, entrance, 1)
    return { 'duplicate', existing, f.state, f.rec }
  end
  redis.call('HDEL', p .. 'ext', source .. '|' .. ext)
end
local state = 'routed'
local activate_ms = tonumber(ARGV[17] or '')
if ARGV[16] and ARGV[16] ~= '' and activate_ms and activate_ms > now then
  state = 'scheduled'
elseif redis.call('HGET', p .. 'entrance:' .. entrance, 'state') == 'closed' then
  if redis.call('ZCARD', parked_key(entrance)) >= max_parked then return { 'park_limit', '', '', '' } end
  state = 'buffered'
end
local seq = redis.call('INCR', p .. 'seq')
redis.call('HSET', item_key(cid), 'rec', ARGV[6], 'state', state, 'entrance', entrance, 'source', source,
  'externalId', ext, 'taskType', task, 'seq', seq, 'receivedAt', now, 'replyTo', ARGV[9], 'corrId', ARGV[10])
if ARGV[13] and ARGV[13] ~= '' then redis.call('HSET', item_key(cid), 'bodySha', ARGV[13]) end
if ARGV[18] and ARGV[18] ~= '' then redis.call('HSET', item_key(cid), 'tp', ARGV[18]) end
if ARGV[14] and ARGV[14] ~= '' then
  redis.call('HSET', item_key(cid), 'expiresAt', ARGV[14])
  redis.call('ZADD', due_expire, ARGV[15], cid)
end
if state == 'buffered' then
  redis.call('HSET', item_key(cid), 'parkedAt', now)
  redis.call('ZADD', parked_key(entrance), seq, cid)
elseif state == 'scheduled' then
  redis.call('HSET', item_key(cid), 'activateAt', ARGV[16])
  redis.call('ZADD', due_activate, activate_ms, cid)
end
redis.call('HSET', p .. 'ext', source .. '|' .. ext, cid)
redis.call('ZADD', p .. 'unfinished', seq, cid)
local outcome = ({ routed = 'accepted', buffered = 'buffered', scheduled = 'scheduled' })[state]
stat(minute, outcome, task, entrance, 1)
return { outcome, cid, state, '' }
`,

  /** A parked message's TTL retry: expire it, or say whether its entrance is open. ARGV: prefix, contactId, nowMs, maxParkMs, tombTtlSeconds, minute, flushLockName */
  checkParked: `${KEY_HELPERS}${ROUTE_ONE}
return route_one(ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6], false, ARGV[7])
`,

  /** Oldest first; stops at a closed entrance. ARGV: prefix, entrance, nowMs, maxParkMs, limit, tombTtl, minute */
  routeParkedBatch: `${KEY_HELPERS}${ROUTE_ONE}
local ids = redis.call('ZRANGE', parked_key(ARGV[2]), 0, tonumber(ARGV[5]) - 1)
local out = {}
for _, cid in ipairs(ids) do
  local r = route_one(cid, tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[6], ARGV[7], true)
  if r[1] == 'gone' then redis.call('ZREM', parked_key(ARGV[2]), cid) end
  table.insert(out, r)
  if r[1] == 'closed' then break end
end
return out
`,

  /** routed → buffered, keeping its place (seq) in the entrance's parked order. ARGV: prefix, contactId, nowMs */
  parkRouted: `${KEY_HELPERS}
local cid = ARGV[2]
local f = fields(cid)
if not f then return { 'unknown', '' } end
if f.state ~= 'routed' then return { 'not_routed', '' } end
redis.call('HSET', item_key(cid), 'state', 'buffered', 'parkedAt', ARGV[3])
redis.call('ZADD', parked_key(f.entrance), f.seq, cid)
return { 'parked', f.rec }
`,

  /** The agent pressed End. ARGV: prefix, contactId, nowMs, tombTtl, minute */
  endItem: `${KEY_HELPERS}
local cid, now = ARGV[2], tonumber(ARGV[3])
local f = fields(cid)
if not f then return { 'unknown' } end
local had_att = redis.call('EXISTS', p .. 'att:' .. cid)
-- fs/s3 stores keep no att: key: the record says whether there is an attachment to remove after this step.
if had_att == 0 and f.rec and string.find(f.rec, '"attachment":{', 1, true) then had_att = 1 end
remove_item(cid, f, 'ended', ARGV[4])
local handled = now - f.receivedAt
stat(ARGV[5], 'completed', f.taskType, f.entrance, 1)
stat(ARGV[5], 'handledMs', f.taskType, f.entrance, handled)
return { 'ended', f.entrance, f.taskType, tostring(handled), tostring(had_att) }
`,

  /** The item's own source withdraws it. ARGV: prefix, source, externalId, nowMs, tombTtl, minute */
  cancelItem: `${KEY_HELPERS}
local cid = redis.call('HGET', p .. 'ext', ARGV[2] .. '|' .. ARGV[3])
if not cid then return { 'not_found', '' } end
local f = fields(cid)
if not f then
  redis.call('HDEL', p .. 'ext', ARGV[2] .. '|' .. ARGV[3])
  return { 'not_found', '' }
end
remove_item(cid, f, 'cancelled', ARGV[5])
stat(ARGV[6], 'withdrawn', f.taskType, f.entrance, 1)
return { 'cancelled', f.rec }
`,

  /**
   * The unfinished item of (source, externalId) as an update needs it. ARGV: prefix, source, externalId →
   * nil, or cid, state, rec, ver, rev, uids, uchg, urev, expiresAt, bodySha
   */
  readForUpdate: `${KEY_HELPERS}
local cid = redis.call('HGET', p .. 'ext', ARGV[2] .. '|' .. ARGV[3])
if not cid then return nil end
local v = redis.call('HMGET', item_key(cid), 'state', 'rec', 'ver', 'rev', 'uids', 'uchg', 'urev', 'expiresAt', 'bodySha')
if not v[1] or not v[2] then return nil end
return { cid, v[1], v[2], v[3] or '0', v[4] or '0', v[5] or '', v[6] or '[]', v[7] or '', v[8] or '', v[9] or '' }
`,

  /**
   * An update's one atomic step: a repeated update id → already (3rd value '1' when it is the latest); a revision not
   * above the last → stale; another update since the caller's read → conflict; else the merged record, revision,
   * update id (the latest ${UPDATE_IDS_KEPT} are kept), what changed, task type and expiry (its due-set entry too) are stored.
   * ARGV: prefix, contactId, expectVer, updateId, dedupeDepth, revision|'', recJson, changedJson, expiresAt|'',
   * expireMs, bodySha|'', taskType, minute
   */
  updateItem: `${KEY_HELPERS}
local cid = ARGV[2]
local k = item_key(cid)
local f = fields(cid)
if not f or (f.state ~= 'routed' and f.state ~= 'buffered' and f.state ~= 'scheduled') then return { 'not_found' } end
local v = redis.call('HMGET', k, 'ver', 'rev', 'uids')
local ver, rev_text, uids = tonumber(v[1] or '0'), v[2] or '0', v[3] or ''
local id, depth = ARGV[4], tonumber(ARGV[5])
local n, kept = 0, {}
for u in string.gmatch(uids, '%S+') do
  n = n + 1
  if n <= depth and u == id then return { 'already', f.state, n == 1 and '1' or '0' } end
  if n < ${UPDATE_IDS_KEPT} then table.insert(kept, u) end
end
if ARGV[6] ~= '' and tonumber(ARGV[6]) <= tonumber(rev_text) then return { 'stale', rev_text } end
if ver ~= tonumber(ARGV[3]) then return { 'conflict' } end
table.insert(kept, 1, id)
redis.call('HSET', k, 'rec', ARGV[7], 'ver', tostring(ver + 1), 'uids', table.concat(kept, ' '), 'uchg', ARGV[8],
  'urev', ARGV[6], 'taskType', ARGV[12])
if ARGV[6] ~= '' then redis.call('HSET', k, 'rev', ARGV[6]) end
if ARGV[9] ~= '' then
  redis.call('HSET', k, 'expiresAt', ARGV[9])
  redis.call('ZADD', due_expire, ARGV[10], cid)
end
if ARGV[11] ~= '' then redis.call('HSET', k, 'bodySha', ARGV[11]) end
stat(ARGV[13], 'updated', ARGV[12], f.entrance, 1)
return { 'updated', f.state }
`,

  /**
   * Claims due expiries (expiresAt passed): each item leaves every index in this step (tombstoned, counted) and an
   * outbox entry `expiring:<cid>` keeps what its event and receipt need, claimed in `due:expire:claimed` with a lease
   * deadline until finishExpired. A claim whose lease ran out (its instance died before finishing) is taken over first.
   * So with several instances each expiry is claimed once, and an unfinished one is finished after a crash.
   * ARGV: prefix, nowMs, limit, leaseMs, tombTtl, minute → { {cid, rec, replyTo, corrId, state, expiresAt, dueMs, retaken}... }, nextDueMs|''
   */
  claimExpired: `${KEY_HELPERS}
local now, limit, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local claimed = due_expire .. ':claimed'
local out = {}
local retake = redis.call('ZRANGEBYSCORE', claimed, '-inf', now, 'LIMIT', 0, limit)
for _, cid in ipairs(retake) do
  local v = redis.call('HMGET', p .. 'expiring:' .. cid, 'rec', 'replyTo', 'corrId', 'state', 'expiresAt', 'dueMs')
  if v[1] then
    redis.call('ZADD', claimed, now + lease, cid)
    table.insert(out, { cid, v[1], v[2] or '', v[3] or '', v[4] or '', v[5] or '', v[6] or '0', '1' })
  else
    redis.call('ZREM', claimed, cid)
  end
end
if #out < limit then
  local due = redis.call('ZRANGEBYSCORE', due_expire, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit - #out)
  for i = 1, #due, 2 do
    local cid, due_ms = due[i], due[i + 1]
    redis.call('ZREM', due_expire, cid)
    local f = fields(cid)
    if f and (f.state == 'routed' or f.state == 'buffered' or f.state == 'scheduled') then
      local exp = redis.call('HGET', item_key(cid), 'expiresAt') or ''
      local ok = p .. 'expiring:' .. cid
      redis.call('HSET', ok, 'rec', f.rec, 'replyTo', f.replyTo, 'corrId', f.corrId, 'state', f.state, 'expiresAt', exp, 'dueMs', due_ms)
      redis.call('EXPIRE', ok, ARGV[5])
      remove_item(cid, f, 'expired', ARGV[5])
      stat(ARGV[6], 'expired', f.taskType, f.entrance, 1)
      redis.call('ZADD', claimed, now + lease, cid)
      table.insert(out, { cid, f.rec, f.replyTo, f.corrId, f.state, exp, due_ms, '0' })
    end
  end
end
local nxt = redis.call('ZRANGE', due_expire, 0, 0, 'WITHSCORES')
return { out, nxt[2] or '' }
`,

  /** The expiry's event, receipt and error copy are confirmed: drop its outbox entry. ARGV: prefix, contactId */
  finishExpired: `${KEY_HELPERS}
redis.call('DEL', p .. 'expiring:' .. ARGV[2])
redis.call('ZREM', due_expire .. ':claimed', ARGV[2])
return 1
`,

  /**
   * Claims due activations (activateAt reached): each scheduled item becomes a new arrival in this step — routed, or
   * parked (buffered, in the parked order) when its entrance is closed now — with a new seq, and is claimed in
   * `due:activate:claimed` with a lease deadline until finishActivation (its event published or its message parked).
   * A claim whose lease ran out is taken over first, the item's state (routed or buffered) saying what is left to do.
   * ARGV: prefix, nowMs, limit, leaseMs, minute → { {cid, state, rec, dueMs, retaken}... }, nextDueMs|''
   */
  claimActivations: `${KEY_HELPERS}
local now, limit, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local claimed = due_activate .. ':claimed'
local out = {}
local retake = redis.call('ZRANGEBYSCORE', claimed, '-inf', now, 'LIMIT', 0, limit)
for _, cid in ipairs(retake) do
  local f = fields(cid)
  if f and (f.state == 'routed' or f.state == 'buffered') then
    redis.call('ZADD', claimed, now + lease, cid)
    table.insert(out, { cid, f.state, f.rec, '0', '1' })
  else
    redis.call('ZREM', claimed, cid)
  end
end
if #out < limit then
  local due = redis.call('ZRANGEBYSCORE', due_activate, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit - #out)
  for i = 1, #due, 2 do
    local cid, due_ms = due[i], due[i + 1]
    redis.call('ZREM', due_activate, cid)
    local f = fields(cid)
    if f and f.state == 'scheduled' then
      local state = 'routed'
      if redis.call('HGET', p .. 'entrance:' .. f.entrance, 'state') == 'closed' then state = 'buffered' end
      local seq = redis.call('INCR', p .. 'seq')
      redis.call('HSET', item_key(cid), 'state', state, 'seq', seq)
      redis.call('ZADD', p .. 'unfinished', seq, cid)
      if state == 'buffered' then
        redis.call('HSET', item_key(cid), 'parkedAt', now)
        redis.call('ZADD', parked_key(f.entrance), seq, cid)
      end
      stat(ARGV[5], 'activated', f.taskType, f.entrance, 1)
      redis.call('ZADD', claimed, now + lease, cid)
      table.insert(out, { cid, state, f.rec, due_ms, '0' })
    end
  end
end
local nxt = redis.call('ZRANGE', due_activate, 0, 0, 'WITHSCORES')
return { out, nxt[2] or '' }
`,

  /** The activation's event is confirmed, or its parked message is: drop the claim. ARGV: prefix, contactId */
  finishActivation: `${KEY_HELPERS}
redis.call('ZREM', due_activate .. ':claimed', ARGV[2])
return 1
`,

  /** ARGV: prefix, entrance, state (open|closed), by, nowIso. Returns 1 when the state changed. */
  setEntrance: `${KEY_HELPERS}
local k = p .. 'entrance:' .. ARGV[2]
local old = redis.call('HGET', k, 'state') or 'open'
if old == ARGV[3] then return 0 end
redis.call('HSET', k, 'state', ARGV[3], 'since', ARGV[5], 'by', ARGV[4])
return 1
`,

  /** ARGV: prefix, afterSeq, limit → flat list seq, cid, state, parkedAt, rec, expiresAt, activateAt ... */
  pageUnfinished: `${KEY_HELPERS}
local ids = redis.call('ZRANGEBYSCORE', p .. 'unfinished', '(' .. ARGV[2], '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #ids, 2 do
  local cid = ids[i]
  local v = redis.call('HMGET', item_key(cid), 'state', 'parkedAt', 'rec', 'expiresAt', 'activateAt')
  if v[1] then
    table.insert(out, ids[i + 1]); table.insert(out, cid); table.insert(out, v[1])
    table.insert(out, v[2] or ''); table.insert(out, v[3]); table.insert(out, v[4] or ''); table.insert(out, v[5] or '')
  end
end
return out
`,

  /** ARGV: prefix, name, owner, ttlMs → fencing token, or nil when another owner holds the lock. */
  acquireLock: `${KEY_HELPERS}
if redis.call('SET', p .. 'lock:' .. ARGV[2], ARGV[3], 'NX', 'PX', ARGV[4]) then
  return redis.call('INCR', p .. 'fence:' .. ARGV[2])
end
if redis.call('GET', p .. 'lock:' .. ARGV[2]) == ARGV[3] then
  redis.call('PEXPIRE', p .. 'lock:' .. ARGV[2], ARGV[4])
  return tonumber(redis.call('GET', p .. 'fence:' .. ARGV[2]))
end
return nil
`,

  /** ARGV: prefix, name, owner, ttlMs → 1 while still the owner. */
  renewLock: `${KEY_HELPERS}
if redis.call('GET', p .. 'lock:' .. ARGV[2]) == ARGV[3] then
  redis.call('PEXPIRE', p .. 'lock:' .. ARGV[2], ARGV[4])
  return 1
end
return 0
`,

  /** ARGV: prefix, name, owner */
  releaseLock: `${KEY_HELPERS}
if redis.call('GET', p .. 'lock:' .. ARGV[2]) == ARGV[3] then redis.call('DEL', p .. 'lock:' .. ARGV[2]) end
return 1
`,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
