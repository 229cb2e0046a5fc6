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
    /// Produce a realistic number of this country instead of filling `format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    /// Compact E.164 form (`+33612345678`) instead of the spaced national grouping.
    #[serde(default, skip_serializing_if = "is_false")]
    e164: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Realistic (mobile) numbers by country: `#` any digit, `N` 2-9, `M` 1-9, the rest literal.
const COUNTRIES: &[(&str, &[&str])] = &[
    ("US", &["+1 N## N## ####"]),
    ("CA", &["+1 N## N## ####"]),
    ("GB", &["+44 7### ######"]),
    ("FR", &["+33 6 ## ## ## ##", "+33 7 ## ## ## ##"]),
    ("DE", &["+49 15# ########", "+49 16# ########", "+49 17# ########"]),
    ("ES", &["+34 6## ## ## ##", "+34 7## ## ## ##"]),
    ("IT", &["+39 3## ### ####"]),
    ("NL", &["+31 6 ## ## ## ##"]),
    ("BE", &["+32 4## ## ## ##"]),
    ("CH", &["+41 7# ### ## ##"]),
    ("PT", &["+351 9## ### ###"]),
    ("BR", &["+55 MM 9####-####"]),
    ("JP", &["+81 90 #### ####", "+81 80 #### ####", "+81 70 #### ####"]),
    ("IN", &["+91 9#### #####", "+91 8#### #####", "+91 7#### #####"]),
    ("AU", &["+61 4## ### ###"]),
];

fn default_format() -> String {
    "+1##########".into()
}

