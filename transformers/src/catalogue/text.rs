//! Text transformers: masking that keeps little or nothing of the text (`keep-first-char`,
//! `redacted`, `mask`), `lorem`, `regex-replace`, and `choice` from a list.

use std::borrow::Cow;
use std::sync::Arc;

use fake::locales::{Data, EN};
use rand::rngs::SmallRng;
use rand::RngExt as _;
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::{kind_name, pick, text_of, truncate, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::fpe::Feistel;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{ColumnKind, TransformError, Transformer, Value};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UniqueOnly {
    #[serde(default)]
    unique: bool,
}

struct FirstChar;

impl Transformer for FirstChar {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        Ok(match value {
            Value::Null => Value::Null,
            Value::Text(Cow::Borrowed(s)) => Value::Text(Cow::Borrowed(first_char(s))),
            other => Value::text(first_char(&text_of(&other)).to_string()),
        })
    }
}

fn first_char(s: &str) -> &str {
    s.chars().next().map_or("", |c| &s[..c.len_utf8()])
}

fn build_first_char(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<UniqueOnly>()?;
    ctx.require_text()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `hash` or `random`"));
    }
    Ok(Arc::new(FirstChar))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RedactedOptions {
    #[serde(default = "default_char")]
    char: String,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    unique: bool,
}

fn default_char() -> String {
    "*".into()
}

const DEFAULT_MAX_WIDTH: usize = 10;

struct Redacted {
    fill: char,
    width: Option<usize>,
    max_chars: Option<usize>,
}

fn build_redacted(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<RedactedOptions>()?;
    ctx.require_text()?;
    let mut chars = opts.char.chars();
    let fill = match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => return Err(ctx.bad_option(format!("`char` must be exactly one character, got `{}`", opts.char))),
    };
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `hash` or `random`"));
    }
    Ok(Arc::new(Redacted {
        fill,
        width: opts.width.map(|w| w as usize),
        max_chars: ctx.max_chars(),
    }))
}

impl Transformer for Redacted {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let width = self
            .width
            .unwrap_or_else(|| text_of(&value).chars().count().min(DEFAULT_MAX_WIDTH));
        let width = self.max_chars.map_or(width, |m| width.min(m));
        Ok(Value::text(std::iter::repeat_n(self.fill, width).collect::<String>()))
    }
}

pub(crate) const KEEP_FIRST_CHAR: Entry = Entry {
    name: "keep-first-char",
    info: || TransformerInfo {
        name: "keep-first-char",
        description: "Only the first character of the original (e.g. an initial)",
        unique_safe: false,
        options: vec![OptionInfo {
            name: "unique",
            kind: "bool",
            default: "false",
            description: "Refused: initials repeat; use `hash` on unique columns",
        }],
        example: "middle_name: { transformer: keep-first-char }",
    },
    build: build_first_char,
};

pub(crate) const REDACTED: Entry = Entry {
    name: "redacted",
    info: || TransformerInfo {
        name: "redacted",
        description: "The same character repeated, e.g. `******`",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "char",
                kind: "string",
                default: "*",
                description: "The character to repeat",
            },
            OptionInfo {
                name: "width",
                kind: "integer",
                default: "input length, at most 10",
                description: "Number of characters (always capped by the column's length)",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "false",
                description: "Refused: redacted values repeat; use `hash` on unique columns",
            },
        ],
        example: "notes: { transformer: redacted, char: \"#\" }",
    },
    build: build_redacted,
};

// ---- lorem ----

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum LoremUnit {
    Words,
    Sentences,
    Paragraphs,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct LoremOptions {
    #[serde(default)]
    unit: Option<LoremUnit>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    unique: bool,
}

const MAX_LOREM_COUNT: u32 = 1000;
/// Inputs shorter than this become words, then sentences, then paragraphs.
const LOREM_SENTENCES_FROM: usize = 40;
const LOREM_PARAGRAPHS_FROM: usize = 400;

struct Lorem {
    keys: DomainHasher,
    unit: Option<LoremUnit>,
    count: Option<u32>,
    max_chars: Option<usize>,
}

/// When generation stops: at about a number of characters, or after a number of units.
#[derive(Clone, Copy)]
enum Until {
    Chars(usize),
    Count(u32),
}

fn build_lorem(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<LoremOptions>()?;
    ctx.require_text()?;
    if let Some(n) = opts.count {
        if !(1..=MAX_LOREM_COUNT).contains(&n) {
            return Err(ctx.bad_option(format!("`count` must be between 1 and {MAX_LOREM_COUNT}, got {n}")));
        }
    }
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `hash` or `random`"));
    }
    Ok(Arc::new(Lorem {
        keys,
        unit: opts.unit.or(opts.count.map(|_| LoremUnit::Words)),
        count: opts.count,
        max_chars: ctx.max_chars(),
    }))
}

