//! One Redis connection whose every call is bounded, reconnected with backoff.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::{Client, Connection, RedisResult};

/// The fleet's view of Redis's health, shared by every link of a replica: one warning per
/// outage, and counters.
#[derive(Debug, Default)]
pub(crate) struct Health {
    down: AtomicBool,
    /// When the last warning was logged: an outage that follows a recovery within
    /// `QUIET_AFTER_WARNING` (a flapping link) is counted but not logged again.
    warned_at: Mutex<Option<Instant>>,
    /// Whether the current outage was logged (so is its end).
    warned: AtomicBool,
    /// Outages seen (a healthy call after failed ones ends one).
    pub(crate) outages: AtomicU64,
    /// Calls that failed or timed out (each one fell back to local behaviour).
    pub(crate) failed_calls: AtomicU64,
    /// What the new connections read of Redis's `maxmemory-policy`.
    eviction: Mutex<Eviction>,
}

/// See [`Health::saw_policy`].
#[derive(Debug, Default)]
struct Eviction {
    /// The policy the last new connection read, when it lets Redis evict keys (anything but
    /// `noeviction`).
    policy: Option<String>,
    /// The policy last warned about.
    warned: Option<String>,
}

/// What a `maxmemory-policy` other than `noeviction` risks, and what to do (the log's warning
/// and `slack-bot fleet`'s).
pub(crate) fn eviction_risk(policy: &str) -> String {
    format!(
        "redis runs with maxmemory-policy {policy}: short of memory, it may evict the fleet's claims (events then handled twice) or its recorded events (lost if their replica dies); set maxmemory-policy noeviction (a full redis then refuses writes, and the replicas fall back to local state)"
    )
}

impl Health {
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    fn failed(&self, what: &str, e: &dyn std::fmt::Display) {
        self.failed_calls.fetch_add(1, Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            self.outages.fetch_add(1, Ordering::Relaxed);
            let now = Instant::now();
            let quiet = match self.warned_at.lock() {
                Ok(mut at) => {
                    let quiet = at.is_some_and(|t| now.duration_since(t) < QUIET_AFTER_WARNING);
                    if !quiet {
                        *at = Some(now);
                    }
                    quiet
                }
                Err(_) => false,
            };
            self.warned.store(!quiet, Ordering::Relaxed);
            if quiet {
                return;
            }
            let mut text = e.to_string();
            text.truncate(200);
            log::warn!(
                "fleet: redis unavailable ({what}: {text}); falling back to local claims, queue and pacing until it is back"
            );
        }
    }

    /// The eviction policy Redis runs with, when it is not `noeviction` (see
    /// [`Health::saw_policy`]).
    pub(crate) fn eviction_policy(&self) -> Option<String> {
        self.eviction.lock().ok().and_then(|e| e.policy.clone())
    }

    /// Notes the `maxmemory-policy` a new connection read. Any policy but `noeviction` lets a
    /// Redis short of memory delete the fleet's keys: a claims set (events handled twice) or a
    /// recorded event's frame (lost if its replica dies). One warning per policy seen.
    fn saw_policy(&self, policy: &str) {
        let Ok(mut e) = self.eviction.lock() else {
            return;
        };
        if policy == "noeviction" {
            e.policy = None;
            return;
        }
        e.policy = Some(policy.to_owned());
        if e.warned.as_deref() != Some(policy) {
            e.warned = Some(policy.to_owned());
            log::warn!("fleet: {}", eviction_risk(policy));
        }
    }

    fn ok(&self) {
        if self.down.swap(false, Ordering::Relaxed) && self.warned.load(Ordering::Relaxed) {
            log::info!("fleet: redis is reachable again; shared state resumed");
        }
    }
}

/// Why a call did not run.
#[derive(Debug)]
pub(crate) enum CallError {
    /// No connection, and the next attempt is not due yet (backoff).
    Backoff,
    /// The connection or the call failed (timeout included).
    Redis(redis::RedisError),
    /// The server is too old for the fleet's commands (its version, as it says).
    TooOld(String),
    /// The server is a Redis Cluster node: the fleet's scripts use several keys (and make
    /// claim keys from Redis's clock), which a cluster spreads over slots.
    Cluster,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Backoff => f.write_str("waiting before the next connection attempt"),
            CallError::Redis(e) => write!(f, "{e}"),
            CallError::TooOld(v) => write!(
                f,
                "redis {v} is too old for the fleet, which needs {}.{} or later (XAUTOCLAIM, SMISMEMBER)",
                MIN_VERSION.0, MIN_VERSION.1
            ),
            CallError::Cluster => f.write_str(
                "redis cluster is not supported by the fleet: give it a standalone redis (a primary, with replicas for failover if needed)",
            ),
        }
    }
}

/// See [`Health`]: a flapping Redis is logged once per this period.
const QUIET_AFTER_WARNING: Duration = Duration::from_secs(30);

/// The oldest Redis the fleet's commands run on (`XAUTOCLAIM` and `SMISMEMBER` came in 6.2).
const MIN_VERSION: (u32, u32) = (6, 2);

/// A field of `INFO`'s answer (`name:value` lines).
fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// The server's version from `INFO`, when it says one.
fn server_version(info: &str) -> Option<(String, (u32, u32))> {
    let v = info_field(info, "redis_version")?;
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next()??, parts.next().flatten().unwrap_or(0));
    Some((v.to_owned(), (major, minor)))
}

