//! The fleet's configuration.

use std::fmt;
use std::time::Duration;

/// How a replica reaches the fleet's Redis and how it shares state there.
///
/// ```
/// use std::time::Duration;
/// use slack_bot::fleet::FleetConfig;
///
/// let cfg = FleetConfig::new("rediss://redis.internal:6380/0")
///     .password("s3cret")
///     .key_prefix("myapp")
///     .call_timeout(Duration::from_millis(50));
/// assert!(!format!("{cfg:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct FleetConfig {
    pub(crate) url: String,
    pub(crate) password: Option<String>,
    pub(crate) prefix: String,
    pub(crate) call_timeout: Duration,
    pub(crate) replica_id: Option<String>,
    pub(crate) claim_ttl: Duration,
    pub(crate) lease_ttl: Duration,
    pub(crate) reclaim_idle: Duration,
    pub(crate) heartbeat_every: Duration,
    pub(crate) budget: usize,
    pub(crate) root_certs_pem: Option<Vec<u8>>,
}

impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetConfig")
            .field("url", &redact_url(&self.url))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("prefix", &self.prefix)
            .field("call_timeout", &self.call_timeout)
            .field("replica_id", &self.replica_id)
            .finish_non_exhaustive()
    }
}

/// The URL without its user information (a password may be there).
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}<redacted>@{}", &url[..s + 3], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

impl FleetConfig {
    /// A fleet on the Redis at `url` (`redis://host:port/db` or `rediss://` for TLS; a
    /// password may also be given in the URL as `redis://:password@host`).
    pub fn new(url: impl Into<String>) -> FleetConfig {
        FleetConfig {
            url: url.into(),
            password: None,
            prefix: "slack-bot".to_owned(),
            call_timeout: Duration::from_millis(50),
            replica_id: None,
            claim_ttl: Duration::from_secs(600),
            lease_ttl: Duration::from_secs(10),
            reclaim_idle: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(2),
            budget: 10,
            root_certs_pem: None,
        }
    }

    /// The Redis password (`AUTH`), if not in the URL. Never logged.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// The prefix of every key (default `slack-bot`), so several apps can share one Redis.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The bound on every call from the event loop (default 50 ms; at least 1 ms). A call
    /// that takes longer counts as Redis being away: the replica falls back to local
    /// behaviour for that call.
    pub fn call_timeout(mut self, d: Duration) -> Self {
        self.call_timeout = d.max(Duration::from_millis(1));
        self
    }

    /// This replica's name in the fleet (default: host name and process id).
    pub fn replica_id(mut self, id: impl Into<String>) -> Self {
        self.replica_id = Some(id.into());
        self
    }

    /// How long a claim on an event lasts at least (default 10 minutes, covering Slack's
    /// retries at about 0 s, 1 min and 5 min). Claims are kept by period of this length, so
    /// one lasts between this and twice this. Every replica of a fleet must use the same
    /// value (like the key prefix): replicas with different periods keep their claims apart
    /// and do not see each other's. `slack-bot fleet` shows a mismatch.
    pub fn claim_ttl(mut self, d: Duration) -> Self {
        self.claim_ttl = d.max(Duration::from_secs(1));
        self
    }

    /// How long a connection lease lasts without renewal (default 10 s): a dead replica's
    /// connections go back to the fleet's budget after this.
    pub fn lease_ttl(mut self, d: Duration) -> Self {
        self.lease_ttl = d.max(Duration::from_millis(300));
        self
    }

    /// How long an accepted event may sit unacknowledged with a consumer before another
    /// replica takes it over (default 30 s). Live replicas keep their running handlers' events
    /// fresh, so only a dead replica's events are taken.
    pub fn reclaim_idle(mut self, d: Duration) -> Self {
        self.reclaim_idle = d.max(Duration::from_millis(300));
        self
    }

    /// How often the replica publishes its heartbeat and renews its leases (default 2 s;
    /// at most a third of the lease time is used).
    pub fn heartbeat_every(mut self, d: Duration) -> Self {
        self.heartbeat_every = d.max(Duration::from_millis(50));
        self
    }

    /// The fleet's connection budget (default 10, Slack's limit per app; 1 to 10).
    pub fn connection_budget(mut self, n: usize) -> Self {
        self.budget = n.clamp(1, 10);
        self
    }

    /// For `rediss://`: trust these PEM root certificates instead of the Mozilla roots (a
    /// private CA, as managed Redis services and in-house deployments often use).
    pub fn tls_root_certs_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_certs_pem = Some(pem.as_ref().to_vec());
        self
    }

    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        for p in parts {
            k.push(':');
            k.push_str(p);
        }
        k
    }

    pub(crate) fn tick(&self) -> Duration {
        self.heartbeat_every.min(self.lease_ttl / 3)
    }
}

/// How long the dispatcher holds a request for the claimer's verdict at most before it judges
/// it alone (local fallback): a few call bounds (a batch may wait behind the one in flight),
/// at least 500 ms and at most 2 s, well within Slack's 3 s for the ack.
pub(crate) fn claim_bound(cfg: &FleetConfig) -> Duration {
    (cfg.call_timeout * 4).clamp(Duration::from_millis(500), Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let c = FleetConfig::new("redis://user:hunter2@h:1/0").password("pw-secret");
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2") && !d.contains("pw-secret"), "{d}");
        assert!(d.contains("redis://<redacted>@h:1/0"), "{d}");
    }
}