impl Lorem {
    fn generate(&self, unit: LoremUnit, until: Until, rng: &mut SmallRng) -> String {
        let capacity = match until {
            Until::Chars(n) => n + 1,
            Until::Count(n) => n as usize * 8,
        };
        let mut out = String::with_capacity(capacity.min(1 << 16));
        let (mut words, mut sentence_len) = (0u32, rng.random_range(4..=12u32));
        let (mut sentences, mut paragraph_len) = (0u32, rng.random_range(3..=6u32));
        let mut done = 0u32;
        loop {
            let mut word = pick(EN::LOREM_WORD, rng.random::<u32>());
            if let (Until::Chars(target), true) = (until, out.is_empty()) {
                // A short input gets a short first word (the list has many of two letters).
                for _ in 0..16 {
                    if word.len() <= target {
                        break;
                    }
                    word = pick(EN::LOREM_WORD, rng.random::<u32>());
                }
            }
            if let Until::Chars(target) = until {
                let extra = word.len() + usize::from(!out.is_empty()) + usize::from(unit != LoremUnit::Words);
                if !out.is_empty() && out.len() + extra > target {
                    break;
                }
            }
            if !out.is_empty() {
                out.push_str(if words == 0 && sentences == 0 { "\n\n" } else { " " });
            }
            if unit != LoremUnit::Words && words == 0 {
                let mut chars = word.chars();
                out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                out.push_str(chars.as_str());
            } else {
                out.push_str(word);
            }
            words += 1;
            if unit == LoremUnit::Words {
                done += 1;
            } else if words == sentence_len {
                out.push('.');
                (words, sentence_len) = (0, rng.random_range(4..=12));
                sentences += 1;
                if unit == LoremUnit::Sentences {
                    done += 1;
                }
                if sentences == paragraph_len {
                    (sentences, paragraph_len) = (0, rng.random_range(3..=6));
                    if unit == LoremUnit::Paragraphs {
                        done += 1;
                    }
                }
                // Sentences form paragraphs only in paragraph mode.
                if unit == LoremUnit::Sentences {
                    sentences = sentences.min(1);
                }
            }
            // Past the column's length the rest would be cut anyway.
            if matches!(until, Until::Count(n) if done >= n) || self.max_chars.is_some_and(|m| out.len() > m) {
                break;
            }
        }
        if unit != LoremUnit::Words && words > 0 {
            out.push('.');
        }
        out
    }
}

impl Transformer for Lorem {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let target = input.chars().count();
        if target == 0 && self.count.is_none() {
            return Ok(Value::text(""));
        }
        let mut rng = self.keys.rng(&value.key_bytes());
        let target = self.max_chars.map_or(target, |m| target.min(m));
        let unit = self.unit.unwrap_or(match target {
            t if t < LOREM_SENTENCES_FROM => LoremUnit::Words,
            t if t < LOREM_PARAGRAPHS_FROM => LoremUnit::Sentences,
            _ => LoremUnit::Paragraphs,
        });
        let until = self.count.map_or(Until::Chars(target), Until::Count);
        let mut out = self.generate(unit, until, &mut rng);
        if let Some(max) = self.max_chars {
            let cut = truncate(&out, Some(max)).trim_end().len();
            out.truncate(cut);
        }
        Ok(Value::text(out))
    }
}

// ---- regex-replace ----

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RegexOptions {
    pattern: String,
    replacement: String,
    #[serde(default)]
    unique: bool,
}

struct RegexReplace {
    regex: Regex,
    replacement: String,
    max_chars: Option<usize>,
}

