//! `company` and `job-title` from `fake`'s locale data (company suffixes and templates, job
//! seniority / field / position), with compact lists of our own where `fake` has none.

use std::sync::Arc;

use fake::locales::{self, Data};
use rand::rngs::SmallRng;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::{pick, text_of, truncate, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{TransformError, Transformer, Value};

/// Company-name data of one locale.
#[derive(Clone, Copy)]
struct Firms {
    names: &'static [&'static str],
    suffixes: &'static [&'static str],
    /// The word between two names (`Smith and Jones`); empty for locales that do not join names.
    and: &'static str,
    /// Whether the suffix is written before the name (`株式会社山田`) half of the time, without spaces.
    japanese: bool,
}

const COMPANY_LOCALES: &str = "en, fr, de, es, pt_br, it, ja";

fn firms(code: &str) -> Option<Firms> {
    use locales::{DE_DE, EN, FR_FR, IT_IT, JA_JP, PT_BR};
    Some(match code.to_ascii_lowercase().replace('-', "_").as_str() {
        "en" | "en_us" => Firms {
            names: EN::NAME_LAST_NAME,
            suffixes: EN::COMPANY_SUFFIX,
            and: "and",
            japanese: false,
        },
        "fr" | "fr_fr" => Firms {
            names: FR_FR::NAME_LAST_NAME,
            suffixes: &["SA", "SARL", "SAS", "et Fils", "Groupe", "EURL"],
            and: "et",
            japanese: false,
        },
        "de" | "de_de" => Firms {
            names: DE_DE::NAME_LAST_NAME,
            suffixes: DE_DE::COMPANY_SUFFIX,
            and: "und",
            japanese: false,
        },
        "es" | "es_es" => Firms {
            names: super::gendered_names::ES_LAST,
            suffixes: &["S.A.", "S.L.", "y Asociados", "Hermanos", "S.L.U.", "Grupo"],
            and: "y",
            japanese: false,
        },
        "pt_br" | "br" => Firms {
            names: PT_BR::NAME_LAST_NAME,
            suffixes: PT_BR::COMPANY_SUFFIX,
            and: "e",
            japanese: false,
        },
        "it" | "it_it" => Firms {
            names: IT_IT::NAME_LAST_NAME,
            suffixes: IT_IT::COMPANY_SUFFIX,
            and: "e",
            japanese: false,
        },
        "ja" | "ja_jp" => Firms {
            names: JA_JP::NAME_LAST_NAME,
            suffixes: JA_JP::COMPANY_SUFFIX,
            and: "",
            japanese: true,
        },
        _ => return None,
    })
}

/// Job-title data of one locale and the order of its parts.
#[derive(Clone, Copy)]
struct Jobs {
    seniority: &'static [&'static str],
    field: &'static [&'static str],
    position: &'static [&'static str],
    /// Italian puts the position first (`Direttore Senior Marketing`).
    position_first: bool,
    /// Japanese writes the parts without spaces.
    joined: bool,
}

const JOB_LOCALES: &str = "en, it, ja";

fn jobs(code: &str) -> Option<Jobs> {
    fn of<D: Data>(position_first: bool, joined: bool) -> Jobs {
        Jobs {
            seniority: D::JOB_SENIORITY,
            field: D::JOB_FIELD,
            position: D::JOB_POSITION,
            position_first,
            joined,
        }
    }
    Some(match code.to_ascii_lowercase().replace('-', "_").as_str() {
        "en" | "en_us" => of::<locales::EN>(false, false),
        "it" | "it_it" => of::<locales::IT_IT>(true, false),
        "ja" | "ja_jp" => of::<locales::JA_JP>(false, true),
        _ => return None,
    })
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct WordOptions {
    #[serde(default = "super::default_locale")]
    locale: String,
    #[serde(default)]
    unique: bool,
}

enum Kind {
    Company(Firms),
    Job(Jobs),
}

struct Words {
    kind: Kind,
    keys: DomainHasher,
    max_chars: Option<usize>,
}

fn build(ctx: &Ctx<'_>, company: bool) -> Built {
    let (opts, keys) = ctx.parse::<WordOptions>()?;
    let kind = if company {
        firms(&opts.locale).map(Kind::Company)
    } else {
        jobs(&opts.locale).map(Kind::Job)
    };
    let kind = kind.ok_or_else(|| {
        let supported = if company { COMPANY_LOCALES } else { JOB_LOCALES };
        ctx.bad_option(format!("unknown locale `{}`; supported: {supported}", opts.locale))
    })?;
    ctx.require_text()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("these names repeat; use `hash`, or `random` (same-shape unique text)"));
    }
    if ctx.max_chars() == Some(0) {
        return Err(ctx.incompatible("the column holds no characters"));
    }
    Ok(Arc::new(Words {
        kind,
        keys,
        max_chars: ctx.max_chars(),
    }))
}

