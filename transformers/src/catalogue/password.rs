//! `password`: replaces password hashes with a bcrypt hash of a known test password, so that every
//! account of the copy can be logged into with it and no real hash (crackable offline) survives.

use std::sync::Arc;

use bcrypt::Version;
use serde::{Deserialize, Serialize};

use super::{text_of, transform_error, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{TransformError, Transformer, Value};

/// bcrypt's `$2b$cc$` + 22 salt + 31 hash characters.
const HASH_LEN: usize = 60;
/// bcrypt reads at most 72 bytes of the password.
const MAX_PASSWORD: usize = 72;
const MIN_COST: u32 = 4;
const MAX_COST: u32 = 12;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PasswordOptions {
    #[serde(default = "default_password")]
    password: String,
    #[serde(default = "default_cost")]
    cost: u32,
    #[serde(default)]
    per_row_salt: bool,
    #[serde(default)]
    unique: bool,
}

fn default_password() -> String {
    "password".into()
}

fn default_cost() -> u32 {
    MIN_COST
}

struct Password {
    /// The hash every row gets, computed once at build time.
    hash: String,
    /// Given instead when a row already holds `hash`, so no output equals its input.
    alternate: String,
    /// `Some` with `per_row_salt`: the password and cost to hash each row with.
    per_row: Option<(String, u32)>,
    keys: DomainHasher,
}

fn bcrypt_with(password: &str, cost: u32, salt: [u8; 16]) -> Result<String, bcrypt::BcryptError> {
    Ok(bcrypt::hash_with_salt(password, cost, salt)?.format_for_version(Version::TwoB))
}

/// A deterministic salt from the rule's keys (fresh per run in random mode).
fn salt(keys: &DomainHasher, label: &[u8]) -> [u8; 16] {
    let mut salt = [0u8; 16];
    keys.hash_bytes(label, &mut salt);
    salt
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<PasswordOptions>()?;
    if !(MIN_COST..=MAX_COST).contains(&opts.cost) {
        return Err(ctx.bad_option(format!(
            "`cost` must be between {MIN_COST} and {MAX_COST} (higher costs make dumps slow), got {}",
            opts.cost
        )));
    }
    if opts.password.len() > MAX_PASSWORD {
        return Err(ctx.bad_option(format!(
            "`password` is {} bytes and bcrypt only reads {MAX_PASSWORD}",
            opts.password.len()
        )));
    }
    ctx.require_text()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("every row gets the same test password; use `hash`"));
    }
    if let Some(max) = ctx.max_chars() {
        if max < HASH_LEN {
            return Err(ctx.incompatible(format!(
                "a bcrypt hash has {HASH_LEN} characters and the column holds {max}; use `redacted` or `null`"
            )));
        }
    }
    let hash_of = |label: &[u8]| {
        bcrypt_with(&opts.password, opts.cost, salt(&keys, label)).map_err(|e| ctx.bad_option(e.to_string()))
    };
    Ok(Arc::new(Password {
        hash: hash_of(b"bcrypt salt")?,
        alternate: hash_of(b"bcrypt alternate salt")?,
        per_row: opts.per_row_salt.then_some((opts.password, opts.cost)),
        keys,
    }))
}

impl Transformer for Password {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let Some((password, cost)) = &self.per_row else {
            let out = if self.hash == input {
                &self.alternate
            } else {
                &self.hash
            };
            return Ok(Value::text(out.clone()));
        };
        let seed = self.keys.seed(input.as_bytes());
        let mut hash = String::new();
        for attempt in 0..2u64 {
            let salt = self.keys.hash128(&[seed.to_le_bytes(), attempt.to_le_bytes()].concat());
            hash = bcrypt_with(password, *cost, salt.to_le_bytes())
                .map_err(|e| transform_error("password", e.to_string()))?;
            if hash != input {
                break;
            }
        }
        Ok(Value::text(hash))
    }
}

pub(crate) const PASSWORD: Entry = Entry {
    name: "password",
    info: || TransformerInfo {
        name: "password",
        description: "A bcrypt hash ($2b$) of a known test password, computed once so dumps stay fast; \
                      every account of the copy logs in with that password",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "password",
                kind: "string",
                default: "password",
                description: "The test password the hash verifies (at most 72 bytes)",
            },
            OptionInfo {
                name: "cost",
                kind: "integer",
                default: "4",
                description: "bcrypt cost, 4 to 12",
            },
            OptionInfo {
                name: "per_row_salt",
                kind: "bool",
                default: "false",
                description: "Hash every row with its own salt (realistic, but one bcrypt per row: slow)",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "false",
                description: "Rows share the hash, so this is refused: use `hash` on unique columns",
            },
        ],
        example: "password_hash: { transformer: password, password: secret123, cost: 4 }",
    },
    build,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::{BuildError, ColumnKind, Engine, Mode};
    use serde_json::json;

    #[test]
    fn verifies_and_is_fixed() {
        let t = rule("password", json!(null));
        let out = run(&*t, "$2b$12$realhashrealhashrealhashrealhashrealhashrealhashreal");
        assert!(out.starts_with("$2b$04$") && out.len() == HASH_LEN, "{out}");
        assert!(bcrypt::verify("password", &out).unwrap());
        assert!(!bcrypt::verify("other", &out).unwrap());
        assert_eq!(run(&*t, "anything else"), out);
        // Deterministic across builds with the same salt, different with another salt.
        assert_eq!(run(&*rule("password", json!(null)), "x"), out);
        let other = crate::build(
            "password",
            &json!(null),
            &ColumnSpec::text("t"),
            &Engine::new(b"o", Mode::Deterministic),
        );
        assert_ne!(run(&*other.unwrap(), "x"), out);
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
    }

    use crate::ColumnSpec;

    #[test]
    fn output_differs_from_input() {
        let t = rule("password", json!(null));
        let out = run(&*t, "x");
        let again = run(&*t, &out);
        assert_ne!(again, out);
        assert!(bcrypt::verify("password", &again).unwrap());
    }

    #[test]
    fn custom_password_cost_and_per_row() {
        let t = rule("password", json!({"password": "s3cret", "cost": 5}));
        let out = run(&*t, "x");
        assert!(
            out.starts_with("$2b$05$") && bcrypt::verify("s3cret", &out).unwrap(),
            "{out}"
        );
        let p = rule("password", json!({"per_row_salt": true}));
        let (a, b) = (run(&*p, "a"), run(&*p, "b"));
        assert_ne!(a, b);
        assert_eq!(a, run(&*p, "a"));
        assert!(bcrypt::verify("password", &a).unwrap() && bcrypt::verify("password", &b).unwrap());
        assert_ne!(run(&*p, &a), a);
    }

    #[test]
    fn options_validated() {
        for opts in [
            json!({"cost": 3}),
            json!({"cost": 13}),
            json!({"password": "x".repeat(73)}),
        ] {
            let r = build_on("password", opts, &ColumnSpec::text("t"));
            assert!(matches!(r, Err(BuildError::BadOption { .. })), "{:?}", r.err());
        }
        assert!(is_incompatible(
            &build_on("password", json!(null), &varchar(59)),
            "`redacted`"
        ));
        assert!(build_on("password", json!(null), &varchar(60)).is_ok());
        assert!(is_incompatible(
            &build_on("password", json!(null), &unique(ColumnKind::Text { max_chars: None })),
            "`hash`"
        ));
    }
}