/// Checks that every `$N`, `$name` and `${...}` of a replacement names a group of the regex (the
/// regex crate silently writes nothing for unknown groups).
fn check_replacement(regex: &Regex, replacement: &str) -> Result<(), String> {
    let mut rest = replacement;
    while let Some(i) = rest.find('$') {
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            rest = r;
            continue;
        }
        let (name, after) = if let Some(braced) = rest.strip_prefix('{') {
            match braced.split_once('}') {
                Some((name, after)) => (name, after),
                None => return Err("unclosed `${` in `replacement`".into()),
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        rest = after;
        if name.is_empty() {
            return Err("a lone `$` in `replacement` (write `$$` for a dollar sign)".into());
        }
        let known = match name.parse::<usize>() {
            Ok(n) => n < regex.captures_len(),
            Err(_) => regex.capture_names().any(|g| g == Some(name)),
        };
        if !known {
            return Err(format!(
                "`replacement` refers to `{name}`, which is not a group of `pattern`"
            ));
        }
    }
    Ok(())
}

fn build_regex(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<RegexOptions>()?;
    ctx.require_text()?;
    let regex =
        Regex::new(&opts.pattern).map_err(|e| ctx.bad_option(format!("`pattern` is not a valid regex: {e}")))?;
    check_replacement(&regex, &opts.replacement).map_err(|m| ctx.bad_option(m))?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `hash`, or `mask` with `random: true`"));
    }
    Ok(Arc::new(RegexReplace {
        regex,
        replacement: opts.replacement,
        max_chars: ctx.max_chars(),
    }))
}

impl Transformer for RegexReplace {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        let out = match &value {
            Value::Null => return Ok(Value::Null),
            Value::Text(Cow::Borrowed(s)) => match self.regex.replace_all(s, self.replacement.as_str()) {
                Cow::Borrowed(b) => return Ok(Value::Text(Cow::Borrowed(truncate(b, self.max_chars)))),
                Cow::Owned(o) => o,
            },
            other => self
                .regex
                .replace_all(&text_of(other), self.replacement.as_str())
                .into_owned(),
        };
        Ok(Value::text(match truncate(&out, self.max_chars).len() {
            n if n == out.len() => out,
            n => out[..n].to_string(),
        }))
    }
}

// ---- mask ----

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct MaskOptions {
    #[serde(default = "default_keep_last")]
    keep_last: usize,
    #[serde(default)]
    keep_first: usize,
    #[serde(default = "default_char")]
    char: String,
    #[serde(default)]
    random: bool,
    #[serde(default)]
    unique: bool,
}

fn default_keep_last() -> usize {
    4
}

enum MaskMode {
    Fill(char),
    Random,
    /// Keyed permutation of the masked ASCII letters and digits, per class.
    Bijection(Feistel),
}

struct Mask {
    keys: DomainHasher,
    keep_first: usize,
    keep_last: usize,
    mode: MaskMode,
}

fn build_mask(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<MaskOptions>()?;
    ctx.require_text()?;
    let mut chars = opts.char.chars();
    let fill = match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => return Err(ctx.bad_option(format!("`char` must be exactly one character, got `{}`", opts.char))),
    };
    let mode = match (opts.random, ctx.unique(opts.unique)) {
        (false, true) => return Err(ctx.not_unique("set `random: true` (a keyed bijection per character class)")),
        (false, false) => MaskMode::Fill(fill),
        (true, false) => MaskMode::Random,
        (true, true) => MaskMode::Bijection(Feistel::new(keys.clone())),
    };
    Ok(Arc::new(Mask {
        keys,
        keep_first: opts.keep_first,
        keep_last: opts.keep_last,
        mode,
    }))
}

/// (radix, base byte) of an ASCII letter or digit.
fn ascii_class(c: u8) -> Option<(u64, u8)> {
    match c {
        b'0'..=b'9' => Some((10, b'0')),
        b'a'..=b'z' => Some((26, b'a')),
        b'A'..=b'Z' => Some((26, b'A')),
        _ => None,
    }
}

impl Mask {
    /// The masked character positions `[from, to)`: everything when the kept parts would cover the
    /// whole value, so that a short value is never copied as is.
    fn span(&self, n: usize) -> (usize, usize) {
        if self.keep_first.saturating_add(self.keep_last) < n {
            (self.keep_first, n - self.keep_last)
        } else {
            (0, n)
        }
    }

