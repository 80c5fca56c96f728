//! The Lua scripts the fleet runs in Redis (each one atomic).

/// Claims a batch of events, records the new ones in the accepted-event stream and delivers
/// the record at once to this replica's consumer (so it is in its pending list, where a living
/// replica takes it over if this one dies, and this replica runs the events from memory without
/// reading them back).
///
/// Claims on recorded events live in sets, one per period of the claim time (`ARGV[2]`, by
/// Redis's clock): an event is claimed before when its dedup key is in this period's set or
/// the last one's, so a claim lasts between one and two periods. Two `SMISMEMBER`s and one
/// `SADD` serve a whole batch (instead of one key, and one expiry, per event: most of Redis's
/// time per event); the set two periods old is `UNLINK`ed (freed off Redis's main thread),
/// and each set also expires on its own once the fleet is quiet. Claims on events answered in
/// their ack are few and short (`ARGV[3]`), and stay one key each.
///
/// One stream entry per batch names the batch's events that take no reply, in one field `ids`
/// whose value the client encodes ([`super::encode_ids`]: each envelope id as its length in
/// bytes, `:` and the id), so the script passes it on as one string; a redelivery named there
/// too is harmless: its frame is deleted here, and a replica taking the entry over runs only
/// the events whose frame is still there. The frames themselves are not passed to the script
/// (Lua would copy and intern each one): the same pipeline stores them first in the frames
/// hash, by envelope id. Per event the script does no more than read its two membership flags
/// and append one character: Lua's own work per argument (each becomes a Lua string, and the
/// group read's reply a table of them) cost Redis more than the sets.
///
/// `KEYS[1]`: the stream; `KEYS[2]`: the frames hash. `ARGV[1]`: the replica (a reply claim's
/// value and the consumer's name); `ARGV[2]`: the claim period in ms; `ARGV[3]`: a reply
/// claim's time to live in ms; `ARGV[4]`: the prefix of the claim keys (sets: the prefix and
/// the period's number; reply claims: the prefix, `r:` and the dedup key); `ARGV[5]`: `r`,
/// how many events to record; `ARGV[6]`: their envelope ids, encoded; then their `r` dedup
/// keys, then the dedup keys of the events answered in their ack. The client sends each dedup key
/// once per batch. The claim keys are made here, from Redis's clock, so the script is not for
/// Redis Cluster (which the fleet does not support). Returns the stream entry's id (`""`: none
/// added) and one character per event, in `ARGV`'s order: `R` claimed and recorded in that
/// entry, `1` claimed (not recorded), `0` claimed before.
///
/// The group read takes every entry not yet delivered. As every run of this script leaves
/// none, that is the entry it just added, except after the group was created again (Redis
/// restarted without persistence, or the stream was made by hand): older entries it takes too
/// sit in this consumer's pending list untouched, and are taken over after the reclaim idle
/// time like a dead replica's.
pub(crate) const ACCEPT: &str = r"
local function ids_of(s)
  local out, pos = {}, 1
  while pos <= #s do
    local colon = string.find(s, ':', pos, true)
    if not colon then break end
    local len = tonumber(string.sub(s, pos, colon - 1))
    if not len then break end
    out[#out + 1] = string.sub(s, colon + 1, colon + len)
    pos = colon + len + 1
  end
  return out
end
local prefix = ARGV[4]
local r = tonumber(ARGV[5])
local flags = {}
local entry = ''
if r > 0 then
  local t = redis.call('TIME')
  local period = tonumber(ARGV[2])
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local p = math.floor(now / period)
  local current = prefix .. string.format('%d', p)
  local a = redis.call('SMISMEMBER', current, unpack(ARGV, 7, 6 + r))
  local b = redis.call('SMISMEMBER', prefix .. string.format('%d', p - 1), unpack(ARGV, 7, 6 + r))
  local dups = 0
  for j = 1, r do
    if a[j] == 1 or b[j] == 1 then
      flags[j] = '0'
      dups = dups + 1
    else
      flags[j] = 'R'
    end
  end
  if dups > 0 then
    local ids = ids_of(ARGV[6])
    for j = 1, r do
      if flags[j] == '0' and ids[j] then redis.call('HDEL', KEYS[2], ids[j]) end
    end
  end
  if dups < r then
    if dups == 0 then
      redis.call('SADD', current, unpack(ARGV, 7, 6 + r))
    else
      local new = {}
      for j = 1, r do
        if flags[j] == 'R' then new[#new + 1] = ARGV[6 + j] end
      end
      redis.call('SADD', current, unpack(new))
    end
    redis.call('PEXPIRE', current, 2 * period + 60000)
    redis.call('UNLINK', prefix .. string.format('%d', p - 2))
    entry = redis.call('XADD', KEYS[1], '*', 'ids', ARGV[6])
    local g = redis.pcall('XREADGROUP', 'GROUP', 'workers', ARGV[1], 'STREAMS', KEYS[1], '>')
    if type(g) == 'table' and g.err then
      redis.call('XGROUP', 'CREATE', KEYS[1], 'workers', '0', 'MKSTREAM')
      redis.call('XREADGROUP', 'GROUP', 'workers', ARGV[1], 'STREAMS', KEYS[1], '>')
    end
  end
end
for k = 7 + r, #ARGV do
  if redis.call('SET', prefix .. 'r:' .. ARGV[k], ARGV[1], 'NX', 'PX', ARGV[3]) then
    flags[#flags + 1] = '1'
  else
    flags[#flags + 1] = '0'
  end
end
return {entry, table.concat(flags)}
";

/// Takes, renews or gives back a replica's connection leases, keeping the fleet's total within
/// the budget.
///
/// `KEYS[1]`: the sorted set of leases (member `replica#n`, score the expiry in ms of Redis's
/// clock). `ARGV`: replica, wanted, ttl_ms, budget. Returns how many the replica now holds.
pub(crate) const LEASE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local all = redis.call('ZRANGE', KEYS[1], 0, -1)
local prefix = ARGV[1] .. '#'
local mine = {}
for _, m in ipairs(all) do
  if string.sub(m, 1, #prefix) == prefix then table.insert(mine, m) end
end
local others = #all - #mine
local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[4]) - others)
if grant < 0 then grant = 0 end
for _, m in ipairs(mine) do redis.call('ZREM', KEYS[1], m) end
for i = 1, grant do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), prefix .. i)
end
return grant
";

/// A token bucket shared by the fleet: takes one token, reserving it if none is left.
///
/// `KEYS[1]`: the bucket (a hash). `ARGV`: burst, ms per token. Returns how many milliseconds
/// the caller must wait before it sends (0: at once).
pub(crate) const PACE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local burst = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if not tokens or not ts then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + (now - ts) / per)
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) * per) end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * per + wait + 1000))
return wait
";
