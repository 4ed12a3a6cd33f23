--[[
  The unfinished item of (source, externalId) as an update needs it, read in one step. Read only.

  Input:
    KEYS[1]  index hash
    KEYS[2]  item hash of ARGV[1]

    ARGV[1]  contactId the index named (as the caller read it)
    ARGV[2]  source
    ARGV[3]  externalId

  Output (JSON):
    {outcome='found', state, rec, ver, rev, uids, uchg, urev, expiresAt, bodySha}
      ver: compare-and-set version; rev: last applied revision ('0': none); uids: latest update ids, newest first,
      space-separated; uchg: what the latest update changed (JSON); urev: its revision, or ''
    {outcome='not_found'}
    {outcome='moved'}   the index names another item now: read again
]]
local k_index, k_item = KEYS[1], KEYS[2]
local named = redis.call('HGET', k_index, ARGV[2] .. '|' .. ARGV[3])
if not named then return cjson.encode({ outcome = 'not_found' }) end
if named ~= ARGV[1] then return cjson.encode({ outcome = 'moved' }) end
local v = redis.call('HMGET', k_item, 'state', 'rec', 'ver', 'rev', 'uids', 'uchg', 'urev', 'expiresAt', 'bodySha')
if not v[1] or not v[2] then return cjson.encode({ outcome = 'not_found' }) end
return cjson.encode({ outcome = 'found', state = v[1], rec = v[2], ver = v[3] or '0', rev = v[4] or '0',
  uids = v[5] or '', uchg = v[6] or '[]', urev = v[7] or '', expiresAt = v[8] or '', bodySha = v[9] or '' })