    fn bijection(&self, feistel: &Feistel, input: &str) -> String {
        // Class characters are ASCII, so the work is on bytes; only the span needs char positions.
        let (from, to) = if input.is_ascii() {
            self.span(input.len())
        } else {
            let (from, to) = self.span(input.chars().count());
            let byte_at = |k: usize| input.char_indices().nth(k).map_or(input.len(), |(i, _)| i);
            (byte_at(from), byte_at(to))
        };
        let bytes = input.as_bytes();
        // The tweak covers everything the output shows as is: kept characters, separators, and
        // which class each masked position has. Equal skeletons get one permutation of the rest.
        let mut out = bytes.to_vec();
        for b in &mut out[from..to] {
            if let Some((_, base)) = ascii_class(*b) {
                *b = base;
            }
        }
        let mut tweak = self.keys.hash64(&out);
        let mut pos = from;
        loop {
            // The next run of class positions whose number of values stays below 2^60.
            let mut chunk = [(0usize, 0u64, 0u8); 24];
            let (mut len, mut size) = (0, 1u64);
            while pos < to && size <= (1 << 60) / 26 {
                if let Some((r, base)) = ascii_class(bytes[pos]) {
                    chunk[len] = (pos, r, base);
                    len += 1;
                    size *= r;
                }
                pos += 1;
            }
            if len == 0 {
                break;
            }
            let chunk = &chunk[..len];
            let n = chunk
                .iter()
                .fold(0u64, |acc, &(i, r, b)| acc * r + (bytes[i] - b) as u64);
            let mut y = feistel.permute(n, size - 1, tweak);
            for &(i, r, b) in chunk.iter().rev() {
                out[i] = b + (y % r) as u8;
                y /= r;
            }
            // Chained on the input chunk, so each chunk can be undone once the previous one is.
            if pos < to {
                tweak = self.keys.hash_words(&[tweak, n, len as u64]);
            }
        }
        String::from_utf8(out).expect("only ASCII bytes were replaced, by ASCII bytes")
    }
}

impl Transformer for Mask {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let out = match &self.mode {
            MaskMode::Bijection(feistel) => self.bijection(feistel, &input),
            MaskMode::Fill(fill) => {
                let (from, to) = self.span(input.chars().count());
                input
                    .chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if (from..to).contains(&i) && c.is_alphanumeric() {
                            *fill
                        } else {
                            c
                        }
                    })
                    .collect()
            }
            MaskMode::Random => {
                let mut rng = self.keys.rng(&value.key_bytes());
                let (from, to) = self.span(input.chars().count());
                input
                    .chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if !(from..to).contains(&i) || !c.is_alphanumeric() {
                            c
                        } else if c.is_uppercase() {
                            (b'A' + rng.random_range(0..26u8)) as char
                        } else if c.is_alphabetic() {
                            (b'a' + rng.random_range(0..26u8)) as char
                        } else {
                            (b'0' + rng.random_range(0..10u8)) as char
                        }
                    })
                    .collect()
            }
        };
        Ok(Value::text(out))
    }
}

// ---- choice ----

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ChoiceOptions {
    values: Vec<serde_json::Value>,
    #[serde(default)]
    weights: Option<Vec<f64>>,
    #[serde(default)]
    unique: bool,
}

struct Choice {
    keys: DomainHasher,
    values: Vec<Value<'static>>,
    /// Upper bounds of each value's share of the u64 range (weighted picks), ending at u64::MAX.
    thresholds: Option<Vec<u64>>,
    /// The last value with a positive weight.
    last: usize,
}

fn build_choice(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<ChoiceOptions>()?;
    if opts.values.is_empty() {
        return Err(ctx.bad_option("`values` must list at least one value"));
    }
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `random` or `hash`"));
    }
    let mut values = Vec::with_capacity(opts.values.len());
    for v in &opts.values {
        let value = match v {
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or_default()),
            },
            serde_json::Value::String(s) => Value::text(s.clone()),
            other => {
                return Err(ctx.bad_option(format!("`values` must be strings, numbers or booleans, got `{other}`")))
            }
        };
        check_fits(ctx, &value)?;
        values.push(value);
    }
    let thresholds = match opts.weights {
        None => None,
        Some(w) if w.len() != values.len() => {
            return Err(ctx.bad_option(format!(
                "`weights` has {} entries and `values` {}; give one weight per value",
                w.len(),
                values.len()
            )))
        }
        Some(w) if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0 => {
            return Err(ctx.bad_option("`weights` must be non-negative numbers with a positive sum"))
        }
        Some(w) => {
            let total: f64 = w.iter().sum();
            let mut acc = 0.0;
            let mut t: Vec<u64> = w
                .iter()
                .map(|x| {
                    acc += x;
                    (acc / total * u64::MAX as f64) as u64
                })
                .collect();
            // The last value with a weight takes the remainder of the range.
            if let Some(last) = w.iter().rposition(|x| *x > 0.0) {
                t[last..].iter_mut().for_each(|x| *x = u64::MAX);
            }
            Some(t)
        }
    };
    let last = thresholds.as_ref().map_or(values.len() - 1, |t| {
        t.iter().position(|x| *x == u64::MAX).unwrap_or(t.len() - 1)
    });
    Ok(Arc::new(Choice {
        keys,
        values,
        thresholds,
        last,
    }))
}

