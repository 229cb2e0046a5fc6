//! `json`: rules over the inside of JSON documents. Each rule has a path (`$.a.b`, `$.tags[0]`,
//! `$.items[*].sku`) and either a nested transformer applied to the scalar values found there,
//! `delete: true`, or `set: <value>`. Paths that are missing in a document are skipped; key order is
//! kept.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::{kind_name, transform_error, Built, Ctx, Entry};
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{ColumnKind, ColumnSpec, Row, TransformError, Transformer, Value};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct JsonOptions {
    rules: Vec<Map<String, Json>>,
    #[serde(default)]
    unique: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
    /// `[*]` or `.*`: every element of an array, every value of an object.
    All,
}

enum Action {
    Apply(Arc<dyn Transformer>),
    Delete,
    Set(Json),
}

struct Rule {
    path: Vec<Seg>,
    action: Action,
}

struct JsonRules {
    rules: Vec<Rule>,
    max_chars: Option<usize>,
}

/// Parses `$`, `$.key`, `$.a.b[2]`, `$.tags[*]`, `$.*`, `$['odd key']`.
fn parse_path(path: &str) -> Result<Vec<Seg>, String> {
    let mut rest = path
        .strip_prefix('$')
        .ok_or_else(|| format!("path `{path}` must start with `$`"))?;
    let mut segs = Vec::new();
    while let Some(c) = rest.chars().next() {
        match c {
            '.' => {
                let end = rest[1..].find(['.', '[']).map_or(rest.len(), |i| i + 1);
                let key = &rest[1..end];
                if key.is_empty() {
                    return Err(format!("path `{path}` has an empty key"));
                }
                segs.push(if key == "*" {
                    Seg::All
                } else {
                    Seg::Key(key.to_string())
                });
                rest = &rest[end..];
            }
            '[' => {
                let inner = &rest[1..];
                let (seg, used) = if let Some(r) = inner.strip_prefix("*]") {
                    (Seg::All, inner.len() - r.len())
                } else if let Some(q) = inner.chars().next().filter(|q| *q == '\'' || *q == '"') {
                    let close = inner[1..]
                        .find(q)
                        .ok_or_else(|| format!("path `{path}` has an unclosed quote"))?;
                    let key = &inner[1..1 + close];
                    if !inner[1 + close + 1..].starts_with(']') {
                        return Err(format!("path `{path}`: expected `]` after the quoted key"));
                    }
                    (Seg::Key(key.to_string()), close + 3)
                } else {
                    let close = inner
                        .find(']')
                        .ok_or_else(|| format!("path `{path}` has an unclosed `[`"))?;
                    let index = inner[..close].parse().map_err(|_| {
                        format!(
                            "path `{path}`: `[{}]` is not an index, `*` or a quoted key",
                            &inner[..close]
                        )
                    })?;
                    (Seg::Index(index), close + 1)
                };
                segs.push(seg);
                rest = &inner[used..];
            }
            _ => return Err(format!("path `{path}`: expected `.` or `[` at `{rest}`")),
        }
    }
    Ok(segs)
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<JsonOptions>()?;
    match &ctx.column.kind {
        ColumnKind::Json | ColumnKind::Text { .. } | ColumnKind::Other(_) => {}
        kind => {
            return Err(ctx.incompatible(format!(
                "it rewrites JSON documents and the column is {}",
                kind_name(kind)
            )))
        }
    }
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `hash` on the whole document"));
    }
    if opts.rules.is_empty() {
        return Err(ctx.bad_option("`rules` must list at least one rule"));
    }
    let mut rules = Vec::with_capacity(opts.rules.len());
    for raw in &opts.rules {
        let mut raw = raw.clone();
        let path_text = match raw.remove("path") {
            Some(Json::String(p)) => p,
            Some(other) => return Err(ctx.bad_option(format!("a rule's `path` must be a string, got `{other}`"))),
            None => return Err(ctx.bad_option("every rule needs a `path`, e.g. `$.email`")),
        };
        let bad = |m: String| ctx.bad_option(format!("rule `{path_text}`: {m}"));
        let path = parse_path(&path_text).map_err(|m| ctx.bad_option(m))?;
        let transformer = raw.remove("transformer");
        let delete = raw.remove("delete");
        let set = raw.remove("set");
        let action = match (transformer, delete, set) {
            (Some(Json::String(name)), None, None) => {
                let column = ColumnSpec {
                    name: format!("{}{}", ctx.column.name, &path_text[1..]),
                    kind: ColumnKind::Text { max_chars: None },
                    nullable: true,
                    unique: false,
                };
                let nested =
                    crate::build(&name, &Json::Object(raw), &column, ctx.engine).map_err(|e| bad(e.to_string()))?;
                Action::Apply(nested)
            }
            (Some(other), None, None) => return Err(bad(format!("`transformer` must be a name, got `{other}`"))),
            _ if !raw.is_empty() => {
                let keys: Vec<&str> = raw.keys().map(String::as_str).collect();
                return Err(bad(format!(
                    "unknown key(s) {}; options other than `path`, `delete` and `set` need a `transformer`",
                    keys.join(", ")
                )));
            }
            (None, Some(Json::Bool(true)), None) if path.is_empty() => {
                return Err(bad(
                    "the whole document cannot be deleted; use the `null` transformer".into()
                ))
            }
            (None, Some(Json::Bool(true)), None) => Action::Delete,
            (None, Some(other), None) => return Err(bad(format!("`delete` must be `true`, got `{other}`"))),
            (None, None, Some(value)) => Action::Set(value),
            _ => return Err(bad("give exactly one of `transformer`, `delete: true` or `set`".into())),
        };
        rules.push(Rule { path, action });
    }
    Ok(Arc::new(JsonRules {
        rules,
        max_chars: ctx.max_chars(),
    }))
}

