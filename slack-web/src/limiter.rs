//! Outgoing rate limiting as pure logic: time is an argument, nothing here sleeps or reads a
//! clock, so the schedule is tested with a fake clock.
//!
//! Each limit is a token bucket, implemented as GCRA (one "theoretical arrival time" per
//! bucket): `burst` calls may go at once, then one every `interval`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The method whose calls are also limited per channel.
pub(crate) const POST_MESSAGE: &str = "chat.postMessage";

/// A token bucket: `burst` calls at once, refilled at one call per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    interval: Duration,
    burst: u32,
}

impl Rate {
    /// `count` calls per `period` sustained, with bursts of up to `burst` calls (at least 1).
    /// A zero `count` is treated as 1.
    pub fn new(count: u32, period: Duration, burst: u32) -> Rate {
        Rate {
            interval: period / count.max(1),
            burst: burst.max(1),
        }
    }

    /// `count` calls per minute with bursts of up to `burst`.
    pub fn per_minute(count: u32, burst: u32) -> Rate {
        Rate::new(count, Duration::from_secs(60), burst)
    }

    /// The sustained spacing between two calls.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The burst size.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    fn tolerance(&self) -> Duration {
        self.interval.saturating_mul(self.burst.saturating_sub(1))
    }
}

/// Slack's Web API rate-limit tiers (per method, per workspace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tier {
    /// About 1 call per minute.
    Tier1,
    /// About 20 calls per minute.
    Tier2,
    /// About 50 calls per minute.
    Tier3,
    /// About 100 calls per minute.
    Tier4,
}

impl Tier {
    /// The bucket used for this tier: the tier's calls per minute, with a burst of a fifth of
    /// that (Slack tolerates short bursts; a 429 is still handled if it disagrees).
    pub fn rate(self) -> Rate {
        match self {
            Tier::Tier1 => Rate::per_minute(1, 1),
            Tier::Tier2 => Rate::per_minute(20, 4),
            Tier::Tier3 => Rate::per_minute(50, 10),
            Tier::Tier4 => Rate::per_minute(100, 20),
        }
    }

    /// The tier of a known method, from Slack's documentation (`apps.connections.open` is
    /// treated as Tier 3: about 50 calls a minute, so reconnect storms are paced).
    pub fn of(method: &str) -> Option<Tier> {
        Some(match method {
            "apps.connections.open" => Tier::Tier3,
            "auth.test" => Tier::Tier4,
            "chat.update" | "chat.delete" | "reactions.add" | "reactions.remove" => Tier::Tier3,
            "chat.postEphemeral" | "views.open" | "views.update" | "views.push"
            | "views.publish" => Tier::Tier4,
            // The typed methods of methods.rs, tiers from Slack's method reference.
            "conversations.list" | "users.list" | "pins.add" | "pins.remove" => Tier::Tier2,
            "conversations.history"
            | "conversations.replies"
            | "conversations.info"
            | "conversations.join"
            | "conversations.open"
            | "users.lookupByEmail"
            | "chat.scheduleMessage"
            | "team.info" => Tier::Tier3,
            "conversations.members"
            | "users.info"
            | "chat.getPermalink"
            | "files.info"
            | "files.getUploadURLExternal"
            | "files.completeUploadExternal" => Tier::Tier4,
            _ => return None,
        })
    }
}

/// What the [`RateLimiter`] enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterConfig {
    per_channel: Option<Rate>,
    methods: HashMap<String, Option<Rate>>,
    use_tiers: bool,
}

impl Default for LimiterConfig {
    /// [`LimiterConfig::slack_defaults`].
    fn default() -> Self {
        LimiterConfig::slack_defaults()
    }
}

impl LimiterConfig {
    /// `chat.postMessage`: 1 per second per channel, bursts of 5 (Slack's documented limit);
    /// other known methods: their [`Tier`]; unknown methods: no pacing (429s still pause
    /// them).
    pub fn slack_defaults() -> LimiterConfig {
        LimiterConfig {
            per_channel: Some(Rate::new(1, Duration::from_secs(1), 5)),
            methods: HashMap::new(),
            use_tiers: true,
        }
    }

    /// No proactive pacing at all; only a 429 pauses a method.
    pub fn only_retry_after() -> LimiterConfig {
        LimiterConfig {
            per_channel: None,
            methods: HashMap::new(),
            use_tiers: false,
        }
    }

    /// Sets the per-channel limit for `chat.postMessage` (`None`: no per-channel limit).
    pub fn per_channel(mut self, rate: Option<Rate>) -> Self {
        self.per_channel = rate;
        self
    }

    /// Sets the method-wide limit of one method (`None`: not paced), overriding its tier.
    pub fn method(mut self, method: impl Into<String>, rate: Option<Rate>) -> Self {
        self.methods.insert(method.into(), rate);
        self
    }

