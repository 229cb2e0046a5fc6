//! `ssn`: national identification numbers by locale, with their real check digits. The unique
//! variant maps each valid number to another valid number through a keyed bijection of its fields,
//! so distinct numbers stay distinct.
//!
//! Also holds the helpers the identity-like transformers share: keyed mixed-radix bijections and
//! positional re-layout of digits into the input's own punctuation.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{text_of, transform_error, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::fpe::Feistel;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{TransformError, Transformer, Value};

/// Permutes `vals` (each `vals[i] < radix[i]`, radices ≥ 1) with a keyed bijection of the whole
/// tuple. Positions are cut into chunks whose domain fits a u64; each chunk's tweak is chained on
/// the previous input chunks, so the map stays invertible chunk by chunk while a change anywhere
/// changes everything after it.
pub(crate) fn permute_radix(feistel: &Feistel, keys: &DomainHasher, vals: &mut [u8], radix: &[u8], tweak: u64) {
    debug_assert_eq!(vals.len(), radix.len());
    let mut tweak = keys.hash_words(&[tweak, vals.len() as u64]);
    let mut start = 0;
    while start < vals.len() {
        let (mut end, mut size) = (start, 1u64);
        while end < vals.len() {
            match size.checked_mul(radix[end].max(1) as u64) {
                Some(s) if s <= 1 << 62 => {
                    size = s;
                    end += 1;
                }
                _ => break,
            }
        }
        let n = (start..end).fold(0u64, |acc, i| acc * radix[i].max(1) as u64 + vals[i] as u64);
        let mut y = feistel.permute(n, size - 1, tweak);
        for i in (start..end).rev() {
            let r = radix[i].max(1) as u64;
            vals[i] = (y % r) as u8;
            y /= r;
        }
        tweak = keys.hash_words(&[tweak, n]);
        start = end;
    }
}

/// Writes `input` with its ASCII digits replaced, in order, by `digits` (values 0-9).
pub(crate) fn relayout(input: &str, digits: &[u8]) -> String {
    let mut it = digits.iter();
    input
        .chars()
        .map(|c| match c.is_ascii_digit() {
            true => (b'0' + it.next().copied().unwrap_or(0)) as char,
            false => c,
        })
        .collect()
}

/// Fills a `#` pattern (digits) and `L` (one letter) from `digits` / `letter`.
fn render_pattern(pattern: &str, digits: &[u8], letter: char) -> String {
    let mut it = digits.iter();
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '#' => out.push((b'0' + it.next().copied().unwrap_or(0)) as char),
            'L' => out.push(letter),
            c => out.push(c),
        }
    }
    out
}

