//! PostgreSQL's COPY text format: one row per line, fields separated by tabs, `\N` for NULL, and
//! backslash escapes for the bytes that would break that framing.
//!
//! Only the fields of transformed columns are decoded; every other field is copied byte for byte.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use transformers::{Row, Transformer, Value};

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

/// Encodes one non-NULL field for MySQL's `LOAD DATA` (tab-separated, `\\` escapes): only the
/// escape character and the field and line separators are escaped. Every other byte, NUL included,
/// is written as it is, since `LOAD DATA` would read `\f` as `f`. [`unescape`] reads this back.
pub fn escape_mysql_into(value: &[u8], out: &mut Vec<u8>) {
    // Runs between special bytes are copied whole: most fields have none and cost one copy.
    let mut start = 0;
    for (i, &b) in value.iter().enumerate() {
        let escaped = match b {
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            _ => continue,
        };
        out.extend_from_slice(&value[start..i]);
        out.extend_from_slice(&[b'\\', escaped]);
        start = i + 1;
    }
    out.extend_from_slice(&value[start..]);
}

/// Which bulk format rows are in: PostgreSQL's COPY text or MySQL's LOAD DATA text. Both are
/// tab-separated with `\N` for NULL; they differ in the escapes they read and in booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    #[default]
    Postgres,
    Mysql,
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
///
/// When a rule reads other columns of the row (a template, a condition), that row is split into
/// fields first and rules run in two passes: those that read nothing else, then those that do, so
/// they see the other columns' fake values.
pub struct RowRewriter {
    /// One slot per copied column, in COPY order.
    rules: Vec<Option<Arc<dyn Transformer>>>,
    names: Vec<String>,
    index: HashMap<String, usize>,
    /// Transformed columns in the order they run; empty when no rule reads the row.
    row_order: Vec<usize>,
    dialect: Dialect,
}

impl RowRewriter {
    pub fn new(columns: Vec<(String, Option<Arc<dyn Transformer>>)>) -> Self {
        let (names, rules): (Vec<String>, Vec<Option<Arc<dyn Transformer>>>) = columns.into_iter().unzip();
        let index = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let reads_row =
            |rule: &Option<Arc<dyn Transformer>>| rule.as_ref().is_some_and(|r| !r.reads_columns().is_empty());
        let row_order = if rules.iter().any(reads_row) {
            let plain = (0..rules.len()).filter(|&i| rules[i].is_some() && !reads_row(&rules[i]));
            let row_aware = (0..rules.len()).filter(|&i| reads_row(&rules[i]));
            plain.chain(row_aware).collect()
        } else {
            Vec::new()
        };
        RowRewriter {
            rules,
            names,
            index,
            row_order,
            dialect: Dialect::Postgres,
        }
    }

    /// Rows in `dialect`'s text format (PostgreSQL's by default).
    pub fn with_dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// True when no column is transformed: rows can be copied without looking inside them.
    pub fn is_passthrough(&self) -> bool {
        self.rules.iter().all(Option::is_none)
    }

    /// Appends the rewritten `line` (without its newline) plus a newline to `out`.
    pub fn rewrite(&self, line: &[u8], out: &mut Vec<u8>) -> Result<(), RewriteError> {
        if !self.row_order.is_empty() {
            return self.rewrite_with_row(line, out);
        }
        let expected = self.rules.len();
        let mut found = 0;
        for (index, field) in line.split(|&b| b == b'\t').enumerate() {
            found = index + 1;
            if index > 0 {
                out.push(b'\t');
            }
            match self.rules.get(index) {
                Some(Some(_)) if self.passes_through(field) => out.extend_from_slice(field),
                Some(Some(rule)) => {
                    let output = rule.transform(decode(field)).map_err(|e| self.error(index, e))?;
                    write_value_as(self.dialect, &output, out);
                }
                _ => out.extend_from_slice(field),
            }
        }
        if found != expected {
            return Err(RewriteError::FieldCount { expected, found });
        }
        out.push(b'\n');
        Ok(())
    }