/// The value must be writable to the column: length, integer range, enum label, boolean.
fn check_fits(ctx: &Ctx<'_>, value: &Value<'_>) -> Result<(), crate::BuildError> {
    let text = value.key_bytes();
    let text = String::from_utf8_lossy(&text);
    let misfit = |what: String| {
        ctx.incompatible(format!(
            "the value `{text}` does not fit a {} column: {what}",
            kind_name(&ctx.column.kind)
        ))
    };
    match &ctx.column.kind {
        ColumnKind::Text { max_chars: Some(max) } if text.chars().count() > *max as usize => Err(misfit(format!(
            "{} characters, the column holds {max}",
            text.chars().count()
        ))),
        ColumnKind::Int { bits, unsigned } => {
            let (min, max) = super::random::int_range(*bits, *unsigned);
            match text.trim().parse::<i128>() {
                Ok(n) if (min..=max).contains(&n) => Ok(()),
                Ok(_) => Err(misfit(format!("out of range {min}..={max}"))),
                Err(_) => Err(misfit("not an integer".into())),
            }
        }
        ColumnKind::Numeric { .. } | ColumnKind::Float if text.trim().parse::<f64>().is_err() => {
            Err(misfit("not a number".into()))
        }
        ColumnKind::Bool if !matches!(&*text, "true" | "false" | "t" | "f") => Err(misfit("not a boolean".into())),
        ColumnKind::Enum { values } if !values.iter().any(|l| *l == text) => {
            Err(misfit(format!("not one of {}", values.join(", "))))
        }
        _ => Ok(()),
    }
}

impl Transformer for Choice {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let key = value.key_bytes();
        let seed = self.keys.seed(&key);
        let n = self.values.len();
        let mut i = match &self.thresholds {
            None => ((seed as u128 * n as u128) >> 64) as usize,
            // The first value whose share ends above the seed: never one without weight.
            Some(t) => t.partition_point(|x| *x <= seed).min(self.last),
        };
        // Never hand the original back when another value can be chosen.
        let weighted = |j: usize| match &self.thresholds {
            None => true,
            Some(t) => t[j] > if j == 0 { 0 } else { t[j - 1] },
        };
        if self.values[i].key_bytes() == key {
            if let Some(j) = (1..n)
                .map(|k| (i + k) % n)
                .find(|&j| weighted(j) && self.values[j].key_bytes() != key)
            {
                i = j;
            }
        }
        Ok(self.values[i].clone())
    }
}

pub(crate) const LOREM: Entry = Entry {
    name: "lorem",
    info: || {
        TransformerInfo {
        name: "lorem",
        description: "Lorem ipsum text of about the original's length (words, sentences or paragraphs), cut to the column's length",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "unit",
                kind: "words | sentences | paragraphs",
                default: "by input length (<40 chars: words, <400: sentences, else paragraphs)",
                description: "What the text is made of",
            },
            OptionInfo {
                name: "count",
                kind: "integer",
                default: "(as long as the input)",
                description: "Exactly this many units (1 to 1000) instead of matching the input's length",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Refused: lorem texts can repeat; use `hash` on unique columns",
            },
        ],
        example: "bio: { transformer: lorem, unit: sentences }",
    }
    },
    build: build_lorem,
};

