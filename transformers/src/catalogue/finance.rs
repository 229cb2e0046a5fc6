//! `credit-card`: Luhn-valid card numbers of a real brand's length; with `keep_issuer` the issuer
//! prefix (first 6 digits) and the length survive, and the unique variant permutes the account
//! digits with a keyed bijection, so distinct valid cards stay distinct.
//!
//! `iban`: IBANs with valid mod-97 check digits, of a chosen country or the input's own; the unique
//! variant permutes the BBAN with a keyed bijection.

use std::sync::Arc;

use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::identity::{permute_radix, relayout};
use super::{pick, text_of, transform_error, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::fpe::Feistel;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{TransformError, Transformer, Value};

/// A card brand: issuer prefixes, length, and how it is grouped when printed.
#[derive(Clone, Copy)]
struct Brand {
    prefixes: &'static [&'static str],
    len: usize,
}

const FOURS: &[usize] = &[4, 4, 4, 4, 4];

const BRANDS: &[Brand] = &[
    // Visa
    Brand {
        prefixes: &["4"],
        len: 16,
    },
    // Mastercard
    Brand {
        prefixes: &["51", "52", "53", "54", "55", "2221", "2720"],
        len: 16,
    },
    // American Express
    Brand {
        prefixes: &["34", "37"],
        len: 15,
    },
    // Discover
    Brand {
        prefixes: &["6011", "65"],
        len: 16,
    },
];

