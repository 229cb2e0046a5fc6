//! Date transformers: `noise-date` (keyed shift), `truncate-date` (keep the year, month, ...) and
//! `birth-date` (same age, other birthday). They read the database's text forms (`2024-03-05`,
//! `2024-03-05 10:11:12.123+01`, ISO `T` separators) and write the input's own format back: same
//! separator, fraction and time zone suffix.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::{kind_name, text_of, transform_error, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{ColumnKind, TransformError, Transformer, Value};

const DAY: i64 = 86_400;

/// A parsed date or timestamp; the parts that are not computed on are kept as text.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stamp<'a> {
    /// Days since 1970-01-01.
    days: i64,
    /// Seconds into the day, for timestamps.
    clock: Option<u32>,
    /// `' '` or `'T'` between date and time.
    sep: char,
    /// `.123` or empty.
    frac: &'a str,
    /// Time zone as written (`+00`, `+05:30`, `Z`) or empty.
    suffix: &'a str,
}

/// Days since the epoch of 0001-01-01 and 9999-12-31: outputs stay in four-digit AD years.
const MIN_DAY: i64 = -719_162;
const MAX_DAY: i64 = 2_932_896;

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) to days since 1970-01-01, proleptic Gregorian (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day). Shared with `random`'s dates.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day (y, m, d), or the month's last day when d is past it (Feb 29 in a common year).
fn days_clamped(y: i64, m: u32, d: u32) -> i64 {
    days_from_civil(y, m, d.min(days_in_month(y, m)))
}

fn parse(s: &str) -> Option<Stamp<'_>> {
    let b = s.as_bytes();
    let ylen = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if ylen < 4 || b.len() < ylen + 6 || b[ylen] != b'-' || b[ylen + 3] != b'-' {
        return None;
    }
    let year = s[..ylen].parse::<i64>().ok()?;
    let (month, day) = (num_in(s, ylen + 1..ylen + 3)?, num_in(s, ylen + 4..ylen + 6)?);
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let rest = &s[ylen + 6..];
    let mut stamp = Stamp {
        days,
        clock: None,
        sep: ' ',
        frac: "",
        suffix: "",
    };
    if rest.is_empty() {
        return Some(stamp);
    }
    let sep = rest.chars().next()?;
    if sep != ' ' && sep != 'T' {
        return None;
    }
    let time = &rest[1..];
    let tb = time.as_bytes();
    if tb.len() < 8 || tb[2] != b':' || tb[5] != b':' {
        return None;
    }
    let (h, mi, sec) = (num_in(time, 0..2)?, num_in(time, 3..5)?, num_in(time, 6..8)?);
    if h > 24 || mi > 59 || sec > 60 {
        return None;
    }
    let after = &time[8..];
    let frac_len = after
        .strip_prefix('.')
        .map_or(0, |f| 1 + f.bytes().take_while(u8::is_ascii_digit).count());
    let (frac, suffix) = after.split_at(frac_len);
    if suffix.contains("BC") {
        return None;
    }
    stamp.clock = Some(h * 3600 + mi * 60 + sec);
    stamp.sep = sep;
    stamp.frac = frac;
    stamp.suffix = suffix;
    Some(stamp)
}

fn num_in(s: &str, r: std::ops::Range<usize>) -> Option<u32> {
    let t = s.get(r)?;
    if t.bytes().all(|c| c.is_ascii_digit()) {
        t.parse().ok()
    } else {
        None
    }
}

