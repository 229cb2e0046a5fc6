//! Type-agnostic transformers: `hash`, `null`, `constant`, and the pass-throughs `keep`/`transient`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{kind_name, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{ColumnKind, TransformError, Transformer, Value};

// ---- hash ----

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HashOptions {
    #[serde(default = "default_length")]
    length: usize,
    #[serde(default)]
    unique: bool,
}

fn default_length() -> usize {
    32
}

/// 16 hex chars = 64 bits: below that, collisions among millions of rows become plausible.
const MIN_HASH_LEN: usize = 16;
const MAX_HASH_LEN: usize = 128;

struct Hash {
    keys: DomainHasher,
    length: usize,
}

fn build_hash(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<HashOptions>()?;
    ctx.require_text()?;
    if !(MIN_HASH_LEN..=MAX_HASH_LEN).contains(&opts.length) {
        return Err(ctx.bad_option(format!(
            "`length` must be between {MIN_HASH_LEN} and {MAX_HASH_LEN} hex characters, got {}",
            opts.length
        )));
    }
    let length = match ctx.max_chars() {
        Some(max) if max < MIN_HASH_LEN => {
            return Err(ctx.incompatible(format!(
                "a hash needs at least {MIN_HASH_LEN} characters and the column holds {max}; use `random` (unique-safe on short text) or `redacted`"
            )))
        }
        Some(max) => opts.length.min(max),
        None => opts.length,
    };
    Ok(Arc::new(Hash { keys, length }))
}

impl Transformer for Hash {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let mut digest = [0u8; MAX_HASH_LEN / 2];
        let bytes = &mut digest[..self.length.div_ceil(2)];
        self.keys.hash_bytes(&value.key_bytes(), bytes);
        let mut out = String::with_capacity(self.length + 1);
        for b in bytes.iter() {
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
        out.truncate(self.length);
        Ok(Value::text(out))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

// ---- null ----

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UniqueOnly {
    #[serde(default)]
    unique: bool,
}

struct Null;

impl Transformer for Null {
    fn transform<'a>(&self, _: Value<'a>) -> Result<Value<'a>, TransformError> {
        Ok(Value::Null)
    }
}

fn build_null(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<UniqueOnly>()?;
    if !ctx.column.nullable {
        return Err(ctx.incompatible("the column is NOT NULL; use `redacted`, `constant`, `random` or `hash`"));
    }
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `hash` or `random`"));
    }
    Ok(Arc::new(Null))
}

// ---- constant ----

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ConstantOptions {
    /// Required: a missing key is a serde error naming `value`.
    value: serde_json::Value,
    #[serde(default)]
    unique: bool,
}

struct Constant(Value<'static>);

impl Transformer for Constant {
    fn transform<'a>(&self, _: Value<'a>) -> Result<Value<'a>, TransformError> {
        Ok(self.0.clone())
    }
}

fn build_constant(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<ConstantOptions>()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `hash` or `random`"));
    }
    let misfit = |what: &str| {
        ctx.incompatible(format!(
            "the constant {} does not fit a {} column: {what}",
            opts.value,
            kind_name(&ctx.column.kind)
        ))
    };
    let value = match &opts.value {
        serde_json::Value::Null if !ctx.column.nullable => return Err(misfit("the column is NOT NULL")),
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => Value::text(s.clone()),
        _ => return Err(ctx.bad_option("`value` must be a string, number, bool or null")),
    };
    match (&ctx.column.kind, &value) {
        (_, Value::Null) => {}
        (ColumnKind::Text { max_chars: Some(max) }, v) => {
            let len = match v {
                Value::Text(s) => s.chars().count(),
                other => other.key_bytes().len(),
            };
            if len > *max as usize {
                return Err(misfit(&format!("{len} characters, the column holds {max}")));
            }
        }
        (ColumnKind::Int { bits, unsigned }, v) => {
            let n: Option<i128> = match v {
                Value::Int(i) => Some(*i as i128),
                Value::Text(s) => s.trim().parse().ok(),
                _ => None,
            };
            let (min, max) = super::random::int_range(*bits, *unsigned);
            match n {
                Some(n) if (min..=max).contains(&n) => {}
                Some(_) => return Err(misfit(&format!("out of range {min}..={max}"))),
                None => return Err(misfit("not an integer")),
            }
        }
        (ColumnKind::Bool, Value::Int(_) | Value::Float(_)) => return Err(misfit("not a boolean")),
        (ColumnKind::Enum { values }, v) if !values.iter().any(|l| l.as_bytes() == &*v.key_bytes()) => {
            return Err(misfit(&format!("not one of {}", values.join(", "))))
        }
        _ => {}
    }
    Ok(Arc::new(Constant(value)))
}

