//! `credit-card`: Luhn-valid 16-digit numbers. The unique variant keeps the issuer (first 6 digits)
//! and permutes the 9 account digits with a keyed bijection, so distinct valid cards stay distinct.

use std::sync::Arc;

use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::{pick, text_of, transform_error, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::fpe::Feistel;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{TransformError, Transformer, Value};

/// Issuer prefixes of the major test ranges (Visa, Mastercard, Discover); the rest is random.
const PREFIXES: &[&str] = &["4", "51", "52", "53", "54", "55", "2221", "6011"];

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
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<CardOptions>()?;
    ctx.require_text()?;
    let unique = ctx.unique(opts.unique);
    if unique && !opts.keep_issuer {
        return Err(ctx.not_unique(
            "set `keep_issuer: true` (the 9 account digits then go through a keyed bijection) or use `hash`",
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
    }))
}

/// The digit that makes `digits` (15 of them) + check Luhn-valid.
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

impl Card {
    fn format(&self, digits: &[u8; 16]) -> String {
        let mut out = String::with_capacity(16 + 3 * self.separator.len());
        for (i, d) in digits.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push_str(&self.separator);
            }
            out.push((b'0' + d) as char);
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
        let original: Vec<u8> = input.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
        let mut out = [0u8; 16];
        if let Some(feistel) = &self.bijection {
            if original.len() != 16 || !luhn_valid(&original) {
                return Err(transform_error(
                    "credit-card",
                    "the unique variant needs 16-digit Luhn-valid numbers (this value is not one)",
                ));
            }
            out[..6].copy_from_slice(&original[..6]);
            let account = original[6..15].iter().fold(0u64, |acc, d| acc * 10 + *d as u64);
            let mut y = feistel.permute(account, 999_999_999, 0);
            for slot in out[6..15].iter_mut().rev() {
                *slot = (y % 10) as u8;
                y /= 10;
            }
        } else {
            let mut rng = self.keys.rng(input.as_bytes());
            let kept = if self.keep_issuer && original.len() >= 6 { 6 } else { 0 };
            out[..kept].copy_from_slice(&original[..kept]);
            let mut filled = kept;
            if kept == 0 {
                for b in pick(PREFIXES, rng.random::<u32>()).bytes() {
                    out[filled] = b - b'0';
                    filled += 1;
                }
            }
            for slot in &mut out[filled..15] {
                *slot = rng.random_range(0..10u8);
            }
        }
        out[15] = luhn_check_digit(&out[..15]);
        Ok(Value::text(self.format(&out)))
    }
}

pub(crate) const CREDIT_CARD: Entry = Entry {
    name: "credit-card",
    info: || TransformerInfo {
        name: "credit-card",
        description: "A Luhn-valid 16-digit card number; unique columns need keep_issuer (account digits are permuted)",
        unique_safe: true,
        options: vec![
            OptionInfo {
                name: "keep_issuer",
                kind: "bool",
                default: "false",
                description: "Keep the first 6 digits (issuer) of the original",
            },
            OptionInfo {
                name: "separator",
                kind: "string",
                default: "\"\"",
                description: "Put between groups of 4 digits, e.g. \" \" or \"-\"",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Needs keep_issuer; inputs must be 16-digit Luhn-valid numbers",
            },
        ],
        example: "card: { transformer: credit-card, keep_issuer: true }",
    },
    build,
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

    #[test]
    fn luhn_known_values() {
        assert!(luhn_valid(&digits("4111111111111111")));
        assert!(luhn_valid(&digits("5555555555554444")));
        assert!(!luhn_valid(&digits("4111111111111112")));
    }

    #[test]
    fn valid_and_formatted() {
        let t = rule("credit-card", json!({"separator": " "}));
        for i in 0..1000 {
            let input = format!("4000{:012}", i);
            let out = run(&*t, &input);
            assert_eq!(out.len(), 19);
            assert!(luhn_valid(&digits(&out)), "{out}");
            assert_ne!(digits(&out), digits(&input));
        }
        let k = rule("credit-card", json!({"keep_issuer": true}));
        assert!(run(&*k, "5555 5555 5555 4444").starts_with("555555"));
        assert_eq!(k.transform(Value::Null).unwrap(), Value::Null);
    }

    #[test]
    fn unique_variant() {
        let col = unique(ColumnKind::Text { max_chars: Some(16) });
        assert!(is_incompatible(
            &build_on("credit-card", json!(null), &col),
            "keep_issuer"
        ));
        let t = build_on("credit-card", json!({"keep_issuer": true}), &col).unwrap();
        let mut seen = HashSet::new();
        for i in 0..20_000u64 {
            let mut body = digits(&format!("411111{:09}", i * 37));
            body.push(luhn_check_digit(&body));
            let input: String = body.iter().map(|d| (b'0' + d) as char).collect();
            let out = run(&*t, &input);
            assert!(luhn_valid(&digits(&out)) && out.starts_with("411111"));
            assert_ne!(out, input);
            assert!(seen.insert(out));
        }
        assert!(t.transform(Value::text("1234")).is_err());
    }
}
