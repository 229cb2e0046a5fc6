//! Numeric transformers: `noise-number` (keyed noise that keeps the column's type and precision) and
//! `random-int` (a keyed integer in a range).

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::random::int_range;
use super::{kind_name, text_of, transform_error, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{ColumnKind, TransformError, Transformer, Value};

// ---- noise-number ----

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct NoiseOptions {
    #[serde(default)]
    relative: Option<f64>,
    #[serde(default)]
    absolute: Option<f64>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    unique: bool,
}

const DEFAULT_RELATIVE: f64 = 0.1;
/// i128 holds 38 decimal digits.
const MAX_DIGITS: u32 = 38;

/// How the column constrains a noisy value, in units of its last decimal place.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// An integer column: the type's range.
    Int { lo: i128, hi: i128 },
    /// numeric(p, s): `scale` decimals (the input's own when `None`), at most `limit` units.
    Decimal { scale: Option<u32>, limit: Option<i128> },
}

struct Noise {
    keys: DomainHasher,
    relative: bool,
    amount: f64,
    min: Option<f64>,
    max: Option<f64>,
    shape: Shape,
}

fn build_noise(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<NoiseOptions>()?;
    let (relative, amount) = match (opts.relative, opts.absolute) {
        (Some(_), Some(_)) => return Err(ctx.bad_option("set either `relative` or `absolute`, not both")),
        (Some(r), None) => (true, r),
        (None, Some(a)) => (false, a),
        (None, None) => (true, DEFAULT_RELATIVE),
    };
    if !amount.is_finite() || amount <= 0.0 {
        return Err(ctx.bad_option(format!(
            "the noise (`relative`/`absolute`) must be a positive number, got {amount}"
        )));
    }
    if let (Some(min), Some(max)) = (opts.min, opts.max) {
        if min > max {
            return Err(ctx.bad_option(format!("`min` ({min}) is above `max` ({max})")));
        }
    }
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `random`: its unique variant is a keyed bijection"));
    }
    let shape = match &ctx.column.kind {
        ColumnKind::Int { bits, unsigned } if (1..=64).contains(bits) => {
            let (lo, hi) = int_range(*bits, *unsigned);
            if opts.min.is_some_and(|m| m > hi as f64) || opts.max.is_some_and(|m| m < lo as f64) {
                return Err(ctx.bad_option(format!(
                    "`min`/`max` leave no value of the column type {} ({lo}..={hi})",
                    kind_name(&ctx.column.kind)
                )));
            }
            Shape::Int { lo, hi }
        }
        ColumnKind::Numeric { precision, scale } => {
            let scale = precision.map(|_| scale.unwrap_or(0)).or(*scale);
            let limit = precision.filter(|p| *p <= MAX_DIGITS).map(|p| 10i128.pow(p) - 1);
            Shape::Decimal { scale, limit }
        }
        ColumnKind::Float | ColumnKind::Text { .. } | ColumnKind::Other(_) => Shape::Decimal {
            scale: None,
            limit: None,
        },
        kind => {
            return Err(ctx.incompatible(format!(
                "it adds noise to numbers and the column is {}; use `noise-date` for dates, `random` or `keep`",
                kind_name(kind)
            )))
        }
    };
    Ok(Arc::new(Noise {
        keys,
        relative,
        amount,
        min: opts.min,
        max: opts.max,
        shape,
    }))
}

impl Noise {
    fn radius(&self, x: f64) -> f64 {
        if self.relative {
            self.amount * x.abs()
        } else {
            self.amount
        }
    }

