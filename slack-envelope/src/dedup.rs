//! Duplicate suppression: remembers which requests were handed to the application.

use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};

use crate::hash::{IdMap, KeyHash};

/// A bounded memory of recently seen keys (`event_id`s), covering at least `window`.
///
/// Memory is bounded twice: entries older than `window` are forgotten, and when more than
/// `capacity` entries are live the oldest is forgotten early (and counted in
/// [`DedupWindow::evicted_early`], so an undersized capacity shows up in stats).
///
/// Keys are remembered by two independent 64-bit hashes, not by their text: forgetting the
/// oldest key (once per new one when the window is full) then touches neither the key's
/// bytes nor an allocation, and an entry takes 32 bytes whatever the key's length. Two keys
/// are taken for the same only when both hashes agree (about one chance in 2^128).
#[derive(Debug, Clone)]
pub struct DedupWindow {
    window: Duration,
    capacity: usize,
    /// By the key's first hash: when it was seen and its second hash.
    seen: IdMap<(Instant, u64)>,
    order: VecDeque<(Instant, u64)>,
    evicted_early: u64,
}

impl DedupWindow {
    /// A window of `window` length holding at most `capacity` keys.
    pub fn new(window: Duration, capacity: usize) -> Self {
        DedupWindow {
            window,
            capacity: capacity.max(1),
            seen: IdMap::default(),
            order: VecDeque::new(),
            evicted_early: 0,
        }
    }

    /// Records `key` at `now`; returns `true` when it was new, `false` for a duplicate. A key
    /// longer than [`MAX_ID_LEN`](crate::MAX_ID_LEN) is not remembered (always new).
    pub fn insert(&mut self, now: Instant, key: &str) -> bool {
        if key.len() > crate::MAX_ID_LEN {
            return true;
        }
        self.expire(now);
        let KeyHash(h, check) = KeyHash::of(key);
        if let Some(&(_, c)) = self.seen.get(&h) {
            if c == check {
                return false;
            }
            // Another key with the same first hash is remembered: this one counts as new
            // and is not remembered (the other stays).
            return true;
        }
        while self.seen.len() >= self.capacity {
            match self.order.pop_front() {
                Some((at, old)) => {
                    if let Entry::Occupied(e) = self.seen.entry(old) {
                        if e.get().0 == at {
                            e.remove();
                            self.evicted_early += 1;
                        }
                    }
                }
                None => break,
            }
        }
        self.seen.insert(h, (now, check));
        self.order.push_back((now, h));
        true
    }

    /// Whether `key` is remembered.
    pub fn contains(&self, key: &str) -> bool {
        let KeyHash(h, check) = KeyHash::of(key);
        self.seen.get(&h).is_some_and(|&(_, c)| c == check)
    }

    /// Forgets `key` (the application could not take it, so a redelivery must get through).
    pub fn forget(&mut self, key: &str) {
        let KeyHash(h, check) = KeyHash::of(key);
        if let Entry::Occupied(e) = self.seen.entry(h) {
            if e.get().1 == check {
                e.remove();
            }
        }
        // Its entry in `order` is skipped lazily when it expires.
    }

    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// How many keys were forgotten before their window ended because of the capacity bound.
    pub fn evicted_early(&self) -> u64 {
        self.evicted_early
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, h)) = self.order.front() {
            if now.saturating_duration_since(at) < self.window {
                break;
            }
            self.order.pop_front();
            // Only remove if the live entry is this one (it may have been forgotten and
            // remembered again since).
            if let Entry::Occupied(e) = self.seen.entry(h) {
                if e.get().0 == at {
                    e.remove();
                }
            }
        }
        // `order` may hold stale entries for forgotten keys; keep it from growing without bound.
        if self.order.len() > self.capacity.saturating_mul(2) {
            let seen = &self.seen;
            self.order
                .retain(|(at, h)| seen.get(h).is_some_and(|(a, _)| a == at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keys_are_never_taken_for_duplicates() {
        // Keys are remembered by their hashes: similar ids (one character apart, lengths
        // around the 8-byte steps of the hasher) must all stay distinct.
        let t0 = Instant::now();
        let mut d = DedupWindow::new(Duration::from_secs(600), 1_000_000);
        let mut n = 0;
        for i in 0..200_000u32 {
            // Three shapes that never spell the same id (lengths 10, 4 to 9, 1 to 6 with no
            // leading "E").
            for k in [format!("Ev{i:08}"), format!("Ev0{i}"), format!("{i}")] {
                assert!(!d.contains(&k), "{k} remembered before it was inserted");
                assert!(d.insert(t0, &k), "{k} taken for a duplicate");
                assert!(!d.insert(t0, &k), "{k} not remembered");
                n += 1;
            }
        }
        assert_eq!(d.len(), n);
    }

    #[test]
    fn remembers_within_the_window_and_forgets_after() {
        let t0 = Instant::now();
        let mut d = DedupWindow::new(Duration::from_secs(600), 100);
        assert!(d.insert(t0, "Ev1"));
        assert!(!d.insert(t0 + Duration::from_secs(360), "Ev1"));
        assert!(d.insert(t0 + Duration::from_secs(601), "Ev1"));
    }

    #[test]
    fn capacity_bounds_memory() {
        let t0 = Instant::now();
        let mut d = DedupWindow::new(Duration::from_secs(600), 3);
        for k in ["a", "b", "c", "d"] {
            assert!(d.insert(t0, k));
        }
        assert_eq!(d.len(), 3);
        assert!(!d.contains("a"));
        assert_eq!(d.evicted_early(), 1);
    }

    #[test]
    fn forget_lets_a_redelivery_through() {
        let t0 = Instant::now();
        let mut d = DedupWindow::new(Duration::from_secs(600), 10);
        assert!(d.insert(t0, "Ev1"));
        d.forget("Ev1");
        assert!(d.insert(t0 + Duration::from_secs(1), "Ev1"));
        // The stale order entry from the first insert must not drop the second one early.
        assert!(!d.insert(t0 + Duration::from_secs(600), "Ev1"));
    }

    #[test]
    fn stale_entries_do_not_grow_without_bound() {
        let t0 = Instant::now();
        let mut d = DedupWindow::new(Duration::from_secs(600), 4);
        for i in 0..1000 {
            let k = format!("k{i}");
            d.insert(t0, &k);
            d.forget(&k);
        }
        assert!(d.order.len() <= 9);
    }
}