/// How a number of `len` digits starting with `digits` is grouped (Amex 4-6-5, Diners 4-6-4).
fn groups_of(digits: &[u8], len: usize) -> &'static [usize] {
    match (digits.first(), digits.get(1), len) {
        (Some(3), Some(4 | 7), 15) => &[4, 6, 5],
        (Some(3), _, 14) => &[4, 6, 4],
        _ => FOURS,
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CardOptions {
    #[serde(default)]
    keep_issuer: bool,
    #[serde(default)]
    separator: String,
    #[serde(default)]
    unique: bool,
}

struct Card {
    keys: DomainHasher,
    keep_issuer: bool,
    separator: String,
    bijection: Option<Feistel>,
    max_chars: Option<usize>,
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<CardOptions>()?;
    ctx.require_text()?;
    let unique = ctx.unique(opts.unique);
    if unique && !opts.keep_issuer {
        return Err(ctx.not_unique(
            "set `keep_issuer: true` (the account digits then go through a keyed bijection) or use `hash`",
        ));
    }
    if unique && !opts.separator.is_empty() {
        return Err(ctx.bad_option(
            "`separator` cannot be used with the unique variant: it keeps each number's own layout so that numbers differing only in punctuation stay distinct",
        ));
    }
    let len = 16 + 3 * opts.separator.chars().count();
    if let Some(max) = ctx.max_chars() {
        if len > max {
            return Err(ctx.incompatible(format!(
                "a card number needs {len} characters and the column holds {max}; use `redacted`"
            )));
        }
    }
    let bijection = unique.then(|| Feistel::new(keys.clone()));
    Ok(Arc::new(Card {
        keys,
        keep_issuer: opts.keep_issuer,
        separator: opts.separator,
        bijection,
        max_chars: ctx.max_chars(),
    }))
}

/// The digit that makes `digits` + check Luhn-valid.
pub(crate) fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = *d as u32;
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

pub(crate) fn luhn_valid(digits: &[u8]) -> bool {
    match digits.split_last() {
        Some((check, body)) => luhn_check_digit(body) == *check,
        None => false,
    }
}

/// Digits of `s` into `out` (at most 32); returns how many there were (capped at 33 = too many).
fn digits_into(s: &str, out: &mut [u8; 32]) -> usize {
    let mut n = 0;
    for b in s.bytes().filter(u8::is_ascii_digit) {
        if n == out.len() {
            return n + 1;
        }
        out[n] = b - b'0';
        n += 1;
    }
    n
}

impl Card {
    fn format(&self, input: &str, in_len: usize, digits: &[u8]) -> String {
        let has_layout = input.bytes().any(|b| !b.is_ascii_digit());
        if self.bijection.is_some() || (self.separator.is_empty() && has_layout && in_len == digits.len()) {
            return relayout(input, digits);
        }
        let separator: &str = if !self.separator.is_empty() {
            &self.separator
        } else if has_layout {
            // Same punctuation as the input, regrouped for this brand's length.
            let i = input.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
            &input[i..i + input[i..].chars().next().map_or(0, char::len_utf8)]
        } else {
            ""
        };
        let groups = groups_of(digits, digits.len());
        let mut out = String::with_capacity(digits.len() + 4 * separator.len());
        let (mut at, mut group) = (0, 0);
        for (i, d) in digits.iter().enumerate() {
            if i > 0 && i == at + groups.get(group).copied().unwrap_or(4) {
                at = i;
                group += 1;
                out.push_str(separator);
            }
            out.push((b'0' + d) as char);
        }
        if self.max_chars.is_some_and(|m| out.chars().count() > m) {
            return digits.iter().map(|d| (b'0' + d) as char).collect();
        }
        out
    }
}

impl Transformer for Card {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let mut original = [0u8; 32];
        let in_len = digits_into(&input, &mut original);
        let mut out = [0u8; 32];
        let len;
        if let Some(feistel) = &self.bijection {
            if !(12..=19).contains(&in_len) || !luhn_valid(&original[..in_len]) {
                return Err(transform_error(
                    "credit-card",
                    "the unique variant needs Luhn-valid numbers of 12 to 19 digits (this value is not one)",
                ));
            }
            len = in_len;
            out[..6].copy_from_slice(&original[..6]);
            let account = &original[6..len - 1];
            let n = account.iter().fold(0u64, |acc, d| acc * 10 + *d as u64);
            let iin = original[..6].iter().fold(0u64, |acc, d| acc * 10 + *d as u64);
            let tweak = self.keys.hash_words(&[len as u64, iin]);
            let mut y = feistel.permute(n, 10u64.pow(account.len() as u32) - 1, tweak);
            for slot in out[6..len - 1].iter_mut().rev() {
                *slot = (y % 10) as u8;
                y /= 10;
            }
        } else {
            let mut rng = self.keys.rng(input.as_bytes());
            let mut filled = 0;
            if self.keep_issuer && (12..=19).contains(&in_len) {
                len = in_len;
                out[..6].copy_from_slice(&original[..6]);
                filled = 6;
            } else {
                let brand = pick(BRANDS, rng.random::<u32>());
                len = brand.len;
                for b in pick(brand.prefixes, rng.random::<u32>()).bytes() {
                    out[filled] = b - b'0';
                    filled += 1;
                }
            }
            loop {
                for slot in &mut out[filled..len - 1] {
                    *slot = rng.random_range(0..10u8);
                }
                out[len - 1] = luhn_check_digit(&out[..len - 1]);
                if out[..len] != original[..in_len.min(32)] {
                    break;
                }
            }
        }
        out[len - 1] = luhn_check_digit(&out[..len - 1]);
        Ok(Value::text(self.format(&input, in_len, &out[..len])))
    }
}

pub(crate) const CREDIT_CARD: Entry = Entry {
    name: "credit-card",
    info: || {
        TransformerInfo {
        name: "credit-card",
        description: "A Luhn-valid card number of a real brand's length (Amex 15 digits); keeps the input's punctuation; unique columns need keep_issuer (account digits are permuted)",
        unique_safe: true,
        options: vec![
            OptionInfo {
                name: "keep_issuer",
                kind: "bool",
                default: "false",
                description: "Keep the original's issuer prefix (first 6 digits) and length, so the brand stays the same",
            },
            OptionInfo {
                name: "separator",
                kind: "string",
                default: "\"\"",
                description: "Put between digit groups (4-4-4-4, Amex 4-6-5), e.g. \" \" or \"-\"; by default the input's own punctuation is kept",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Needs keep_issuer; inputs must be Luhn-valid numbers of 12-19 digits, whose layout is kept",
            },
        ],
        example: "card: { transformer: credit-card, keep_issuer: true }",
    }
    },
    build,
};

