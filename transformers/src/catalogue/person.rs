//! Realistic person names from `fake`'s locale data, picked by keyed hash (no allocation: the
//! output borrows the static word lists).

use std::borrow::Cow;
use std::sync::Arc;

use fake::locales::{self, Data};
use serde::{Deserialize, Serialize};

use super::gendered_names::{self, Gendered, GENDERED_LOCALES};
use super::{pick, text_of, truncate, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{BuildError, Row, TransformError, Transformer, Value};

/// Name lists of one locale.
#[derive(Clone, Copy)]
pub(crate) struct Locale {
    pub first: &'static [&'static str],
    pub last: &'static [&'static str],
    pub title: &'static [&'static str],
}

fn of<D: Data>() -> Locale {
    Locale {
        first: D::NAME_FIRST_NAME,
        last: D::NAME_LAST_NAME,
        title: D::NAME_TITLE,
    }
}

pub(crate) const LOCALES: &str = "en, fr, de, es, it, nl, pt_br, pt_pt, tr, cy, ar, fa, ja, zh_cn, zh_tw";

/// The canonical code of a locale name (`fr-FR` -> `fr`).
fn canonical(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_lowercase().replace('-', "_").as_str() {
        "en" | "en_us" => "en",
        "fr" | "fr_fr" => "fr",
        "de" | "de_de" => "de",
        "es" | "es_es" => "es",
        "it" | "it_it" => "it",
        "nl" | "nl_nl" => "nl",
        "pt_br" => "pt_br",
        "pt" | "pt_pt" => "pt_pt",
        "tr" | "tr_tr" => "tr",
        "cy" | "cy_gb" => "cy",
        "ar" | "ar_sa" => "ar",
        "fa" | "fa_ir" => "fa",
        "ja" | "ja_jp" => "ja",
        "zh_cn" => "zh_cn",
        "zh_tw" => "zh_tw",
        _ => return None,
    })
}

/// Titles fake lacks or has only one of (a one-item list could not differ from its input).
const ES_TITLES: &[&str] = &["Sr.", "Sra.", "Srta.", "Dr.", "Dra.", "Prof.", "Profa."];
const PT_BR_TITLES: &[&str] = &["Sr.", "Sra.", "Srta.", "Dr.", "Dra.", "Prof.", "Profa."];
const JA_TITLES: &[&str] = &["様", "さん", "氏", "先生", "博士"];
const AR_TITLES: &[&str] = &["السيد", "السيدة", "الآنسة", "الدكتور", "الدكتورة", "الأستاذ"];

pub(crate) fn locale(code: &str) -> Option<Locale> {
    Some(match canonical(code)? {
        "en" => of::<locales::EN>(),
        "fr" => of::<locales::FR_FR>(),
        "de" => of::<locales::DE_DE>(),
        "es" => Locale {
            first: &gendered_names::ES_FIRST,
            last: gendered_names::ES_LAST,
            title: ES_TITLES,
        },
        "it" => of::<locales::IT_IT>(),
        "nl" => of::<locales::NL_NL>(),
        "pt_br" => Locale {
            title: PT_BR_TITLES,
            ..of::<locales::PT_BR>()
        },
        "pt_pt" => of::<locales::PT_PT>(),
        "tr" => of::<locales::TR_TR>(),
        "cy" => of::<locales::CY_GB>(),
        "ar" => Locale {
            title: AR_TITLES,
            ..of::<locales::AR_SA>()
        },
        "fa" => of::<locales::FA_IR>(),
        "ja" => Locale {
            title: JA_TITLES,
            ..of::<locales::JA_JP>()
        },
        "zh_cn" => of::<locales::ZH_CN>(),
        "zh_tw" => of::<locales::ZH_TW>(),
        _ => return None,
    })
}

fn parse_locale(ctx: &Ctx<'_>, code: &str) -> Result<(&'static str, Locale), BuildError> {
    canonical(code)
        .and_then(|c| Some((c, locale(c)?)))
        .ok_or_else(|| ctx.bad_option(format!("unknown locale `{code}`; supported: {LOCALES}")))
}

const DEFAULT_FEMALE: &[&str] = &["F", "f", "female", "Female", "FEMALE", "W", "w", "woman"];
const DEFAULT_MALE: &[&str] = &["M", "m", "male", "Male", "MALE", "man"];

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct NameOptions {
    #[serde(default = "super::default_locale")]
    locale: String,
    // Skipped when absent so that rules without them keep their keyed domain (and outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gender_column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    female: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    male: Option<Vec<String>>,
    #[serde(default)]
    unique: bool,
}

