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
    /// A transformer by name, with its options as JSON (the `transformer` key removed).
    Transform { name: String, options: serde_json::Value },
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
            Value::String(name) => Ok(ColumnRule::Transform {
                name,
                options: serde_json::Value::Null,
            }),
            Value::Mapping(mut map) => {
                let name = match map.remove("transformer") {
                    Some(Value::String(name)) => name,
                    Some(Value::Null) => "null".into(),
                    _ => return Err(D::Error::custom(
                        "a column rule written as a mapping needs `transformer: NAME` (run `decoy transformer list`)",
                    )),
                };
                if name == "keep" && !map.is_empty() {
                    return Err(D::Error::custom("`keep` takes no options"));
                }
                let options = serde_json::to_value(Value::Mapping(map)).map_err(D::Error::custom)?;
                let options = match options {
                    serde_json::Value::Object(o) if o.is_empty() => serde_json::Value::Null,
                    other => other,
                };
                Ok(if name == "keep" {
                    ColumnRule::Keep
                } else {
                    ColumnRule::Transform { name, options }
                })
            }
            other => Err(D::Error::custom(format!(
                "a column rule is a transformer name, `keep`, or a mapping with `transformer:`, not {}",
                describe(&other)
            ))),
        }
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
