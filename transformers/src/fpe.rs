//! Keyed bijections on small integer domains (format-preserving encryption), used by the unique
//! variants: a permutation can never map two inputs to one output.

use crate::engine::DomainHasher;

const ROUNDS: u64 = 8;

/// A balanced Feistel network over `2h` bits with cycle-walking onto `[0, max]`.
#[derive(Debug, Clone)]
pub(crate) struct Feistel {
    keys: DomainHasher,
}

impl Feistel {
    pub(crate) fn new(keys: DomainHasher) -> Self {
        Feistel { keys }
    }

    /// Permutes `x` within `[0, max]` (inclusive, so the full u64 range is `max = u64::MAX`).
    /// `tweak` selects an independent permutation (e.g. per length or per chunk).
    pub(crate) fn permute(&self, x: u64, max: u64, tweak: u64) -> u64 {
        debug_assert!(x <= max);
        if max == 0 {
            return 0;
        }
        let bits = 64 - max.leading_zeros();
        let half = bits.div_ceil(2).max(1);
        // Cycle-walking: the permutation on [0, 2^(2*half)) restricted to [0, max] is a permutation,
        // and each walk ends because x's cycle contains values <= max.
        let mut y = x;
        loop {
            y = self.round_trip(y, half, tweak);
            if y <= max {
                return y;
            }
        }
    }

    fn round_trip(&self, x: u64, half: u32, tweak: u64) -> u64 {
        let mask = if half >= 32 {
            u32::MAX as u64
        } else {
            (1u64 << half) - 1
        };
        let (mut l, mut r) = ((x >> half) & mask, x & mask);
        for round in 0..ROUNDS {
            let f = self.keys.hash_words(&[round | ((half as u64) << 8), tweak, r]) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << half) | r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Mode};
    use std::collections::HashSet;

    fn feistel() -> Feistel {
        Feistel::new(Engine::new(b"k", Mode::Deterministic).domain("fpe"))
    }

    #[test]
    fn small_domains_are_permutations() {
        let f = feistel();
        for max in [1u64, 2, 9, 99, 255, 999, 65535] {
            let seen: HashSet<u64> = (0..=max).map(|x| f.permute(x, max, 7)).collect();
            assert_eq!(seen.len() as u64, max + 1);
            assert!(seen.iter().all(|y| *y <= max));
        }
    }

    #[test]
    fn full_range_is_stable_and_mixes() {
        let f = feistel();
        let a = f.permute(12345, u64::MAX, 0);
        assert_eq!(a, f.permute(12345, u64::MAX, 0));
        assert_ne!(a, f.permute(12345, u64::MAX, 1));
        assert_ne!(a, 12345);
    }
}