#[derive(Clone, Copy)]
enum Part {
    First,
    Last,
    Full,
}

/// Picks first names from the list matching another column's gender value.
struct GenderRule {
    column: String,
    female_values: Vec<String>,
    male_values: Vec<String>,
    lists: Gendered,
}

impl GenderRule {
    /// The list for this row: female, male, or (unknown, NULL, missing) `all`.
    fn list(&self, row: &dyn Row, all: &'static [&'static str]) -> &'static [&'static str] {
        let Some(value) = row.original(&self.column) else {
            return all;
        };
        if value.is_null() {
            return all;
        }
        let text = text_of(&value);
        let g = text.trim();
        if self.female_values.iter().any(|v| v == g) {
            self.lists.female
        } else if self.male_values.iter().any(|v| v == g) {
            self.lists.male
        } else {
            all
        }
    }
}

struct Name {
    part: Part,
    locale: Locale,
    gender: Option<GenderRule>,
    keys: DomainHasher,
    max_chars: Option<usize>,
}

fn build(ctx: &Ctx<'_>, part: Part) -> Built {
    let (opts, keys) = ctx.parse::<NameOptions>()?;
    let (code, locale) = parse_locale(ctx, &opts.locale)?;
    let gender = match (opts.gender_column, part) {
        (None, _) => {
            if opts.female.is_some() || opts.male.is_some() {
                return Err(ctx.bad_option("`female` and `male` only apply with `gender_column`"));
            }
            None
        }
        (Some(_), Part::Last) => {
            return Err(
                ctx.bad_option("`gender_column` applies to `first-name` and `full-name`; last names are not gendered")
            )
        }
        (Some(column), _) => {
            if column.is_empty() {
                return Err(ctx.bad_option("`gender_column` must name a column"));
            }
            let lists = gendered_names::gendered(code).ok_or_else(|| {
                ctx.bad_option(format!(
                    "`gender_column` needs gendered name lists, which exist for {GENDERED_LOCALES}; locale `{}` has none",
                    opts.locale
                ))
            })?;
            let values = |v: Option<Vec<String>>, default: &[&str]| {
                v.unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect())
            };
            let female_values = values(opts.female, DEFAULT_FEMALE);
            let male_values = values(opts.male, DEFAULT_MALE);
            if let Some(both) = female_values.iter().find(|v| male_values.contains(v)) {
                return Err(ctx.bad_option(format!("`{both}` is listed in both `female` and `male`")));
            }
            Some(GenderRule {
                column,
                female_values,
                male_values,
                lists,
            })
        }
    };
    ctx.require_text()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("names repeat; use `hash`, or `random` (same-shape unique text)"));
    }
    Ok(Arc::new(Name {
        part,
        locale,
        gender,
        keys,
        max_chars: ctx.max_chars(),
    }))
}

impl Name {
    fn name<'a>(&self, value: Value<'a>, firsts: &'static [&'static str]) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let h = self.keys.seed(input.as_bytes());
        let (lo, hi) = (h as u32, (h >> 32) as u32);
        let first = pick(firsts, lo);
        let last = pick(self.locale.last, hi);
        let out: Cow<'static, str> = match self.part {
            // Re-pick the neighbour if the fake equals the original, so no real name survives.
            Part::First => Cow::Borrowed(avoid(firsts, first, &input, lo)),
            Part::Last => Cow::Borrowed(avoid(self.locale.last, last, &input, hi)),
            Part::Full => {
                let full = format!("{first} {last}");
                if full == *input {
                    Cow::Owned(format!("{} {last}", avoid(firsts, first, first, lo)))
                } else {
                    Cow::Owned(full)
                }
            }
        };
        Ok(Value::Text(match out {
            Cow::Borrowed(s) => Cow::Borrowed(truncate(s, self.max_chars)),
            Cow::Owned(s) => Cow::Owned(truncate(&s, self.max_chars).to_string()),
        }))
    }
}