fn error(message: impl Into<String>) -> TransformError {
    transform_error("json", message)
}

/// Calls `f` on every node at `path` below `node`; missing keys, indexes and type mismatches skip.
fn walk(
    node: &mut Json,
    path: &[Seg],
    f: &mut dyn FnMut(&mut Json) -> Result<(), TransformError>,
) -> Result<(), TransformError> {
    let Some((seg, rest)) = path.split_first() else {
        return f(node);
    };
    match (seg, node) {
        (Seg::Key(k), Json::Object(m)) => match m.get_mut(k.as_str()) {
            Some(child) => walk(child, rest, f),
            None => Ok(()),
        },
        (Seg::Index(i), Json::Array(a)) => match a.get_mut(*i) {
            Some(child) => walk(child, rest, f),
            None => Ok(()),
        },
        (Seg::All, Json::Array(a)) => a.iter_mut().try_for_each(|c| walk(c, rest, f)),
        (Seg::All, Json::Object(m)) => m.values_mut().try_for_each(|c| walk(c, rest, f)),
        _ => Ok(()),
    }
}

fn remove(parent: &mut Json, last: &Seg) {
    match (last, parent) {
        (Seg::Key(k), Json::Object(m)) => {
            m.shift_remove(k.as_str());
        }
        (Seg::Index(i), Json::Array(a)) if *i < a.len() => {
            a.remove(*i);
        }
        (Seg::All, Json::Array(a)) => a.clear(),
        (Seg::All, Json::Object(m)) => m.clear(),
        _ => {}
    }
}

fn to_json(value: Value<'_>) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(b),
        Value::Int(i) => Json::from(i),
        Value::Float(f) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        Value::Text(s) => Json::String(s.into_owned()),
        Value::Bytes(b) => Json::String(String::from_utf8_lossy(&b).into_owned()),
    }
}