enum Mode {
    /// Fill `#` of the pattern with keyed digits.
    Pattern(String),
    /// Fill one of a country's patterns (`#`, `N` 2-9, `M` 1-9).
    Country(Vec<String>),
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
    let unique = ctx.unique(opts.unique);
    if opts.keep_format && (opts.country.is_some() || opts.e164) {
        return Err(ctx.bad_option("`keep_format` keeps the input's layout and excludes `country` and `e164`"));
    }
    let compact = |p: &str| -> String {
        if opts.e164 {
            p.chars()
                .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
                .collect()
        } else {
            p.to_string()
        }
    };
    let mode = if opts.keep_format {
        if unique {
            Mode::Bijection(Feistel::new(keys.clone()))
        } else {
            Mode::Mask
        }
    } else {
        if unique {
            return Err(ctx.not_unique("set `keep_format: true` (a keyed bijection of the digits) or use `hash`"));
        }
        let patterns = match &opts.country {
            Some(code) => {
                if opts.format != default_format() {
                    return Err(ctx.bad_option("`format` and `country` exclude each other"));
                }
                let (_, patterns) = COUNTRIES
                    .iter()
                    .find(|(c, _)| c.eq_ignore_ascii_case(code))
                    .ok_or_else(|| {
                        let known: Vec<&str> = COUNTRIES.iter().map(|(c, _)| *c).collect();
                        ctx.bad_option(format!("unknown country `{code}`; supported: {}", known.join(", ")))
                    })?;
                patterns.iter().map(|p| compact(p)).collect()
            }
            None => {
                if !opts.format.contains('#') {
                    return Err(ctx.bad_option(format!("`format` needs at least one `#` digit, got `{}`", opts.format)));
                }
                vec![compact(&opts.format)]
            }
        };
        if let Some(max) = ctx.max_chars() {
            let len = patterns.iter().map(|p| p.chars().count()).max().unwrap_or(0);
            if len > max {
                return Err(ctx.incompatible(format!(
                    "the numbers are {len} characters and the column holds {max}; use a shorter `format`, `e164: true` or `keep_format: true`"
                )));
            }
        }
        match opts.country {
            Some(_) => Mode::Country(patterns),
            None => Mode::Pattern(patterns.into_iter().next().expect("one pattern")),
        }
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
            Mode::Country(patterns) => {
                let mut rng = self.keys.rng(input.as_bytes());
                let pattern = &patterns[((rng.random::<u32>() as u64 * patterns.len() as u64) >> 32) as usize];
                loop {
                    let mut out = String::with_capacity(pattern.len());
                    for c in pattern.chars() {
                        out.push(match c {
                            '#' => (b'0' + rng.random_range(0..10u8)) as char,
                            'N' => (b'0' + rng.random_range(2..10u8)) as char,
                            'M' => (b'0' + rng.random_range(1..10u8)) as char,
                            c => c,
                        });
                    }
                    if out != *input {
                        break out;
                    }
                }
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
    info: || {
        TransformerInfo {
        name: "phone-number",
        description:
            "A phone number from a pattern or a country's numbering plan, or the original's format with keyed digits (a bijection on unique columns)",
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
                name: "country",
                kind: "string",
                default: "none",
                description: "ISO code: a realistic mobile number of that country, e.g. FR `+33 6 12 34 56 78` (US, CA, GB, FR, DE, ES, IT, NL, BE, CH, PT, BR, JP, IN, AU)",
            },
            OptionInfo {
                name: "e164",
                kind: "bool",
                default: "false",
                description: "Compact E.164 form, e.g. `+33612345678`",
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
    }
    },
    build,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::ColumnKind;
    use crate::ColumnSpec;
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
    fn countries_and_e164() {
        let fr = rule("phone-number", json!({"country": "FR"}));
        let out = run(&*fr, "+33 1 23 45 67 89");
        assert_eq!(out.len(), 17, "{out}");
        assert!(out.starts_with("+33 6 ") || out.starts_with("+33 7 "), "{out}");
        let compact = rule("phone-number", json!({"country": "fr", "e164": true}));
        let out = run(&*compact, "x");
        assert!(
            out.len() == 12 && out.starts_with("+33") && out[1..].bytes().all(|b| b.is_ascii_digit()),
            "{out}"
        );
        for (code, prefix, len) in [
            ("US", "+1 ", 15),
            ("GB", "+44 7", 15),
            ("DE", "+49 1", 16),
            ("ES", "+34 ", 16),
            ("BR", "+55 ", 17),
            ("JP", "+81 ", 16),
        ] {
            let t = rule("phone-number", json!({ "country": code }));
            for i in 0..300 {
                let out = run(&*t, &format!("{i}"));
                assert!(out.starts_with(prefix) && out.len() == len, "{code}: {out}");
                if code == "US" {
                    assert!(out.as_bytes()[3] >= b'2' && out.as_bytes()[7] >= b'2', "{out}");
                }
                if code == "BR" {
                    assert_eq!(out.as_bytes()[7], b'9', "{out}");
                }
            }
        }
        let e = rule("phone-number", json!({"country": "US", "e164": true}));
        assert_eq!(run(&*e, "a").len(), 12);
        let bad = |opts| {
            matches!(
                build_on("phone-number", opts, &ColumnSpec::text("t")),
                Err(crate::BuildError::BadOption { .. })
            )
        };
        assert!(bad(json!({"country": "XX"})));
        assert!(bad(json!({"country": "FR", "format": "+33 #"})));
        assert!(bad(json!({"country": "FR", "keep_format": true})));
        assert!(is_incompatible(
            &build_on("phone-number", json!({"country": "FR"}), &varchar(12)),
            "e164"
        ));
        assert!(build_on("phone-number", json!({"country": "FR", "e164": true}), &varchar(12)).is_ok());
    }

    #[test]
    fn unique_million_distinct() {
        let t = build_on(
            "phone-number",
            json!({"keep_format": true}),
            &unique(ColumnKind::Text { max_chars: None }),
        )
        .unwrap();
        let mut seen = HashSet::with_capacity(1_000_000);
        for i in 0..1_000_000u64 {
            let input = format!(
                "+1 {:03} {:03} {:04}",
                200 + i % 800,
                i / 800 % 1000,
                i / 800_000 + 4242
            );
            assert!(seen.insert(run(&*t, &input)), "{input}");
        }
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