impl Stamp<'_> {
    fn seconds(&self) -> i64 {
        self.days * DAY + i64::from(self.clock.unwrap_or(0))
    }

    /// The stamp's format with another day and clock (`clock` is ignored for plain dates).
    fn format(&self, days: i64, clock: u32, frac: &str) -> String {
        let (y, m, d) = civil_from_days(days.clamp(MIN_DAY, MAX_DAY));
        let mut out = String::with_capacity(10 + 9 + frac.len() + self.suffix.len());
        use std::fmt::Write as _;
        let _ = write!(out, "{y:04}-{m:02}-{d:02}");
        if self.clock.is_some() {
            let _ = write!(
                out,
                "{}{:02}:{:02}:{:02}",
                self.sep,
                clock / 3600,
                clock / 60 % 60,
                clock % 60
            );
            out.push_str(frac);
            out.push_str(self.suffix);
        }
        out
    }

    fn format_seconds(&self, t: i64) -> String {
        self.format(t.div_euclid(DAY), t.rem_euclid(DAY) as u32, self.frac)
    }
}

fn is_infinity(s: &str) -> bool {
    matches!(s, "infinity" | "-infinity")
}

/// The value is described, never quoted: it comes from the source and may be personal data.
fn bad_input(name: &str, input: &str) -> TransformError {
    transform_error(
        name,
        format!(
            "expected a date (YYYY-MM-DD) or timestamp (YYYY-MM-DD HH:MM:SS[.f][zone]), got {}",
            super::describe_input(input)
        ),
    )
}

/// Text of a date value, or an error for typed numbers/booleans.
fn date_text<'v>(name: &str, value: &'v Value<'_>) -> Result<std::borrow::Cow<'v, str>, TransformError> {
    match value {
        Value::Text(_) | Value::Bytes(_) => Ok(text_of(value)),
        other => Err(bad_input(name, &text_of(other))),
    }
}

/// Dates are read from date, timestamp and text-like columns.
fn require_dates(ctx: &Ctx<'_>) -> Result<(), crate::BuildError> {
    match &ctx.column.kind {
        ColumnKind::Date | ColumnKind::Timestamp { .. } | ColumnKind::Text { .. } | ColumnKind::Other(_) => Ok(()),
        kind => Err(ctx.incompatible(format!(
            "it works on dates and timestamps and the column is {}; use `noise-number` or `random`",
            kind_name(kind)
        ))),
    }
}

fn parse_option(ctx: &Ctx<'_>, name: &str, s: &str) -> Result<i64, crate::BuildError> {
    parse(s)
        .map(|p| p.seconds())
        .ok_or_else(|| ctx.bad_option(format!("`{name}` must be a date (YYYY-MM-DD) or timestamp, got `{s}`")))
}

// ---- noise-date ----

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct NoiseDateOptions {
    #[serde(default = "default_max_days")]
    max_days: u32,
    #[serde(default)]
    max_seconds: u32,
    #[serde(default)]
    min: Option<String>,
    #[serde(default)]
    max: Option<String>,
    #[serde(default)]
    unique: bool,
}

fn default_max_days() -> u32 {
    30
}

/// 100 000 days ≈ 273 years: larger shifts are not noise.
const MAX_NOISE_DAYS: u32 = 100_000;

struct NoiseDate {
    keys: DomainHasher,
    max_days: i64,
    max_seconds: i64,
    min: Option<i64>,
    max: Option<i64>,
}

fn build_noise_date(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<NoiseDateOptions>()?;
    if opts.max_days == 0 && opts.max_seconds == 0 {
        return Err(ctx.bad_option("set `max_days` or `max_seconds` above 0"));
    }
    if opts.max_days > MAX_NOISE_DAYS || opts.max_seconds as i64 > MAX_NOISE_DAYS as i64 * DAY {
        return Err(ctx.bad_option(format!("shifts are limited to {MAX_NOISE_DAYS} days")));
    }
    let min = opts.min.as_deref().map(|s| parse_option(ctx, "min", s)).transpose()?;
    let max = opts.max.as_deref().map(|s| parse_option(ctx, "max", s)).transpose()?;
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(ctx.bad_option("`min` is after `max`"));
        }
    }
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("shifted dates can collide; use `keep`, or `hash` on a text column"));
    }
    require_dates(ctx)?;
    Ok(Arc::new(NoiseDate {
        keys,
        max_days: opts.max_days as i64,
        max_seconds: opts.max_seconds as i64,
        min,
        max,
    }))
}

