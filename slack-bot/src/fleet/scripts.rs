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
/// One stream entry per batch names the batch's new events that take no reply (one field per
/// event: its envelope id, with an empty value; no number is formatted for them in Lua). The
/// frames themselves are not passed to the script (Lua would copy and intern each one): the
/// same pipeline stores them first in the frames hash, by envelope id; a redelivery's frame is
/// deleted here.
///
/// `KEYS[1]`: the stream; `KEYS[2]`: the frames hash. `ARGV[1]`: the replica (a reply claim's
/// value and the consumer's name); `ARGV[2]`: the claim period in ms; `ARGV[3]`: a reply
/// claim's time to live in ms; `ARGV[4]`: the prefix of the claim keys (sets: the prefix and
/// the period's number; reply claims: the prefix, `r:` and the dedup key); then the batch's
/// `n` dedup keys, then their `n` envelope ids (`""`: answered in the ack, claimed only, not
/// recorded). The claim keys are made here, from Redis's clock, so the script is not for
/// Redis Cluster (which the fleet does not support). Returns one string per event: the stream
/// entry's id (claimed and recorded), `"1"` (claimed, not recorded) or `"0"` (claimed
/// before, here or in the same batch).
///
/// The group read takes every entry not yet delivered. As every run of this script leaves
/// none, that is the entry it just added, except after the group was created again (Redis
/// restarted without persistence, or the stream was made by hand): older entries it takes too
/// sit in this consumer's pending list untouched, and are taken over after the reclaim idle
/// time like a dead replica's.
pub(crate) const ACCEPT: &str = r"
local n = (#ARGV - 4) / 2
local prefix = ARGV[4]
local out = {}
local keys = {}
local which = {}
for i = 1, n do
  if ARGV[4 + n + i] ~= '' then
    keys[#keys + 1] = ARGV[4 + i]
    which[#which + 1] = i
  else
    local r = redis.call('SET', prefix .. 'r:' .. ARGV[4 + i], ARGV[1], 'NX', 'PX', ARGV[3])
    if r then out[i] = '1' else out[i] = '0' end
  end
end
local fields = {}
if #keys > 0 then
  local t = redis.call('TIME')
  local period = tonumber(ARGV[2])
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local p = math.floor(now / period)
  local current = prefix .. string.format('%d', p)
  local last = prefix .. string.format('%d', p - 1)
  local in_current = redis.call('SMISMEMBER', current, unpack(keys))
  local in_last = redis.call('SMISMEMBER', last, unpack(keys))
  local seen = {}
  local new = {}
  for j, key in ipairs(keys) do
    local i = which[j]
    local envelope = ARGV[4 + n + i]
    if in_current[j] == 1 or in_last[j] == 1 or seen[key] then
      redis.call('HDEL', KEYS[2], envelope)
      out[i] = '0'
    else
      seen[key] = true
      new[#new + 1] = key
      fields[#fields + 1] = envelope
      fields[#fields + 1] = ''
      out[i] = true
    end
  end
  if #new > 0 then
    redis.call('SADD', current, unpack(new))
    redis.call('PEXPIRE', current, 2 * period + 60000)
    redis.call('UNLINK', prefix .. string.format('%d', p - 2))
  end
end
if #fields > 0 then
  local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
  for i = 1, n do
    if out[i] == true then out[i] = id end
  end
  local r = redis.pcall('XREADGROUP', 'GROUP', 'workers', ARGV[1], 'STREAMS', KEYS[1], '>')
  if type(r) == 'table' and r.err then
    redis.call('XGROUP', 'CREATE', KEYS[1], 'workers', '0', 'MKSTREAM')
    redis.call('XREADGROUP', 'GROUP', 'workers', ARGV[1], 'STREAMS', KEYS[1], '>')
  end
end
return out
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