pub(crate) const REGEX_REPLACE: Entry = Entry {
    name: "regex-replace",
    info: || {
        TransformerInfo {
        name: "regex-replace",
        description: "Replaces every match of a regular expression (Rust `regex` syntax); the replacement can use groups (`$1`, `${name}`)",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "pattern",
                kind: "string",
                default: "(required)",
                description: "The regular expression, checked when the rule is built",
            },
            OptionInfo {
                name: "replacement",
                kind: "string",
                default: "(required)",
                description: "The text for each match; `$1`, `${name}` insert groups, `$$` a dollar sign",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Refused: replacements can merge values; use `hash` or `mask` with `random: true`",
            },
        ],
        example: "phone: { transformer: regex-replace, pattern: \"[0-9]{4}$\", replacement: \"0000\" }",
    }
    },
    build: build_regex,
};

pub(crate) const MASK: Entry = Entry {
    name: "mask",
    info: || {
        TransformerInfo {
        name: "mask",
        description: "Masks letters and digits except the first/last few (`****-****-1234`), with a fixed character or keyed random characters of the same class; separators stay",
        unique_safe: true,
        options: vec![
            OptionInfo {
                name: "keep_last",
                kind: "integer",
                default: "4",
                description: "Characters kept at the end (all are masked when the value is not longer than keep_first + keep_last)",
            },
            OptionInfo {
                name: "keep_first",
                kind: "integer",
                default: "0",
                description: "Characters kept at the start",
            },
            OptionInfo {
                name: "char",
                kind: "string",
                default: "*",
                description: "The mask character (without `random`)",
            },
            OptionInfo {
                name: "random",
                kind: "bool",
                default: "false",
                description: "Replace with keyed random characters of the same class: digit, upper or lower case letter",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Needs `random: true`: the masked ASCII letters and digits are then a keyed permutation per class, tweaked by the rest of the value, so distinct values stay distinct",
            },
        ],
        example: "card_number: { transformer: mask, keep_last: 4, random: true }",
    }
    },
    build: build_mask,
};