impl Transformer for NoiseDate {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = date_text("noise-date", &value)?;
        if is_infinity(input.trim()) {
            return Ok(value);
        }
        let stamp = parse(input.trim()).ok_or_else(|| bad_input("noise-date", &input))?;
        let mut rng = self.keys.rng(input.as_bytes());
        let sign = if rng.random::<bool>() { 1 } else { -1 };
        let offset = if stamp.clock.is_none() {
            // Plain dates move by whole days, at least one.
            sign * rng.random_range(1..=self.max_days.max(1)) * DAY
        } else {
            let days = rng.random_range(-self.max_days..=self.max_days);
            let secs = rng.random_range(-self.max_seconds..=self.max_seconds);
            match days * DAY + secs {
                0 if self.max_days > 0 => sign * DAY,
                0 => sign,
                o => o,
            }
        };
        let t = stamp.seconds();
        let (mut lo, mut hi) = (self.min.unwrap_or(i64::MIN), self.max.unwrap_or(i64::MAX));
        if stamp.clock.is_none() {
            // Bounds in whole days: the first day at or after `min`, the last day at or before `max`.
            lo = lo.saturating_add(DAY - 1).div_euclid(DAY).saturating_mul(DAY);
            hi = hi.div_euclid(DAY).saturating_mul(DAY);
        }
        let inside = |x: i64| x >= lo && x <= hi;
        let out = if inside(t + offset) {
            t + offset
        } else if inside(t - offset) {
            t - offset
        } else if lo <= hi {
            (t + offset).clamp(lo, hi)
        } else {
            t + offset
        };
        Ok(Value::text(stamp.format_seconds(out)))
    }
}

// ---- truncate-date ----

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Unit {
    Year,
    Month,
    Day,
    Hour,
    Minute,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TruncateOptions {
    #[serde(default = "default_unit")]
    to: Unit,
    #[serde(default)]
    unique: bool,
}

fn default_unit() -> Unit {
    Unit::Month
}

struct Truncate {
    to: Unit,
}

fn build_truncate(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<TruncateOptions>()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("truncated dates repeat; use `keep`, or `hash` on a text column"));
    }
    require_dates(ctx)?;
    if ctx.column.kind == ColumnKind::Date && !matches!(opts.to, Unit::Year | Unit::Month) {
        return Err(ctx.bad_option("on a date column `to` must be `year` or `month` (a day is the whole date)"));
    }
    Ok(Arc::new(Truncate { to: opts.to }))
}

impl Transformer for Truncate {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = date_text("truncate-date", &value)?;
        if is_infinity(input.trim()) {
            return Ok(value);
        }
        let stamp = parse(input.trim()).ok_or_else(|| bad_input("truncate-date", &input))?;
        let (y, m, _) = civil_from_days(stamp.days);
        let clock = stamp.clock.unwrap_or(0);
        let (days, clock) = match self.to {
            Unit::Year => (days_from_civil(y, 1, 1), 0),
            Unit::Month => (days_from_civil(y, m, 1), 0),
            Unit::Day => (stamp.days, 0),
            Unit::Hour => (stamp.days, clock - clock % 3600),
            Unit::Minute => (stamp.days, clock - clock % 60),
        };
        Ok(Value::text(stamp.format(days, clock, "")))
    }
}

// ---- birth-date ----

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct BirthDateOptions {
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    unique: bool,
}

struct BirthDate {
    keys: DomainHasher,
    /// (year, month, day) the ages are computed at.
    reference: (i64, u32, u32),
}

fn today_utc() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    secs.div_euclid(DAY)
}

