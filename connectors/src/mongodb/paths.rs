//! Field paths into documents: `email`, `address.street`, `contacts[].email`, `tags[]`.
//!
//! A segment followed by `[]` is an array whose elements the rest of the path applies to. Arrays met
//! without `[]` in the middle of a path are walked as well (as MongoDB's own queries do), so
//! `contacts.email` and `contacts[].email` name the same values; only at the end does `[]` matter:
//! `tags[]` is every element, `tags` the whole array (as JSON text, for the json transformers).

use bson::{Bson, Document};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Segment {
    name: String,
    /// Written with `[]`: the value is an array and the path goes on inside each element.
    each: bool,
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl FieldPath {
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        let mut segments = Vec::new();
        for part in text.split('.') {
            let (name, each) = match part.strip_suffix("[]") {
                Some(name) => (name, true),
                None => (part, false),
            };
            if name.is_empty() {
                return Err(format!(
                    "`{text}` has an empty field name; write paths like `address.street` or `contacts[].email`"
                ));
            }
            if name.starts_with('$') || name.contains(['[', ']']) {
                return Err(format!(
                    "`{text}`: `{part}` is not a field name (no `$` prefix; `[]` only at a name's end)"
                ));
            }
            segments.push(Segment {
                name: name.to_string(),
                each,
            });
        }
        Ok(FieldPath {
            text: text.to_string(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The top-level field the path starts in.
    pub fn root(&self) -> &str {
        &self.segments[0].name
    }

    /// Every value the path names in `doc`, in document order. Missing fields give nothing.
    pub fn values<'d>(&self, doc: &'d Document) -> Vec<&'d Bson> {
        let mut out = Vec::new();
        if let Some(value) = doc.get(&self.segments[0].name) {
            collect(value, &self.segments, 0, &mut out);
        }
        out
    }

    /// Calls `f` on every value the path names, in the same order as [`FieldPath::values`].
    pub fn for_each_mut<E>(&self, doc: &mut Document, f: &mut dyn FnMut(&mut Bson) -> Result<(), E>) -> Result<(), E> {
        match doc.get_mut(&self.segments[0].name) {
            Some(value) => visit_mut(value, &self.segments, 0, f),
            None => Ok(()),
        }
    }
}

fn collect<'d>(value: &'d Bson, segments: &[Segment], at: usize, out: &mut Vec<&'d Bson>) {
    let segment = &segments[at];
    let last = at + 1 == segments.len();
    match value {
        Bson::Array(items) if segment.each => {
            for item in items {
                if last {
                    out.push(item);
                } else {
                    step(item, segments, at, out);
                }
            }
        }
        _ if last => out.push(value),
        _ => step(value, segments, at, out),
    }
}

/// From the value of `segments[at]` into the next segment.
fn step<'d>(value: &'d Bson, segments: &[Segment], at: usize, out: &mut Vec<&'d Bson>) {
    match value {
        Bson::Document(doc) => {
            if let Some(next) = doc.get(&segments[at + 1].name) {
                collect(next, segments, at + 1, out);
            }
        }
        Bson::Array(items) => {
            for item in items {
                step(item, segments, at, out);
            }
        }
        _ => {}
    }
}

fn visit_mut<E>(
    value: &mut Bson,
    segments: &[Segment],
    at: usize,
    f: &mut dyn FnMut(&mut Bson) -> Result<(), E>,
) -> Result<(), E> {
    let segment = &segments[at];
    let last = at + 1 == segments.len();
    match value {
        Bson::Array(items) if segment.each => {
            for item in items {
                if last {
                    f(item)?;
                } else {
                    step_mut(item, segments, at, f)?;
                }
            }
            Ok(())
        }
        _ if last => f(value),
        _ => step_mut(value, segments, at, f),
    }
}