    fn rewrite_with_row(&self, line: &[u8], out: &mut Vec<u8>) -> Result<(), RewriteError> {
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        if fields.len() != self.rules.len() {
            return Err(RewriteError::FieldCount {
                expected: self.rules.len(),
                found: fields.len(),
            });
        }
        let mut row = LineRow {
            fields: &fields,
            index: &self.index,
            transformed: vec![None; fields.len()],
        };
        for &i in &self.row_order {
            if self.passes_through(fields[i]) {
                continue;
            }
            let rule = self.rules[i].as_ref().expect("only transformed columns are ordered");
            let output = rule
                .transform_in_row(decode(fields[i]), &row)
                .map_err(|e| self.error(i, e))?;
            row.transformed[i] = Some(output.into_owned());
        }
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            match &row.transformed[i] {
                Some(value) => write_value_as(self.dialect, value, out),
                None => out.extend_from_slice(field),
            }
        }
        out.push(b'\n');
        Ok(())
    }

    /// MySQL's zero dates (`0000-00-00`, `0000-00-00 00:00:00[.000]`) are placeholders, not dates:
    /// no rule can read them, and they hold nothing personal, so they are kept as they are.
    fn passes_through(&self, field: &[u8]) -> bool {
        self.dialect == Dialect::Mysql
            && field.starts_with(b"0000-00-00")
            && field[10..].iter().all(|&b| matches!(b, b' ' | b'0' | b':' | b'.'))
    }

    fn error(&self, index: usize, source: transformers::TransformError) -> RewriteError {
        RewriteError::Transform {
            column: self.names[index].clone(),
            source,
        }
    }
}

/// A COPY text field as a transformer input: NULL, text, or bytes when it is not UTF-8.
fn decode(field: &[u8]) -> Value<'_> {
    match unescape(field) {
        None => Value::Null,
        Some(Cow::Borrowed(b)) => match std::str::from_utf8(b) {
            Ok(s) => Value::Text(Cow::Borrowed(s)),
            Err(_) => Value::Bytes(Cow::Borrowed(b)),
        },
        Some(Cow::Owned(b)) => match String::from_utf8(b) {
            Ok(s) => Value::Text(Cow::Owned(s)),
            Err(e) => Value::Bytes(Cow::Owned(e.into_bytes())),
        },
    }
}

/// One row split into fields, with the values transformed so far.
struct LineRow<'a> {
    fields: &'a [&'a [u8]],
    index: &'a HashMap<String, usize>,
    transformed: Vec<Option<Value<'static>>>,
}

impl Row for LineRow<'_> {
    fn original(&self, column: &str) -> Option<Value<'_>> {
        self.index.get(column).map(|&i| decode(self.fields[i]))
    }

    fn current(&self, column: &str) -> Option<Value<'_>> {
        let i = *self.index.get(column)?;
        Some(match &self.transformed[i] {
            Some(Value::Text(s)) => Value::Text(Cow::Borrowed(s.as_ref())),
            Some(other) => other.clone(),
            None => decode(self.fields[i]),
        })
    }
}

/// Writes a transformer's output as a COPY text field.
pub fn write_value(value: &Value<'_>, out: &mut Vec<u8>) {
    write_value_as(Dialect::Postgres, value, out)
}

