//! The Lua scripts the fleet runs in Redis (each one atomic).

/// Claims a batch of events and records the new ones in the accepted-event stream.
///
/// `KEYS[1]`: the stream; `KEYS[2..]`: one claim key per event. `ARGV[1]`: the replica (the
/// claim's value); then per event a pair `ttl_ms`, `frame` (`""`: claim only, not recorded).
/// Returns one integer per event: 1 claimed now (and recorded), 0 claimed before.
pub(crate) const ACCEPT: &str = r"
local out = {}
for i = 2, #KEYS do
  local ttl = ARGV[2 * (i - 1)]
  local frame = ARGV[2 * (i - 1) + 1]
  if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ttl) then
    if frame ~= '' then
      redis.call('XADD', KEYS[1], '*', 'f', frame)
    end
    out[i - 1] = 1
  else
    out[i - 1] = 0
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
