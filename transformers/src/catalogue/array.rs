//! `array`: applies a rule to every element of a PostgreSQL array (`{a,"b c",NULL}` in the text
//! format, nested braces for more dimensions), e.g. `emails: { transformer: array, element: email }`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{text_of, Built, Ctx, Entry};
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{ColumnKind, ColumnSpec, Row, TransformError, Transformer, Value};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ArrayOptions {
    /// A transformer name, or `{ transformer: NAME, ...options }`.
    element: Json,
    #[serde(default)]
    unique: bool,
}

struct ArrayRule {
    element: Arc<dyn Transformer>,
}

/// The element type of a PostgreSQL array type (`_int4` → int4), so the nested rule fits it.
fn element_kind(kind: &ColumnKind) -> ColumnKind {
    let ColumnKind::Other(name) = kind else {
        return ColumnKind::Text { max_chars: None };
    };
    match name.as_str() {
        "_int2" => ColumnKind::Int {
            bits: 16,
            unsigned: false,
        },
        "_int4" => ColumnKind::Int {
            bits: 32,
            unsigned: false,
        },
        "_int8" => ColumnKind::Int {
            bits: 64,
            unsigned: false,
        },
        "_numeric" => ColumnKind::Numeric {
            precision: None,
            scale: None,
        },
        "_float4" | "_float8" => ColumnKind::Float,
        "_bool" => ColumnKind::Bool,
        "_uuid" => ColumnKind::Uuid,
        "_date" => ColumnKind::Date,
        "_timestamp" => ColumnKind::Timestamp { with_tz: false },
        "_timestamptz" => ColumnKind::Timestamp { with_tz: true },
        "_inet" => ColumnKind::Other("inet".into()),
        "_cidr" => ColumnKind::Other("cidr".into()),
        _ => ColumnKind::Text { max_chars: None },
    }
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<ArrayOptions>()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("arrays can become equal; use `hash` on unique columns"));
    }
    if let ColumnKind::Other(name) = &ctx.column.kind {
        if !name.starts_with('_') {
            return Err(ctx.incompatible(format!("the column is {name}, not an array")));
        }
    }
    let (name, options) = match opts.element {
        Json::String(name) => (name, Json::Null),
        Json::Object(mut map) => match map.remove("transformer") {
            Some(Json::String(name)) => (name, Json::Object(map)),
            _ => return Err(ctx.bad_option("`element` as a mapping needs `transformer: NAME`")),
        },
        other => return Err(ctx.bad_option(format!("`element` is a transformer name or mapping, not `{other}`"))),
    };
    let spec = ColumnSpec {
        name: format!("{}[]", ctx.column.name),
        kind: element_kind(&ctx.column.kind),
        nullable: true,
        unique: false,
    };
    let element =
        crate::build(&name, &options, &spec, ctx.engine).map_err(|e| ctx.bad_option(format!("element: {e}")))?;
    Ok(Arc::new(ArrayRule { element }))
}

/// Parses an array literal and writes it back with every element transformed.
fn rewrite(
    input: &str,
    out: &mut String,
    each: &mut dyn FnMut(Value<'_>) -> Result<Value<'static>, TransformError>,
) -> Result<(), String> {
    // An optional dimension decoration (`[0:2]={...}`) is kept as it is.
    let body = match input.find("={") {
        Some(eq) if input.starts_with('[') => {
            out.push_str(&input[..=eq]);
            &input[eq + 1..]
        }
        _ => input,
    };
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut depth = 0usize;
    while i < chars.len() {
        match chars[i] {
            '{' => {
                depth += 1;
                out.push('{');
                i += 1;
            }
            '}' => {
                depth = depth.checked_sub(1).ok_or("unbalanced `}`")?;
                out.push('}');
                i += 1;
            }
            ',' => {
                out.push(',');
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '"' => {
                let mut element = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated quoted element".into()),
                        Some('\\') => {
                            element.push(*chars.get(i + 1).ok_or("a dangling backslash")?);
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            element.push(c);
                            i += 1;
                        }
                    }
                }
                push_element(each(Value::text(element)).map_err(|e| e.message)?, out);
            }
            _ => {
                // Unquoted: up to the next `,` or `}`; a backslash escapes the next character.
                let mut raw = String::new();
                let mut escaped = false;
                while i < chars.len() && !matches!(chars[i], ',' | '}') {
                    if chars[i] == '\\' {
                        raw.push(*chars.get(i + 1).ok_or("a dangling backslash")?);
                        escaped = true;
                        i += 2;
                    } else {
                        raw.push(chars[i]);
                        i += 1;
                    }
                }
                let raw = raw.trim_end().to_string();
                let is_null = !escaped && raw.eq_ignore_ascii_case("NULL");
                let value = if is_null { Value::Null } else { Value::text(raw) };
                push_element(each(value).map_err(|e| e.message)?, out);
            }
        }
    }
    if depth != 0 {
        return Err("unbalanced `{`".into());
    }
    Ok(())
}