impl JsonRules {
    fn apply<'a>(&self, value: Value<'a>, row: Option<&dyn Row>) -> Result<Value<'a>, TransformError> {
        let mut doc: Json = match &value {
            Value::Null => return Ok(Value::Null),
            Value::Text(s) => serde_json::from_str(s),
            Value::Bytes(b) => serde_json::from_slice(b),
            _ => return Err(error("expected a JSON document, got a number or boolean")),
        }
        .map_err(|e| error(format!("not a JSON document: {e}")))?;
        for rule in &self.rules {
            match &rule.action {
                Action::Apply(t) => walk(&mut doc, &rule.path, &mut |node| {
                    let input = match node {
                        Json::String(s) => Value::Text(Cow::Borrowed(s.as_str())),
                        Json::Number(n) => match n.as_i64() {
                            Some(i) => Value::Int(i),
                            None => Value::Float(n.as_f64().unwrap_or_default()),
                        },
                        Json::Bool(b) => Value::Bool(*b),
                        Json::Null => Value::Null,
                        // Rules apply to scalars; a matched object or array is left as it is.
                        Json::Array(_) | Json::Object(_) => return Ok(()),
                    };
                    let out = match row {
                        Some(row) => t.transform_in_row(input, row)?,
                        None => t.transform(input)?,
                    };
                    *node = to_json(out);
                    Ok(())
                })?,
                Action::Set(v) => walk(&mut doc, &rule.path, &mut |node| {
                    *node = v.clone();
                    Ok(())
                })?,
                Action::Delete => {
                    let (last, parent) = rule.path.split_last().expect("root deletes are refused at build");
                    walk(&mut doc, parent, &mut |node| {
                        remove(node, last);
                        Ok(())
                    })?
                }
            }
        }
        let out = serde_json::to_string(&doc).map_err(|e| error(e.to_string()))?;
        if let Some(max) = self.max_chars {
            if out.chars().count() > max {
                return Err(error(format!(
                    "the rewritten document has {} characters and the column holds {max}",
                    out.chars().count()
                )));
            }
        }
        Ok(Value::text(out))
    }
}

impl Transformer for JsonRules {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        self.apply(value, None)
    }

    fn reads_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        for rule in &self.rules {
            if let Action::Apply(t) = &rule.action {
                for c in t.reads_columns() {
                    if !columns.contains(&c) {
                        columns.push(c);
                    }
                }
            }
        }
        columns
    }

    fn transform_in_row<'a>(&self, value: Value<'a>, row: &dyn Row) -> Result<Value<'a>, TransformError> {
        self.apply(value, Some(row))
    }
}