    fn method_rate(&self, method: &str) -> Option<Rate> {
        match self.methods.get(method) {
            Some(rate) => *rate,
            None if self.use_tiers => Tier::of(method).map(Tier::rate),
            None => None,
        }
    }
}

/// Per-bucket state: the theoretical arrival time of the next call.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    tat: Instant,
}

impl Gcra {
    fn wait(&self, rate: Rate, now: Instant) -> Duration {
        self.tat
            .saturating_duration_since(now)
            .saturating_sub(rate.tolerance())
    }

    fn take(&mut self, rate: Rate, now: Instant) {
        self.tat = self.tat.max(now) + rate.interval;
    }
}

/// Per-channel and per-method rate limiter, plus "paused by a 429" state.
///
/// Pure logic: every method takes `now`. Share one (behind a mutex) between everything that
/// calls Slack with the same token, so a 429 seen by one caller pauses the method for all.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    config: LimiterConfig,
    channels: HashMap<String, Gcra>,
    methods: HashMap<String, Gcra>,
    paused: HashMap<String, Instant>,
}

/// Above this many tracked buckets, idle ones are forgotten.
const PRUNE_ABOVE: usize = 1024;

impl RateLimiter {
    /// A limiter enforcing `config`.
    pub fn new(config: LimiterConfig) -> RateLimiter {
        RateLimiter {
            config,
            channels: HashMap::new(),
            methods: HashMap::new(),
            paused: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LimiterConfig {
        &self.config
    }

    /// How long from `now` until a call to `method` (to `channel`, for `chat.postMessage`)
    /// would be allowed; zero when it is allowed now. Takes nothing.
    pub fn delay(&self, method: &str, channel: Option<&str>, now: Instant) -> Duration {
        let mut wait = self.paused_for(method, now).unwrap_or_default();
        if let Some(rate) = self.config.method_rate(method) {
            if let Some(g) = self.methods.get(method) {
                wait = wait.max(g.wait(rate, now));
            }
        }
        if let (Some(rate), Some(ch)) = (self.channel_rate(method), channel) {
            if let Some(g) = self.channels.get(ch) {
                wait = wait.max(g.wait(rate, now));
            }
        }
        wait
    }

    /// Takes a slot for one call if allowed at `now`; otherwise returns how long to wait
    /// (and takes nothing).
    pub fn try_acquire(
        &mut self,
        method: &str,
        channel: Option<&str>,
        now: Instant,
    ) -> Result<(), Duration> {
        let wait = self.delay(method, channel, now);
        if !wait.is_zero() {
            return Err(wait);
        }
        if let Some(rate) = self.config.method_rate(method) {
            self.methods
                .entry(method.to_owned())
                .or_insert(Gcra { tat: now })
                .take(rate, now);
        }
        if let (Some(rate), Some(ch)) = (self.channel_rate(method), channel) {
            self.channels
                .entry(ch.to_owned())
                .or_insert(Gcra { tat: now })
                .take(rate, now);
        }
        if self.channels.len() + self.methods.len() + self.paused.len() > PRUNE_ABOVE {
            self.prune(now);
        }
        Ok(())
    }

    /// Records a 429 for `method`: nobody calls it again until `retry_after` has passed.
    pub fn on_rate_limited(&mut self, method: &str, retry_after: Duration, now: Instant) {
        // A huge Retry-After saturates at a day instead of overflowing the clock.
        let until = now
            .checked_add(retry_after)
            .or_else(|| now.checked_add(Duration::from_secs(86_400)))
            .unwrap_or(now);
        let entry = self.paused.entry(method.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// If `method` is paused by a 429 at `now`, for how much longer.
    pub fn paused_for(&self, method: &str, now: Instant) -> Option<Duration> {
        self.paused
            .get(method)
            .map(|until| until.saturating_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Forgets buckets that are full again and pauses that are over (bounded memory).
    pub fn prune(&mut self, now: Instant) {
        self.channels.retain(|_, g| g.tat > now);
        self.methods.retain(|_, g| g.tat > now);
        self.paused.retain(|_, until| *until > now);
    }

    fn channel_rate(&self, method: &str) -> Option<Rate> {
        if method == POST_MESSAGE {
            self.config.per_channel
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    /// Sends as soon as allowed and records the send times (offsets from t0).
    fn schedule(
        l: &mut RateLimiter,
        method: &str,
        ch: Option<&str>,
        t0: Instant,
        n: usize,
    ) -> Vec<Duration> {
        let mut now = t0;
        let mut out = Vec::new();
        while out.len() < n {
            match l.try_acquire(method, ch, now) {
                Ok(()) => out.push(now - t0),
                Err(w) => {
                    assert!(!w.is_zero());
                    now += w;
                }
            }
        }
        out
    }

    #[test]
    fn post_message_burst_5_then_1_per_second_per_channel() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(LimiterConfig::default());
        let times = schedule(&mut l, POST_MESSAGE, Some("C1"), t0, 8);
        let z = Duration::ZERO;
        assert_eq!(times, vec![z, z, z, z, z, SEC, 2 * SEC, 3 * SEC]);
        // Another channel has its own bucket.
        assert_eq!(l.try_acquire(POST_MESSAGE, Some("C2"), t0), Ok(()));
        // C1 at t0+3s is exhausted: the next slot is at 4s.
        assert_eq!(l.delay(POST_MESSAGE, Some("C1"), t0 + 3 * SEC), SEC);
        // After a quiet period the burst is back (but never more than 5).
        let later = t0 + 100 * SEC;
        let times = schedule(&mut l, POST_MESSAGE, Some("C1"), later, 6);
        assert_eq!(times, vec![z, z, z, z, z, SEC]);
    }

    #[test]
    fn delay_does_not_take() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(LimiterConfig::default());
        for _ in 0..10 {
            assert_eq!(l.delay(POST_MESSAGE, Some("C"), t0), Duration::ZERO);
        }
        assert_eq!(schedule(&mut l, POST_MESSAGE, Some("C"), t0, 5).len(), 5);
        assert_eq!(l.delay(POST_MESSAGE, Some("C"), t0), SEC);
        assert_eq!(l.try_acquire(POST_MESSAGE, Some("C"), t0), Err(SEC));
    }

    #[test]
    fn tiers_pace_methods_without_channel() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(LimiterConfig::default());
        // Tier 2: 20/min = one every 3 s, burst 4.
        let mut cfg_l =
            RateLimiter::new(LimiterConfig::default().method("x.tier2", Some(Tier::Tier2.rate())));
        let times = schedule(&mut cfg_l, "x.tier2", None, t0, 6);
        let z = Duration::ZERO;
        assert_eq!(times, vec![z, z, z, z, 3 * SEC, 6 * SEC]);
        // Tier 3 reactions.add: burst 10, then every 1.2 s.
        let times = schedule(&mut l, "reactions.add", Some("ignored"), t0, 11);
        assert_eq!(times.get(9), Some(&z));
        assert_eq!(times.get(10), Some(&Duration::from_millis(1200)));
        // Unknown methods are not paced.
        assert_eq!(schedule(&mut l, "foo.bar", None, t0, 100).last(), Some(&z));
        // Unless configured.
        let mut one = RateLimiter::new(LimiterConfig::only_retry_after());
        assert_eq!(
            schedule(&mut one, POST_MESSAGE, Some("C"), t0, 50).last(),
            Some(&z)
        );
    }

    #[test]
    fn a_429_pauses_the_method_for_everyone() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(LimiterConfig::default());
        l.on_rate_limited(POST_MESSAGE, 30 * SEC, t0);
        assert_eq!(l.paused_for(POST_MESSAGE, t0 + 10 * SEC), Some(20 * SEC));
        // Every channel waits, even one never used.
        assert_eq!(
            l.try_acquire(POST_MESSAGE, Some("C9"), t0 + 10 * SEC),
            Err(20 * SEC)
        );
        // Other methods are unaffected.
        assert_eq!(l.try_acquire("reactions.add", None, t0), Ok(()));
        // A shorter second 429 does not shorten the pause.
        l.on_rate_limited(POST_MESSAGE, SEC, t0 + 10 * SEC);
        assert_eq!(l.paused_for(POST_MESSAGE, t0 + 10 * SEC), Some(20 * SEC));
        // An absurd Retry-After does not overflow the clock.
        l.on_rate_limited("x.y", Duration::MAX, t0);
        assert!(l.paused_for("x.y", t0).is_some());
        // Over at t0 + 30 s.
        assert_eq!(l.paused_for(POST_MESSAGE, t0 + 30 * SEC), None);
        assert_eq!(
            l.try_acquire(POST_MESSAGE, Some("C9"), t0 + 30 * SEC),
            Ok(())
        );
    }

    #[test]
    fn prune_forgets_idle_state() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(LimiterConfig::default());
        for i in 0..2000 {
            let ch = format!("C{i}");
            assert_eq!(l.try_acquire(POST_MESSAGE, Some(&ch), t0 + SEC * i), Ok(()));
        }
        assert!(l.channels.len() <= PRUNE_ABOVE + 1);
        l.prune(t0 + 10_000 * SEC);
        assert!(l.channels.is_empty() && l.methods.is_empty() && l.paused.is_empty());
    }

    #[test]
    fn rate_edge_cases() {
        let r = Rate::new(0, SEC, 0);
        assert_eq!((r.interval(), r.burst()), (SEC, 1));
        assert_eq!(
            Rate::per_minute(50, 10).interval(),
            Duration::from_millis(1200)
        );
    }
}