/// IBAN lengths and BBAN shapes by country: `n` digit, `a` upper-case letter.
const IBAN_COUNTRIES: &[(&str, &str)] = &[
    ("AT", "nnnnnnnnnnnnnnnn"),
    ("BE", "nnnnnnnnnnnn"),
    ("CH", "nnnnnnnnnnnnnnnnn"),
    ("DE", "nnnnnnnnnnnnnnnnnn"),
    ("DK", "nnnnnnnnnnnnnn"),
    ("ES", "nnnnnnnnnnnnnnnnnnnn"),
    ("FI", "nnnnnnnnnnnnnn"),
    ("FR", "nnnnnnnnnnnnnnnnnnnnnnn"),
    ("GB", "aaaannnnnnnnnnnnnn"),
    ("IE", "aaaannnnnnnnnnnnnn"),
    ("IT", "annnnnnnnnnnnnnnnnnnnnn"),
    ("LU", "nnnnnnnnnnnnnnnn"),
    ("NL", "aaaannnnnnnnnn"),
    ("NO", "nnnnnnnnnnn"),
    ("PL", "nnnnnnnnnnnnnnnnnnnnnnnn"),
    ("PT", "nnnnnnnnnnnnnnnnnnnnn"),
    ("SE", "nnnnnnnnnnnnnnnnnnnn"),
];

/// `BBAN + country + check` mod 97, the IBAN checksum (1 for a valid IBAN).
pub(crate) fn iban_mod97(compact: &[u8]) -> u32 {
    let (head, bban) = compact.split_at(4.min(compact.len()));
    let mut r = 0u32;
    for &c in bban.iter().chain(head) {
        r = match c {
            b'0'..=b'9' => (r * 10 + (c - b'0') as u32) % 97,
            _ => (r * 100 + (c.to_ascii_uppercase() - b'A') as u32 + 10) % 97,
        };
    }
    r
}

/// Sets the two check digits (positions 2-3) of a compact IBAN.
pub(crate) fn set_iban_check(compact: &mut [u8]) {
    compact[2] = b'0';
    compact[3] = b'0';
    let check = 98 - iban_mod97(compact);
    compact[2] = b'0' + (check / 10) as u8;
    compact[3] = b'0' + (check % 10) as u8;
}

/// The compact upper-case form of `s` when it looks like an IBAN (2 letters, 2 digits, 11 to 30
/// alphanumerics; spaces allowed).
fn as_iban(s: &str, out: &mut [u8; 34]) -> Option<usize> {
    let mut n = 0;
    for b in s.trim().bytes() {
        if b == b' ' {
            continue;
        }
        if n == 34 || !b.is_ascii_alphanumeric() {
            return None;
        }
        out[n] = b.to_ascii_uppercase();
        n += 1;
    }
    let ok = n >= 15 && out[..2].iter().all(u8::is_ascii_alphabetic) && out[2..4].iter().all(u8::is_ascii_digit);
    ok.then_some(n)
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct IbanOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    #[serde(default)]
    unique: bool,
}

struct Iban {
    keys: DomainHasher,
    /// The country to produce, `None` to keep the input's (DE for inputs that are not IBANs).
    country: Option<(&'static str, &'static str)>,
    bijection: Option<Feistel>,
    max_chars: Option<usize>,
}

fn country_spec(code: &str) -> Option<(&'static str, &'static str)> {
    IBAN_COUNTRIES
        .iter()
        .copied()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
}

fn build_iban(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<IbanOptions>()?;
    let country = match &opts.country {
        Some(code) => Some(country_spec(code).ok_or_else(|| {
            let known: Vec<&str> = IBAN_COUNTRIES.iter().map(|(c, _)| *c).collect();
            ctx.bad_option(format!(
                "unknown IBAN country `{code}`; supported: {}",
                known.join(", ")
            ))
        })?),
        None => None,
    };
    ctx.require_text()?;
    let unique = ctx.unique(opts.unique);
    if unique && country.is_some() {
        return Err(ctx.bad_option(
            "`country` cannot be used with the unique variant: it keeps each IBAN's country and permutes its BBAN",
        ));
    }
    let (_, bban) = country.unwrap_or(("DE", IBAN_COUNTRIES[3].1));
    if let Some(max) = ctx.max_chars() {
        let need = 4 + bban.len();
        if need > max {
            return Err(ctx.incompatible(format!(
                "an IBAN needs {need} characters and the column holds {max}; use `redacted`"
            )));
        }
    }
    Ok(Arc::new(Iban {
        keys: keys.clone(),
        country,
        bijection: unique.then(|| Feistel::new(keys)),
        max_chars: ctx.max_chars(),
    }))
}

