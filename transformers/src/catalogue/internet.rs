//! `email`: realistic `first.last@domain` addresses. Fake domains are the reserved example domains
//! (RFC 2606), so a copied database can never mail a real person.

use std::fmt::Write as _;
use std::sync::Arc;

use fake::locales::{Data, EN};
use serde::{Deserialize, Serialize};

use super::{pick, text_of, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{TransformError, Transformer, Value};

const DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];
/// `.` + 13 base36 digits: the whole 64-bit keyed hash, so distinct inputs get distinct tags.
const TAG_LEN: usize = 14;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EmailOptions {
    #[serde(default)]
    keep_domain: bool,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    unique: bool,
}

struct Email {
    keys: DomainHasher,
    keep_domain: bool,
    domain: Option<String>,
    unique: bool,
    max_chars: Option<usize>,
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<EmailOptions>()?;
    ctx.require_text()?;
    if let Some(d) = &opts.domain {
        if opts.keep_domain {
            return Err(ctx.bad_option("`domain` and `keep_domain: true` conflict; set only one"));
        }
        if d.is_empty() || d.contains('@') || d.chars().any(char::is_whitespace) {
            return Err(ctx.bad_option(format!("`domain` must be a bare domain like example.com, got `{d}`")));
        }
    }
    let unique = ctx.unique(opts.unique);
    // The shortest address we may have to produce: one letter, the tag, `@`, and the fallback domain.
    let domain_len = opts.domain.as_deref().map_or(DOMAINS[0].len(), str::len);
    let min = 1 + if unique { TAG_LEN } else { 0 } + 1 + domain_len;
    if let Some(max) = ctx.max_chars() {
        if max < min {
            let what = if unique { "a unique fake email" } else { "a fake email" };
            return Err(ctx.incompatible(format!(
                "{what} needs at least {min} characters and the column holds {max}; use `hash` or `redacted`"
            )));
        }
    }
    Ok(Arc::new(Email {
        keys,
        keep_domain: opts.keep_domain,
        domain: opts.domain,
        unique,
        max_chars: ctx.max_chars(),
    }))
}

/// Lowercase ASCII letters of a name (the word lists have a few apostrophes and spaces).
fn push_letters(out: &mut String, name: &str, budget: &mut usize) {
    for c in name.chars().filter(char::is_ascii_alphabetic) {
        if *budget == 0 {
            return;
        }
        out.push(c.to_ascii_lowercase());
        *budget -= 1;
    }
}

fn push_base36(out: &mut String, mut v: u64) {
    let mut buf = [b'0'; 13];
    for slot in buf.iter_mut().rev() {
        *slot = b"0123456789abcdefghijklmnopqrstuvwxyz"[(v % 36) as usize];
        v /= 36;
    }
    out.push_str(std::str::from_utf8(&buf).expect("ascii"));
}

impl Transformer for Email {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let h = self.keys.seed(input.as_bytes());
        let domain: &str = match (&self.domain, self.keep_domain) {
            (Some(d), _) => d,
            (None, true) => match input.rsplit_once('@') {
                Some((_, d)) if !d.is_empty() => d,
                _ => pick(DOMAINS, (h >> 40) as u32),
            },
            (None, false) => pick(DOMAINS, (h >> 40) as u32),
        };
        let tag = if self.unique { TAG_LEN } else { 0 };
        // A kept domain too long for the column falls back to a fake one (the tag keeps it unique).
        let domain = match self.max_chars {
            Some(max) if 2 + tag + domain.len() > max => pick(DOMAINS, (h >> 40) as u32),
            _ => domain,
        };
        let mut budget = self.max_chars.map_or(usize::MAX, |m| m - tag - 1 - domain.len());
        let mut out = String::with_capacity(24 + tag + domain.len());
        let first = pick(EN::NAME_FIRST_NAME, h as u32);
        let last = pick(EN::NAME_LAST_NAME, (h >> 20) as u32);
        push_letters(&mut out, first, &mut budget);
        if budget > 1 {
            out.push(if h & (1 << 62) == 0 { '.' } else { '_' });
            budget -= 1;
        }
        push_letters(&mut out, last, &mut budget);
        if !self.unique && h >> 63 == 1 && budget >= 2 {
            let _ = write!(out, "{:02}", (h >> 52) % 100);
        }
        if self.unique {
            // Keyed on the input, not the seed: the tag must be stable even in random mode.
            out.push('.');
            push_base36(&mut out, self.keys.hash64(input.as_bytes()));
        }
        out.push('@');
        out.push_str(domain);
        Ok(Value::text(out))
    }
}