fn step_mut<E>(
    value: &mut Bson,
    segments: &[Segment],
    at: usize,
    f: &mut dyn FnMut(&mut Bson) -> Result<(), E>,
) -> Result<(), E> {
    match value {
        Bson::Document(doc) => match doc.get_mut(&segments[at + 1].name) {
            Some(next) => visit_mut(next, segments, at + 1, f),
            None => Ok(()),
        },
        Bson::Array(items) => {
            for item in items {
                step_mut(item, segments, at, f)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Every leaf path of a document with the BSON type found there, for introspection: subdocuments
/// are walked (`address.street`), arrays become `name[]` (`contacts[].email`, `tags[]`).
pub fn leaves(doc: &Document, out: &mut dyn FnMut(&str, &Bson)) {
    let mut prefix = String::new();
    for (key, value) in doc {
        walk(&mut prefix, key, value, out);
    }
}

fn walk(prefix: &mut String, key: &str, value: &Bson, out: &mut dyn FnMut(&str, &Bson)) {
    let before = prefix.len();
    if !prefix.is_empty() {
        prefix.push('.');
    }
    prefix.push_str(key);
    match value {
        Bson::Document(doc) if !doc.is_empty() => {
            for (k, v) in doc {
                walk(prefix, k, v, out);
            }
        }
        Bson::Array(items) if !items.is_empty() => {
            prefix.push_str("[]");
            for item in items {
                match item {
                    Bson::Document(doc) if !doc.is_empty() => {
                        for (k, v) in doc {
                            walk(prefix, k, v, out);
                        }
                    }
                    // Arrays of arrays are rare: the inner array is one leaf.
                    other => out(prefix, other),
                }
            }
        }
        other => out(prefix, other),
    }
    prefix.truncate(before);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn sample() -> Document {
        doc! {
            "_id": 1,
            "email": "a@x.io",
            "address": { "street": "1 Main St", "geo": { "lat": 1.5 } },
            "contacts": [ { "email": "b@x.io" }, { "phone": "1" }, { "email": "c@x.io" } ],
            "tags": ["x", "y"],
            "matrix": [[1, 2]],
        }
    }

    #[test]
    fn paths_name_nested_fields_and_array_elements() {
        let d = sample();
        let texts = |p: &str| -> Vec<String> {
            FieldPath::parse(p)
                .unwrap()
                .values(&d)
                .iter()
                .map(|v| v.to_string())
                .collect()
        };
        assert_eq!(texts("address.street"), ["\"1 Main St\""]);
        assert_eq!(texts("address.geo.lat"), ["1.5"]);
        assert_eq!(texts("contacts[].email"), ["\"b@x.io\"", "\"c@x.io\""]);
        assert_eq!(texts("contacts.email"), texts("contacts[].email"));
        assert_eq!(texts("tags[]"), ["\"x\"", "\"y\""]);
        assert_eq!(texts("tags").len(), 1, "the whole array");
        assert!(texts("nope.deeper").is_empty());
        assert!(texts("email.deeper").is_empty(), "a scalar has no fields");
    }

    #[test]
    fn mutation_reaches_the_same_values_and_nothing_else() {
        let mut d = sample();
        let mut n = 0;
        FieldPath::parse("contacts[].email")
            .unwrap()
            .for_each_mut(&mut d, &mut |v: &mut Bson| -> Result<(), ()> {
                n += 1;
                *v = Bson::String(format!("fake{n}"));
                Ok(())
            })
            .unwrap();
        assert_eq!(
            d.get_array("contacts").unwrap(),
            &vec![
                Bson::Document(doc! {"email": "fake1"}),
                Bson::Document(doc! {"phone": "1"}),
                Bson::Document(doc! {"email": "fake2"})
            ]
        );
        let keys: Vec<&String> = d.keys().collect();
        assert_eq!(
            keys,
            ["_id", "email", "address", "contacts", "tags", "matrix"],
            "field order kept"
        );
    }

    #[test]
    fn leaves_list_every_path_once_per_value() {
        let mut seen = Vec::new();
        leaves(&sample(), &mut |p, _| seen.push(p.to_string()));
        seen.dedup();
        assert_eq!(
            seen,
            [
                "_id",
                "email",
                "address.street",
                "address.geo.lat",
                "contacts[].email",
                "contacts[].phone",
                "contacts[].email",
                "tags[]",
                "matrix[]"
            ]
        );
    }

    #[test]
    fn bad_paths_are_explained() {
        assert!(FieldPath::parse("a..b").unwrap_err().contains("empty field name"));
        assert!(FieldPath::parse("$where").unwrap_err().contains("not a field name"));
        assert!(FieldPath::parse("a[0].b").unwrap_err().contains("not a field name"));
    }
}
