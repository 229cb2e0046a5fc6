//! `random`: a keyed random value of the column's own type and of the input's shape, always valid
//! for the column. Unique variants are keyed bijections (integers, text) or 122-bit keyed hashes
//! (uuid); other types refuse unique columns.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::datetime::civil_from_days;
use super::{kind_name, text_of, transform_error, truncate, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::fpe::Feistel;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{ColumnKind, TransformError, Transformer, Value};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RandomOptions {
    #[serde(default)]
    unique: bool,
}

enum Kind {
    Int {
        min: i128,
        max: i128,
        bijection: Option<Feistel>,
    },
    Numeric,
    Float,
    Bool,
    Text {
        max_chars: Option<usize>,
        bijection: Option<Feistel>,
    },
    Uuid,
    Date,
    Timestamp,
    Time,
    Bytes,
    Enum(Vec<String>),
}

struct Random {
    keys: DomainHasher,
    kind: Kind,
}

/// The inclusive range of an integer column.
pub(crate) fn int_range(bits: u8, unsigned: bool) -> (i128, i128) {
    let bits = bits.clamp(1, 64) as u32;
    if unsigned {
        (0, (1i128 << bits) - 1)
    } else {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    }
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<RandomOptions>()?;
    let unique = ctx.unique(opts.unique);
    let bijection = || unique.then(|| Feistel::new(keys.clone()));
    let kind = match &ctx.column.kind {
        ColumnKind::Int { bits, unsigned } => {
            if !(1..=64).contains(bits) {
                return Err(ctx.incompatible(format!("unsupported integer width {bits}; use `keep`")));
            }
            let (min, max) = int_range(*bits, *unsigned);
            Kind::Int {
                min,
                max,
                bijection: bijection(),
            }
        }
        ColumnKind::Text { .. } => Kind::Text {
            max_chars: ctx.max_chars(),
            bijection: bijection(),
        },
        ColumnKind::Uuid => Kind::Uuid,
        ColumnKind::Json => {
            return Err(ctx
                .incompatible("random JSON would not keep the document's structure; use `keep`, `constant` or `null`"))
        }
        ColumnKind::Other(name) => {
            return Err(ctx.incompatible(format!(
                "no random generator for type {name}; use `keep`, `constant` or `null`"
            )))
        }
        ColumnKind::Enum { values } if values.is_empty() => {
            return Err(ctx.incompatible("the enum has no labels; use `keep`"))
        }
        kind if unique => {
            return Err(ctx.not_unique(&format!(
                "random {} values can repeat; use `keep`, or `hash` on a text column",
                kind_name(kind)
            )))
        }
        ColumnKind::Numeric { .. } => Kind::Numeric,
        ColumnKind::Float => Kind::Float,
        ColumnKind::Bool => Kind::Bool,
        ColumnKind::Bytes => Kind::Bytes,
        ColumnKind::Date => Kind::Date,
        ColumnKind::Timestamp { .. } => Kind::Timestamp,
        ColumnKind::Time => Kind::Time,
        ColumnKind::Enum { values } => Kind::Enum(values.clone()),
    };
    Ok(Arc::new(Random { keys, kind }))
}

impl Transformer for Random {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let mut rng = self.keys.rng(&value.key_bytes());
        let out = match &self.kind {
            Kind::Int { min, max, bijection } => {
                let x: i128 = match &value {
                    Value::Int(i) => *i as i128,
                    _ => input.trim().parse().map_err(|_| bad_input("an integer", &input))?,
                };
                if x < *min || x > *max {
                    return Err(bad_input(&format!("an integer in {min}..={max}"), &input));
                }
                let y = match bijection {
                    Some(f) => min + f.permute((x - min) as u64, (max - min) as u64, 0) as i128,
                    None => same_digits(x, *min, *max, &mut rng),
                };
                return Ok(match (&value, i64::try_from(y)) {
                    (Value::Int(_), Ok(i)) => Value::Int(i),
                    _ => Value::text(y.to_string()),
                });
            }
            Kind::Numeric => scramble_numeric(&input, &mut rng),
            Kind::Float => {
                let out = random_float(&input, &mut rng).ok_or_else(|| bad_input("a number", &input))?;
                if let Value::Float(_) = value {
                    return Ok(Value::Float(out.parse().unwrap_or_default()));
                }
                out
            }
            Kind::Bool => {
                let b: bool = rng.random();
                return Ok(match &value {
                    Value::Bool(_) => Value::Bool(b),
                    _ if input.len() > 1 => Value::text(if b { "true" } else { "false" }),
                    _ => Value::text(if b { "t" } else { "f" }),
                });
            }
            Kind::Text { max_chars, bijection } => {
                let out = match bijection {
                    Some(f) => permute_text(f, &self.keys, &input),
                    None => scramble_text(&input, &mut rng),
                };
                match max_chars {
                    Some(_) => truncate(&out, *max_chars).to_string(),
                    None => out,
                }
            }
            Kind::Uuid => {
                // Keyed on the input in both modes: 122 bits, so distinct inputs stay distinct.
                let mut b = [0u8; 16];
                self.keys.hash_bytes(&value.key_bytes(), &mut b);
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                if let Value::Bytes(_) = value {
                    return Ok(Value::Bytes(Cow::Owned(b.to_vec())));
                }
                format_uuid(&b)
            }
            Kind::Date => {
                if is_infinity(&input) {
                    return Ok(value);
                }
                parse_date(&input).ok_or_else(|| bad_input("a date (YYYY-MM-DD)", &input))?;
                random_date(&mut rng)
            }
            Kind::Timestamp => {
                if is_infinity(&input) {
                    return Ok(value);
                }
                random_timestamp(&input, &mut rng)
                    .ok_or_else(|| bad_input("a timestamp (YYYY-MM-DD HH:MM:SS)", &input))?
            }
            Kind::Time => random_clock(&input, &mut rng).ok_or_else(|| bad_input("a time (HH:MM:SS)", &input))?,
            Kind::Bytes => match &value {
                Value::Bytes(b) => {
                    let mut out = vec![0u8; b.len()];
                    rng.fill(&mut out[..]);
                    return Ok(Value::Bytes(Cow::Owned(out)));
                }
                _ => {
                    // COPY text sends bytea as `\x` + hex; anything else: same number of bytes.
                    let n = input.strip_prefix("\\x").map_or(input.len() * 2, str::len);
                    let mut out = String::with_capacity(2 + n);
                    out.push_str("\\x");
                    out.extend((0..n).map(|_| HEX[rng.random_range(0..16)] as char));
                    out
                }
            },
            Kind::Enum(values) => {
                let mut label = &values[rng.random_range(0..values.len())];
                if *label == *input && values.len() > 1 {
                    label = &values[(values.iter().position(|v| v == label).unwrap_or(0) + 1) % values.len()];
                }
                label.clone()
            }
        };
        Ok(Value::text(out))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The value is described, never quoted: it comes from the source and may be personal data.
fn bad_input(expected: &str, input: &str) -> TransformError {
    transform_error(
        "random",
        format!("expected {expected}, got {}", super::describe_input(input)),
    )
}

/// A different integer with the same sign and number of digits, inside the column's range.
fn same_digits(x: i128, min: i128, max: i128, rng: &mut SmallRng) -> i128 {
    let digits = x.unsigned_abs().checked_ilog10().unwrap_or(0);
    let hi = 10i128.pow(digits + 1) - 1;
    let lo = if digits == 0 { 0 } else { 10i128.pow(digits) };
    let (a, b) = if x < 0 { (-hi, -lo) } else { (lo, hi) };
    let (a, b) = (a.max(min), b.min(max));
    for _ in 0..4 {
        let y = rng.random_range(a..=b);
        if y != x {
            return y;
        }
    }
    if x < b {
        x + 1
    } else {
        a
    }
}

/// Same sign, same digit counts before and after the point, so it fits numeric(p, s) like the input.
fn scramble_numeric(input: &str, rng: &mut SmallRng) -> String {
    let mut leading = true;
    let int_len = input
        .bytes()
        .take_while(|b| *b != b'.')
        .filter(u8::is_ascii_digit)
        .count();
    input
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                if c == '.' {
                    leading = false;
                }
                return c;
            }
            let low = if leading && int_len > 1 { 1 } else { 0 };
            leading = false;
            (b'0' + rng.random_range(low..10u8)) as char
        })
        .collect()
}

