//! PostgreSQL's COPY text format: one row per line, fields separated by tabs, `\N` for NULL, and
//! backslash escapes for the bytes that would break that framing.
//!
//! Only the fields of transformed columns are decoded; every other field is copied byte for byte.

use std::borrow::Cow;
use std::sync::Arc;

use transformers::{Transformer, Value};

/// The NULL marker of the text format.
pub const NULL: &[u8] = b"\\N";

/// Decodes one field. `None` is SQL NULL.
pub fn unescape(field: &[u8]) -> Option<Cow<'_, [u8]>> {
    if field == NULL {
        return None;
    }
    if !field.contains(&b'\\') {
        return Some(Cow::Borrowed(field));
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b != b'\\' || i + 1 == field.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let next = field[i + 1];
        i += 2;
        match next {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut value = (next - b'0') as u32;
                let mut taken = 0;
                while taken < 2 && i < field.len() && (b'0'..=b'7').contains(&field[i]) {
                    value = value * 8 + (field[i] - b'0') as u32;
                    i += 1;
                    taken += 1;
                }
                out.push(value as u8);
            }
            b'x' if i < field.len() && field[i].is_ascii_hexdigit() => {
                let mut value = hex(field[i]);
                i += 1;
                if i < field.len() && field[i].is_ascii_hexdigit() {
                    value = value * 16 + hex(field[i]);
                    i += 1;
                }
                out.push(value);
            }
            other => out.push(other),
        }
    }
    Some(Cow::Owned(out))
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Encodes one non-NULL field, escaping exactly what PostgreSQL's COPY TO escapes.
pub fn escape_into(value: &[u8], out: &mut Vec<u8>) {
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0b => out.extend_from_slice(b"\\v"),
            _ => out.push(b),
        }
    }
}

/// A value that could not be transformed: says which field of the row failed.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("column {column}: {source}")]
    Transform {
        column: String,
        #[source]
        source: transformers::TransformError,
    },
    #[error("a row has {found} fields where the table has {expected} columns")]
    FieldCount { expected: usize, found: usize },
}

/// Rewrites rows of one table: transformed columns are decoded, transformed and re-encoded; the other
/// fields pass through untouched.
pub struct RowRewriter {
    /// One slot per copied column, in COPY order.
    rules: Vec<Option<Arc<dyn Transformer>>>,
    names: Vec<String>,
}

impl RowRewriter {
    pub fn new(columns: Vec<(String, Option<Arc<dyn Transformer>>)>) -> Self {
        let (names, rules) = columns.into_iter().unzip();
        RowRewriter { rules, names }
    }

    /// True when no column is transformed: rows can be copied without looking inside them.
    pub fn is_passthrough(&self) -> bool {
        self.rules.iter().all(Option::is_none)
    }

    /// Appends the rewritten `line` (without its newline) plus a newline to `out`.
    pub fn rewrite(&self, line: &[u8], out: &mut Vec<u8>) -> Result<(), RewriteError> {
        let expected = self.rules.len();
        let mut found = 0;
        for (index, field) in line.split(|&b| b == b'\t').enumerate() {
            found = index + 1;
            if index > 0 {
                out.push(b'\t');
            }
            match self.rules.get(index) {
                Some(Some(rule)) => self.transform_field(index, rule.as_ref(), field, out)?,
                _ => out.extend_from_slice(field),
            }
        }
        if found != expected {
            return Err(RewriteError::FieldCount { expected, found });
        }
        out.push(b'\n');
        Ok(())
    }

    fn transform_field(
        &self,
        index: usize,
        rule: &dyn Transformer,
        field: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), RewriteError> {
        let input = match unescape(field) {
            None => Value::Null,
            Some(bytes) => match bytes {
                Cow::Borrowed(b) => match std::str::from_utf8(b) {
                    Ok(s) => Value::Text(Cow::Borrowed(s)),
                    Err(_) => Value::Bytes(Cow::Borrowed(b)),
                },
                Cow::Owned(b) => match String::from_utf8(b) {
                    Ok(s) => Value::Text(Cow::Owned(s)),
                    Err(e) => Value::Bytes(Cow::Owned(e.into_bytes())),
                },
            },
        };
        let output = rule.transform(input).map_err(|source| RewriteError::Transform {
            column: self.names[index].clone(),
            source,
        })?;
        write_value(&output, out);
        Ok(())
    }
}

/// Writes a transformer's output as a COPY text field.
pub fn write_value(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(NULL),
        Value::Bool(b) => out.extend_from_slice(if *b { b"t" } else { b"f" }),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Float(f) => out.extend_from_slice(f.to_string().as_bytes()),
        Value::Text(s) => escape_into(s.as_bytes(), out),
        Value::Bytes(b) => escape_into(b, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip_every_byte() {
        let all: Vec<u8> = (0u8..=255).collect();
        let mut encoded = Vec::new();
        escape_into(&all, &mut encoded);
        assert!(!encoded.contains(&b'\n') && !encoded.contains(&b'\t'));
        assert_eq!(unescape(&encoded).unwrap().as_ref(), &all[..]);
    }

    #[test]
    fn decodes_postgres_escapes() {
        assert_eq!(unescape(b"\\N"), None);
        assert_eq!(unescape(b"").unwrap().as_ref(), b"");
        assert_eq!(unescape(b"a\\tb\\\\c\\nd").unwrap().as_ref(), b"a\tb\\c\nd");
        assert_eq!(unescape(b"\\101\\x42\\q").unwrap().as_ref(), b"ABq");
        assert_eq!(unescape(b"\\\\x00ff").unwrap().as_ref(), b"\\x00ff");
    }

    struct Upper;
    impl Transformer for Upper {
        fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, transformers::TransformError> {
            Ok(match value {
                Value::Text(s) => Value::Text(Cow::Owned(s.to_uppercase())),
                other => other,
            })
        }
    }

    #[test]
    fn rewrites_only_transformed_fields() {
        let rewriter = RowRewriter::new(vec![
            ("id".into(), None),
            ("name".into(), Some(Arc::new(Upper))),
            ("note".into(), None),
        ]);
        let mut out = Vec::new();
        rewriter.rewrite(b"1\tj\\to\\\\e\t\\N", &mut out).unwrap();
        rewriter.rewrite(b"2\t\\N\tx\\ty", &mut out).unwrap();
        assert_eq!(out, b"1\tJ\\tO\\\\E\t\\N\n2\t\\N\tx\\ty\n");
    }

    #[test]
    fn wrong_field_count_is_an_error() {
        let rewriter = RowRewriter::new(vec![("a".into(), Some(Arc::new(Upper)))]);
        let err = rewriter.rewrite(b"1\t2", &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("2 fields"), "{err}");
    }
}
