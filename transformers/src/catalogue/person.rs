//! Realistic person names from `fake`'s locale data, picked by keyed hash (no allocation: the
//! output borrows the static word lists).

use std::borrow::Cow;
use std::sync::Arc;

use fake::locales::{self, Data};
use serde::{Deserialize, Serialize};

use super::{pick, text_of, truncate, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{TransformError, Transformer, Value};

/// Name lists of one locale.
#[derive(Clone, Copy)]
pub(crate) struct Locale {
    pub first: &'static [&'static str],
    pub last: &'static [&'static str],
}

fn of<D: Data>() -> Locale {
    Locale {
        first: D::NAME_FIRST_NAME,
        last: D::NAME_LAST_NAME,
    }
}

pub(crate) const LOCALES: &str = "en, fr, de, it, nl, pt_br, pt_pt, tr, cy, ar, fa, ja, zh_cn, zh_tw";

pub(crate) fn locale(code: &str) -> Option<Locale> {
    Some(match code.to_ascii_lowercase().replace('-', "_").as_str() {
        "en" | "en_us" => of::<locales::EN>(),
        "fr" | "fr_fr" => of::<locales::FR_FR>(),
        "de" | "de_de" => of::<locales::DE_DE>(),
        "it" | "it_it" => of::<locales::IT_IT>(),
        "nl" | "nl_nl" => of::<locales::NL_NL>(),
        "pt_br" => of::<locales::PT_BR>(),
        "pt" | "pt_pt" => of::<locales::PT_PT>(),
        "tr" | "tr_tr" => of::<locales::TR_TR>(),
        "cy" | "cy_gb" => of::<locales::CY_GB>(),
        "ar" | "ar_sa" => of::<locales::AR_SA>(),
        "fa" | "fa_ir" => of::<locales::FA_IR>(),
        "ja" | "ja_jp" => of::<locales::JA_JP>(),
        "zh_cn" => of::<locales::ZH_CN>(),
        "zh_tw" => of::<locales::ZH_TW>(),
        _ => return None,
    })
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct NameOptions {
    #[serde(default = "default_locale")]
    locale: String,
    #[serde(default)]
    unique: bool,
}

fn default_locale() -> String {
    "en".into()
}

#[derive(Clone, Copy)]
enum Part {
    First,
    Last,
    Full,
}

struct Name {
    part: Part,
    locale: Locale,
    keys: DomainHasher,
    max_chars: Option<usize>,
}

fn build(ctx: &Ctx<'_>, part: Part) -> Built {
    let (opts, keys) = ctx.parse::<NameOptions>()?;
    let locale = locale(&opts.locale)
        .ok_or_else(|| ctx.bad_option(format!("unknown locale `{}`; supported: {LOCALES}", opts.locale)))?;
    ctx.require_text()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("names repeat; use `hash`, or `random` (same-shape unique text)"));
    }
    Ok(Arc::new(Name {
        part,
        locale,
        keys,
        max_chars: ctx.max_chars(),
    }))
}

impl Transformer for Name {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let h = self.keys.seed(input.as_bytes());
        let (lo, hi) = (h as u32, (h >> 32) as u32);
        let first = pick(self.locale.first, lo);
        let last = pick(self.locale.last, hi);
        let out: Cow<'static, str> = match self.part {
            // Re-pick the neighbour if the fake equals the original, so no real name survives.
            Part::First => Cow::Borrowed(avoid(self.locale.first, first, &input, lo)),
            Part::Last => Cow::Borrowed(avoid(self.locale.last, last, &input, hi)),
            Part::Full => {
                let full = format!("{first} {last}");
                if full == *input {
                    Cow::Owned(format!("{} {last}", avoid(self.locale.first, first, first, lo)))
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

fn avoid(list: &'static [&'static str], chosen: &'static str, original: &str, bits: u32) -> &'static str {
    if chosen != original || list.len() < 2 {
        return chosen;
    }
    let i = ((bits as u64 * list.len() as u64) >> 32) as usize;
    list[(i + 1) % list.len()]
}

fn options() -> Vec<OptionInfo> {
    vec![
        OptionInfo {
            name: "locale",
            kind: "string",
            default: "en",
            description: "Name data to use: en, fr, de, it, nl, pt_br, pt_pt, tr, cy, ar, fa, ja, zh_cn, zh_tw",
        },
        OptionInfo {
            name: "unique",
            kind: "bool",
            default: "false",
            description: "Names repeat, so this is refused: use `hash` on unique columns",
        },
    ]
}

pub(crate) const FIRST_NAME: Entry = Entry {
    name: "first-name",
    info: || TransformerInfo {
        name: "first-name",
        description: "A realistic first name, the same one for the same input",
        unique_safe: false,
        options: options(),
        example: "first_name: { transformer: first-name, locale: fr }",
    },
    build: |ctx| build(ctx, Part::First),
};

pub(crate) const LAST_NAME: Entry = Entry {
    name: "last-name",
    info: || TransformerInfo {
        name: "last-name",
        description: "A realistic last name, the same one for the same input",
        unique_safe: false,
        options: options(),
        example: "last_name: { transformer: last-name, locale: en }",
    },
    build: |ctx| build(ctx, Part::Last),
};

pub(crate) const FULL_NAME: Entry = Entry {
    name: "full-name",
    info: || TransformerInfo {
        name: "full-name",
        description: "A realistic \"First Last\" name, the same one for the same input",
        unique_safe: false,
        options: options(),
        example: "name: { transformer: full-name, locale: de }",
    },
    build: |ctx| build(ctx, Part::Full),
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
}