impl Iban {
    /// Groups of 4 separated by spaces when the input was written so, else compact.
    fn format(&self, input: &str, compact: &[u8]) -> String {
        let mut groups = input.split_whitespace().peekable();
        let mut spaced = groups.peek().is_some() && input.trim().contains(' ');
        while let Some(g) = groups.next() {
            spaced &= g.len() == 4 || (groups.peek().is_none() && g.len() < 4);
        }
        let mut out = String::with_capacity(compact.len() + compact.len() / 4);
        for (i, c) in compact.iter().enumerate() {
            if spaced && i > 0 && i % 4 == 0 {
                out.push(' ');
            }
            out.push(*c as char);
        }
        if self.max_chars.is_some_and(|m| out.len() > m) {
            out.retain(|c| c != ' ');
        }
        out
    }
}

impl Transformer for Iban {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let mut original = [0u8; 34];
        let parsed = as_iban(&input, &mut original);
        let mut out = [0u8; 34];
        let len;
        if let Some(feistel) = &self.bijection {
            let n = parsed.filter(|n| iban_mod97(&original[..*n]) == 1).ok_or_else(|| {
                transform_error(
                    "iban",
                    "the unique variant needs valid IBANs (mod-97 check digits); this value is not one",
                )
            })?;
            len = n;
            out[..n].copy_from_slice(&original[..n]);
            let mut vals = [0u8; 30];
            let mut radix = [0u8; 30];
            for (i, c) in original[4..n].iter().enumerate() {
                (vals[i], radix[i]) = if c.is_ascii_digit() {
                    (c - b'0', 10)
                } else {
                    (c - b'A', 26)
                };
            }
            let tweak = u16::from_be_bytes([original[0], original[1]]) as u64;
            permute_radix(feistel, &self.keys, &mut vals[..n - 4], &radix[..n - 4], tweak);
            for (i, slot) in out[4..n].iter_mut().enumerate() {
                *slot = if radix[i] == 10 { b'0' + vals[i] } else { b'A' + vals[i] };
            }
        } else {
            let mut rng = self.keys.rng(input.as_bytes());
            // The shape to fill: the chosen country's, else the input's own, else Germany's.
            let (country, shape): (&[u8], &mut dyn Iterator<Item = bool>) = match (self.country, parsed) {
                (Some((c, bban)), _) => (c.as_bytes(), &mut bban.bytes().map(|b| b == b'n')),
                (None, Some(n)) => (&original[..2], &mut original[4..n].iter().map(u8::is_ascii_digit)),
                (None, None) => (b"DE", &mut IBAN_COUNTRIES[3].1.bytes().map(|b| b == b'n')),
            };
            out[..2].copy_from_slice(country);
            let mut n = 4;
            for digit in shape {
                out[n] = if digit {
                    b'0' + rng.random_range(0..10u8)
                } else {
                    b'A' + rng.random_range(0..26u8)
                };
                n += 1;
            }
            len = n;
            if parsed.is_some_and(|p| p == n && out[4..n] == original[4..n]) {
                out[n - 1] = if out[n - 1].is_ascii_digit() {
                    b'0' + (out[n - 1] - b'0' + 1) % 10
                } else {
                    b'A' + (out[n - 1] - b'A' + 1) % 26
                };
            }
        }
        set_iban_check(&mut out[..len]);
        if self.bijection.is_some() {
            // Keep the input's exact spacing, so IBANs differing only in spaces stay distinct.
            let mut it = out[..len].iter();
            let kept = input
                .chars()
                .map(|c| match (c, if c == ' ' { None } else { it.next() }) {
                    (_, None) => c,
                    // Keep the case too: `de89…` and `DE89…` are distinct values.
                    (c, Some(b)) if c.is_ascii_lowercase() => b.to_ascii_lowercase() as char,
                    (_, Some(b)) => *b as char,
                })
                .collect::<String>();
            return Ok(Value::text(kept));
        }
        Ok(Value::text(self.format(&input, &out[..len])))
    }
}