impl Transformer for Name {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        self.name(value, self.locale.first)
    }

    fn reads_columns(&self) -> Vec<String> {
        self.gender.iter().map(|g| g.column.clone()).collect()
    }

    fn transform_in_row<'a>(&self, value: Value<'a>, row: &dyn Row) -> Result<Value<'a>, TransformError> {
        match &self.gender {
            Some(g) if !value.is_null() => self.name(value, g.list(row, self.locale.first)),
            _ => self.transform(value),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TitleOptions {
    #[serde(default = "super::default_locale")]
    locale: String,
    #[serde(default)]
    unique: bool,
}

struct Title {
    titles: &'static [&'static str],
    keys: DomainHasher,
    max_chars: Option<usize>,
}

fn build_title(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<TitleOptions>()?;
    let (_, locale) = parse_locale(ctx, &opts.locale)?;
    ctx.require_text()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("titles repeat; use `hash` or `null`"));
    }
    Ok(Arc::new(Title {
        titles: locale.title,
        keys,
        max_chars: ctx.max_chars(),
    }))
}

impl Transformer for Title {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let bits = self.keys.seed(input.as_bytes()) as u32;
        let title = avoid(self.titles, pick(self.titles, bits), input.trim(), bits);
        Ok(Value::text(truncate(title, self.max_chars)))
    }
}

fn avoid(list: &'static [&'static str], chosen: &'static str, original: &str, bits: u32) -> &'static str {
    if chosen != original || list.len() < 2 {
        return chosen;
    }
    let i = ((bits as u64 * list.len() as u64) >> 32) as usize;
    list[(i + 1) % list.len()]
}

fn locale_option() -> OptionInfo {
    OptionInfo {
        name: "locale",
        kind: "string",
        default: "en",
        description: "Name data to use: en, fr, de, es, it, nl, pt_br, pt_pt, tr, cy, ar, fa, ja, zh_cn, zh_tw",
    }
}

fn unique_option(what: &'static str) -> OptionInfo {
    OptionInfo {
        name: "unique",
        kind: "bool",
        default: "false",
        description: what,
    }
}

fn options(gendered: bool) -> Vec<OptionInfo> {
    let mut v = vec![locale_option()];
    if gendered {
        v.extend([
            OptionInfo {
                name: "gender_column",
                kind: "string",
                default: "none",
                description: "Column of the same row holding the person's gender: female values get female names, \
                              male values male names, anything else (or NULL) any name (locales en, fr, de, es, pt_br, ja)",
            },
            OptionInfo {
                name: "female",
                kind: "list of strings",
                default: "[F, f, female, Female, FEMALE, W, w, woman]",
                description: "Values of `gender_column` meaning female (compared after trimming spaces)",
            },
            OptionInfo {
                name: "male",
                kind: "list of strings",
                default: "[M, m, male, Male, MALE, man]",
                description: "Values of `gender_column` meaning male (compared after trimming spaces)",
            },
        ]);
    }
    v.push(unique_option(
        "Names repeat, so this is refused: use `hash` on unique columns",
    ));
    v
}

pub(crate) const FIRST_NAME: Entry = Entry {
    name: "first-name",
    info: || TransformerInfo {
        name: "first-name",
        description: "A realistic first name, the same one for the same input; optionally matching a gender column",
        unique_safe: false,
        options: options(true),
        example: "first_name: { transformer: first-name, locale: fr, gender_column: gender }",
    },
    build: |ctx| build(ctx, Part::First),
};

pub(crate) const LAST_NAME: Entry = Entry {
    name: "last-name",
    info: || TransformerInfo {
        name: "last-name",
        description: "A realistic last name, the same one for the same input",
        unique_safe: false,
        options: options(false),
        example: "last_name: { transformer: last-name, locale: en }",
    },
    build: |ctx| build(ctx, Part::Last),
};

pub(crate) const FULL_NAME: Entry = Entry {
    name: "full-name",
    info: || TransformerInfo {
        name: "full-name",
        description:
            "A realistic \"First Last\" name, the same one for the same input; optionally matching a gender column",
        unique_safe: false,
        options: options(true),
        example: "name: { transformer: full-name, locale: de }",
    },
    build: |ctx| build(ctx, Part::Full),
};