impl Words {
    fn generate(&self, rng: &mut SmallRng, out: &mut String) {
        out.clear();
        let mut bits = || rng.random::<u32>();
        match self.kind {
            Kind::Company(f) => {
                let name = pick(f.names, bits());
                let suffix = pick(f.suffixes, bits());
                let variant = bits() % 3;
                if f.japanese {
                    if variant == 0 {
                        out.push_str(suffix);
                        out.push_str(name);
                    } else {
                        out.push_str(name);
                        out.push_str(suffix);
                    }
                    return;
                }
                out.push_str(name);
                match variant {
                    0 => {
                        out.push(' ');
                        out.push_str(f.and);
                        out.push(' ');
                        out.push_str(pick(f.names, bits()));
                    }
                    1 => {
                        out.push('-');
                        out.push_str(pick(f.names, bits()));
                        out.push(' ');
                        out.push_str(suffix);
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(suffix);
                    }
                }
            }
            Kind::Job(j) => {
                let (s, f, p) = (
                    pick(j.seniority, bits()),
                    pick(j.field, bits()),
                    pick(j.position, bits()),
                );
                let parts = if j.position_first { [p, s, f] } else { [s, f, p] };
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 && !j.joined {
                        out.push(' ');
                    }
                    out.push_str(part);
                }
            }
        }
    }
}

impl Transformer for Words {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let mut rng = self.keys.rng(input.as_bytes());
        let mut out = String::with_capacity(48);
        for _ in 0..16 {
            self.generate(&mut rng, &mut out);
            let cut = truncate(&out, self.max_chars).len();
            out.truncate(cut);
            if out != *input {
                break;
            }
        }
        Ok(Value::text(out))
    }
}

fn options(locales: &'static str) -> Vec<OptionInfo> {
    vec![
        OptionInfo {
            name: "locale",
            kind: "string",
            default: "en",
            description: locales,
        },
        OptionInfo {
            name: "unique",
            kind: "bool",
            default: "false",
            description: "Names repeat, so this is refused: use `hash` on unique columns",
        },
    ]
}

pub(crate) const COMPANY: Entry = Entry {
    name: "company",
    info: || TransformerInfo {
        name: "company",
        description: "A company name of the locale (`Smith and Jones`, `Müller GmbH`, `山田株式会社`)",
        unique_safe: false,
        options: options(COMPANY_LOCALES),
        example: "employer: { transformer: company, locale: de }",
    },
    build: |ctx| build(ctx, true),
};

pub(crate) const JOB_TITLE: Entry = Entry {
    name: "job-title",
    info: || TransformerInfo {
        name: "job-title",
        description: "A job title: seniority, field and position (`Senior Marketing Engineer`)",
        unique_safe: false,
        options: options(JOB_LOCALES),
        example: "title: { transformer: job-title, locale: en }",
    },
    build: |ctx| build(ctx, false),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::{BuildError, ColumnKind, ColumnSpec};
    use serde_json::json;

    #[test]
    fn companies_per_locale() {
        for locale in ["en", "fr", "de", "es", "pt_br", "it", "ja"] {
            let t = rule("company", json!({ "locale": locale }));
            for i in 0..300 {
                let input = format!("Acme {i}");
                let out = run(&*t, &input);
                assert!(!out.is_empty() && out != input, "{locale}");
                assert_eq!(out, run(&*t, &input));
            }
            assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        }
        let de = run(&*rule("company", json!({"locale": "de"})), "x");
        assert!(locales::DE_DE::NAME_LAST_NAME.iter().any(|n| de.starts_with(n)), "{de}");
        let ja = run(&*rule("company", json!({"locale": "ja"})), "x");
        assert!(locales::JA_JP::COMPANY_SUFFIX.iter().any(|s| ja.contains(s)), "{ja}");
    }

    #[test]
    fn job_titles() {
        let t = rule("job-title", json!(null));
        let out = run(&*t, "CEO");
        let words: Vec<&str> = out.split(' ').collect();
        assert!(words.len() >= 3, "{out}");
        assert!(locales::EN::JOB_SENIORITY.contains(&words[0]), "{out}");
        assert!(locales::EN::JOB_POSITION.contains(words.last().unwrap()), "{out}");
        let it = run(&*rule("job-title", json!({"locale": "it"})), "CEO");
        assert!(locales::IT_IT::JOB_POSITION.iter().any(|p| it.starts_with(p)), "{it}");
        let ja = run(&*rule("job-title", json!({"locale": "ja"})), "CEO");
        assert!(!ja.contains(' '), "{ja}");
        assert!(matches!(
            build_on("job-title", json!({"locale": "fr"}), &ColumnSpec::text("t")),
            Err(BuildError::BadOption { message, .. }) if message.contains("ja")
        ));
    }

    #[test]
    fn fits_and_refuses_unique() {
        for name in ["company", "job-title"] {
            let t = build_on(name, json!(null), &varchar(8)).unwrap();
            for i in 0..200 {
                assert!(run(&*t, &format!("c{i}")).chars().count() <= 8);
            }
            let r = build_on(name, json!(null), &unique(ColumnKind::Text { max_chars: None }));
            assert!(is_incompatible(&r, "`hash`"), "{name}");
        }
    }
}