/// A float of at most the input's magnitude (so float4 never overflows), printed like the input.
fn random_float(input: &str, rng: &mut SmallRng) -> Option<String> {
    let t = input.trim();
    let x: f64 = t.parse().ok()?;
    if !x.is_finite() {
        return Some(t.to_string());
    }
    let u: f64 = rng.random();
    let y = if x == 0.0 { u } else { x * (0.1 + 0.9 * u) };
    Some(if t.contains(['e', 'E']) {
        format!("{y:e}")
    } else {
        let decimals = t.split_once('.').map_or(0, |(_, f)| f.len().min(17));
        format!("{y:.decimals$}")
    })
}

fn class_char(c: char, rng: &mut SmallRng) -> char {
    if c.is_ascii_digit() {
        (b'0' + rng.random_range(0..10u8)) as char
    } else if c.is_uppercase() {
        (b'A' + rng.random_range(0..26u8)) as char
    } else if c.is_alphabetic() {
        (b'a' + rng.random_range(0..26u8)) as char
    } else {
        c
    }
}

/// Letters to letters (same case), digits to digits; spaces and punctuation stay.
fn scramble_text(input: &str, rng: &mut SmallRng) -> String {
    input.chars().map(|c| class_char(c, rng)).collect()
}

/// (radix, base char) of an ASCII class position; other characters are kept as they are.
fn class_of(c: char) -> Option<(u64, u8)> {
    match c {
        '0'..='9' => Some((10, b'0')),
        'a'..='z' => Some((26, b'a')),
        'A'..='Z' => Some((26, b'A')),
        _ => None,
    }
}

