//! Duplicate suppression: remembers which requests were handed to the application.

use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hash::FastMap;

/// A bounded memory of recently seen keys (`event_id`s), covering at least `window`.
///
/// Memory is bounded twice: entries older than `window` are forgotten, and when more than
/// `capacity` entries are live the oldest is forgotten early (and counted in
/// [`DedupWindow::evicted_early`], so an undersized capacity shows up in stats).
#[derive(Debug, Clone)]
pub struct DedupWindow {
    window: Duration,
    capacity: usize,
    seen: FastMap<Arc<str>, Instant>,
    order: VecDeque<(Instant, Arc<str>)>,
    evicted_early: u64,
}

impl DedupWindow {
    /// A window of `window` length holding at most `capacity` keys.
    pub fn new(window: Duration, capacity: usize) -> Self {
        DedupWindow {
            window,
            capacity: capacity.max(1),
            seen: FastMap::default(),
            order: VecDeque::new(),
            evicted_early: 0,
        }
    }

    /// Records `key` at `now`; returns `true` when it was new, `false` for a duplicate. A key
    /// longer than [`MAX_ID_LEN`](crate::MAX_ID_LEN) is not remembered (always new).
    pub fn insert(&mut self, now: Instant, key: &str) -> bool {
        self.insert_shared(now, &Arc::from(key))
    }

    /// [`DedupWindow::insert`] with a shared key: remembered without copying it.
    ///
    /// A key longer than [`MAX_ID_LEN`](crate::MAX_ID_LEN) is not remembered (it counts as
    /// new): memory stays bounded in bytes, not only in keys. Frames with such ids are
    /// refused before they get here.
    pub(crate) fn insert_shared(&mut self, now: Instant, key: &Arc<str>) -> bool {
        if key.len() > crate::MAX_ID_LEN {
            return true;
        }
        self.expire(now);
        if self.seen.len() < self.capacity {
            // Room left (the usual case): one probe finds the key or its slot.
            return match self.seen.entry(Arc::clone(key)) {
                Entry::Occupied(_) => false,
                Entry::Vacant(slot) => {
                    slot.insert(now);
                    self.order.push_back((now, Arc::clone(key)));
                    true
                }
            };
        }
        if self.seen.contains_key(key) {
            return false;
        }
        while self.seen.len() >= self.capacity {
            match self.order.pop_front() {
                Some((_, old)) => {
                    if self.seen.remove(&old).is_some() {
                        self.evicted_early += 1;
                    }
                }
                None => break,
            }
        }
        self.seen.insert(Arc::clone(key), now);
        self.order.push_back((now, Arc::clone(key)));
        true
    }

    /// Whether `key` is remembered.
    pub fn contains(&self, key: &str) -> bool {
        self.seen.contains_key(key)
    }

    /// Forgets `key` (the application could not take it, so a redelivery must get through).
    pub fn forget(&mut self, key: &str) {
        self.seen.remove(key);
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
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.window {
                break;
            }
            if let Some((at, key)) = self.order.pop_front() {
                // Only remove if the live entry is this one (it may have been forgotten and re-added).
                if self.seen.get(&key) == Some(&at) {
                    self.seen.remove(&key);
                }
            }
        }
        // `order` may hold stale entries for forgotten keys; keep it from growing without bound.
        if self.order.len() > self.capacity.saturating_mul(2) {
            let seen = &self.seen;
            self.order.retain(|(at, k)| seen.get(k) == Some(at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