    /// Adds noise to `x` units of `10^-scale`, inside `[lo, hi]` and the `min`/`max` options, and
    /// moves at least one unit when any noise is possible.
    fn shift(&self, x: i128, scale: u32, lo: i128, hi: i128, rng: &mut SmallRng) -> i128 {
        let pow = 10f64.powi(scale as i32);
        let radius = self.radius(x as f64 / pow) * pow;
        let lo = self.min.map_or(lo, |m| lo.max((m * pow).ceil() as i128));
        let hi = self.max.map_or(hi, |m| hi.min((m * pow).floor() as i128));
        if lo > hi || radius <= 0.0 {
            return x;
        }
        let d = rng.random_range(-radius..=radius);
        let y = x.saturating_add(d.round() as i128).clamp(lo, hi);
        if y != x {
            return y;
        }
        let up = if d == 0.0 { rng.random::<bool>() } else { d > 0.0 };
        let (first, second) = if up { (x + 1, x - 1) } else { (x - 1, x + 1) };
        [first, second].into_iter().find(|v| (lo..=hi).contains(v)).unwrap_or(y)
    }

    fn float(&self, x: f64, rng: &mut SmallRng) -> f64 {
        let r = self.radius(x);
        if !x.is_finite() || r <= 0.0 {
            return x;
        }
        let mut y = x + rng.random_range(-r..=r);
        if y == x {
            y = x + r;
        }
        let y = self.min.map_or(y, |m| y.max(m));
        self.max.map_or(y, |m| y.min(m))
    }

    fn text(&self, input: &str, rng: &mut SmallRng) -> Result<String, TransformError> {
        let t = input.trim();
        if matches!(t, "NaN" | "Infinity" | "-Infinity" | "inf" | "-inf") {
            return Ok(t.to_string());
        }
        match self.shape {
            Shape::Int { lo, hi } => {
                let x: i128 = t.parse().map_err(|_| bad_input("noise-number", "an integer", input))?;
                Ok(self.shift(x, 0, lo, hi, rng).to_string())
            }
            Shape::Decimal { scale, limit } => {
                let Some((units, in_scale)) = parse_decimal(t) else {
                    // Exponent notation (floats): noise on the f64, printed the same way.
                    let x: f64 = t.parse().map_err(|_| bad_input("noise-number", "a number", input))?;
                    return Ok(format!("{:e}", self.float(x, rng)));
                };
                let scale = scale.unwrap_or(in_scale);
                let x = rescale(units, in_scale, scale).ok_or_else(|| bad_input("noise-number", "a number", input))?;
                let (lo, hi) = limit.map_or((-i128::MAX, i128::MAX), |l| (-l, l));
                Ok(format_decimal(self.shift(x, scale, lo, hi, rng), scale))
            }
        }
    }
}

impl Transformer for Noise {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let mut rng = self.keys.rng(&value.key_bytes());
        Ok(match value {
            Value::Int(i) => {
                let (lo, hi) = match self.shape {
                    Shape::Int { lo, hi } => (lo.max(i64::MIN as i128), hi.min(i64::MAX as i128)),
                    Shape::Decimal { .. } => (i64::MIN as i128, i64::MAX as i128),
                };
                Value::Int(self.shift(i as i128, 0, lo, hi, &mut rng) as i64)
            }
            Value::Float(f) => Value::Float(self.float(f, &mut rng)),
            Value::Bool(_) => return Err(bad_input("noise-number", "a number", "a boolean")),
            other => Value::text(self.text(&text_of(&other), &mut rng)?),
        })
    }
}

/// The value is described, never quoted: it comes from the source and may be personal data.
fn bad_input(name: &str, expected: &str, input: &str) -> TransformError {
    transform_error(
        name,
        format!("expected {expected}, got {}", super::describe_input(input)),
    )
}

/// `-12.345` → (-12345, 3). `None` for anything but plain decimal notation within 38 digits.
fn parse_decimal(s: &str) -> Option<(i128, u32)> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.len() + frac.len() == 0
        || int.len() + frac.len() > MAX_DIGITS as usize
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let units = int
        .bytes()
        .chain(frac.bytes())
        .fold(0i128, |acc, b| acc * 10 + (b - b'0') as i128);
    Some((if neg { -units } else { units }, frac.len() as u32))
}