pub(crate) const EMAIL: Entry = Entry {
    name: "email",
    info: || TransformerInfo {
        name: "email",
        description:
            "A realistic first.last@example.com address; on unique columns a keyed tag keeps addresses distinct",
        unique_safe: true,
        options: vec![
            OptionInfo {
                name: "keep_domain",
                kind: "bool",
                default: "false",
                description: "Keep the part after the last `@` of the original",
            },
            OptionInfo {
                name: "domain",
                kind: "string",
                default: "example.com/.net/.org",
                description: "Use this domain for every address",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Append a 64-bit keyed tag to the local part so distinct inputs never share an address",
            },
        ],
        example: "email: { transformer: email, keep_domain: true }",
    },
    build,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::{BuildError, ColumnKind};
    use serde_json::json;
    use siphasher::sip128::{Hasher128, SipHasher13};
    use std::collections::HashSet;
    use std::hash::Hasher;

    #[test]
    fn realistic_and_deterministic() {
        let t = rule("email", json!(null));
        let a = run(&*t, "john.smith@corp.io");
        assert_eq!(a, run(&*t, "john.smith@corp.io"));
        let (local, domain) = a.split_once('@').unwrap();
        assert!(DOMAINS.contains(&domain) && !local.is_empty(), "{a}");
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
    }

    #[test]
    fn keep_and_force_domain() {
        let keep = rule("email", json!({"keep_domain": true}));
        assert!(run(&*keep, "a@b@corp.io").ends_with("@corp.io"));
        let fallback = run(&*keep, "not-an-email");
        assert!(DOMAINS.iter().any(|d| fallback.ends_with(d)), "{fallback}");
        let forced = rule("email", json!({"domain": "acme.test"}));
        assert!(run(&*forced, "x@y.z").ends_with("@acme.test"));
        let both = build_on("email", json!({"domain": "a.b", "keep_domain": true}), &varchar(99));
        assert!(matches!(both, Err(BuildError::BadOption { .. })));
    }

    #[test]
    fn bad_option_names_key() {
        let r = build_on("email", json!({"keep_domian": true}), &varchar(99));
        assert!(
            matches!(&r, Err(BuildError::BadOption { message, .. }) if message.contains("keep_domian") && message.contains("keep_domain"))
        );
    }

    #[test]
    fn fits_columns() {
        let t = build_on("email", json!({"keep_domain": true}), &varchar(20)).unwrap();
        for i in 0..500 {
            let out = run(&*t, &format!("someone{i}@a-very-long-company-domain.example"));
            assert!(out.len() <= 20 && out.contains('@'), "{out}");
        }
        let u = build_on("email", json!(null), &unique(ColumnKind::Text { max_chars: Some(30) })).unwrap();
        for i in 0..500 {
            let out = run(&*u, &format!("u{i}@x.io"));
            assert!(out.len() <= 30, "{out}");
        }
        assert!(is_incompatible(
            &build_on("email", json!({"unique": true}), &varchar(10)),
            "`hash`"
        ));
        assert!(is_incompatible(&build_on("email", json!(null), &varchar(5)), "`hash`"));
    }

    #[test]
    fn originals_do_not_survive() {
        let t = rule("email", json!({"keep_domain": true}));
        for i in 0..1000 {
            let input = format!("user{i}@corp.io");
            assert_ne!(run(&*t, &input), input);
        }
    }

    #[test]
    fn unique_million_without_collision() {
        let t = build_on("email", json!(null), &unique(ColumnKind::Text { max_chars: Some(254) })).unwrap();
        let mut seen = HashSet::with_capacity(1_000_000);
        let mut input = String::new();
        for i in 0..1_000_000u32 {
            input.clear();
            let _ = write!(input, "user{i}@corp.io");
            let Value::Text(out) = t.transform(Value::text(input.as_str())).unwrap() else {
                panic!()
            };
            let mut h = SipHasher13::new();
            h.write(out.as_bytes());
            assert!(seen.insert(h.finish128().as_u128()), "collision at {i}: {out}");
        }
    }
}
