//! `phone-number`: a number from a `#` pattern, or the input's own format with its digits replaced
//! (keyed bijection on unique columns, so distinct numbers stay distinct).

use std::sync::Arc;

use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::{text_of, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::fpe::Feistel;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{TransformError, Transformer, Value};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PhoneOptions {
    #[serde(default = "default_format")]
    format: String,
    #[serde(default)]
    keep_format: bool,
    #[serde(default)]
    unique: bool,
}

fn default_format() -> String {
    "+1##########".into()
}

enum Mode {
    /// Fill `#` of the pattern with keyed digits.
    Pattern(String),
    /// Replace each digit of the input with a keyed digit.
    Mask,
    /// Replace the digit string with its image under a keyed permutation of same-length strings.
    Bijection(Feistel),
}

struct Phone {
    keys: DomainHasher,
    mode: Mode,
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<PhoneOptions>()?;
    ctx.require_text()?;
    let mode = if opts.keep_format {
        if ctx.unique(opts.unique) {
            Mode::Bijection(Feistel::new(keys.clone()))
        } else {
            Mode::Mask
        }
    } else {
        if ctx.unique(opts.unique) {
            return Err(ctx.not_unique("set `keep_format: true` (a keyed bijection of the digits) or use `hash`"));
        }
        if !opts.format.contains('#') {
            return Err(ctx.bad_option(format!("`format` needs at least one `#` digit, got `{}`", opts.format)));
        }
        if let Some(max) = ctx.max_chars() {
            let len = opts.format.chars().count();
            if len > max {
                return Err(ctx.incompatible(format!(
                    "the format `{}` is {len} characters and the column holds {max}; use a shorter `format` or `keep_format: true`",
                    opts.format
                )));
            }
        }
        Mode::Pattern(opts.format)
    };
    Ok(Arc::new(Phone { keys, mode }))
}

/// Splits digits off into chunks of at most 18 (so each fits a u64 domain of 10^n values).
const CHUNK: usize = 18;

impl Phone {
    fn bijection(&self, feistel: &Feistel, input: &str) -> String {
        let digits: Vec<u8> = input.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
        let mut mapped = Vec::with_capacity(digits.len());
        // Chaining: each chunk's tweak hashes the previous input chunks, so a change anywhere
        // changes everything after it, and the whole map stays invertible chunk by chunk.
        let mut tweak = digits.len() as u64;
        for chunk in digits.chunks(CHUNK) {
            let n = chunk.iter().fold(0u64, |acc, d| acc * 10 + *d as u64);
            let max = 10u64.pow(chunk.len() as u32) - 1;
            let mut y = feistel.permute(n, max, tweak);
            let start = mapped.len();
            for _ in chunk {
                mapped.push((y % 10) as u8);
                y /= 10;
            }
            mapped[start..].reverse();
            tweak = self.keys.hash_words(&[tweak, n]);
        }
        let mut it = mapped.into_iter();
        input
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    (b'0' + it.next().unwrap_or(0)) as char
                } else {
                    c
                }
            })
            .collect()
    }
}

impl Transformer for Phone {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let out = match &self.mode {
            Mode::Pattern(format) => {
                let mut rng = self.keys.rng(input.as_bytes());
                format
                    .chars()
                    .map(|c| {
                        if c == '#' {
                            (b'0' + rng.random_range(0..10u8)) as char
                        } else {
                            c
                        }
                    })
                    .collect()
            }
            Mode::Mask => {
                let mut rng = self.keys.rng(input.as_bytes());
                input
                    .chars()
                    .map(|c| {
                        if c.is_ascii_digit() {
                            (b'0' + rng.random_range(0..10u8)) as char
                        } else {
                            c
                        }
                    })
                    .collect()
            }
            Mode::Bijection(feistel) => self.bijection(feistel, &input),
        };
        Ok(Value::text(out))
    }
}

pub(crate) const PHONE_NUMBER: Entry = Entry {
    name: "phone-number",
    info: || TransformerInfo {
        name: "phone-number",
        description:
            "A phone number from a pattern, or the original's format with keyed digits (a bijection on unique columns)",
        unique_safe: true,
        options: vec![
            OptionInfo {
                name: "format",
                kind: "string",
                default: "+1##########",
                description: "Pattern of the output; each `#` becomes a digit",
            },
            OptionInfo {
                name: "keep_format",
                kind: "bool",
                default: "false",
                description: "Keep the original's punctuation and length, replacing only its digits",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description:
                    "Needs keep_format: digits go through a keyed permutation, so distinct numbers stay distinct",
            },
        ],
        example: "phone: { transformer: phone-number, keep_format: true }",
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

    #[test]
    fn pattern_and_mask() {
        let t = rule("phone-number", json!({"format": "+1 (###) ###-####"}));
        let out = run(&*t, "555-1234");
        assert_eq!(out.len(), "+1 (###) ###-####".len());
        assert!(out.starts_with("+1 (") && out.as_bytes()[7] == b')', "{out}");
        assert_eq!(out, run(&*t, "555-1234"));
        let m = rule("phone-number", json!({"keep_format": true}));
        let out = run(&*m, "+33 6 12 34 56 78");
        assert_eq!(out.len(), 17);
        assert!(out.starts_with('+') && out.as_bytes()[3] == b' ');
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
    }

    #[test]
    fn originals_do_not_survive() {
        for opts in [
            json!(null),
            json!({"keep_format": true}),
            json!({"keep_format": true, "unique": true}),
        ] {
            let t = rule("phone-number", opts);
            for i in 0..500 {
                let input = format!("+1555{:07}", i * 7919);
                assert_ne!(run(&*t, &input), input);
            }
        }
    }

    #[test]
    fn unique_is_a_bijection() {
        let t = build_on(
            "phone-number",
            json!({"keep_format": true}),
            &unique(ColumnKind::Text { max_chars: None }),
        )
        .unwrap();
        let outs: HashSet<String> = (0..10_000)
            .map(|i| run(&*t, &format!("06-{:04}-{:04}", i / 10_000, i % 10_000)))
            .collect();
        assert_eq!(outs.len(), 10_000);
        let short: HashSet<String> = (0..100).map(|i| run(&*t, &format!("{i:02}"))).collect();
        assert_eq!(short.len(), 100);
        let long: HashSet<String> = (0..2000)
            .map(|i| run(&*t, &format!("{:040}", i as u64 * 1_000_003)))
            .collect();
        assert_eq!(long.len(), 2000);
    }

    #[test]
    fn unique_without_keep_format_refused() {
        let r = build_on(
            "phone-number",
            json!(null),
            &unique(ColumnKind::Text { max_chars: None }),
        );
        assert!(is_incompatible(&r, "keep_format: true"));
        assert!(is_incompatible(
            &build_on("phone-number", json!(null), &varchar(5)),
            "format"
        ));
    }
}
