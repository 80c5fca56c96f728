//! A small, fast hasher for the core's maps of envelope ids and event ids.
//!
//! The standard SipHash is built to resist collision attacks by whoever chooses the keys.
//! Here the keys are ids chosen by Slack and received over TLS, and the maps are bounded, so
//! a multiply-rotate hash (eight bytes per step, as in FxHash) with a final mix is enough,
//! and costs a fraction of SipHash on 20 to 40 byte ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` using [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// See the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some((word, tail)) = rest.split_first_chunk::<8>() {
            if tail.is_empty() {
                break;
            }
            self.add(u64::from_le_bytes(*word));
            rest = tail;
        }
        // The last one to eight bytes, read without a byte loop: a whole word (when there
        // are eight), or two overlapping halves, or up to three single bytes.
        let n = rest.len() as u64;
        let last = if let Some(word) = rest.first_chunk::<8>() {
            u64::from_le_bytes(*word)
        } else if let (Some(lo), Some(hi)) = (rest.first_chunk::<4>(), rest.last_chunk::<4>()) {
            u64::from(u32::from_le_bytes(*lo)) | (u64::from(u32::from_le_bytes(*hi)) << 32)
        } else {
            match *rest {
                [] => return,
                [a] => u64::from(a),
                [a, b] => u64::from(a) | (u64::from(b) << 8),
                [a, b, c] => u64::from(a) | (u64::from(b) << 8) | (u64::from(c) << 16),
                // Four or more were read above.
                _ => 0,
            }
        };
        // The length of the tail tells "ab" from "ab\0" (and the overlapping reads apart).
        self.add(last ^ (n << 59));
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Mix the high bits (where the multiplications put the entropy) into the low ones
        // the table indexes with.
        let mut h = self.0;
        h ^= h >> 32;
        h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    fn hash(s: &str) -> u64 {
        BuildHasherDefault::<FastHasher>::default().hash_one(s)
    }

    #[test]
    fn similar_ids_spread_over_buckets() {
        // Ids that differ in one late character must land in different buckets of a small table.
        let mut buckets = std::collections::HashSet::new();
        for i in 0..256 {
            buckets.insert(hash(&format!("Ev{i:010}")) & 1023);
        }
        assert!(buckets.len() > 200, "{}", buckets.len());
        assert_ne!(hash("ab"), hash("ab\0"));
        assert_ne!(hash(""), hash("\0"));
    }
}
