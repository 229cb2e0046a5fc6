//! `template`: a value built from other columns of the same row, after they are transformed, e.g.
//! `{{first_name}}.{{last_name}}@example.com` gives an email that matches the fake names.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{truncate, Built, Ctx, Entry};
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{Row, TransformError, Transformer, Value};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TemplateOptions {
    template: String,
    #[serde(default)]
    unique: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Filter {
    None,
    Lower,
    Upper,
    /// Lowercase ASCII letters and digits only: for emails and usernames.
    Slug,
    /// The first character: initials.
    Initial,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Column(String, Filter),
}

struct Template {
    parts: Vec<Part>,
    max_chars: Option<usize>,
}

fn parse(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_string()));
        }
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("`{{{{` without `}}}}` in `{template}`"))?
            + start;
        let inner = rest[start + 2..end].trim();
        let (column, filter) = match inner.split_once('|') {
            Some((column, filter)) => (column.trim(), filter.trim()),
            None => (inner, ""),
        };
        if column.is_empty() {
            return Err(format!("empty `{{{{}}}}` in `{template}`"));
        }
        let filter = match filter {
            "" => Filter::None,
            "lower" => Filter::Lower,
            "upper" => Filter::Upper,
            "slug" => Filter::Slug,
            "initial" => Filter::Initial,
            other => return Err(format!("unknown filter `{other}`; use lower, upper, slug or initial")),
        };
        parts.push(Part::Column(column.to_string(), filter));
        rest = &rest[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    if !parts.iter().any(|p| matches!(p, Part::Column(..))) {
        return Err(format!(
            "`{template}` names no column: write placeholders like {{{{first_name}}}}"
        ));
    }
    Ok(parts)
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<TemplateOptions>()?;
    ctx.require_text()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("include a unique column in the template and use `hash` or `email` on it instead"));
    }
    let parts = parse(&opts.template).map_err(|e| ctx.bad_option(e))?;
    Ok(Arc::new(Template {
        parts,
        max_chars: ctx.max_chars(),
    }))
}

fn apply(filter: Filter, text: &str, out: &mut String) {
    match filter {
        Filter::None => out.push_str(text),
        Filter::Lower => out.push_str(&text.to_lowercase()),
        Filter::Upper => out.push_str(&text.to_uppercase()),
        Filter::Slug => out.extend(
            text.chars()
                .map(fold_accent)
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase()),
        ),
        Filter::Initial => out.extend(text.chars().next()),
    }
}

/// Latin letters with accents to their base letter, so `Zoë` slugs to `zoe` rather than `zo`.
fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ą' => 'A',
        'ç' | 'ć' | 'č' => 'c',
        'Ç' | 'Ć' | 'Č' => 'C',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => 'E',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => 'I',
        'ñ' | 'ń' | 'ň' => 'n',
        'Ñ' | 'Ń' | 'Ň' => 'N',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => 'O',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' => 'U',
        'ý' | 'ÿ' => 'y',
        'Ý' | 'Ÿ' => 'Y',
        'ł' => 'l',
        'Ł' => 'L',
        'ś' | 'š' | 'ß' => 's',
        'Ś' | 'Š' => 'S',
        'ź' | 'ż' | 'ž' => 'z',
        'Ź' | 'Ż' | 'Ž' => 'Z',
        other => other,
    }
}

impl Transformer for Template {
    fn transform<'a>(&self, _value: Value<'a>) -> Result<Value<'a>, TransformError> {
        Err(TransformError {
            transformer: "template".into(),
            message: "a template needs the whole row".into(),
        })
    }

    fn reads_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Column(c, _) => Some(c.clone()),
                Part::Text(_) => None,
            })
            .collect();
        columns.sort();
        columns.dedup();
        columns
    }

    fn transform_in_row<'a>(&self, value: Value<'a>, row: &dyn Row) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Column(column, filter) => match row.current(column) {
                    Some(Value::Null) | None => {}
                    Some(v) => apply(*filter, &super::text_of(&v), &mut out),
                },
            }
        }
        let fitted = truncate(&out, self.max_chars).len();
        out.truncate(fitted);
        Ok(Value::text(out))
    }
}

pub(crate) const TEMPLATE: Entry = Entry {
    name: "template",
    info: || TransformerInfo {
        name: "template",
        description: "A value built from other columns of the row after their transformation, e.g. \
                      {{first_name|slug}}.{{last_name|slug}}@example.com; filters: lower, upper, slug, initial",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "template",
                kind: "string",
                default: "(required)",
                description: "text with {{column}} or {{column|filter}} placeholders",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "false",
                description: "refused: a template cannot promise distinct values",
            },
        ],
        example: "email: { transformer: template, template: \"{{first_name|slug}}.{{last_name|slug}}@example.com\" }",
    },
    build,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::row_tests::TestRow;
    use crate::{BuildError, ColumnSpec};
    use serde_json::json;

    #[test]
    fn renders_from_transformed_columns_with_filters() {
        let t = build_on(
            "template",
            json!({"template": "{{first|slug}}.{{last | lower}}@example.com"}),
            &varchar(40),
        )
        .unwrap();
        assert_eq!(t.reads_columns(), ["first", "last"]);
        let mut row = TestRow::with(&[
            ("first", Some("Jean-Luc")),
            ("last", Some("PICARD")),
            ("email", Some("x")),
        ]);
        row.current.insert("first".into(), Some("Zoë Anne".into()));
        let out = t.transform_in_row(Value::text("jl@corp.example"), &row).unwrap();
        assert_eq!(out, Value::text("zoeanne.picard@example.com"));
        assert_eq!(t.transform_in_row(Value::Null, &row).unwrap(), Value::Null);
        let short = build_on(
            "template",
            json!({"template": "{{first|initial}}{{last|upper}}"}),
            &varchar(3),
        )
        .unwrap();
        assert_eq!(
            short.transform_in_row(Value::text("x"), &row).unwrap(),
            Value::text("ZPI")
        );
    }

    #[test]
    fn bad_templates_are_rejected_at_build_time() {
        for (template, needle) in [
            ("no placeholder", "names no column"),
            ("{{a", "without"),
            ("{{a|shout}}", "unknown filter"),
            ("{{ }}", "empty"),
        ] {
            let err = build_on("template", json!({ "template": template }), &ColumnSpec::text("t.c"));
            assert!(
                matches!(&err, Err(BuildError::BadOption { message, .. }) if message.contains(needle)),
                "{template}"
            );
        }
        assert!(is_incompatible(
            &build_on(
                "template",
                json!({"template": "{{a}}"}),
                &unique(crate::ColumnKind::Text { max_chars: None })
            ),
            "`hash`"
        ));
    }
}
