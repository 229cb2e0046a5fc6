//! Applies the plan's rules to one BSON document, by field path. Untouched fields keep their bytes'
//! meaning, type and order; a collection without rules is never decoded at all.

use std::sync::Arc;

use bson::{Bson, Document};
use transformers::{Row, Transformer, Value};

use super::paths::FieldPath;
use super::values::{from_value, to_value};

pub struct DocumentRewriter {
    /// Rules that read only their own value first, then those that read other fields (templates,
    /// `when` conditions), so those see the fakes.
    rules: Vec<(FieldPath, Arc<dyn Transformer>)>,
    reads_others: bool,
}

impl DocumentRewriter {
    pub fn new(rules: Vec<(FieldPath, Arc<dyn Transformer>)>) -> DocumentRewriter {
        let mut rules = rules;
        rules.sort_by_key(|(_, t)| !t.reads_columns().is_empty());
        let reads_others = rules.iter().any(|(_, t)| !t.reads_columns().is_empty());
        DocumentRewriter { rules, reads_others }
    }

    pub fn is_passthrough(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rewrites one document (its raw BSON bytes) and appends the result to `out`.
    pub fn rewrite(&self, raw: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let mut doc = Document::from_reader(&mut &raw[..]).map_err(|e| format!("a document is not valid BSON: {e}"))?;
        self.rewrite_document(&mut doc)?;
        doc.to_writer(out)
            .map_err(|e| format!("a rewritten document cannot be encoded: {e}"))
    }

    pub fn rewrite_document(&self, doc: &mut Document) -> Result<(), String> {
        let original = if self.reads_others { Some(doc.clone()) } else { None };
        for (path, transformer) in &self.rules {
            let fail = |message: String, doc: &Document| {
                let id = doc.get("_id").map(|v| v.to_string()).unwrap_or_else(|| "?".into());
                format!("field `{path}` of the document with _id {id}: {message}")
            };
            if transformer.reads_columns().is_empty() {
                let result = path.for_each_mut(doc, &mut |value: &mut Bson| -> Result<(), String> {
                    let input = to_value(value)?;
                    let output = transformer.transform(input).map_err(|e| e.to_string())?.into_owned();
                    *value = from_value(output, value)?;
                    Ok(())
                });
                if let Err(message) = result {
                    return Err(fail(message, doc));
                }
                continue;
            }
            let row = DocumentRow {
                original: original.as_ref().expect("cloned when a rule reads other fields"),
                current: doc,
            };
            let mut outputs = Vec::new();
            for value in path.values(doc) {
                let input = to_value(value).map_err(|m| fail(m, doc))?;
                let output = transformer
                    .transform_in_row(input, &row)
                    .map_err(|e| fail(e.to_string(), doc))?
                    .into_owned();
                outputs.push(from_value(output, value).map_err(|m| fail(m, doc))?);
            }
            let mut outputs = outputs.into_iter();
            path.for_each_mut(doc, &mut |value: &mut Bson| -> Result<(), String> {
                if let Some(new) = outputs.next() {
                    *value = new;
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

/// A document as the row a template or a `when` condition reads: a field path names a column.
struct DocumentRow<'a> {
    original: &'a Document,
    current: &'a Document,
}

fn first<'d>(doc: &'d Document, column: &str) -> Option<Value<'d>> {
    let path = FieldPath::parse(column).ok()?;
    let value = path.values(doc).into_iter().next()?;
    to_value(value).ok()
}

impl Row for DocumentRow<'_> {
    fn original(&self, column: &str) -> Option<Value<'_>> {
        first(self.original, column).or(Some(Value::Null))
    }

    fn current(&self, column: &str) -> Option<Value<'_>> {
        first(self.current, column).or(Some(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use transformers::TransformError;

    struct Upper;
    impl Transformer for Upper {
        fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
            Ok(match value {
                Value::Text(t) => Value::text(t.to_uppercase()),
                Value::Int(i) => Value::Int(i + 1),
                other => other,
            })
        }
    }

    #[test]
    fn only_the_named_paths_change() {
        let rewriter = DocumentRewriter::new(vec![
            (
                FieldPath::parse("contacts[].email").unwrap(),
                Arc::new(Upper) as Arc<dyn Transformer>,
            ),
            (FieldPath::parse("n").unwrap(), Arc::new(Upper)),
            (FieldPath::parse("missing.path").unwrap(), Arc::new(Upper)),
        ]);
        let mut raw = Vec::new();
        let input = doc! { "_id": 1, "n": 41_i32, "contacts": [{"email": "a@b"}, {"email": null}], "z": "keep" };
        input.to_writer(&mut raw).unwrap();
        let mut out = Vec::new();
        rewriter.rewrite(&raw, &mut out).unwrap();
        let got = Document::from_reader(&mut &out[..]).unwrap();
        assert_eq!(
            got,
            doc! { "_id": 1, "n": 42_i32, "contacts": [{"email": "A@B"}, {"email": null}], "z": "keep" }
        );
        assert!(matches!(got.get("n"), Some(Bson::Int32(42))), "int32 stays int32");
    }
}
