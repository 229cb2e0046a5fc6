//! Per-table and per-column rules under `tables:`. Written by hand rather than with untagged enums so
//! that a mistake gets a message saying what was expected instead of "did not match any variant".

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_norway::Value;

#[derive(Debug, Clone)]
pub enum TableRule {
    /// Keep the table's definition, dump none of its rows.
    Skip,
    Columns(BTreeMap<String, ColumnRule>),
}

#[derive(Debug, Clone)]
pub enum ColumnRule {
    /// Declared safe to copy as is (what strict mode asks for).
    Keep,
    /// One rule, or several tried in order: the first whose `when` holds applies, and a value no
    /// rule matches is kept.
    Transform(Vec<RuleSpec>),
}

/// A transformer with its options, an optional condition, or a reference to a shared rule.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// The transformer's name (`null` for YAML's bare null).
    pub name: String,
    /// Options as JSON, `transformer`, `rule` and `when` removed; `Null` when there are none.
    pub options: serde_json::Value,
    /// Apply only to rows where this holds (`country = 'FR'`).
    pub when: Option<String>,
    /// `rule: NAME`: resolved against the top-level `rules:` after parsing.
    pub shared: Option<String>,
}

impl RuleSpec {
    fn named(name: impl Into<String>) -> Self {
        RuleSpec {
            name: name.into(),
            options: serde_json::Value::Null,
            when: None,
            shared: None,
        }
    }
}

impl ColumnRule {
    /// The transformers this rule may apply.
    pub fn specs(&self) -> &[RuleSpec] {
        match self {
            ColumnRule::Keep => &[],
            ColumnRule::Transform(specs) => specs,
        }
    }
}

impl<'de> Deserialize<'de> for TableRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) if s == "skip" => Ok(TableRule::Skip),
            Value::Mapping(map) => {
                let mut columns = BTreeMap::new();
                let mut skip = false;
                for (key, value) in map {
                    match key.as_str() {
                        Some("columns") => {
                            columns = BTreeMap::<String, ColumnRule>::deserialize(value).map_err(D::Error::custom)?
                        }
                        Some("skip") => skip = bool::deserialize(value).map_err(D::Error::custom)?,
                        _ => {
                            return Err(D::Error::custom(format!(
                                "unknown key `{}` in a table rule; expected `columns` or `skip`",
                                key.as_str().unwrap_or("?")
                            )))
                        }
                    }
                }
                Ok(if skip {
                    TableRule::Skip
                } else {
                    TableRule::Columns(columns)
                })
            }
            other => Err(D::Error::custom(format!(
                "a table rule is `skip` or a mapping with `columns:`, not {}",
                describe(&other)
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for ColumnRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) if s == "keep" => Ok(ColumnRule::Keep),
            Value::Sequence(items) => {
                if items.is_empty() {
                    return Err(D::Error::custom("an empty list of rules; give at least one"));
                }
                let specs = items
                    .into_iter()
                    .map(spec)
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(D::Error::custom)?;
                Ok(ColumnRule::Transform(specs))
            }
            other => Ok(ColumnRule::Transform(vec![spec(other).map_err(D::Error::custom)?])),
        }
    }
}

impl<'de> Deserialize<'de> for RuleSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        spec(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

/// One rule: a transformer name, or a mapping with `transformer:` (or `rule:`), options and `when:`.
fn spec(value: Value) -> Result<RuleSpec, String> {
    match value {
        Value::String(name) => Ok(RuleSpec::named(name)),
        // YAML reads a bare `null` as no value: `column: null` means the `null` transformer.
        Value::Null => Ok(RuleSpec::named("null")),
        Value::Mapping(mut map) => {
            let when = match map.remove("when") {
                None => None,
                Some(Value::String(w)) => Some(w),
                Some(other) => return Err(format!("`when` is a condition in quotes, not {}", describe(&other))),
            };
            let shared = match map.remove("rule") {
                None => None,
                Some(Value::String(r)) => Some(r),
                Some(other) => return Err(format!("`rule` names a rule under `rules:`, not {}", describe(&other))),
            };
            let name =
                match (map.remove("transformer"), &shared) {
                    (Some(Value::String(name)), None) => name,
                    (Some(Value::Null), None) => "null".into(),
                    (None, Some(_)) if map.is_empty() => String::new(),
                    (None, Some(rule)) => {
                        return Err(format!(
                            "`rule: {rule}` takes no options here; set them where the rule is defined under `rules:`"
                        ))
                    }
                    (Some(_), Some(_)) => return Err("give either `transformer:` or `rule:`, not both".into()),
                    _ => return Err(
                        "a column rule written as a mapping needs `transformer: NAME` (run `decoy transformer list`) \
                         or `rule: NAME` (a rule under `rules:`)"
                            .into(),
                    ),
                };
            if name == "keep" && !map.is_empty() {
                return Err("`keep` takes no options".into());
            }
            let options = serde_json::to_value(Value::Mapping(map)).map_err(|e| e.to_string())?;
            let options = match options {
                serde_json::Value::Object(o) if o.is_empty() => serde_json::Value::Null,
                other => other,
            };
            Ok(RuleSpec {
                name,
                options,
                when,
                shared,
            })
        }
        other => Err(format!(
            "a column rule is a transformer name, `keep`, a mapping with `transformer:` or `rule:`, or a list of \
             those, not {}",
            describe(&other)
        )),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "an empty value".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("`{s}`"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}