// ---- keep / transient ----

struct Keep;

impl Transformer for Keep {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        Ok(value)
    }
}

fn build_keep(ctx: &Ctx<'_>) -> Built {
    ctx.parse::<UniqueOnly>()?;
    Ok(Arc::new(Keep))
}

fn unique_option(description: &'static str) -> OptionInfo {
    OptionInfo {
        name: "unique",
        kind: "bool",
        default: "column is unique",
        description,
    }
}

pub(crate) const HASH: Entry = Entry {
    name: "hash",
    info: || TransformerInfo {
        name: "hash",
        description: "A keyed hex digest of the original: opaque, stable, and distinct for distinct inputs",
        unique_safe: true,
        options: vec![
            OptionInfo {
                name: "length",
                kind: "integer",
                default: "32",
                description: "Hex characters, 16 to 128 (cut to the column's length if it is at least 16)",
            },
            unique_option("Always unique (at least 64 bits of keyed hash)"),
        ],
        example: "api_token: { transformer: hash, length: 40 }",
    },
    build: build_hash,
};

pub(crate) const NULL: Entry = Entry {
    name: "null",
    info: || TransformerInfo {
        name: "null",
        description: "Always NULL (refused on NOT NULL and unique columns)",
        unique_safe: false,
        options: vec![unique_option("Refused: NULLs are not distinct values")],
        example: "legacy_notes: { transformer: \"null\" }",
    },
    build: build_null,
};

pub(crate) const CONSTANT: Entry = Entry {
    name: "constant",
    info: || TransformerInfo {
        name: "constant",
        description: "The same value for every row, NULLs included (checked against the column's type)",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "value",
                kind: "string | number | bool | null",
                default: "(required)",
                description: "The value to write",
            },
            unique_option("Refused: a constant repeats"),
        ],
        example: "country: { transformer: constant, value: \"FR\" }",
    },
    build: build_constant,
};

pub(crate) const KEEP: Entry = Entry {
    name: "keep",
    info: || TransformerInfo {
        name: "keep",
        description: "Copies the original value unchanged (for non-sensitive columns)",
        unique_safe: true,
        options: vec![unique_option("Accepted; the original values are already distinct")],
        example: "created_at: { transformer: keep }",
    },
    build: build_keep,
};