const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A bounded Redis connection: a call never takes more than its bound (connecting included),
/// and after a failure the next connection attempt waits (100 ms doubling to 5 s).
pub(crate) struct Link {
    client: Client,
    conn: Option<Connection>,
    bound: Duration,
    next_attempt: Option<Instant>,
    backoff: Duration,
    what: &'static str,
    /// The socket timeouts set on `conn` (two system calls each time they change).
    timeouts: Option<Duration>,
}

impl Link {
    pub(crate) fn new(client: Client, bound: Duration, what: &'static str) -> Link {
        Link {
            client,
            conn: None,
            bound,
            next_attempt: None,
            backoff: BACKOFF_FIRST,
            what,
            timeouts: None,
        }
    }

    /// Runs `f` with a connection, within `bound` (or the link's own bound), connecting first
    /// when needed. Any failure drops the connection (a late answer must never be read as the
    /// next call's), reports the outage to `health` and schedules the next attempt.
    pub(crate) fn call<T>(
        &mut self,
        health: &Health,
        bound: Option<Duration>,
        f: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, CallError> {
        let bound = bound.unwrap_or(self.bound);
        let start = Instant::now();
        let mut connected_now = false;
        if self.conn.is_none() {
            if self.next_attempt.is_some_and(|t| start < t) {
                health.failed_calls.fetch_add(1, Ordering::Relaxed);
                return Err(CallError::Backoff);
            }
            match self.client.get_connection_with_timeout(bound) {
                Ok(c) => {
                    self.conn = Some(c);
                    self.timeouts = None;
                    connected_now = true;
                }
                Err(e) => {
                    self.fail(health, &e);
                    return Err(CallError::Redis(e));
                }
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(CallError::Backoff);
        };
        // What connecting took comes off this call's bound; on a connection already open the
        // bound is the same from call to call, and the socket keeps it.
        let left = if connected_now {
            bound
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1))
        } else {
            bound
        };
        let timeouts = if self.timeouts == Some(left) {
            Ok(())
        } else {
            self.timeouts = Some(left);
            conn.set_read_timeout(Some(left))
                .and_then(|()| conn.set_write_timeout(Some(left)))
        };
        if connected_now && timeouts.is_ok() {
            // A server too old for the fleet, or a cluster node, is reported like an outage
            // (it is one: the shared state cannot work), with its reason; one that may evict
            // the fleet's keys is warned about. A server that does not answer INFO (an ACL may
            // forbid it) is taken as it is. (`INFO` without a section: 6.2 takes one section
            // at most, and the default ones hold the version, the policy and cluster mode.)
            let info = redis::cmd("INFO").query::<String>(conn).ok();
            if let Some(policy) = info
                .as_deref()
                .and_then(|i| info_field(i, "maxmemory_policy"))
            {
                health.saw_policy(policy);
            }
            let refused = match info.as_deref() {
                Some(i) if info_field(i, "cluster_enabled") == Some("1") => {
                    Some(CallError::Cluster)
                }
                Some(i) => server_version(i)
                    .filter(|(_, found)| *found < MIN_VERSION)
                    .map(|(v, _)| CallError::TooOld(v)),
                None => None,
            };
            if let Some(e) = refused {
                self.conn = None;
                self.next_attempt = Some(Instant::now() + BACKOFF_MAX);
                health.failed(self.what, &e);
                return Err(e);
            }
        }
        let result = timeouts.and_then(|()| f(conn));
        match result {
            Ok(v) => {
                self.backoff = BACKOFF_FIRST;
                self.next_attempt = None;
                health.ok();
                Ok(v)
            }
            Err(e) => {
                self.fail(health, &e);
                Err(CallError::Redis(e))
            }
        }
    }

    fn fail(&mut self, health: &Health, e: &redis::RedisError) {
        self.conn = None;
        self.next_attempt = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        health.failed(self.what, e);
    }
}

#[cfg(test)]
mod tests {
    use super::{Health, info_field, server_version};

    #[test]
    fn the_servers_version_is_read_from_info() {
        let info = "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n";
        assert_eq!(server_version(info), Some(("7.0.15".into(), (7, 0))));
        assert_eq!(
            server_version("redis_version:6.2\n"),
            Some(("6.2".into(), (6, 2)))
        );
        assert_eq!(server_version("redis_version:5\n").unwrap().1, (5, 0));
        assert!(server_version("redis_version:5.0.7\n").unwrap().1 < super::MIN_VERSION);
        assert!(server_version("redis_version:6.2.0\n").unwrap().1 >= super::MIN_VERSION);
        assert!(server_version("redis_version:10.0.0\n").unwrap().1 >= super::MIN_VERSION);
        // No version, or none that reads as one: no verdict (the server is taken as it is).
        assert_eq!(server_version("# Server\r\n"), None);
        assert_eq!(server_version("redis_version:unstable\n"), None);
    }

    #[test]
    fn the_eviction_policy_is_read_from_info_and_kept_while_it_is_not_noeviction() {
        let info = "# Memory\r\nmaxmemory:0\r\nmaxmemory_policy:allkeys-lru\r\n";
        assert_eq!(info_field(info, "maxmemory_policy"), Some("allkeys-lru"));
        assert_eq!(info_field(info, "maxmemory"), Some("0"));
        assert_eq!(info_field(info, "maxmemory_p"), None);
        let h = Health::default();
        assert_eq!(h.eviction_policy(), None);
        h.saw_policy("volatile-ttl");
        assert_eq!(h.eviction_policy().as_deref(), Some("volatile-ttl"));
        h.saw_policy("noeviction");
        assert_eq!(h.eviction_policy(), None);
    }
}
