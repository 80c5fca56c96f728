//! The Lua scripts the fleet runs in Redis (each one atomic).

/// Claims a batch of events, records the new ones in the accepted-event stream and delivers
/// the record at once to this replica's consumer (so it is in its pending list, where a living
/// replica takes it over if this one dies, and this replica runs the events from memory without
/// reading them back).
///
/// One stream entry per batch names the batch's new events that take no reply (one field per
/// event: its envelope id, with an empty value; no number is formatted in Lua). The frames themselves are not passed to the script (Lua would
/// copy and intern each one): the same pipeline stores them first in the frames hash, by
/// envelope id; a redelivery's frame is deleted here.
///
/// `KEYS[1]`: the stream; `KEYS[2]`: the frames hash; then one claim key per event. `ARGV[1]`:
/// the replica (the claim's value and the consumer's name); `ARGV[2]`: the claim's time to
/// live in ms for a recorded event, `ARGV[3]` for one only claimed; then per event its
/// `envelope_id` (`""`: claim only, not recorded). Returns one string per event: the stream
/// entry's id (claimed and recorded), `"1"` (claimed, not recorded) or `"0"` (claimed
/// before).
///
/// The group read takes every entry not yet delivered. As every run of this script leaves
/// none, that is the entry it just added, except after the group was created again (Redis
/// restarted without persistence, or the stream was made by hand): older entries it takes too
/// sit in this consumer's pending list untouched, and are taken over after the reclaim idle
/// time like a dead replica's.
pub(crate) const ACCEPT: &str = r"
local out = {}
local fields = {}
local n = #KEYS - 2
local recorded_ttl = ARGV[2]
local claimed_ttl = ARGV[3]
for i = 1, n do
  local envelope = ARGV[i + 3]
  local ttl = recorded_ttl
  if envelope == '' then ttl = claimed_ttl end
  if redis.call('SET', KEYS[i + 2], ARGV[1], 'NX', 'PX', ttl) then
    if envelope ~= '' then
      table.insert(fields, envelope)
      table.insert(fields, '')
      out[i] = true
    else
      out[i] = '1'
    end
  else
    if envelope ~= '' then
      redis.call('HDEL', KEYS[2], envelope)
    end
    out[i] = '0'
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