/// Writes a transformer's output as a field of `dialect`'s text format.
pub fn write_value_as(dialect: Dialect, value: &Value<'_>, out: &mut Vec<u8>) {
    let escape = match dialect {
        Dialect::Postgres => escape_into,
        Dialect::Mysql => escape_mysql_into,
    };
    match value {
        Value::Null => out.extend_from_slice(NULL),
        Value::Bool(b) => out.extend_from_slice(match (dialect, b) {
            (Dialect::Postgres, true) => b"t",
            (Dialect::Postgres, false) => b"f",
            (Dialect::Mysql, true) => b"1",
            (Dialect::Mysql, false) => b"0",
        }),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Float(f) => out.extend_from_slice(f.to_string().as_bytes()),
        Value::Text(s) => escape(s.as_bytes(), out),
        Value::Bytes(b) => escape(b, out),
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
    fn mysql_escapes_round_trip_every_byte_and_leave_control_bytes_raw() {
        let all: Vec<u8> = (0..=255u8).collect();
        let mut out = Vec::new();
        escape_mysql_into(&all, &mut out);
        assert!(!out.contains(&b'\t') && !out.contains(&b'\n'));
        assert!(out.contains(&0x0c) && out.contains(&0), "form feed and NUL stay raw");
        assert_eq!(unescape(&out).unwrap().as_ref(), all.as_slice());
        let mut text = Vec::new();
        escape_mysql_into(b"\\N", &mut text);
        assert_eq!(text, b"\\\\N", "a literal backslash-N is not NULL");
        let mut b = Vec::new();
        write_value_as(Dialect::Mysql, &Value::Bool(true), &mut b);
        assert_eq!(b, b"1");
    }

    #[test]
    fn mysql_zero_dates_are_not_transformed() {
        struct Fails;
        impl Transformer for Fails {
            fn transform<'a>(&self, _: Value<'a>) -> Result<Value<'a>, transformers::TransformError> {
                Err(transformers::TransformError {
                    transformer: "test".into(),
                    message: "not a date".into(),
                })
            }
        }
        let rules: Vec<(String, Option<Arc<dyn Transformer>>)> = vec![("born".into(), Some(Arc::new(Fails)))];
        let rewriter = RowRewriter::new(rules).with_dialect(Dialect::Mysql);
        let mut out = Vec::new();
        rewriter.rewrite(b"0000-00-00 00:00:00.000", &mut out).unwrap();
        assert_eq!(out, b"0000-00-00 00:00:00.000\n");
        assert!(rewriter.rewrite(b"0000-00-00x", &mut Vec::new()).is_err());
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

    /// Joins the current values of two columns, like a template.
    struct Join(&'static str, &'static str);
    impl Transformer for Join {
        fn transform<'a>(&self, _: Value<'a>) -> Result<Value<'a>, transformers::TransformError> {
            unreachable!("row-aware")
        }
        fn reads_columns(&self) -> Vec<String> {
            vec![self.0.into(), self.1.into()]
        }
        fn transform_in_row<'a>(&self, _: Value<'a>, row: &dyn Row) -> Result<Value<'a>, transformers::TransformError> {
            let part = |c| match row.current(c) {
                Some(Value::Text(s)) => s.into_owned(),
                other => format!("{other:?}"),
            };
            let original = match row.original(self.0) {
                Some(Value::Text(s)) => s.into_owned(),
                _ => String::new(),
            };
            Ok(Value::Text(Cow::Owned(format!(
                "{}.{}<{original}>",
                part(self.0),
                part(self.1)
            ))))
        }
    }

    #[test]
    fn row_aware_rules_run_after_and_see_the_other_fakes() {
        // The template column comes first in the table, yet sees the transformed name.
        let rewriter = RowRewriter::new(vec![
            ("login".into(), Some(Arc::new(Join("name", "city")))),
            ("name".into(), Some(Arc::new(Upper))),
            ("city".into(), None),
        ]);
        let mut out = Vec::new();
        rewriter.rewrite(b"x\tj\\\\o\tParis", &mut out).unwrap();
        assert_eq!(out, b"J\\\\O.Paris<j\\\\o>\tJ\\\\O\tParis\n");
        let err = rewriter.rewrite(b"x\ty", &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("2 fields"), "{err}");
    }

    #[test]
    fn wrong_field_count_is_an_error() {
        let rewriter = RowRewriter::new(vec![("a".into(), Some(Arc::new(Upper)))]);
        let err = rewriter.rewrite(b"1\t2", &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("2 fields"), "{err}");
    }
}