fn build_birth_date(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<BirthDateOptions>()?;
    let days = match opts.reference.as_deref() {
        Some(s) => match parse(s) {
            Some(Stamp { days, clock: None, .. }) => days,
            _ => return Err(ctx.bad_option(format!("`reference` must be a date (YYYY-MM-DD), got `{s}`"))),
        },
        None => today_utc(),
    };
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("birth dates repeat; use `keep`, or `hash` on a text column"));
    }
    require_dates(ctx)?;
    Ok(Arc::new(BirthDate {
        keys,
        reference: civil_from_days(days),
    }))
}

impl BirthDate {
    /// The days whose age at the reference date is the same as `days`' age.
    fn same_age(&self, days: i64) -> (i64, i64) {
        let (ry, rm, rd) = self.reference;
        let (y, m, d) = civil_from_days(days);
        let age = ry - y - i64::from((m, d) > (rm, rd));
        let lo = days_clamped(ry - age - 1, rm, rd) + 1;
        let hi = days_clamped(ry - age, rm, rd);
        (lo.max(MIN_DAY), hi.min(MAX_DAY))
    }
}

impl Transformer for BirthDate {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = date_text("birth-date", &value)?;
        if is_infinity(input.trim()) {
            return Ok(value);
        }
        let stamp = parse(input.trim()).ok_or_else(|| bad_input("birth-date", &input))?;
        let (lo, hi) = self.same_age(stamp.days);
        let mut rng = self.keys.rng(input.as_bytes());
        let days = if hi > lo && (lo..=hi).contains(&stamp.days) {
            // Any other day of the same-age window.
            let pick = rng.random_range(lo..hi);
            if pick >= stamp.days {
                pick + 1
            } else {
                pick
            }
        } else {
            stamp.days
        };
        Ok(Value::text(stamp.format(days, stamp.clock.unwrap_or(0), stamp.frac)))
    }
}

// ---- catalogue ----

fn unique_refused(description: &'static str) -> OptionInfo {
    OptionInfo {
        name: "unique",
        kind: "bool",
        default: "column is unique",
        description,
    }
}

pub(crate) const NOISE_DATE: Entry = Entry {
    name: "noise-date",
    info: || {
        TransformerInfo {
        name: "noise-date",
        description: "The date or timestamp shifted by a keyed random offset (at least a day for dates), in the input's format and time zone",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "max_days",
                kind: "integer",
                default: "30",
                description: "Largest shift in days, either way",
            },
            OptionInfo {
                name: "max_seconds",
                kind: "integer",
                default: "0",
                description: "Timestamps: extra shift in seconds, either way",
            },
            OptionInfo {
                name: "min",
                kind: "date | timestamp",
                default: "(none)",
                description: "Earliest result (a shift that would go below goes the other way, else stops at `min`)",
            },
            OptionInfo {
                name: "max",
                kind: "date | timestamp",
                default: "(none)",
                description: "Latest result",
            },
            unique_refused("Refused: shifted dates can collide; use `keep` on unique columns"),
        ],
        example: "created_at: { transformer: noise-date, max_days: 10, max_seconds: 3600 }",
    }
    },
    build: build_noise_date,
};

pub(crate) const TRUNCATE_DATE: Entry = Entry {
    name: "truncate-date",
    info: || {
        TransformerInfo {
        name: "truncate-date",
        description: "The date or timestamp cut to its year, month, day, hour or minute (2024-03-17 becomes 2024-03-01), time zone kept",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "to",
                kind: "year | month | day | hour | minute",
                default: "month",
                description: "The finest part kept; finer parts become their first value (day/hour/minute only on timestamps)",
            },
            unique_refused("Refused: truncated dates repeat"),
        ],
        example: "signup_date: { transformer: truncate-date, to: year }",
    }
    },
    build: build_truncate,
};