pub(crate) const TRANSIENT: Entry = Entry {
    name: "transient",
    info: || TransformerInfo {
        name: "transient",
        description: "Alias of `keep`: copies the original value unchanged",
        unique_safe: true,
        options: vec![unique_option("Accepted; the original values are already distinct")],
        example: "id: { transformer: transient }",
    },
    build: build_keep,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::{BuildError, ColumnSpec, Engine, Mode};
    use serde_json::json;
    use std::collections::HashSet;

    #[test]
    fn hash_never_collides_on_a_million_inputs() {
        let t = build_on(
            "hash",
            json!(null),
            &unique(crate::ColumnKind::Text { max_chars: None }),
        )
        .unwrap();
        let mut seen = std::collections::HashSet::with_capacity(1_000_000);
        for i in 0..1_000_000u32 {
            assert!(seen.insert(run(&*t, &format!("token-{i}"))), "collision at input {i}");
        }
    }

    #[test]
    fn hash_is_keyed_fits_and_unique() {
        let t = rule("hash", json!(null));
        let a = run(&*t, "secret");
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, run(&*t, "secret"));
        let other = crate::build(
            "hash",
            &json!(null),
            &ColumnSpec::text("t"),
            &Engine::new(b"other", Mode::Deterministic),
        )
        .unwrap();
        assert_ne!(a, run(&*other, "secret"));
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        let short = build_on("hash", json!({"length": 64}), &varchar(20)).unwrap();
        assert_eq!(run(&*short, "x").len(), 20);
        assert_eq!(run(&*rule("hash", json!({"length": 17})), "x").len(), 17);
        assert!(is_incompatible(
            &build_on("hash", json!(null), &varchar(10)),
            "`random`"
        ));
        assert!(matches!(
            build_on("hash", json!({"length": 8}), &varchar(99)),
            Err(BuildError::BadOption { .. })
        ));
        let u = build_on("hash", json!(null), &unique(ColumnKind::Text { max_chars: None })).unwrap();
        let outs: HashSet<String> = (0..50_000).map(|i| run(&*u, &i.to_string())).collect();
        assert_eq!(outs.len(), 50_000);
        assert!(!outs.iter().any(|o| o.len() < 32));
    }

    #[test]
    fn null_rules() {
        let t = rule("null", json!(null));
        assert_eq!(t.transform(Value::text("x")).unwrap(), Value::Null);
        let mut not_null = ColumnSpec::text("t.c");
        not_null.nullable = false;
        assert!(is_incompatible(&build_on("null", json!(null), &not_null), "NOT NULL"));
        let mut uniq = ColumnSpec::text("t.c");
        uniq.unique = true;
        assert!(is_incompatible(&build_on("null", json!(null), &uniq), "`hash`"));
    }

    #[test]
    fn constant_checks_column() {
        let t = rule("constant", json!({"value": "FR"}));
        assert_eq!(t.transform(Value::Null).unwrap(), Value::text("FR"));
        let missing = build_on("constant", json!(null), &varchar(9));
        assert!(matches!(missing, Err(BuildError::BadOption { message, .. }) if message.contains("value")));
        assert!(is_incompatible(
            &build_on("constant", json!({"value": "toolong"}), &varchar(3)),
            "characters"
        ));
        let int2 = column(ColumnKind::Int {
            bits: 16,
            unsigned: false,
        });
        assert!(is_incompatible(
            &build_on("constant", json!({"value": 40000}), &int2),
            "range"
        ));
        let ok = build_on("constant", json!({"value": 7}), &int2).unwrap();
        assert_eq!(ok.transform(Value::text("1")).unwrap(), Value::Int(7));
        assert!(is_incompatible(
            &build_on("constant", json!({"value": 1}), &unique(ColumnKind::Bool)),
            "`hash`"
        ));
        let e = column(ColumnKind::Enum {
            values: vec!["a".into(), "b".into()],
        });
        assert!(is_incompatible(
            &build_on("constant", json!({"value": "c"}), &e),
            "not one of"
        ));
        let mut not_null = ColumnSpec::text("t.c");
        not_null.nullable = false;
        assert!(is_incompatible(
            &build_on("constant", json!({"value": null}), &not_null),
            "NOT NULL"
        ));
    }

    #[test]
    fn keep_and_transient_pass_through() {
        for name in ["keep", "transient"] {
            let t = build_on(
                name,
                json!(null),
                &unique(ColumnKind::Int {
                    bits: 32,
                    unsigned: false,
                }),
            )
            .unwrap();
            assert_eq!(t.transform(Value::text("42")).unwrap(), Value::text("42"));
            assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        }
    }
}