/// Moves `units` from `from` to `to` decimals (rounding half away from zero when dropping some).
fn rescale(units: i128, from: u32, to: u32) -> Option<i128> {
    if to >= from {
        units.checked_mul(10i128.checked_pow(to - from)?)
    } else {
        let div = 10i128.checked_pow(from - to)?;
        let (q, r) = (units / div, units % div);
        Some(if r.abs() * 2 >= div { q + units.signum() } else { q })
    }
}

fn format_decimal(units: i128, scale: u32) -> String {
    let digits = units.unsigned_abs().to_string();
    let sign = if units < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

// ---- random-int ----

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RandomIntOptions {
    min: i64,
    max: i64,
    #[serde(default)]
    unique: bool,
}

struct RandomInt {
    keys: DomainHasher,
    min: i64,
    max: i64,
}

fn build_random_int(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<RandomIntOptions>()?;
    let (min, max) = (opts.min, opts.max);
    if min > max {
        return Err(ctx.bad_option(format!("`min` ({min}) is above `max` ({max})")));
    }
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `random`: its unique variant is a keyed bijection over the column's range"));
    }
    let kind = &ctx.column.kind;
    let misfit = |limit: String| {
        ctx.bad_option(format!(
            "`min`/`max` ({min}..={max}) must fit the column type {}: {limit}",
            kind_name(kind)
        ))
    };
    match kind {
        ColumnKind::Int { bits, unsigned } => {
            let (lo, hi) = int_range(*bits, *unsigned);
            if (min as i128) < lo || (max as i128) > hi {
                return Err(misfit(format!("{lo}..={hi}")));
            }
        }
        ColumnKind::Numeric {
            precision: Some(p),
            scale,
        } => {
            let room = p.saturating_sub(scale.unwrap_or(0));
            let digits = |v: i64| v.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
            if digits(min).max(digits(max)) > room {
                return Err(misfit(format!("at most {room} digits before the decimal point")));
            }
        }
        ColumnKind::Text { max_chars: Some(n) } => {
            let len = min.to_string().len().max(max.to_string().len());
            if len > *n as usize {
                return Err(misfit(format!("at most {n} characters")));
            }
        }
        ColumnKind::Numeric { .. } | ColumnKind::Float | ColumnKind::Text { .. } | ColumnKind::Other(_) => {}
        kind => {
            return Err(ctx.incompatible(format!(
                "it writes integers and the column is {}; use `random`, `constant` or `keep`",
                kind_name(kind)
            )))
        }
    }
    Ok(Arc::new(RandomInt { keys, min, max }))
}

impl Transformer for RandomInt {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let mut y = self.keys.rng(&value.key_bytes()).random_range(self.min..=self.max);
        let x = match &value {
            Value::Int(i) => Some(*i),
            Value::Text(s) => s.trim().parse().ok(),
            _ => None,
        };
        if x == Some(y) && self.min < self.max {
            y = if y < self.max { y + 1 } else { self.min };
        }
        Ok(match value {
            Value::Int(_) => Value::Int(y),
            Value::Float(_) => Value::Float(y as f64),
            _ => Value::text(y.to_string()),
        })
    }
}

pub(crate) const NOISE_NUMBER: Entry = Entry {
    name: "noise-number",
    info: || {
        TransformerInfo {
        name: "noise-number",
        description: "The number plus keyed random noise (±10% by default), keeping the column's type: integers stay integers in range, numerics keep their scale and precision",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "relative",
                kind: "number",
                default: "0.1",
                description: "Noise as a fraction of the value (0.1 = ±10%); a zero stays zero",
            },
            OptionInfo {
                name: "absolute",
                kind: "number",
                default: "(unset)",
                description: "Noise as a fixed amount (±absolute) instead of `relative`",
            },
            OptionInfo {
                name: "min",
                kind: "number",
                default: "(none)",
                description: "Results below are raised to `min`",
            },
            OptionInfo {
                name: "max",
                kind: "number",
                default: "(none)",
                description: "Results above are lowered to `max`",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Refused: noisy values can collide; use `random` (a keyed bijection) on unique columns",
            },
        ],
        example: "salary: { transformer: noise-number, relative: 0.05, min: 0 }",
    }
    },
    build: build_noise,
};

