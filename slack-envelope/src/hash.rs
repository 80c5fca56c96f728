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
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl Default for FastHasher {
    /// A non-zero start: from zero, leading zero words would leave the state at zero, so
    /// "\0" * 8 and "\0" * 16 hashed alike.
    #[inline]
    fn default() -> Self {
        FastHasher(0x243f_6a88_85a3_08d3)
    }
}

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

/// A map keyed by a [`KeyHash`]'s first half: the key is a hash already, so it is used as it is.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<PassHasher>>;

/// Two independent 64-bit hashes of an id.
///
/// Not [`FastHasher`]: a table only needs its hashes spread over buckets, while two ids here
/// are taken for the same when both hashes agree, so each step mixes the whole state (the
/// 128-bit product of state and word folded to 64 bits, as wyhash does) and the two hashes
/// start from different seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyHash(pub(crate) u64, pub(crate) u64);

impl KeyHash {
    /// Both hashes of `key`.
    #[inline]
    pub(crate) fn of(key: &str) -> KeyHash {
        KeyHash(
            strong_hash(key.as_bytes(), 0x243f_6a88_85a3_08d3),
            strong_hash(key.as_bytes(), 0x1319_8a2e_0370_7344),
        )
    }
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    (p as u64) ^ ((p >> 64) as u64)
}

/// One 64-bit hash of `bytes` from `seed` (see [`KeyHash`]).
#[inline]
fn strong_hash(bytes: &[u8], seed: u64) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    let mut h = seed ^ P0;
    let mut rest = bytes;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        h = fold_mul(h ^ u64::from_le_bytes(*word), P1);
        rest = tail;
    }
    // At most seven bytes are left.
    let mut last = [0u8; 8];
    for (d, s) in last.iter_mut().zip(rest) {
        *d = *s;
    }
    h = fold_mul(h ^ u64::from_le_bytes(last), P1 ^ rest.len() as u64);
    fold_mul(h ^ bytes.len() as u64, P0)
}

/// Passes a `u64` key through (the keys of an [`IdMap`] are well-mixed hashes already).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PassHasher(u64);

impl Hasher for PassHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `u64` keys; folded in so the hasher stays correct for any key.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
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

    /// The hash as written before the tail was read in words: eight bytes per step, the
    /// tail byte by byte into a word. Only for comparing distributions.
    fn bytewise_tail(bytes: &[u8]) -> u64 {
        let mut h = FastHasher(0);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            h.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            for (d, s) in word.iter_mut().zip(rest) {
                *d = *s;
            }
            h.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
        h.finish()
    }

    #[test]
    fn hashing_is_deterministic_and_the_same_for_every_str_key_type() {
        for s in [
            "",
            "a",
            "Ev0000000042",
            "0000002a-72a5-4744-aba3-4d66eb52682b",
            "é🎉",
        ] {
            let arc: std::sync::Arc<str> = std::sync::Arc::from(s);
            let owned = s.to_owned();
            let build = BuildHasherDefault::<FastHasher>::default();
            assert_eq!(hash(s), hash(s));
            assert_eq!(build.hash_one(&arc), hash(s));
            assert_eq!(build.hash_one(&owned), hash(s));
        }
    }

    #[test]
    fn every_length_and_every_byte_position_changes_the_hash() {
        // Strings of every length up to 40, and each with one byte changed at each position
        // (the tail is read as overlapping halves: a change in the overlap must count too).
        let mut seen = std::collections::HashSet::new();
        for len in 0..=40usize {
            let base: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let build = BuildHasherDefault::<FastHasher>::default();
            assert!(seen.insert(build.hash_one(base.as_slice())), "len {len}");
            for pos in 0..len {
                for c in [b'0', 0u8, 0xff] {
                    let mut v = base.clone();
                    if let Some(x) = v.get_mut(pos) {
                        *x = c;
                    }
                    assert!(
                        seen.insert(build.hash_one(v.as_slice())),
                        "len {len} pos {pos}"
                    );
                }
            }
        }
        // Zero bytes at the end are not lost.
        let zeros: Vec<u64> = (0..=17).map(|n| hash(&"\0".repeat(n))).collect();
        let distinct: std::collections::HashSet<_> = zeros.iter().collect();
        assert_eq!(distinct.len(), zeros.len());
    }

    #[test]
    fn event_and_envelope_ids_fill_buckets_evenly() {
        // 16 384 sequential ids of each shape over 4 096 buckets (the low bits, as hashbrown
        // uses them, and the top seven, its control bytes): no bucket much fuller than a random
        // hash would make it, and the top bits as varied as the old hash made them.
        for shape in 0..3 {
            let mut low = vec![0u32; 4096];
            let mut top = std::collections::HashSet::new();
            let mut old_top = std::collections::HashSet::new();
            for i in 0..16_384u32 {
                let id = match shape {
                    0 => format!("Ev{i:010}"),
                    1 => format!("{i:08x}-72a5-4744-aba3-4d66eb52682b"),
                    _ => format!("Ev{i}"),
                };
                let h = hash(&id);
                if let Some(b) = low.get_mut((h & 4095) as usize) {
                    *b += 1;
                }
                top.insert(h >> 57);
                old_top.insert(bytewise_tail(id.as_bytes()) >> 57);
            }
            let max = low.iter().copied().max().unwrap_or(0);
            let empty = low.iter().filter(|&&n| n == 0).count();
            // Mean 4: a random hash gives a max around 12-13 and about 4096/e^4 = 75 empty.
            assert!(max <= 16, "shape {shape}: max {max}");
            assert!(empty < 160, "shape {shape}: {empty} empty buckets");
            assert_eq!(top.len(), 128, "shape {shape}");
            assert_eq!(old_top.len(), 128, "shape {shape}");
        }
    }
}
