//! Key values as set members, computed the same way from a key scan and from a dumped row: both read
//! the fields as the server prints them in COPY text.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

use super::graph::Codec;

/// The COPY text NULL marker.
const NULL: &[u8] = b"\\N";

/// The member for the key made of `fields[positions]`; `None` when a part is NULL (such a foreign
/// key references nothing) or an integer key's text is not an integer (a JSON value of another kind).
pub fn encode(codec: Codec, fields: &[&[u8]], positions: &[usize]) -> Option<u64> {
    match codec {
        Codec::Int { unsigned } => {
            let text = std::str::from_utf8(fields[positions[0]]).ok()?;
            if unsigned {
                text.parse::<u64>().ok()
            } else {
                // Flipping the sign bit keeps the order and puts small keys of either sign near
                // each other, which is what compressed bitmaps like.
                text.parse::<i64>().ok().map(|v| (v as u64) ^ (1 << 63))
            }
        }
        Codec::Hash => {
            let mut hasher = SipHasher13::new_with_keys(0x6465_636f_795f_6b65, 0x7973_5f73_7562_7365);
            for &p in positions {
                let field = fields[p];
                if field == NULL {
                    return None;
                }
                hasher.write_usize(field.len());
                hasher.write(field);
            }
            Some(hasher.finish())
        }
    }
}

/// The member that stands for a row: like [`encode`], but NULL is a value like any other (a table
/// without a primary key is told apart by all its columns, some of which may be NULL).
pub fn identity(codec: Codec, fields: &[&[u8]], positions: &[usize]) -> u64 {
    if let Some(member) = encode(codec, fields, positions) {
        return member;
    }
    let mut hasher = SipHasher13::new_with_keys(0x6465_636f_795f_6b65, 0x7973_5f73_7562_7365);
    for &p in positions {
        hasher.write_usize(fields[p].len());
        hasher.write(fields[p]);
    }
    hasher.finish()
}

/// Splits a COPY text row into its raw fields.
pub fn split_fields<'a>(line: &'a [u8], out: &mut Vec<&'a [u8]>) {
    out.clear();
    out.extend(line.split(|&b| b == b'\t'));
}

/// The keyed hash that samples roots and picks children: depends on the salt, so the subset cannot
/// be predicted without it, and on nothing else, so it is the same every run.
#[derive(Clone, Copy)]
pub struct Sampler {
    k0: u64,
    k1: u64,
}

impl Sampler {
    pub fn new(salt: &str) -> Sampler {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("decoy subset sampling\0{salt}").as_bytes());
        Sampler {
            k0: u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")),
            k1: u64::from_le_bytes(digest[8..16].try_into().expect("8 bytes")),
        }
    }

    pub fn hash(&self, identity: u64) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(self.k0, self.k1);
        hasher.write_u64(identity);
        hasher.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_keep_their_value_and_nulls_reference_nothing() {
        let fields: Vec<&[u8]> = vec![b"42", b"-1", b"\\N", b"abc"];
        let int = Codec::Int { unsigned: false };
        assert_eq!(encode(int, &fields, &[0]), Some(42 ^ (1 << 63)));
        assert!(encode(int, &fields, &[1]).unwrap() < encode(int, &fields, &[0]).unwrap());
        assert_eq!(encode(int, &fields, &[2]), None);
        assert_eq!(encode(int, &fields, &[3]), None);
        assert_eq!(encode(Codec::Hash, &fields, &[0, 2]), None);
    }

    #[test]
    fn composite_fingerprints_do_not_depend_on_where_a_field_ends() {
        let a: Vec<&[u8]> = vec![b"ab", b"c"];
        let b: Vec<&[u8]> = vec![b"a", b"bc"];
        assert_ne!(encode(Codec::Hash, &a, &[0, 1]), encode(Codec::Hash, &b, &[0, 1]));
        assert_eq!(
            encode(Codec::Hash, &a, &[0, 1]),
            encode(Codec::Hash, &a.clone(), &[0, 1])
        );
    }

    #[test]
    fn sampling_depends_on_the_salt() {
        assert_eq!(Sampler::new("a").hash(7), Sampler::new("a").hash(7));
        assert_ne!(Sampler::new("a").hash(7), Sampler::new("b").hash(7));
    }
}