/// Format-preserving bijection: each run of class positions is a mixed-radix number (chunks below
/// 2^60) permuted by the keyed Feistel network; the tweak chains over earlier input chunks, so the
/// map stays invertible chunk by chunk and any change propagates forward.
fn permute_text(feistel: &Feistel, keys: &DomainHasher, input: &str) -> String {
    let mut out: Vec<char> = input.chars().collect();
    let positions: Vec<(usize, u64, u8)> = out
        .iter()
        .enumerate()
        .filter_map(|(i, c)| class_of(*c).map(|(r, b)| (i, r, b)))
        .collect();
    let mut tweak = positions.len() as u64;
    let mut start = 0;
    while start < positions.len() {
        let mut end = start;
        let mut size: u64 = 1;
        while end < positions.len() && size <= (1 << 60) / 26 {
            size *= positions[end].1;
            end += 1;
        }
        let chunk = &positions[start..end];
        let n = chunk
            .iter()
            .fold(0u64, |acc, &(i, r, b)| acc * r + (out[i] as u8 - b) as u64);
        let mut y = feistel.permute(n, size - 1, tweak);
        for &(i, r, b) in chunk.iter().rev() {
            out[i] = (b + (y % r) as u8) as char;
            y /= r;
        }
        tweak = keys.hash_words(&[tweak, n, (end - start) as u64]);
        start = end;
    }
    out.into_iter().collect()
}

fn format_uuid(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

fn is_infinity(s: &str) -> bool {
    matches!(s.trim(), "infinity" | "-infinity")
}

fn parse_date(s: &str) -> Option<(i64, u32, u32)> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    Some((num(0..4)? as i64, num(5..7)?, num(8..10)?))
}

/// 1950-01-01 ..= 2029-12-31, as days since the epoch.
const DATE_RANGE: std::ops::RangeInclusive<i64> = -7305..=21914;