pub(crate) const IBAN: Entry = Entry {
    name: "iban",
    info: || {
        TransformerInfo {
        name: "iban",
        description: "An IBAN with valid mod-97 check digits, of a given country or the input's own (a bijection of the BBAN on unique columns); keeps the input's groups of 4",
        unique_safe: true,
        options: vec![
            OptionInfo {
                name: "country",
                kind: "string",
                default: "the input's country (DE if it is not an IBAN)",
                description: "ISO code of the IBANs to produce: AT, BE, CH, DE, DK, ES, FI, FR, GB, IE, IT, LU, NL, NO, PL, PT, SE",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Keep each IBAN's country and permute its BBAN with a keyed bijection (inputs must be valid IBANs)",
            },
        ],
        example: "iban: { transformer: iban, country: FR }",
    }
    },
    build: build_iban,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::ColumnKind;
    use serde_json::json;
    use std::collections::HashSet;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect()
    }

    fn valid_iban(s: &str) -> bool {
        let compact: Vec<u8> = s.bytes().filter(|b| *b != b' ').collect();
        iban_mod97(&compact) == 1
    }

    #[test]
    fn luhn_known_values() {
        assert!(luhn_valid(&digits("4111111111111111")));
        assert!(luhn_valid(&digits("5555555555554444")));
        assert!(luhn_valid(&digits("378282246310005")));
        assert!(!luhn_valid(&digits("4111111111111112")));
    }

    #[test]
    fn valid_and_formatted() {
        let t = rule("credit-card", json!({"separator": " "}));
        for i in 0..1000 {
            let input = format!("4000{:012}", i);
            let out = run(&*t, &input);
            let d = digits(&out);
            assert!(luhn_valid(&d), "{out}");
            assert!(out.len() == 19 || (d.len() == 15 && out.len() == 17), "{out}");
            assert_ne!(d, digits(&input));
        }
        let k = rule("credit-card", json!({"keep_issuer": true}));
        assert!(run(&*k, "5555 5555 5555 4444").starts_with("5555 55"));
        assert_eq!(k.transform(Value::Null).unwrap(), Value::Null);
    }

    #[test]
    fn keep_issuer_keeps_brand_length_and_layout() {
        let k = rule("credit-card", json!({"keep_issuer": true}));
        let amex = run(&*k, "3782 822463 10005");
        assert_eq!(amex.len(), 17);
        assert!(amex.starts_with("3782 82") && amex.as_bytes()[4] == b' ' && amex.as_bytes()[11] == b' ');
        assert!(luhn_valid(&digits(&amex)) && amex != "3782 822463 10005");
        let plain = run(&*k, "378282246310005");
        assert_eq!(plain.len(), 15);
        assert!(plain.starts_with("378282") && luhn_valid(&digits(&plain)));
        let dashed = run(&*k, "4111-1111-1111-1111");
        assert!(dashed.starts_with("4111-11") && dashed.len() == 19 && luhn_valid(&digits(&dashed)));
        // A random brand regroups with the input's separator.
        let r = rule("credit-card", json!(null));
        for i in 0..200 {
            let out = run(&*r, &format!("4111 1111 1111 {i:04}"));
            assert!(out.contains(' ') && luhn_valid(&digits(&out)), "{out}");
        }
    }

    #[test]
    fn unique_variant() {
        let col = unique(ColumnKind::Text { max_chars: Some(19) });
        assert!(is_incompatible(
            &build_on("credit-card", json!(null), &col),
            "keep_issuer"
        ));
        assert!(matches!(
            build_on("credit-card", json!({"keep_issuer": true, "separator": " "}), &col),
            Err(crate::BuildError::BadOption { .. })
        ));
        let t = build_on("credit-card", json!({"keep_issuer": true}), &col).unwrap();
        let mut seen = HashSet::new();
        for i in 0..20_000u64 {
            for (prefix, len) in [("411111", 16), ("378282", 15)] {
                let mut body = digits(&format!("{prefix}{:0w$}", i * 37, w = len - 7));
                body.push(luhn_check_digit(&body));
                let input: String = body.iter().map(|d| (b'0' + d) as char).collect();
                let out = run(&*t, &input);
                assert!(luhn_valid(&digits(&out)) && out.starts_with(prefix) && out.len() == len);
                assert_ne!(out, input);
                assert!(seen.insert(out));
            }
        }
        // Same digits, other punctuation: still distinct.
        let iban = build_on("iban", json!(null), &unique(ColumnKind::Text { max_chars: None })).unwrap();
        let spaced = run(&*iban, "de89 3704 0044 0532 0130 00");
        assert!(
            spaced.starts_with("de") && spaced.len() == 27 && valid_iban(&spaced.to_uppercase()),
            "{spaced}"
        );
        assert_ne!(spaced, run(&*iban, "DE89 3704 0044 0532 0130 00"));
        assert_ne!(run(&*t, "4111 1111 1111 1111"), run(&*t, "4111-1111-1111-1111"));
        assert!(t.transform(Value::text("1234")).is_err());
        assert!(t.transform(Value::text("4111111111111112")).is_err());
    }

    #[test]
    fn iban_check_digits_known_values() {
        assert!(valid_iban("DE89 3704 0044 0532 0130 00"));
        assert!(valid_iban("GB82 WEST 1234 5698 7654 32"));
        assert!(valid_iban("FR14 2004 1010 0505 0001 3M02 606"));
        assert!(!valid_iban("DE88 3704 0044 0532 0130 00"));
        let mut x = *b"DE00370400440532013000";
        set_iban_check(&mut x);
        assert_eq!(&x, b"DE89370400440532013000");
    }

    #[test]
    fn iban_countries_and_layout() {
        let t = rule("iban", json!(null));
        let out = run(&*t, "GB82 WEST 1234 5698 7654 32");
        assert!(out.starts_with("GB") && out.len() == 27 && valid_iban(&out), "{out}");
        assert!(
            out.split(' ').take(5).all(|g| g.len() == 4) && out.as_bytes()[5..9].iter().all(u8::is_ascii_uppercase)
        );
        assert_ne!(out, "GB82 WEST 1234 5698 7654 32");
        let de = run(&*t, "not an iban");
        assert!(de.starts_with("DE") && de.len() == 22 && valid_iban(&de), "{de}");
        for (code, bban) in IBAN_COUNTRIES {
            let c = rule("iban", json!({ "country": code }));
            for i in 0..200 {
                let out = run(&*c, &format!("DE89370400440532013{i:03}"));
                assert!(
                    out.starts_with(code) && out.len() == 4 + bban.len() && valid_iban(&out),
                    "{out}"
                );
            }
        }
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        assert!(matches!(
            build_on("iban", json!({"country": "XX"}), &crate::ColumnSpec::text("t")),
            Err(crate::BuildError::BadOption { .. })
        ));
        assert!(is_incompatible(&build_on("iban", json!(null), &varchar(20)), "22"));
    }

    #[test]
    fn iban_unique_is_a_bijection() {
        let col = unique(ColumnKind::Text { max_chars: None });
        let t = build_on("iban", json!(null), &col).unwrap();
        assert!(matches!(
            build_on("iban", json!({"country": "FR"}), &col),
            Err(crate::BuildError::BadOption { .. })
        ));
        let mut seen = HashSet::new();
        for i in 0..20_000u64 {
            for prefix in ["DE00", "GB00WEST", "NL00ABNA"] {
                let bban_len = if prefix == "NL00ABNA" {
                    10
                } else {
                    18 - (prefix.len() - 4)
                };
                let mut x: Vec<u8> = format!("{prefix}{:0w$}", i * 7919, w = bban_len).into_bytes();
                set_iban_check(&mut x);
                let input = String::from_utf8(x).unwrap();
                let out = run(&*t, &input);
                assert!(
                    valid_iban(&out) && out[..2] == input[..2] && out.len() == input.len(),
                    "{out}"
                );
                assert_ne!(out, input);
                assert!(seen.insert(out));
            }
        }
        assert!(t.transform(Value::text("DE88370400440532013000")).is_err());
    }
}