pub(crate) const TITLE: Entry = Entry {
    name: "title",
    info: || TransformerInfo {
        name: "title",
        description: "A person title or honorific of the locale (Mr., Ms., Dr., ...), the same one for the same input",
        unique_safe: false,
        options: vec![locale_option(), unique_option("Titles repeat, so this is refused")],
        example: "salutation: { transformer: title, locale: en }",
    },
    build: build_title,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::{BuildError, Engine, Mode};
    use serde_json::json;

    #[test]
    fn deterministic_and_salted() {
        let a = rule("full-name", json!(null));
        assert_eq!(run(&*a, "Jane Doe"), run(&*a, "Jane Doe"));
        let other = crate::build(
            "full-name",
            &json!(null),
            &ColumnSpec::text("t"),
            &Engine::new(b"x", Mode::Deterministic),
        )
        .unwrap();
        let differ = (0..20)
            .filter(|i| run(&*a, &format!("p{i}")) != run(&*other, &format!("p{i}")))
            .count();
        assert!(differ > 15);
    }

    use crate::ColumnSpec;

    #[test]
    fn locales_and_null() {
        let fr = rule("first-name", json!({"locale": "fr"}));
        let out = run(&*fr, "Bob");
        assert!(locales::FR_FR::NAME_FIRST_NAME.contains(&out.as_str()), "{out}");
        assert_eq!(fr.transform(Value::Null).unwrap(), Value::Null);
        let bad = build_on("first-name", json!({"locale": "xx"}), &ColumnSpec::text("t"));
        assert!(matches!(bad, Err(BuildError::BadOption { message, .. }) if message.contains("fr")));
    }

    #[test]
    fn originals_do_not_survive_and_fit() {
        for name in ["first-name", "last-name", "full-name"] {
            let t = build_on(name, json!(null), &varchar(5)).unwrap();
            let mut inputs: Vec<String> = locales::EN::NAME_FIRST_NAME
                .iter()
                .take(300)
                .map(|s| s.to_string())
                .collect();
            inputs.extend(locales::EN::NAME_LAST_NAME.iter().take(300).map(|s| s.to_string()));
            let full = rule(name, json!(null));
            for i in &inputs {
                assert_ne!(&run(&*full, i), i, "{name}");
                assert!(run(&*t, i).chars().count() <= 5);
            }
        }
    }

    #[test]
    fn refused_on_unique() {
        for name in ["first-name", "last-name", "full-name"] {
            let r = build_on(name, json!(null), &unique(crate::ColumnKind::Text { max_chars: None }));
            assert!(is_incompatible(&r, "`hash`"), "{name}");
        }
    }

    use crate::row_tests::TestRow;

    fn run_in_row(t: &dyn Transformer, input: &str, row: &TestRow) -> String {
        match t.transform_in_row(Value::text(input.to_string()), row).unwrap() {
            Value::Text(s) => s.into_owned(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn gender_column_picks_matching_names() {
        for code in ["en", "fr", "de", "es", "pt_br", "ja"] {
            let lists = gendered_names::gendered(code).unwrap();
            let t = rule("first-name", json!({"locale": code, "gender_column": "sex"}));
            assert_eq!(t.reads_columns(), vec!["sex".to_string()]);
            let full = rule("full-name", json!({"locale": code, "gender_column": "sex"}));
            for i in 0..200 {
                let input = format!("person {i}");
                let f = run_in_row(&*t, &input, &TestRow::with(&[("sex", Some("F"))]));
                assert!(lists.female.contains(&f.as_str()), "{code}: {f}");
                let m = run_in_row(&*t, &input, &TestRow::with(&[("sex", Some(" male "))]));
                assert!(lists.male.contains(&m.as_str()), "{code}: {m}");
                let name = run_in_row(&*full, &input, &TestRow::with(&[("sex", Some("woman"))]));
                let first = name.split(' ').next().unwrap();
                assert!(lists.female.contains(&first), "{code}: {name}");
            }
        }
    }

    #[test]
    fn unknown_or_null_gender_uses_whole_list() {
        let t = rule(
            "first-name",
            json!({"gender_column": "g", "female": ["2"], "male": ["1"]}),
        );
        let all = locale("en").unwrap().first;
        let en = gendered_names::gendered("en").unwrap();
        let mut outside = 0;
        for i in 0..300 {
            let input = format!("p{i}");
            for row in [
                TestRow::with(&[("g", None)]),
                TestRow::with(&[("g", Some("X"))]),
                TestRow::with(&[("g", Some("F"))]), // not a female value with these options
                TestRow::default(),
            ] {
                let out = run_in_row(&*t, &input, &row);
                assert!(all.contains(&out.as_str()), "{out}");
                outside += usize::from(!en.female.contains(&out.as_str()) && !en.male.contains(&out.as_str()));
            }
            let f = run_in_row(&*t, &input, &TestRow::with(&[("g", Some("2"))]));
            assert!(en.female.contains(&f.as_str()));
            let m = run_in_row(&*t, &input, &TestRow::with(&[("g", Some("1"))]));
            assert!(en.male.contains(&m.as_str()));
        }
        assert!(outside > 100, "whole list is used: {outside}");
        let row = TestRow::with(&[("g", Some("2"))]);
        assert_eq!(t.transform_in_row(Value::Null, &row).unwrap(), Value::Null);
        // Deterministic per (input, gender).
        assert_eq!(run_in_row(&*t, "Ann", &row), run_in_row(&*t, "Ann", &row));
    }

    #[test]
    fn gendered_originals_do_not_survive() {
        let en = gendered_names::gendered("en").unwrap();
        let t = rule("first-name", json!({"gender_column": "g"}));
        let row = TestRow::with(&[("g", Some("F"))]);
        for name in en.female {
            assert_ne!(&run_in_row(&*t, name, &row), name);
        }
    }

    #[test]
    fn gender_options_validated() {
        let bad = |opts: serde_json::Value, needle: &str| {
            let r = build_on("first-name", opts, &ColumnSpec::text("t"));
            assert!(
                matches!(&r, Err(BuildError::BadOption { message, .. }) if message.contains(needle)),
                "{needle}: {:?}",
                r.err()
            );
        };
        bad(json!({"female": ["x"]}), "gender_column");
        bad(json!({"gender_column": "g", "locale": "it"}), "en, fr");
        bad(json!({"gender_column": "g", "female": ["x"], "male": ["x"]}), "`x`");
        let last = build_on("last-name", json!({"gender_column": "g"}), &ColumnSpec::text("t"));
        assert!(matches!(last, Err(BuildError::BadOption { .. })));
        assert!(rule("last-name", json!(null)).reads_columns().is_empty());
    }

    #[test]
    fn plain_rules_keep_their_outputs() {
        // Adding gender options must not change the keyed domain of rules that do not use them.
        let t = rule("first-name", json!(null));
        let explicit = rule("first-name", json!({"locale": "en", "unique": false}));
        assert_eq!(run(&*t, "Zed"), run(&*explicit, "Zed"));
        let (_, keys) = Ctx {
            name: "first-name",
            options: &json!(null),
            column: &ColumnSpec::text("t"),
            engine: &engine(),
        }
        .parse::<NameOptions>()
        .unwrap();
        let expected = engine().domain("first-name|{\"locale\":\"en\",\"unique\":false}");
        assert_eq!(keys.hash64(b"x"), expected.hash64(b"x"));
    }

    #[test]
    fn spanish_locale() {
        let t = rule("full-name", json!({"locale": "es"}));
        let out = run(&*t, "Juan Pérez");
        let (first, last) = out.split_once(' ').unwrap();
        assert!(gendered_names::ES_FIRST.contains(&first), "{out}");
        assert!(gendered_names::ES_LAST.contains(&last), "{out}");
        let es = rule("last-name", json!({"locale": "es-ES"}));
        assert!(gendered_names::ES_LAST.contains(&run(&*es, "García").as_str()));
    }

    #[test]
    fn title_picks_locale_titles() {
        for code in [
            "en", "fr", "de", "es", "it", "nl", "pt_br", "pt_pt", "tr", "cy", "ar", "fa", "ja", "zh_cn",
        ] {
            let titles = locale(code).unwrap().title;
            assert!(titles.len() >= 2, "{code}");
            let t = rule("title", json!({"locale": code}));
            for title in titles {
                let out = run(&*t, title);
                assert!(titles.contains(&out.as_str()), "{code}: {out}");
                assert_ne!(&out, title, "{code}");
                assert_eq!(out, run(&*t, title));
            }
            assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        }
        let short = build_on("title", json!(null), &varchar(2)).unwrap();
        assert!(run(&*short, "Mr.").chars().count() <= 2);
        assert!(is_incompatible(
            &build_on(
                "title",
                json!(null),
                &unique(crate::ColumnKind::Text { max_chars: None })
            ),
            "`hash`"
        ));
        let bad = build_on("title", json!({"locale": "xx"}), &ColumnSpec::text("t"));
        assert!(matches!(bad, Err(BuildError::BadOption { .. })));
    }
}