pub(crate) const BIRTH_DATE: Entry = Entry {
    name: "birth-date",
    info: || {
        TransformerInfo {
        name: "birth-date",
        description: "A fake birth date with the same age in years as the original at a reference date: the day changes, the year only as the age requires",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "reference",
                kind: "date",
                default: "today (UTC, when the rule is built)",
                description: "The date ages are computed at; set it for outputs that do not change from one day to the next",
            },
            unique_refused("Refused: birth dates repeat"),
        ],
        example: "birthday: { transformer: birth-date, reference: \"2024-01-01\" }",
    }
    },
    build: build_birth_date,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::{BuildError, ColumnSpec};
    use serde_json::json;

    fn ts() -> ColumnSpec {
        column(ColumnKind::Timestamp { with_tz: true })
    }

    #[test]
    fn civil_round_trip_and_parse() {
        for z in (-800_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1, 1, 1), MIN_DAY);
        assert_eq!(days_from_civil(9999, 12, 31), MAX_DAY);
        let s = parse("2024-03-05 10:11:12.123+05:30").unwrap();
        assert_eq!(s.clock, Some(36672));
        assert_eq!((s.frac, s.suffix, s.sep), (".123", "+05:30", ' '));
        assert_eq!(s.format_seconds(s.seconds()), "2024-03-05 10:11:12.123+05:30");
        let iso = parse("2024-03-05T00:00:00Z").unwrap();
        assert_eq!(iso.format_seconds(iso.seconds() - 1), "2024-03-04T23:59:59Z");
        for bad in [
            "2024-02-30",
            "2024-3-5",
            "hello",
            "2024-03-05 BC",
            "2024-03-05 10:11:12 BC",
            "2024-13-01",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn noise_date_shifts_within_bounds_and_keeps_format() {
        let d = build_on("noise-date", json!({"max_days": 5}), &column(ColumnKind::Date)).unwrap();
        let base = parse("2024-03-05").unwrap().days;
        for i in 0..500 {
            let input = Stamp {
                days: base + i,
                clock: None,
                sep: ' ',
                frac: "",
                suffix: "",
            }
            .format_seconds((base + i) * DAY);
            let out = run(&*d, &input);
            let delta = parse(&out).unwrap().days - (base + i);
            assert!(delta != 0 && delta.abs() <= 5, "{input} -> {out}");
            assert_eq!(out, run(&*d, &input));
        }
        let t = build_on("noise-date", json!({"max_days": 0, "max_seconds": 60}), &ts()).unwrap();
        let input = "2024-03-05 10:11:12.123456+02";
        let out = run(&*t, input);
        assert_ne!(out, input);
        assert!(
            out.ends_with(".123456+02") && out.starts_with("2024-03-05 10:1"),
            "{out}"
        );
        let dt = parse(&out).unwrap().seconds() - parse(input).unwrap().seconds();
        assert!(dt != 0 && dt.abs() <= 60);
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        assert_eq!(run(&*t, "infinity"), "infinity");
        assert!(t.transform(Value::text("yesterday")).is_err());
        assert!(t.transform(Value::Int(5)).is_err());

        let bounded = build_on(
            "noise-date",
            json!({"max_days": 30, "min": "2024-01-01", "max": "2024-01-10"}),
            &column(ColumnKind::Date),
        )
        .unwrap();
        for day in 1..=10 {
            let input = format!("2024-01-{day:02}");
            let out = run(&*bounded, &input);
            assert!(("2024-01-01".."2024-01-11").contains(&out.as_str()), "{input} -> {out}");
        }
    }

    #[test]
    fn noise_date_options_validated() {
        let d = column(ColumnKind::Date);
        for bad in [
            json!({"max_days": 0}),
            json!({"min": "soon"}),
            json!({"min": "2024-02-01", "max": "2024-01-01"}),
            json!({"max_days": 1_000_000}),
        ] {
            assert!(matches!(
                build_on("noise-date", bad, &d),
                Err(BuildError::BadOption { .. })
            ));
        }
        assert!(is_incompatible(
            &build_on("noise-date", json!(null), &unique(ColumnKind::Date)),
            "`keep`"
        ));
        assert!(is_incompatible(
            &build_on(
                "noise-date",
                json!(null),
                &column(ColumnKind::Int {
                    bits: 32,
                    unsigned: false
                })
            ),
            "noise-number"
        ));
    }

    #[test]
    fn truncate_date_units() {
        let d = build_on("truncate-date", json!(null), &column(ColumnKind::Date)).unwrap();
        assert_eq!(run(&*d, "2024-03-17"), "2024-03-01");
        assert_ne!(run(&*d, "2024-03-17"), "2024-03-17");
        let y = rule("truncate-date", json!({"to": "year"}));
        assert_eq!(run(&*y, "2024-03-17 10:11:12.5+01"), "2024-01-01 00:00:00+01");
        let h = build_on("truncate-date", json!({"to": "hour"}), &ts()).unwrap();
        assert_eq!(run(&*h, "2024-03-17T10:11:12.5Z"), "2024-03-17T10:00:00Z");
        let m = build_on("truncate-date", json!({"to": "minute"}), &ts()).unwrap();
        assert_eq!(run(&*m, "2024-03-17 10:11:12-08"), "2024-03-17 10:11:00-08");
        let day = build_on("truncate-date", json!({"to": "day"}), &ts()).unwrap();
        assert_eq!(run(&*day, "2024-03-17 10:11:12"), "2024-03-17 00:00:00");
        assert_eq!(d.transform(Value::Null).unwrap(), Value::Null);
        assert!(d.transform(Value::text("17/03/2024")).is_err());
        assert!(matches!(
            build_on("truncate-date", json!({"to": "hour"}), &column(ColumnKind::Date)),
            Err(BuildError::BadOption { .. })
        ));
        assert!(matches!(
            build_on("truncate-date", json!({"to": "week"}), &column(ColumnKind::Date)),
            Err(BuildError::BadOption { .. })
        ));
        assert!(is_incompatible(
            &build_on("truncate-date", json!(null), &unique(ColumnKind::Date)),
            "`keep`"
        ));
    }

    fn age(birth: i64, reference: (i64, u32, u32)) -> i64 {
        let (y, m, d) = civil_from_days(birth);
        reference.0 - y - i64::from((m, d) > (reference.1, reference.2))
    }

    #[test]
    fn birth_date_keeps_the_age() {
        for reference in ["2024-01-01", "2024-02-29", "2023-07-15", "2024-12-31"] {
            let t = build_on("birth-date", json!({"reference": reference}), &column(ColumnKind::Date)).unwrap();
            let r = civil_from_days(parse(reference).unwrap().days);
            let start = parse("1940-01-01").unwrap().days;
            for b in (start..start + 30_000).step_by(7) {
                let (y, m, d) = civil_from_days(b);
                let input = format!("{y:04}-{m:02}-{d:02}");
                let out = run(&*t, &input);
                let o = parse(&out).unwrap().days;
                assert_ne!(o, b, "{input}");
                assert_eq!(age(o, r), age(b, r), "{input} -> {out} at {reference}");
            }
        }
        let t = rule("birth-date", json!({"reference": "2024-06-01"}));
        let out = run(&*t, "1990-05-20 00:00:00+00");
        assert!(
            out.ends_with(" 00:00:00+00") && out != "1990-05-20 00:00:00+00",
            "{out}"
        );
        assert_eq!(out, run(&*t, "1990-05-20 00:00:00+00"));
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        let today = rule("birth-date", json!(null));
        let out = run(&*today, "1985-10-10");
        assert_eq!(
            age(parse(&out).unwrap().days, civil_from_days(today_utc())),
            age(parse("1985-10-10").unwrap().days, civil_from_days(today_utc()))
        );
        assert!(matches!(
            build_on(
                "birth-date",
                json!({"reference": "2024-01-01 10:00:00"}),
                &column(ColumnKind::Date)
            ),
            Err(BuildError::BadOption { .. })
        ));
        assert!(is_incompatible(
            &build_on("birth-date", json!(null), &unique(ColumnKind::Date)),
            "`keep`"
        ));
    }
}