/// ISO 7064 MOD 11,10 check digit (German Steuer-ID).
pub(crate) fn mod11_10(digits: &[u8]) -> u8 {
    let mut product = 10u32;
    for d in digits {
        let mut sum = (*d as u32 + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = 11 - product;
    if check == 10 {
        0
    } else {
        check as u8
    }
}

/// The two CPF check digits of 9 body digits.
pub(crate) fn cpf_check(body: &[u8; 9]) -> (u8, u8) {
    let digit = |sum: u32| {
        let r = sum % 11;
        if r < 2 {
            0
        } else {
            (11 - r) as u8
        }
    };
    let first = digit(body.iter().enumerate().map(|(i, d)| *d as u32 * (10 - i as u32)).sum());
    let second = digit(
        body.iter()
            .enumerate()
            .map(|(i, d)| *d as u32 * (11 - i as u32))
            .sum::<u32>()
            + first as u32 * 2,
    );
    (first, second)
}

const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// The control letter of a DNI number.
pub(crate) fn dni_letter(n: u32) -> char {
    DNI_LETTERS[(n % 23) as usize] as char
}

/// The NIR key of the 13-digit body.
pub(crate) fn nir_key(body: u64) -> u8 {
    (97 - body % 97) as u8
}

fn number(digits: &[u8]) -> u64 {
    digits.iter().fold(0, |acc, d| acc * 10 + *d as u64)
}

fn put(out: &mut [u8], mut n: u64) {
    for slot in out.iter_mut().rev() {
        *slot = (n % 10) as u8;
        n /= 10;
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Nat {
    Us,
    Fr,
    De,
    Es,
    Br,
}

const SSN_LOCALES: &str = "en (US SSN), fr (NIR), de (Steuer-ID), es (DNI), pt_br (CPF)";

impl Nat {
    fn parse(code: &str) -> Option<Nat> {
        Some(match code.to_ascii_lowercase().replace('-', "_").as_str() {
            "en" | "en_us" | "us" => Nat::Us,
            "fr" | "fr_fr" => Nat::Fr,
            "de" | "de_de" => Nat::De,
            "es" | "es_es" => Nat::Es,
            "pt_br" | "br" => Nat::Br,
            _ => return None,
        })
    }

    /// Number of digits (the DNI also has a letter).
    fn digits(self) -> usize {
        match self {
            Nat::Us => 9,
            Nat::Fr => 15,
            Nat::De => 11,
            Nat::Es => 8,
            Nat::Br => 11,
        }
    }

    fn pattern(self) -> &'static str {
        match self {
            Nat::Us => "###-##-####",
            Nat::Fr => "# ## ## ## ### ### ##",
            Nat::De => "## ### ### ###",
            Nat::Es => "########L",
            Nat::Br => "###.###.###-##",
        }
    }

    fn compact(self) -> &'static str {
        match self {
            Nat::Us => "#########",
            Nat::Fr => "###############",
            Nat::De => "###########",
            Nat::Es => "########L",
            Nat::Br => "###########",
        }
    }

    /// Sizes of the independent fields a number is made of (their product is the domain).
    fn fields(self) -> &'static [u64] {
        match self {
            // area 001-899 without 666, group 01-99, serial 0001-9999
            Nat::Us => &[898, 99, 9999],
            // sex 1-2, year 00-99, month 01-12, département 01-95 without 20, commune 001-990, order 001-999
            Nat::Fr => &[2, 100, 12, 94, 990, 999],
            // 10 body digits without a leading zero
            Nat::De => &[9_000_000_000],
            Nat::Es => &[100_000_000],
            Nat::Br => &[1_000_000_000],
        }
    }

    fn domain(self) -> u64 {
        self.fields().iter().product()
    }

    /// Digits (and letter) of the number with field indexes `index` (mixed radix over `fields`).
    fn render_digits(self, index: u64, out: &mut [u8; 15]) -> char {
        let mut f = [0u64; 6];
        let fields = self.fields();
        let mut rest = index;
        for i in (0..fields.len()).rev() {
            f[i] = rest % fields[i];
            rest /= fields[i];
        }
        match self {
            Nat::Us => {
                let mut area = f[0] + 1;
                if area >= 666 {
                    area += 1;
                }
                put(&mut out[..3], area);
                put(&mut out[3..5], f[1] + 1);
                put(&mut out[5..9], f[2] + 1);
            }
            Nat::Fr => {
                let mut dept = f[3] + 1;
                if dept >= 20 {
                    dept += 1;
                }
                put(&mut out[..1], f[0] + 1);
                put(&mut out[1..3], f[1]);
                put(&mut out[3..5], f[2] + 1);
                put(&mut out[5..7], dept);
                put(&mut out[7..10], f[4] + 1);
                put(&mut out[10..13], f[5] + 1);
                let key = nir_key(number(&out[..13]));
                put(&mut out[13..15], key as u64);
            }
            Nat::De => {
                put(&mut out[..10], f[0] + 1_000_000_000);
                let check = mod11_10(&out[..10]);
                out[10] = check;
            }
            Nat::Es => {
                put(&mut out[..8], f[0]);
                return dni_letter(f[0] as u32);
            }
            Nat::Br => {
                put(&mut out[..9], f[0]);
                let mut body = [0u8; 9];
                body.copy_from_slice(&out[..9]);
                let (a, b) = cpf_check(&body);
                out[9] = a;
                out[10] = b;
            }
        }
        ' '
    }

    /// The field index of a valid number, `None` when `digits`/`letter` is not one.
    fn index_of(self, d: &[u8], letter: Option<char>) -> Option<u64> {
        if d.len() != self.digits() {
            return None;
        }
        let f: [u64; 6] = match self {
            Nat::Us => {
                let (area, group, serial) = (number(&d[..3]), number(&d[3..5]), number(&d[5..9]));
                if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
                    return None;
                }
                [area - 1 - (area > 666) as u64, group - 1, serial - 1, 0, 0, 0]
            }
            Nat::Fr => {
                let (sex, yy, mm, dept) = (d[0] as u64, number(&d[1..3]), number(&d[3..5]), number(&d[5..7]));
                let (commune, order, key) = (number(&d[7..10]), number(&d[10..13]), number(&d[13..15]));
                let ok = (1..=2).contains(&sex)
                    && (1..=12).contains(&mm)
                    && (1..=95).contains(&dept)
                    && dept != 20
                    && (1..=990).contains(&commune)
                    && (1..=999).contains(&order)
                    && key == nir_key(number(&d[..13])) as u64;
                if !ok {
                    return None;
                }
                [
                    sex - 1,
                    yy,
                    mm - 1,
                    dept - 1 - (dept > 20) as u64,
                    commune - 1,
                    order - 1,
                ]
            }
            Nat::De => {
                if d[0] == 0 || mod11_10(&d[..10]) != d[10] {
                    return None;
                }
                [number(&d[..10]) - 1_000_000_000, 0, 0, 0, 0, 0]
            }
            Nat::Es => {
                let n = number(d);
                if letter.map(|c| c.to_ascii_uppercase()) != Some(dni_letter(n as u32)) {
                    return None;
                }
                [n, 0, 0, 0, 0, 0]
            }
            Nat::Br => {
                let body: [u8; 9] = d[..9].try_into().expect("9 digits");
                if cpf_check(&body) != (d[9], d[10]) {
                    return None;
                }
                [number(&d[..9]), 0, 0, 0, 0, 0]
            }
        };
        let fields = self.fields();
        Some((0..fields.len()).fold(0, |acc, i| acc * fields[i] + f[i]))
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SsnOptions {
    #[serde(default = "super::default_locale")]
    locale: String,
    #[serde(default)]
    unique: bool,
}

struct Ssn {
    nat: Nat,
    keys: DomainHasher,
    bijection: Option<Feistel>,
    max_chars: Option<usize>,
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<SsnOptions>()?;
    let nat = Nat::parse(&opts.locale)
        .ok_or_else(|| ctx.bad_option(format!("unknown locale `{}`; supported: {SSN_LOCALES}", opts.locale)))?;
    ctx.require_text()?;
    if let Some(max) = ctx.max_chars() {
        let need = nat.compact().len();
        if need > max {
            return Err(ctx.incompatible(format!(
                "a {} number needs {need} characters and the column holds {max}; use `redacted` or `hash`",
                opts.locale
            )));
        }
    }
    let bijection = ctx.unique(opts.unique).then(|| Feistel::new(keys.clone()));
    Ok(Arc::new(Ssn {
        nat,
        keys,
        bijection,
        max_chars: ctx.max_chars(),
    }))
}

impl Ssn {
    /// Keeps the input's own layout when it has the shape of a number of this locale, else uses
    /// the standard layout (compact when the input is bare alphanumerics).
    fn render(&self, input: &str, digits: &[u8], letter: char, max: Option<usize>) -> String {
        let count = input.bytes().filter(u8::is_ascii_digit).count();
        let letters = input.chars().filter(char::is_ascii_alphabetic).count();
        let wanted_letters = (self.nat == Nat::Es) as usize;
        // The unique variant always keeps the layout (valid inputs have the digit count), so that
        // inputs differing only in punctuation stay distinct.
        if count == digits.len() && (letters == wanted_letters || self.bijection.is_some()) {
            let mut out = relayout(input, digits);
            if self.nat == Nat::Es {
                if let Some((i, c)) = out.char_indices().rev().find(|(_, c)| c.is_ascii_alphabetic()) {
                    out.replace_range(i..i + c.len_utf8(), letter.encode_utf8(&mut [0; 4]));
                }
            }
            return out;
        }
        let bare = !input.is_empty() && input.chars().all(|c| c.is_ascii_alphanumeric());
        let pattern = self.nat.pattern();
        if bare || max.is_some_and(|m| pattern.len() > m) {
            render_pattern(self.nat.compact(), digits, letter)
        } else {
            render_pattern(pattern, digits, letter)
        }
    }
}

impl Transformer for Ssn {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let mut digits = [0u8; 15];
        let n = self.nat.digits();
        let domain = self.nat.domain();
        let letter = match &self.bijection {
            Some(feistel) => {
                let mut original = [0u8; 15];
                let mut count = 0;
                for b in input.bytes().filter(u8::is_ascii_digit) {
                    if count == 15 {
                        count += 1;
                        break;
                    }
                    original[count] = b - b'0';
                    count += 1;
                }
                let letter = input.chars().rev().find(char::is_ascii_alphabetic);
                let index = (count <= 15)
                    .then(|| self.nat.index_of(&original[..count.min(15)], letter))
                    .flatten()
                    .ok_or_else(|| {
                        transform_error(
                            "ssn",
                            format!(
                                "the unique variant needs valid numbers of its locale ({}); this value is not one",
                                self.nat.pattern()
                            ),
                        )
                    })?;
                // A keyed permutation of the valid numbers: it may fix a number, 1 time in `domain`.
                let y = feistel.permute(index, domain - 1, 0);
                self.nat.render_digits(y, &mut digits)
            }
            None => {
                let mut seed = self.keys.seed(input.as_bytes());
                loop {
                    let letter = self.nat.render_digits(seed % domain, &mut digits);
                    let same = input
                        .bytes()
                        .filter(u8::is_ascii_digit)
                        .map(|b| b - b'0')
                        .eq(digits[..n].iter().copied());
                    if !same {
                        break letter;
                    }
                    seed = seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
                }
            }
        };
        Ok(Value::text(self.render(&input, &digits[..n], letter, self.max_chars)))
    }
}

pub(crate) const SSN: Entry = Entry {
    name: "ssn",
    info: || {
        TransformerInfo {
        name: "ssn",
        description: "A national identification number with valid check digits: US SSN, French NIR, German Steuer-ID, Spanish DNI or Brazilian CPF; keeps the input's layout (a bijection on unique columns)",
        unique_safe: true,
        options: vec![
            OptionInfo {
                name: "locale",
                kind: "string",
                default: "en",
                description: "en (US SSN ###-##-####), fr (NIR, 15 digits), de (Steuer-ID, 11 digits), es (DNI ########L), pt_br (CPF ###.###.###-##)",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Map each valid number to another valid number through a keyed bijection (inputs must be valid numbers of the locale)",
            },
        ],
        example: "ssn: { transformer: ssn, locale: en }",
    }
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
    fn check_digits_known_values() {
        // NIR example: 2 55 08 14 168 025 38
        assert_eq!(nir_key(2_550_814_168_025), 38);
        // Steuer-ID examples published by the BZSt
        for id in ["86095742719", "47036892816", "65929970489"] {
            let d = digits(id);
            assert_eq!(mod11_10(&d[..10]), d[10], "{id}");
        }
        // DNI: 12345678Z
        assert_eq!(dni_letter(12_345_678), 'Z');
        // CPF: 529.982.247-25
        assert_eq!(cpf_check(&[5, 2, 9, 9, 8, 2, 2, 4, 7]), (2, 5));
        assert_eq!(Nat::Br.index_of(&digits("52998224725"), None), Some(529_982_247));
        assert_eq!(Nat::Br.index_of(&digits("52998224726"), None), None);
        assert!(Nat::Es.index_of(&digits("12345678"), Some('z')).is_some());
        assert!(Nat::Fr.index_of(&digits("255081416802538"), None).is_some());
        assert!(Nat::Us.index_of(&digits("666123456"), None).is_none());
    }

    fn valid(nat: Nat, out: &str) -> bool {
        let letter = out.chars().rev().find(char::is_ascii_alphabetic);
        nat.index_of(&digits(out), letter).is_some()
    }

    #[test]
    fn every_locale_gives_valid_numbers() {
        for (locale, nat, input) in [
            ("en", Nat::Us, "123-45-6789"),
            ("fr", Nat::Fr, "2 55 08 14 168 025 38"),
            ("de", Nat::De, "86095742719"),
            ("es", Nat::Es, "12345678Z"),
            ("pt_br", Nat::Br, "529.982.247-25"),
        ] {
            let t = rule("ssn", json!({ "locale": locale }));
            let out = run(&*t, input);
            assert_eq!(out.len(), input.len(), "{locale}: {out}");
            assert!(valid(nat, &out), "{locale}: {out}");
            assert_ne!(out, input);
            assert_eq!(out, run(&*t, input));
            for i in 0..2000 {
                let out = run(&*t, &format!("person {i}"));
                assert!(valid(nat, &out), "{locale}: {out}");
                assert_eq!(out.len(), nat.pattern().len());
            }
            assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        }
        let us = rule("ssn", json!(null));
        for i in 0..5000 {
            let out = run(&*us, &format!("{i}"));
            let area = &out[..3];
            assert!(area != "000" && area != "666" && !area.starts_with('9'), "{out}");
        }
        assert_eq!(run(&*us, "123456789").len(), 9);
    }

    #[test]
    fn unique_is_a_bijection_of_valid_numbers() {
        let col = unique(ColumnKind::Text { max_chars: Some(20) });
        let us = build_on("ssn", json!(null), &col).unwrap();
        let mut seen = HashSet::new();
        for i in 0..20_000u64 {
            let input = format!("{:03}-{:02}-{:04}", 100 + i % 500, 1 + i / 500 % 99, 1 + i / 500);
            let out = run(&*us, &input);
            assert!(valid(Nat::Us, &out) && out.len() == 11, "{out}");
            assert_ne!(out, input);
            assert!(seen.insert(out));
        }
        assert!(us.transform(Value::text("000-12-3456")).is_err());
        let br = build_on("ssn", json!({"locale": "pt_br"}), &col).unwrap();
        let mut seen = HashSet::new();
        for i in 0..5000u32 {
            let mut body = [0u8; 9];
            put(&mut body, 100_000_000 + i as u64 * 7919);
            let (a, b) = cpf_check(&body);
            let mut all = body.to_vec();
            all.extend([a, b]);
            let input: String = all.iter().map(|d| (b'0' + d) as char).collect();
            let out = run(&*br, &input);
            assert!(valid(Nat::Br, &out) && out != input);
            assert!(seen.insert(out));
        }
        for (locale, input) in [("fr", "255081416802538"), ("de", "86095742719"), ("es", "12345678-Z")] {
            let t = build_on("ssn", json!({ "locale": locale }), &col).unwrap();
            let out = run(&*t, input);
            assert_eq!(out.len(), input.len());
            assert_ne!(out, input);
        }
    }

    #[test]
    fn permute_radix_is_a_bijection() {
        let keys = engine().domain("t");
        let f = Feistel::new(keys.clone());
        let radix = [10u8, 26, 26, 10, 10];
        let mut seen = HashSet::new();
        for n in 0..(10 * 26 * 26 * 10 * 10u32) {
            let mut v = [
                (n / 67600 % 10) as u8,
                (n / 2600 % 26) as u8,
                (n / 100 % 26) as u8,
                (n / 10 % 10) as u8,
                (n % 10) as u8,
            ];
            permute_radix(&f, &keys, &mut v, &radix, 3);
            assert!(v.iter().zip(radix).all(|(v, r)| *v < r));
            assert!(seen.insert(v));
        }
        // Long inputs are chunked and stay injective.
        let radix = [10u8; 40];
        let mut seen = HashSet::new();
        for n in 0..2000u64 {
            let mut v = [0u8; 40];
            put(&mut v, n * 1_000_003);
            permute_radix(&f, &keys, &mut v, &radix, 0);
            assert!(seen.insert(v));
        }
    }

    #[test]
    fn refuses_bad_locale_and_narrow_columns() {
        assert!(matches!(
            build_on("ssn", json!({"locale": "xx"}), &crate::ColumnSpec::text("t")),
            Err(crate::BuildError::BadOption { .. })
        ));
        assert!(is_incompatible(
            &build_on("ssn", json!({"locale": "fr"}), &varchar(12)),
            "15"
        ));
        let t = build_on("ssn", json!(null), &varchar(9)).unwrap();
        assert_eq!(run(&*t, "some one").len(), 9);
    }
}
