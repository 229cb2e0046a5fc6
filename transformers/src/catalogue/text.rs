//! Masking transformers that keep little or nothing of the text: `keep-first-char`, `redacted`.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{text_of, Built, Ctx, Entry};
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{TransformError, Transformer, Value};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UniqueOnly {
    #[serde(default)]
    unique: bool,
}

struct FirstChar;

impl Transformer for FirstChar {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        Ok(match value {
            Value::Null => Value::Null,
            Value::Text(Cow::Borrowed(s)) => Value::Text(Cow::Borrowed(first_char(s))),
            other => Value::text(first_char(&text_of(&other)).to_string()),
        })
    }
}

fn first_char(s: &str) -> &str {
    s.chars().next().map_or("", |c| &s[..c.len_utf8()])
}

fn build_first_char(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<UniqueOnly>()?;
    ctx.require_text()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `hash` or `random`"));
    }
    Ok(Arc::new(FirstChar))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RedactedOptions {
    #[serde(default = "default_char")]
    char: String,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    unique: bool,
}

fn default_char() -> String {
    "*".into()
}

const DEFAULT_MAX_WIDTH: usize = 10;

struct Redacted {
    fill: char,
    width: Option<usize>,
    max_chars: Option<usize>,
}

fn build_redacted(ctx: &Ctx<'_>) -> Built {
    let (opts, _) = ctx.parse::<RedactedOptions>()?;
    ctx.require_text()?;
    let mut chars = opts.char.chars();
    let fill = match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => return Err(ctx.bad_option(format!("`char` must be exactly one character, got `{}`", opts.char))),
    };
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("use `hash` or `random`"));
    }
    Ok(Arc::new(Redacted {
        fill,
        width: opts.width.map(|w| w as usize),
        max_chars: ctx.max_chars(),
    }))
}

impl Transformer for Redacted {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let width = self
            .width
            .unwrap_or_else(|| text_of(&value).chars().count().min(DEFAULT_MAX_WIDTH));
        let width = self.max_chars.map_or(width, |m| width.min(m));
        Ok(Value::text(std::iter::repeat_n(self.fill, width).collect::<String>()))
    }
}

pub(crate) const KEEP_FIRST_CHAR: Entry = Entry {
    name: "keep-first-char",
    info: || TransformerInfo {
        name: "keep-first-char",
        description: "Only the first character of the original (e.g. an initial)",
        unique_safe: false,
        options: vec![OptionInfo {
            name: "unique",
            kind: "bool",
            default: "false",
            description: "Refused: initials repeat; use `hash` on unique columns",
        }],
        example: "middle_name: { transformer: keep-first-char }",
    },
    build: build_first_char,
};

pub(crate) const REDACTED: Entry = Entry {
    name: "redacted",
    info: || TransformerInfo {
        name: "redacted",
        description: "The same character repeated, e.g. `******`",
        unique_safe: false,
        options: vec![
            OptionInfo {
                name: "char",
                kind: "string",
                default: "*",
                description: "The character to repeat",
            },
            OptionInfo {
                name: "width",
                kind: "integer",
                default: "input length, at most 10",
                description: "Number of characters (always capped by the column's length)",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "false",
                description: "Refused: redacted values repeat; use `hash` on unique columns",
            },
        ],
        example: "notes: { transformer: redacted, char: \"#\" }",
    },
    build: build_redacted,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::{BuildError, ColumnKind};
    use serde_json::json;

    #[test]
    fn first_char_only() {
        let t = rule("keep-first-char", json!(null));
        assert_eq!(run(&*t, "Émile"), "É");
        assert_eq!(run(&*t, ""), "");
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
        assert!(is_incompatible(
            &build_on(
                "keep-first-char",
                json!(null),
                &unique(ColumnKind::Text { max_chars: None })
            ),
            "`hash`"
        ));
    }

    #[test]
    fn redacted_widths() {
        let t = rule("redacted", json!(null));
        assert_eq!(run(&*t, "secret"), "******");
        assert_eq!(run(&*t, "a very long secret value"), "**********");
        let w = build_on("redacted", json!({"char": "x", "width": 20}), &varchar(4)).unwrap();
        assert_eq!(run(&*w, "abc"), "xxxx");
        assert_eq!(w.transform(Value::Null).unwrap(), Value::Null);
        let bad = build_on("redacted", json!({"char": "ab"}), &varchar(4));
        assert!(matches!(bad, Err(BuildError::BadOption { .. })));
        assert!(is_incompatible(
            &build_on("redacted", json!(null), &unique(ColumnKind::Text { max_chars: None })),
            "`hash`"
        ));
    }

    #[test]
    fn originals_do_not_survive() {
        let t = rule("redacted", json!(null));
        for s in ["alice", "bob@example.com", "4111 1111"] {
            assert_ne!(run(&*t, s), s);
        }
    }
}