pub(crate) const CHOICE: Entry = Entry {
    name: "choice",
    info: || {
        TransformerInfo {
        name: "choice",
        description: "One of a list of values, picked by a keyed hash of the original (optionally weighted), checked against the column's type",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "values",
                kind: "list of string | number | bool",
                default: "(required)",
                description: "The values to choose from",
            },
            OptionInfo {
                name: "weights",
                kind: "list of number",
                default: "(equal)",
                description: "One non-negative weight per value",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Refused: a list's values repeat; use `random` or `hash` on unique columns",
            },
        ],
        example: "plan: { transformer: choice, values: [free, pro, team], weights: [6, 3, 1] }",
    }
    },
    build: build_choice,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::BuildError;
    use serde_json::json;
    use std::collections::HashSet;

    #[test]
    fn first_char_only() {
        let t = rule("keep-first-char", json!(null));
        assert_eq!(run(&*t, "Émile"), "É");
        assert_eq!(run(&*t, ""), "");
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        assert!(is_incompatible(
            &build_on(
                "keep-first-char",
                json!(null),
                &unique(ColumnKind::Text { max_chars: None })
            ),
            "`hash`"
        ));
    }

    #[test]
    fn redacted_widths() {
        let t = rule("redacted", json!(null));
        assert_eq!(run(&*t, "secret"), "******");
        assert_eq!(run(&*t, "a very long secret value"), "**********");
        let w = build_on("redacted", json!({"char": "x", "width": 20}), &varchar(4)).unwrap();
        assert_eq!(run(&*w, "abc"), "xxxx");
        assert_eq!(w.transform(Value::Null).unwrap(), Value::Null);
        let bad = build_on("redacted", json!({"char": "ab"}), &varchar(4));
        assert!(matches!(bad, Err(BuildError::BadOption { .. })));
        assert!(is_incompatible(
            &build_on("redacted", json!(null), &unique(ColumnKind::Text { max_chars: None })),
            "`hash`"
        ));
    }

    #[test]
    fn originals_do_not_survive() {
        let t = rule("redacted", json!(null));
        for s in ["alice", "bob@example.com", "4111 1111"] {
            assert_ne!(run(&*t, s), s);
        }
    }

    #[test]
    fn lorem_lengths_and_units() {
        let t = rule("lorem", json!(null));
        for input in ["Bob", "A short note about things", &"x".repeat(150), &"y".repeat(1200)] {
            let out = run(&*t, input);
            let (n, m) = (input.chars().count(), out.chars().count());
            assert!(m <= n + 1 && m + 16 >= n.min(16), "{n} -> {m}: {out}");
            assert_ne!(out, input);
            assert!(out
                .split_whitespace()
                .all(|w| w.trim_end_matches('.').chars().all(|c| c.is_ascii_alphabetic())));
            assert_eq!(out, run(&*t, input));
        }
        assert!(run(&*t, &"y".repeat(1200)).contains("\n\n"));
        assert!(run(&*t, &"y".repeat(200)).ends_with('.'));
        assert_eq!(run(&*t, ""), "");
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        let s = rule("lorem", json!({"unit": "sentences", "count": 3}));
        assert_eq!(run(&*s, "x").matches('.').count(), 3);
        let p = rule("lorem", json!({"unit": "paragraphs", "count": 2}));
        assert_eq!(run(&*p, "x").matches("\n\n").count(), 1);
        let w = rule("lorem", json!({"count": 5}));
        assert_eq!(run(&*w, "x").split(' ').count(), 5);
        let short = build_on("lorem", json!({"unit": "paragraphs", "count": 5}), &varchar(12)).unwrap();
        assert!(run(&*short, "hello").chars().count() <= 12);
        assert!(matches!(
            build_on("lorem", json!({"count": 0}), &varchar(9)),
            Err(BuildError::BadOption { .. })
        ));
        assert!(matches!(
            build_on("lorem", json!({"unit": "lines"}), &varchar(9)),
            Err(BuildError::BadOption { .. })
        ));
        assert!(is_incompatible(
            &build_on("lorem", json!(null), &unique(ColumnKind::Text { max_chars: None })),
            "`hash`"
        ));
    }

    #[test]
    fn regex_replace_groups_and_errors() {
        let t = rule(
            "regex-replace",
            json!({"pattern": "(?P<user>[a-z]+)@([a-z.]+)", "replacement": "${user}-x@$2"}),
        );
        assert_eq!(run(&*t, "mail alice@example.com now"), "mail alice-x@example.com now");
        assert_eq!(run(&*t, "NOMATCH"), "NOMATCH");
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        let digits = build_on(
            "regex-replace",
            json!({"pattern": "[0-9]", "replacement": "0000"}),
            &varchar(6),
        )
        .unwrap();
        assert_eq!(run(&*digits, "a1b2"), "a0000b");
        assert_eq!(digits.transform(Value::Int(12)).unwrap(), Value::text("000000"));
        let bad = build_on("regex-replace", json!({"pattern": "(", "replacement": ""}), &varchar(9));
        assert!(
            matches!(&bad, Err(BuildError::BadOption { message, .. }) if message.contains("regex")),
            "{:?}",
            bad.err()
        );
        for replacement in ["$2", "${nope}", "$", "${1"] {
            assert!(
                matches!(
                    build_on(
                        "regex-replace",
                        json!({"pattern": "(a)", "replacement": replacement}),
                        &varchar(9)
                    ),
                    Err(BuildError::BadOption { .. })
                ),
                "{replacement}"
            );
        }
        assert!(build_on(
            "regex-replace",
            json!({"pattern": "(a)", "replacement": "$$1 $1"}),
            &varchar(9)
        )
        .is_ok());
        assert!(is_incompatible(
            &build_on(
                "regex-replace",
                json!({"pattern": "a", "replacement": "b"}),
                &unique(ColumnKind::Text { max_chars: None })
            ),
            "`hash`"
        ));
    }

    #[test]
    fn mask_fill_and_random() {
        let t = rule("mask", json!(null));
        assert_eq!(run(&*t, "4111-1111-1111-1234"), "****-****-****-1234");
        assert_eq!(run(&*t, "1234"), "****");
        let f = rule("mask", json!({"keep_first": 2, "keep_last": 0, "char": "#"}));
        assert_eq!(run(&*f, "alice@example.com"), "al###@#######.###");
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        let r = rule("mask", json!({"random": true, "keep_last": 2}));
        let out = run(&*r, "Ab-12 cd.Éz");
        assert_eq!(out.chars().count(), 11);
        let classes = |s: &str| {
            s.chars()
                .map(|c| match c {
                    c if c.is_ascii_digit() => '0',
                    c if c.is_uppercase() => 'A',
                    c if c.is_alphabetic() => 'a',
                    c => c,
                })
                .collect::<String>()
        };
        assert_eq!(classes(&out), classes("Ab-12 cd.Éz"));
        assert!(out.ends_with("Éz") && !out.is_ascii());
        assert_eq!(out, run(&*r, "Ab-12 cd.Éz"));
        assert!(matches!(
            build_on("mask", json!({"char": "**"}), &varchar(9)),
            Err(BuildError::BadOption { .. })
        ));
        assert!(is_incompatible(
            &build_on("mask", json!(null), &unique(ColumnKind::Text { max_chars: None })),
            "random: true"
        ));
    }

    #[test]
    fn mask_unique_never_collides_on_a_million_inputs() {
        let t = build_on(
            "mask",
            json!({"random": true, "keep_last": 4}),
            &unique(ColumnKind::Text { max_chars: None }),
        )
        .unwrap();
        let mut seen = HashSet::with_capacity(1_000_000);
        for i in 0..1_000_000u64 {
            let input = format!("{:04}-{:04}-{:04}", i / 100_000_000, (i / 10_000) % 10_000, i % 10_000);
            let out = run(&*t, &input);
            assert!(
                out.ends_with(&input[10..]) && out.as_bytes()[4] == b'-',
                "{input} -> {out}"
            );
            assert!(seen.insert(out), "collision at input {input}");
        }
        // Mixed classes, kept prefix, and values shorter than the kept part.
        let u = build_on(
            "mask",
            json!({"random": true, "keep_first": 1, "keep_last": 1}),
            &unique(ColumnKind::Text { max_chars: None }),
        )
        .unwrap();
        let inputs: Vec<String> = (0..20_000).map(|i| format!("U{}x-{}", i % 7, i)).collect();
        let outs: HashSet<String> = inputs.iter().map(|i| run(&*u, i)).collect();
        assert_eq!(outs.len(), inputs.len());
        let short: HashSet<String> = (0..100).map(|i| run(&*u, &format!("{i:02}"))).collect();
        assert_eq!(short.len(), 100);
        assert_ne!(run(&*u, "Zorro-1234567"), "Zorro-1234567");
    }

    #[test]
    fn choice_picks_fit_and_differ() {
        let t = rule("choice", json!({"values": ["a", "b", "c"]}));
        let mut counts = std::collections::HashMap::new();
        for i in 0..3000 {
            *counts.entry(run(&*t, &i.to_string())).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 3);
        assert!(counts.values().all(|c| *c > 800), "{counts:?}");
        for v in ["a", "b", "c"] {
            assert_ne!(run(&*t, v), v);
        }
        assert_eq!(run(&*t, "same"), run(&*t, "same"));
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        let w = rule(
            "choice",
            json!({"values": ["rare", "common", "never"], "weights": [1, 9, 0]}),
        );
        let common = (0..5000).filter(|i| run(&*w, &i.to_string()) == "common").count();
        assert!((4300..4700).contains(&common), "{common}");
        assert!((0..5000).all(|i| run(&*w, &i.to_string()) != "never"));
        assert_eq!(run(&*w, "common"), "rare");
        let int2 = column(ColumnKind::Int {
            bits: 16,
            unsigned: false,
        });
        let n = build_on("choice", json!({"values": [1, 2, 3]}), &int2).unwrap();
        assert!(matches!(n.transform(Value::text("9")).unwrap(), Value::Int(1..=3)));
        assert!(is_incompatible(
            &build_on("choice", json!({"values": [1, 70000]}), &int2),
            "range"
        ));
        assert!(is_incompatible(
            &build_on("choice", json!({"values": ["abcdef"]}), &varchar(3)),
            "characters"
        ));
        let e = column(ColumnKind::Enum {
            values: vec!["x".into(), "y".into()],
        });
        assert!(is_incompatible(
            &build_on("choice", json!({"values": ["x", "z"]}), &e),
            "not one of"
        ));
        assert!(build_on("choice", json!({"values": ["x", "y"]}), &e).is_ok());
        for bad in [
            json!({"values": []}),
            json!({"values": ["a"], "weights": [1, 2]}),
            json!({"values": ["a", "b"], "weights": [0, 0]}),
            json!({"values": ["a", "b"], "weights": [-1, 2]}),
            json!({"values": [["a"]]}),
            json!({}),
        ] {
            assert!(matches!(
                build_on("choice", bad, &varchar(9)),
                Err(BuildError::BadOption { .. })
            ));
        }
        assert!(is_incompatible(
            &build_on(
                "choice",
                json!({"values": ["a", "b"]}),
                &unique(ColumnKind::Text { max_chars: None })
            ),
            "`random`"
        ));
    }
}