pub(crate) const RANDOM_INT: Entry = Entry {
    name: "random-int",
    info: || TransformerInfo {
        name: "random-int",
        description: "A keyed random integer in [min, max] (checked against the column's type)",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "min",
                kind: "integer",
                default: "(required)",
                description: "Smallest value",
            },
            OptionInfo {
                name: "max",
                kind: "integer",
                default: "(required)",
                description: "Largest value",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Refused: values in a range repeat; use `random` (a keyed bijection) on unique columns",
            },
        ],
        example: "age: { transformer: random-int, min: 18, max: 90 }",
    },
    build: build_random_int,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::{BuildError, ColumnSpec};
    use serde_json::json;

    fn int(bits: u8) -> ColumnKind {
        ColumnKind::Int { bits, unsigned: false }
    }

    fn numeric(p: u32, s: u32) -> ColumnKind {
        ColumnKind::Numeric {
            precision: Some(p),
            scale: Some(s),
        }
    }

    #[test]
    fn decimal_helpers() {
        assert_eq!(parse_decimal("-12.345"), Some((-12345, 3)));
        assert_eq!(parse_decimal("7"), Some((7, 0)));
        assert_eq!(parse_decimal("1e5"), None);
        assert_eq!(parse_decimal("."), None);
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(12345, 2), "123.45");
        assert_eq!(format_decimal(0, 3), "0.000");
        assert_eq!(rescale(125, 2, 1), Some(13));
        assert_eq!(rescale(-125, 2, 1), Some(-13));
        assert_eq!(rescale(5, 0, 2), Some(500));
    }

    #[test]
    fn noise_int_stays_in_type_and_near() {
        let t = build_on("noise-number", json!(null), &column(int(16))).unwrap();
        for x in [1i64, 7, 100, 1000, -2500, 32000, 32767, -32768] {
            let y: i64 = run(&*t, &x.to_string()).parse().unwrap();
            assert!((-32768..=32767).contains(&y), "{x} -> {y}");
            assert_ne!(x, y);
            assert!(
                (y - x).abs() as f64 <= (x.abs() as f64 * 0.1).max(1.0) + 0.5,
                "{x} -> {y}"
            );
            assert_eq!(run(&*t, &x.to_string()), y.to_string(), "deterministic");
        }
        assert_eq!(run(&*t, "0"), "0");
        assert!(matches!(t.transform(Value::Int(500)).unwrap(), Value::Int(y) if (450..=550).contains(&y) && y != 500));
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        assert!(t.transform(Value::text("abc")).is_err());
    }

    #[test]
    fn noise_numeric_keeps_scale_and_precision() {
        let t = build_on("noise-number", json!({"relative": 0.5}), &column(numeric(5, 2))).unwrap();
        for x in ["999.99", "-999.99", "12.50", "0.01", "500.00"] {
            let y = run(&*t, x);
            let (units, scale) = parse_decimal(&y).unwrap();
            assert_eq!(scale, 2, "{x} -> {y}");
            assert!(units.abs() <= 99_999, "{x} -> {y}");
            assert_ne!(x, y);
        }
        let free = build_on(
            "noise-number",
            json!({"absolute": 5}),
            &column(ColumnKind::Numeric {
                precision: None,
                scale: None,
            }),
        )
        .unwrap();
        let y = run(&*free, "100.125");
        let v: f64 = y.parse().unwrap();
        assert!(y.split_once('.').unwrap().1.len() == 3 && (95.0..=105.0).contains(&v) && y != "100.125");
        assert_eq!(run(&*free, "NaN"), "NaN");
    }

    #[test]
    fn noise_float_and_bounds() {
        let t = build_on(
            "noise-number",
            json!({"absolute": 10, "min": 0, "max": 12}),
            &column(ColumnKind::Float),
        )
        .unwrap();
        for x in ["1.5", "11.25", "3"] {
            let y: f64 = run(&*t, x).parse().unwrap();
            assert!(
                (0.0..=12.0).contains(&y) && y != x.parse::<f64>().unwrap(),
                "{x} -> {y}"
            );
        }
        match t.transform(Value::Float(5.0)).unwrap() {
            Value::Float(y) => assert!((0.0..=12.0).contains(&y) && y != 5.0),
            other => panic!("{other:?}"),
        }
        let e: f64 = run(&*t, "1.5e2").parse().unwrap();
        assert!((0.0..=12.0).contains(&e));
    }

    #[test]
    fn noise_options_validated() {
        let text = ColumnSpec::text("t.c");
        for bad in [
            json!({"relative": 0.1, "absolute": 1}),
            json!({"relative": -1}),
            json!({"min": 5, "max": 1}),
        ] {
            assert!(matches!(
                build_on("noise-number", bad, &text),
                Err(BuildError::BadOption { .. })
            ));
        }
        assert!(matches!(
            build_on("noise-number", json!({"min": 40000}), &column(int(16))),
            Err(BuildError::BadOption { message, .. }) if message.contains("int16")
        ));
        assert!(is_incompatible(
            &build_on("noise-number", json!(null), &unique(int(32))),
            "`random`"
        ));
        assert!(is_incompatible(
            &build_on("noise-number", json!(null), &column(ColumnKind::Date)),
            "noise-date"
        ));
    }

    #[test]
    fn random_int_range_and_validation() {
        let t = build_on("random-int", json!({"min": 18, "max": 90}), &column(int(16))).unwrap();
        let mut seen = std::collections::HashSet::new();
        for x in 0..2000 {
            let y: i64 = run(&*t, &x.to_string()).parse().unwrap();
            assert!((18..=90).contains(&y));
            assert_ne!(x, y);
            seen.insert(y);
        }
        assert_eq!(seen.len(), 73);
        assert_eq!(run(&*t, "42"), run(&*t, "42"));
        assert!(matches!(t.transform(Value::Int(3)).unwrap(), Value::Int(_)));
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        let one = rule("random-int", json!({"min": 5, "max": 5}));
        assert_eq!(run(&*one, "abc"), "5");

        let err = build_on("random-int", json!({"min": 0, "max": 70000}), &column(int(16)));
        assert!(
            matches!(&err, Err(BuildError::BadOption { message, .. }) if message.contains("int16")),
            "{:?}",
            err.err()
        );
        let err = build_on(
            "random-int",
            json!({"min": -3_000_000_000i64, "max": 0}),
            &column(int(32)),
        );
        assert!(matches!(&err, Err(BuildError::BadOption { message, .. }) if message.contains("int32")));
        assert!(matches!(
            build_on("random-int", json!({"min": 0, "max": 1000}), &column(numeric(4, 2))),
            Err(BuildError::BadOption { .. })
        ));
        assert!(build_on("random-int", json!({"min": 0, "max": 99}), &column(numeric(4, 2))).is_ok());
        assert!(matches!(
            build_on("random-int", json!({"min": 0}), &column(int(32))),
            Err(BuildError::BadOption { message, .. }) if message.contains("max")
        ));
        assert!(matches!(
            build_on("random-int", json!({"min": 9, "max": 1}), &column(int(32))),
            Err(BuildError::BadOption { .. })
        ));
        assert!(is_incompatible(
            &build_on("random-int", json!({"min": 0, "max": 9}), &unique(int(32))),
            "`random`"
        ));
        assert!(is_incompatible(
            &build_on("random-int", json!({"min": 0, "max": 9}), &column(ColumnKind::Date)),
            "integers"
        ));
    }
}