/// Writes one element, quoted when the array syntax requires it.
fn push_element(value: Value<'_>, out: &mut String) {
    let text = match &value {
        Value::Null => {
            out.push_str("NULL");
            return;
        }
        other => text_of(other).into_owned(),
    };
    let quote = text.is_empty()
        || text.eq_ignore_ascii_case("NULL")
        || text
            .chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
    if quote {
        out.push('"');
        for c in text.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(&text);
    }
}

impl ArrayRule {
    fn apply<'a>(&self, value: Value<'a>, row: Option<&dyn Row>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value).into_owned();
        let mut out = String::with_capacity(input.len() + 8);
        let mut each = |element: Value<'_>| -> Result<Value<'static>, TransformError> {
            let element = element.into_owned();
            Ok(match row {
                Some(row) => self.element.transform_in_row(element, row)?,
                None => self.element.transform(element)?,
            })
        };
        rewrite(&input, &mut out, &mut each).map_err(|message| TransformError {
            transformer: "array".into(),
            message: format!("not a PostgreSQL array literal ({message})"),
        })?;
        Ok(Value::text(out))
    }
}

impl Transformer for ArrayRule {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        self.apply(value, None)
    }

    fn reads_columns(&self) -> Vec<String> {
        self.element.reads_columns()
    }

    fn transform_in_row<'a>(&self, value: Value<'a>, row: &dyn Row) -> Result<Value<'a>, TransformError> {
        self.apply(value, Some(row))
    }
}

pub(crate) const ARRAY: Entry = Entry {
    name: "array",
    info: || TransformerInfo {
        name: "array",
        description: "Applies a rule to every element of a PostgreSQL array (any number of dimensions); NULL \
                      elements stay NULL",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "element",
                kind: "transformer name or { transformer: NAME, ...options }",
                default: "(required)",
                description: "the rule for each element; it is checked against the array's element type",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "refused: arrays could become equal; use `hash` on unique columns",
            },
        ],
        example: "emails: { transformer: array, element: { transformer: email, keep_domain: true } }",
    },
    build,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::BuildError;
    use serde_json::json;

    struct Upper;
    impl Transformer for Upper {
        fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
            Ok(match value {
                Value::Text(s) => Value::text(s.to_uppercase()),
                other => other,
            })
        }
    }

    fn upper(input: &str) -> String {
        let rule = ArrayRule {
            element: Arc::new(Upper),
        };
        match rule.transform(Value::text(input.to_string())).unwrap() {
            Value::Text(s) => s.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rewrites_every_element_and_keeps_the_syntax() {
        assert_eq!(upper("{a,b}"), "{A,B}");
        assert_eq!(
            upper("{\"a b\",NULL,\"x\\\"y\",\"null\",\"\"}"),
            "{\"A B\",NULL,\"X\\\"Y\",\"NULL\",\"\"}"
        );
        assert_eq!(upper("{{a,b},{c,d}}"), "{{A,B},{C,D}}");
        assert_eq!(upper("[0:1]={a,b}"), "[0:1]={A,B}");
        assert_eq!(upper("{}"), "{}");
        assert_eq!(upper("{back\\\\slash}"), "{\"BACK\\\\SLASH\"}");
    }

    #[test]
    fn elements_get_real_transformers_of_the_element_type() {
        let emails = build_on(
            "array",
            json!({"element": "email"}),
            &column(ColumnKind::Other("_text".into())),
        )
        .unwrap();
        let out = run(&*emails, "{alice@corp.example,NULL,bob@corp.example}");
        assert!(
            out.starts_with('{') && out.contains(",NULL,") && !out.contains("corp.example"),
            "{out}"
        );
        assert_eq!(out, run(&*emails, "{alice@corp.example,NULL,bob@corp.example}"));
        let ints = build_on(
            "array",
            json!({"element": {"transformer": "random-int", "min": 1, "max": 9}}),
            &column(ColumnKind::Other("_int2".into())),
        )
        .unwrap();
        let out = run(&*ints, "{100,200,300}");
        assert!(
            out[1..out.len() - 1]
                .split(',')
                .all(|n| (1..=9).contains(&n.parse::<i32>().unwrap())),
            "{out}"
        );
        assert!(ints.transform(Value::text("{1,2")).is_err());
    }

    #[test]
    fn options_are_checked() {
        let array = column(ColumnKind::Other("_text".into()));
        assert!(matches!(
            build_on("array", json!({"element": "nope"}), &array),
            Err(BuildError::BadOption { .. })
        ));
        assert!(matches!(
            build_on("array", json!({"element": 3}), &array),
            Err(BuildError::BadOption { .. })
        ));
        assert!(is_incompatible(
            &build_on(
                "array",
                json!({"element": "email"}),
                &column(ColumnKind::Other("inet".into()))
            ),
            "not an array"
        ));
    }
}
