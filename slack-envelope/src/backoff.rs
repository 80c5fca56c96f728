//! Reconnect backoff: exponential, full jitter, capped; a token bucket that paces connection
//! attempts; and a tiny seeded random source.

use std::time::Instant;

use std::time::Duration;

/// A small, seeded pseudo-random generator (xorshift64*) so jitter is reproducible in tests
/// and the core never reads a randomness source of its own.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A generator from `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Self {
        Jitter {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniformly distributed duration in `[0, max]` (millisecond resolution).
    pub fn up_to(&mut self, max: Duration) -> Duration {
        let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(self.next_u64() % (ms + 1))
    }
}

/// The reconnect policy: delay for attempt `n` is uniform in `[min, min(cap, base·2ⁿ)]`
/// ("full jitter" with a small floor so a run of failures can never become a hot loop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's delay.
    pub(crate) base: Duration,
    /// The cap (30 s by default).
    pub(crate) cap: Duration,
    /// The floor of every delay.
    pub(crate) min: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            min: Duration::from_millis(250),
        }
    }
}

/// Chainable setters (checked together by `validate`), and the getters other crates need.
impl Backoff {
    /// The ceiling of the first retry's delay.
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The cap (30 s by default).
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// The floor of every delay.
    pub fn min(mut self, min: Duration) -> Self {
        self.min = min;
        self
    }
}

impl Backoff {
    /// The ceiling for failure number `attempt` (1 for the first failure).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let factor = 1u32 << exp;
        self.base.saturating_mul(factor).min(self.cap).max(self.min)
    }

    /// The jittered delay for failure number `attempt`.
    pub fn delay(&self, attempt: u32, jitter: &mut Jitter) -> Duration {
        let ceiling = self.ceiling(attempt);
        let span = ceiling.saturating_sub(self.min);
        self.min + jitter.up_to(span)
    }
}

/// A token bucket: at most `burst` attempts at once, then one per `interval`. It paces calls
/// to `apps.connections.open` (rate limited by Slack, about 50 a minute) whatever the fault
/// pattern.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    burst: u32,
    interval: Duration,
    tokens: u32,
    /// When the last token was added (or the bucket first used).
    since: Option<Instant>,
}

impl TokenBucket {
    pub(crate) fn new(burst: u32, interval: Duration) -> Self {
        TokenBucket {
            burst,
            interval,
            tokens: burst,
            since: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        let since = *self.since.get_or_insert(now);
        if self.interval.is_zero() || self.burst == 0 {
            self.tokens = self.burst;
            return;
        }
        let elapsed = now.saturating_duration_since(since);
        let earned = elapsed.as_nanos() / self.interval.as_nanos();
        if earned == 0 {
            return;
        }
        if self
            .tokens
            .saturating_add(u32::try_from(earned).unwrap_or(u32::MAX))
            >= self.burst
        {
            self.tokens = self.burst;
            self.since = Some(now);
        } else {
            // `earned` is below `burst` here, so it fits.
            let earned = u32::try_from(earned).unwrap_or(0);
            self.tokens += earned;
            self.since = Some(since + self.interval * earned);
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.burst == 0 {
            return true;
        }
        if self.tokens == 0 {
            return false;
        }
        if self.tokens == self.burst {
            // A full bucket starts earning from now.
            self.since = Some(now);
        }
        self.tokens -= 1;
        true
    }

    /// When the next token comes (now if there is one).
    pub(crate) fn next_token_at(&mut self, now: Instant) -> Instant {
        self.refill(now);
        match self.since {
            Some(since) if self.tokens == 0 && self.burst > 0 => (since + self.interval).max(now),
            _ => now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_then_cap() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=7).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn delays_stay_within_floor_and_ceiling() {
        let b = Backoff::default();
        let mut j = Jitter::new(7);
        for n in 1..50 {
            let d = b.delay(n, &mut j);
            assert!(d >= b.min && d <= b.ceiling(n), "attempt {n}: {d:?}");
        }
    }

    #[test]
    fn the_bucket_allows_a_burst_then_one_per_interval() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, Duration::from_secs(2));
        assert!(b.try_take(t0) && b.try_take(t0) && b.try_take(t0));
        assert!(!b.try_take(t0));
        assert_eq!(b.next_token_at(t0), t0 + Duration::from_secs(2));
        let t1 = t0 + Duration::from_millis(1999);
        assert!(!b.try_take(t1));
        let t2 = t0 + Duration::from_secs(2);
        assert!(b.try_take(t2));
        assert!(!b.try_take(t2));
        // Over a long time, never more than burst + elapsed / interval.
        let mut taken = 0;
        for ms in (0..600_000).step_by(100) {
            if b.try_take(t2 + Duration::from_millis(ms)) {
                taken += 1;
            }
        }
        assert!(taken <= 3 + 300, "{taken}");
        assert!(taken >= 299, "{taken}");
    }

    #[test]
    fn same_seed_same_sequence() {
        let b = Backoff::default();
        let (mut a, mut c) = (Jitter::new(42), Jitter::new(42));
        let x: Vec<_> = (1..10).map(|n| b.delay(n, &mut a)).collect();
        let y: Vec<_> = (1..10).map(|n| b.delay(n, &mut c)).collect();
        assert_eq!(x, y);
    }
}
