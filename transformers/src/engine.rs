//! The keyed engine: every fake value is derived from (salt, domain, input) so that one input gives
//! the same output in every table and every run (deterministic mode), without the salt being
//! recoverable from outputs.

use std::cell::Cell;
use std::fmt;
use std::hash::Hasher as _;

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng};
use serde::{Deserialize, Serialize};
use siphasher::sip::SipHasher13;
use siphasher::sip128::{Hasher128 as _, SipHasher13 as Sip128};

/// How outputs are derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Same salt + rule + input = same output, across tables and runs.
    #[default]
    Deterministic,
    /// Fresh values every run; within one run the keyed parts (unique bijections, `hash`) still agree.
    Random,
}

/// Label of the key derivation; changing it changes every fake value, so it never changes.
const KDF_LABEL: &[u8] = b"decoy engine key v1\0";

/// The keyed hash source shared by all transformers of a run. Cheap to clone (copies 2 keys).
#[derive(Clone)]
pub struct Engine {
    k0: u64,
    k1: u64,
    mode: Mode,
}

impl fmt::Debug for Engine {
    // The key is a function of the salt: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("mode", &self.mode)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Engine {
    /// Derives a 128-bit SipHash key from `salt` with SHA-256 (one-way: the key does not reveal the
    /// salt). In random mode a per-engine nonce is mixed in so that keyed outputs also change
    /// between runs.
    pub fn new(salt: &[u8], mode: Mode) -> Self {
        use sha2::Digest as _;
        let digest = sha2::Sha256::new()
            .chain_update(KDF_LABEL)
            .chain_update(salt)
            .finalize();
        let word = |i: usize| u64::from_le_bytes(digest[i..i + 8].try_into().expect("8 bytes"));
        let (mut k0, mut k1) = (word(0), word(8));
        if mode == Mode::Random {
            let mut os = rand::rng();
            k0 ^= os.next_u64();
            k1 ^= os.next_u64();
        }
        Engine { k0, k1, mode }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A hasher bound to one domain (transformer name + options fingerprint). Build it once per rule
    /// and reuse it: hashing then costs one SipHash of the input only.
    pub fn domain(&self, domain: &str) -> DomainHasher {
        let sub = |label: u8| {
            let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
            h.write_u8(label);
            h.write(domain.as_bytes());
            h.finish()
        };
        DomainHasher {
            k0: sub(2),
            k1: sub(3),
            mode: self.mode,
        }
    }

    /// Keyed, domain-separated 64-bit hash.
    pub fn hash64(&self, domain: &str, input: &[u8]) -> u64 {
        self.domain(domain).hash64(input)
    }

    /// Fills `out` with a keyed digest of any length.
    pub fn hash_bytes(&self, domain: &str, input: &[u8], out: &mut [u8]) {
        self.domain(domain).hash_bytes(input, out)
    }

    /// An RNG for one value: seeded from the keyed hash (deterministic) or thread-local entropy (random).
    pub fn rng(&self, domain: &str, input: &[u8]) -> SmallRng {
        self.domain(domain).rng(input)
    }
}

/// [`Engine`] keys specialised for one domain.
#[derive(Clone)]
pub struct DomainHasher {
    k0: u64,
    k1: u64,
    mode: Mode,
}

impl fmt::Debug for DomainHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainHasher")
            .field("mode", &self.mode)
            .field("key", &"<redacted>")
            .finish()
    }
}

thread_local! {
    // splitmix64 state for random mode: one OS read per thread, then a few ns per value.
    static FAST: Cell<u64> = Cell::new(rand::rng().next_u64());
}

fn fast_random() -> u64 {
    FAST.with(|s| {
        let x = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

impl DomainHasher {
    pub fn hash64(&self, input: &[u8]) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        h.write(input);
        h.finish()
    }

    /// Keyed hash of a small integer message, for round functions and tweaks.
    pub fn hash_words(&self, words: &[u64]) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        for w in words {
            h.write(&w.to_le_bytes());
        }
        h.finish()
    }

    pub fn hash128(&self, input: &[u8]) -> u128 {
        Sip128::new_with_keys(self.k0, self.k1).hash(input).into()
    }

    /// Digest of any length: SipHash128 in counter mode over (counter, input).
    pub fn hash_bytes(&self, input: &[u8], out: &mut [u8]) {
        for (i, chunk) in out.chunks_mut(16).enumerate() {
            let mut h = Sip128::new_with_keys(self.k0, self.k1);
            h.write(&(i as u64).to_le_bytes());
            h.write(input);
            let block = h.finish128().as_bytes();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }

    /// The seed for non-unique outputs: keyed in deterministic mode, fresh in random mode.
    pub fn seed(&self, input: &[u8]) -> u64 {
        match self.mode {
            Mode::Deterministic => self.hash64(input),
            Mode::Random => fast_random(),
        }
    }

    pub fn rng(&self, input: &[u8]) -> SmallRng {
        SmallRng::seed_from_u64(self.seed(input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_salted() {
        let a = Engine::new(b"salt", Mode::Deterministic);
        let b = Engine::new(b"salt", Mode::Deterministic);
        let c = Engine::new(b"other", Mode::Deterministic);
        assert_eq!(a.hash64("d", b"x"), b.hash64("d", b"x"));
        assert_ne!(a.hash64("d", b"x"), c.hash64("d", b"x"));
        assert_ne!(a.hash64("d", b"x"), a.hash64("e", b"x"));
        assert_ne!(a.hash64("d", b"x"), a.hash64("d", b"y"));
        let (mut r1, mut r2) = (a.rng("d", b"x"), b.rng("d", b"x"));
        assert_eq!(r1.next_u64(), r2.next_u64());
    }

    #[test]
    fn hash_bytes_is_long_and_stable() {
        let e = Engine::new(b"s", Mode::Deterministic);
        let (mut x, mut y) = ([0u8; 40], [0u8; 40]);
        e.hash_bytes("d", b"in", &mut x);
        e.hash_bytes("d", b"in", &mut y);
        assert_eq!(x, y);
        assert_ne!(x[..16], x[16..32]);
    }

    #[test]
    fn random_mode_varies() {
        let e = Engine::new(b"s", Mode::Random);
        let d = e.domain("d");
        assert_ne!(d.seed(b"x"), d.seed(b"x"));
        assert_ne!(Engine::new(b"s", Mode::Random).hash64("d", b"x"), e.hash64("d", b"x"));
    }

    #[test]
    fn debug_hides_key() {
        let e = Engine::new(b"supersecret", Mode::Deterministic);
        let s = format!("{e:?} {:?}", e.domain("x"));
        assert!(s.contains("redacted") && !s.contains(&e.k0.to_string()) && !s.contains("supersecret"));
    }

    #[test]
    fn mode_deserializes() {
        let m: Mode = serde_json::from_str("\"random\"").unwrap();
        assert_eq!(m, Mode::Random);
        assert_eq!(Mode::default(), Mode::Deterministic);
    }
}