pub(crate) const JSON: Entry = Entry {
    name: "json",
    info: || {
        TransformerInfo {
        name: "json",
        description: "Rewrites values inside JSON documents: each rule gives a path (`$.a.b`, `$.list[0]`, `$.list[*].x`) and a nested transformer (with its options), `delete: true` or `set: value`; missing paths are skipped, key order is kept",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "rules",
                kind: "list of { path, transformer + options | delete: true | set: value }",
                default: "(required)",
                description: "Applied in order; nested transformers see strings as text and numbers/booleans as typed values",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Refused: documents could become equal; use `hash` on unique columns",
            },
        ],
        example: "profile: { transformer: json, rules: [ { path: \"$.email\", transformer: email }, { path: \"$.tags[*]\", transformer: hash }, { path: \"$.ssn\", delete: true } ] }",
    }
    },
    build,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::BuildError;
    use serde_json::json;

    fn json_rule(rules: Json) -> Arc<dyn Transformer> {
        build_on("json", json!({ "rules": rules }), &column(ColumnKind::Json)).unwrap()
    }

    #[test]
    fn paths_parse() {
        assert_eq!(parse_path("$").unwrap(), vec![]);
        assert_eq!(
            parse_path("$.a.b[2][*].c['x.y'][\"z\"].*").unwrap(),
            vec![
                Seg::Key("a".into()),
                Seg::Key("b".into()),
                Seg::Index(2),
                Seg::All,
                Seg::Key("c".into()),
                Seg::Key("x.y".into()),
                Seg::Key("z".into()),
                Seg::All
            ]
        );
        for bad in ["a.b", "$..a", "$.a[", "$.a[x]", "$['a", "$['a'x", "$a"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_rewrite_and_keep_order() {
        let t = json_rule(json!([
            { "path": "$.name", "transformer": "hash", "length": 16 },
            { "path": "$.tags[*]", "transformer": "redacted", "char": "x" },
            { "path": "$.address.zip", "transformer": "random" },
            { "path": "$.ssn", "delete": true },
            { "path": "$.country", "set": "FR" },
            { "path": "$.items[1]", "delete": true },
            { "path": "$.missing.deep", "transformer": "hash" },
            { "path": "$.n", "transformer": "noise-number", "absolute": 5 }
        ]));
        let input = r#"{"z":1,"name":"Alice","tags":["ab","cde",7],"address":{"zip":"75001","city":"Paris"},"ssn":"123","country":"DE","items":[1,2,3],"n":100}"#;
        let out = run(&*t, input);
        let doc: Json = serde_json::from_str(&out).unwrap();
        let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["z", "name", "tags", "address", "country", "items", "n"]);
        assert_eq!(doc["z"], json!(1));
        let name = doc["name"].as_str().unwrap();
        assert!(name.len() == 16 && name != "Alice");
        assert_eq!(doc["tags"][0], json!("xx"));
        assert_eq!(doc["tags"][1], json!("xxx"));
        assert_eq!(doc["tags"][2], json!("x"));
        let zip = doc["address"]["zip"].as_str().unwrap();
        assert!(zip.len() == 5 && zip != "75001" && zip.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(doc["address"]["city"], json!("Paris"));
        assert_eq!(doc["country"], json!("FR"));
        assert_eq!(doc["items"], json!([1, 3]));
        let n = doc["n"].as_i64().unwrap();
        assert!(n != 100 && (95..=105).contains(&n));
        assert_ne!(out, input);
        assert_eq!(out, run(&*t, input));
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        // Documents without the paths pass through (re-serialized).
        assert_eq!(run(&*t, "[1,2]"), "[1,2]");
        assert_eq!(run(&*t, "\"text\""), "\"text\"");
        assert!(t.transform(Value::text("{not json")).is_err());
        assert!(t.transform(Value::Int(4)).is_err());
    }

    #[test]
    fn nested_transformers_and_wildcards() {
        let t = json_rule(json!([
            { "path": "$.users[*].email", "transformer": "mask", "keep_last": 0, "char": "#" },
            { "path": "$.meta.*", "transformer": "constant", "value": 0 }
        ]));
        let out = run(
            &*t,
            r#"{"users":[{"email":"a@b.c"},{"email":"xy@z.io","id":3},{"id":4}],"meta":{"a":"s","b":[1]}}"#,
        );
        assert_eq!(
            out,
            r###"{"users":[{"email":"#@#.#"},{"email":"##@#.##","id":3},{"id":4}],"meta":{"a":0,"b":[1]}}"###
        );
        let root = json_rule(json!([{ "path": "$", "set": {"gone": true} }]));
        assert_eq!(run(&*root, r#"{"a":1}"#), r#"{"gone":true}"#);
    }

    #[test]
    fn build_errors() {
        let col = column(ColumnKind::Json);
        let bad = |rules: Json| build_on("json", json!({ "rules": rules }), &col);
        for (rules, needle) in [
            (json!([]), "at least one"),
            (json!([{ "transformer": "hash" }]), "path"),
            (json!([{ "path": "email", "transformer": "hash" }]), "`$`"),
            (json!([{ "path": "$.a", "transformer": "nope" }]), "unknown transformer"),
            (json!([{ "path": "$.a", "transformer": "hash", "length": 2 }]), "$.a"),
            (json!([{ "path": "$.a", "delete": true, "set": 1 }]), "exactly one"),
            (json!([{ "path": "$.a" }]), "exactly one"),
            (json!([{ "path": "$.a", "delete": false }]), "`true`"),
            (json!([{ "path": "$", "delete": true }]), "whole document"),
            (json!([{ "path": "$.a", "set": 1, "length": 3 }]), "length"),
        ] {
            let err = bad(rules.clone());
            assert!(
                matches!(&err, Err(BuildError::BadOption { message, .. }) if message.contains(needle)),
                "{rules}: {:?}",
                err.err()
            );
        }
        let rules = json!({ "rules": [{ "path": "$.a", "transformer": "hash" }] });
        assert!(is_incompatible(
            &build_on("json", rules.clone(), &unique(ColumnKind::Json)),
            "`hash`"
        ));
        assert!(is_incompatible(
            &build_on(
                "json",
                rules.clone(),
                &column(ColumnKind::Int {
                    bits: 32,
                    unsigned: false
                })
            ),
            "JSON"
        ));
        let short = build_on(
            "json",
            json!({ "rules": [{ "path": "$.a", "set": "a long value" }] }),
            &varchar(12),
        )
        .unwrap();
        assert!(short.transform(Value::text(r#"{"a":1}"#)).is_err());
    }
}