fn random_date(rng: &mut SmallRng) -> String {
    let (y, m, d) = civil_from_days(rng.random_range(DATE_RANGE));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM:SS` + same-length fraction, then the input's own suffix (a time zone) unchanged.
fn random_clock(s: &str, rng: &mut SmallRng) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' || !s.is_char_boundary(8) {
        return None;
    }
    let frac = s[8..]
        .strip_prefix('.')
        .map_or(0, |f| f.bytes().take_while(u8::is_ascii_digit).count());
    let rest = &s[8 + if frac > 0 { 1 + frac } else { 0 }..];
    let mut out = format!(
        "{:02}:{:02}:{:02}",
        rng.random_range(0..24),
        rng.random_range(0..60),
        rng.random_range(0..60)
    );
    if frac > 0 {
        out.push('.');
        out.extend((0..frac).map(|_| (b'0' + rng.random_range(0..10u8)) as char));
    }
    out.push_str(rest.strip_suffix(" BC").unwrap_or(rest));
    Some(out)
}

fn random_timestamp(s: &str, rng: &mut SmallRng) -> Option<String> {
    parse_date(s)?;
    let sep = *s.as_bytes().get(10)?;
    if sep != b' ' && sep != b'T' {
        return None;
    }
    let clock = random_clock(s.get(11..)?, rng)?;
    Some(format!("{}{}{clock}", random_date(rng), sep as char))
}

pub(crate) const RANDOM: Entry = Entry {
    name: "random",
    info: || {
        TransformerInfo {
        name: "random",
        description: "A random value of the column's type and the input's shape (integers, numerics, floats, booleans, text, uuid, dates, times, bytea, enums); unique columns get a keyed bijection for integers and text",
        unique_safe: true,
        options: vec![OptionInfo {
            name: "unique",
            kind: "bool",
            default: "column is unique",
            description: "Integers: keyed permutation of the type's range; text: keyed permutation keeping letters/digits classes; uuid: 122-bit keyed hash; other types refuse",
        }],
        example: "age: { transformer: random }",
    }
    },
    build,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use serde_json::json;
    use std::collections::HashSet;

    fn on(kind: ColumnKind) -> Arc<dyn Transformer> {
        build_on("random", json!(null), &column(kind)).unwrap()
    }

    #[test]
    fn int2_stays_in_range() {
        let t = on(ColumnKind::Int {
            bits: 16,
            unsigned: false,
        });
        for x in (-32768i64..=32767).step_by(7).chain([32767, -32768]) {
            let y: i64 = run(&*t, &x.to_string()).parse().unwrap();
            assert!((-32768..=32767).contains(&y), "{x} -> {y}");
            assert!(y.signum() * x.signum() >= 0);
        }
        let u8col = on(ColumnKind::Int {
            bits: 8,
            unsigned: true,
        });
        for x in 0..=255 {
            let y: i64 = run(&*u8col, &x.to_string()).parse().unwrap();
            assert!((0..=255).contains(&y));
        }
        assert!(t.transform(Value::text("99999")).is_err());
        assert!(matches!(t.transform(Value::Int(5)).unwrap(), Value::Int(_)));
    }

    #[test]
    fn errors_describe_a_bad_value_without_quoting_it() {
        let t = build_on(
            "random",
            json!(null),
            &column(ColumnKind::Int {
                bits: 32,
                unsigned: false,
            }),
        )
        .unwrap();
        let err = t.transform(Value::text("jane@secret.example")).unwrap_err().to_string();
        assert!(!err.contains("secret") && err.contains("19 characters"), "{err}");
        let mac = build_on(
            "mac",
            json!({"unique": true}),
            &column(ColumnKind::Other("macaddr".into())),
        )
        .unwrap();
        let err = mac.transform(Value::text("not-a-mac-jane")).unwrap_err().to_string();
        assert!(!err.contains("jane"), "{err}");
    }

    #[test]
    fn unique_ids_never_collide_on_a_million_inputs() {
        let t = build_on(
            "random",
            json!(null),
            &unique(ColumnKind::Int {
                bits: 32,
                unsigned: false,
            }),
        )
        .unwrap();
        let mut seen = HashSet::with_capacity(1_000_000);
        for id in 1..=1_000_000i64 {
            let out: i64 = run(&*t, &id.to_string()).parse().unwrap();
            assert!(i32::try_from(out).is_ok(), "{out} overflows int4");
            assert!(seen.insert(out), "collision at id {id}");
        }
    }

    #[test]
    fn unique_int_is_a_bijection() {
        let t = build_on(
            "random",
            json!(null),
            &unique(ColumnKind::Int {
                bits: 16,
                unsigned: false,
            }),
        )
        .unwrap();
        let outs: HashSet<i64> = (-32768..=32767)
            .map(|x| run(&*t, &x.to_string()).parse().unwrap())
            .collect();
        assert_eq!(outs.len(), 65536);
        let big = build_on(
            "random",
            json!(null),
            &unique(ColumnKind::Int {
                bits: 64,
                unsigned: true,
            }),
        )
        .unwrap();
        let y: u64 = run(&*big, &u64::MAX.to_string()).parse().unwrap();
        assert_ne!(y, u64::MAX);
        let i8 = build_on(
            "random",
            json!(null),
            &unique(ColumnKind::Int {
                bits: 64,
                unsigned: false,
            }),
        )
        .unwrap();
        let outs: HashSet<String> = (0..10_000i64)
            .map(|x| run(&*i8, &(x * 1_000_003).to_string()))
            .collect();
        assert_eq!(outs.len(), 10_000);
    }

    #[test]
    fn text_keeps_shape_and_fits() {
        let t = build_on("random", json!(null), &varchar(8)).unwrap();
        let out = run(&*t, "Ab-12 cd");
        assert_eq!(out.len(), 8);
        let b = out.as_bytes();
        assert!(b[0].is_ascii_uppercase() && b[1].is_ascii_lowercase() && b[2] == b'-' && b[3].is_ascii_digit());
        assert_eq!(b[5], b' ');
        assert_ne!(out, "Ab-12 cd");
        assert_eq!(run(&*t, "Ab-12 cd"), out);
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
    }

    #[test]
    fn unique_text_is_a_bijection() {
        let t = build_on("random", json!(null), &unique(ColumnKind::Text { max_chars: None })).unwrap();
        let outs: HashSet<String> = (0..20_000).map(|i| run(&*t, &format!("user-{i:05}"))).collect();
        assert_eq!(outs.len(), 20_000);
        assert!(outs
            .iter()
            .all(|o| o.starts_with(|c: char| c.is_ascii_lowercase()) && o.as_bytes()[4] == b'-'));
        let long: HashSet<String> = (0..2000).map(|i| run(&*t, &format!("{}{i}", "x".repeat(40)))).collect();
        assert_eq!(long.len(), 2000);
        let two: HashSet<String> = (0..676u32)
            .map(|i| {
                run(
                    &*t,
                    &format!("{}{}", (b'a' + (i / 26) as u8) as char, (b'a' + (i % 26) as u8) as char),
                )
            })
            .collect();
        assert_eq!(two.len(), 676);
    }

    #[test]
    fn typed_values() {
        let n = run(
            &*on(ColumnKind::Numeric {
                precision: Some(6),
                scale: Some(2),
            }),
            "-1234.50",
        );
        assert!(
            n.starts_with('-') && n.len() == 8 && n.as_bytes()[5] == b'.' && n.as_bytes()[1] != b'0',
            "{n}"
        );
        let f: f64 = run(&*on(ColumnKind::Float), "3.4e38").parse().unwrap();
        assert!(f.abs() <= 3.4e38);
        assert_eq!(
            run(&*on(ColumnKind::Float), "12.25").split_once('.').unwrap().1.len(),
            2
        );
        assert!(["t", "f"].contains(&run(&*on(ColumnKind::Bool), "t").as_str()));
        let u = run(&*on(ColumnKind::Uuid), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        assert!(
            u.len() == 36 && u.as_bytes()[14] == b'4' && b"89ab".contains(&u.as_bytes()[19]),
            "{u}"
        );
        let d = run(&*on(ColumnKind::Date), "2021-03-04");
        let (y, m, dd) = parse_date(&d).unwrap();
        assert!((1950..2030).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&dd) && d.len() == 10);
        let ts = run(
            &*on(ColumnKind::Timestamp { with_tz: true }),
            "2021-03-04 05:06:07.123+00",
        );
        assert!(
            ts.len() == 26 && ts.ends_with("+00") && ts.as_bytes()[19] == b'.',
            "{ts}"
        );
        assert_eq!(
            run(&*on(ColumnKind::Timestamp { with_tz: false }), "infinity"),
            "infinity"
        );
        let t = run(&*on(ColumnKind::Time), "23:59:59");
        assert_eq!(t.len(), 8);
        let b = run(&*on(ColumnKind::Bytes), "\\xdeadbeef");
        assert!(b.starts_with("\\x") && b.len() == 10 && b != "\\xdeadbeef");
        let e = on(ColumnKind::Enum {
            values: vec!["a".into(), "b".into()],
        });
        assert_eq!(run(&*e, "a"), "b");
        assert!(on(ColumnKind::Date).transform(Value::text("nope")).is_err());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(*DATE_RANGE.start()), (1950, 1, 1));
        assert_eq!(civil_from_days(*DATE_RANGE.end()), (2029, 12, 31));
        assert_eq!(civil_from_days(11016), (2000, 2, 29));
    }

    #[test]
    fn refusals() {
        assert!(is_incompatible(
            &build_on("random", json!(null), &column(ColumnKind::Json)),
            "`keep`"
        ));
        assert!(is_incompatible(
            &build_on("random", json!(null), &unique(ColumnKind::Date)),
            "`keep`"
        ));
        assert!(is_incompatible(
            &build_on("random", json!({"unique": true}), &column(ColumnKind::Bool)),
            "`keep`"
        ));
        assert!(build_on("random", json!(null), &unique(ColumnKind::Uuid)).is_ok());
    }

    #[test]
    fn originals_do_not_survive() {
        let cases: [(ColumnKind, &[&str]); 4] = [
            (
                ColumnKind::Int {
                    bits: 32,
                    unsigned: false,
                },
                &["0", "7", "-42", "123456"],
            ),
            (ColumnKind::Text { max_chars: None }, &["hello world", "Secret-99"]),
            (
                ColumnKind::Numeric {
                    precision: None,
                    scale: None,
                },
                &["12.50", "99999"],
            ),
            (ColumnKind::Uuid, &["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]),
        ];
        for (kind, inputs) in cases {
            let t = on(kind.clone());
            let u = build_on("random", json!(null), &unique(kind)).ok();
            for i in inputs {
                assert_ne!(run(&*t, i), *i);
                if let Some(u) = &u {
                    assert_ne!(run(&**u, i), *i);
                }
            }
        }
    }
}
