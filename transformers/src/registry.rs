//! Turns a rule (name + options) into a transformer, and lists the catalogue.

use std::sync::Arc;

use serde::Serialize;

use crate::catalogue::{Ctx, ENTRIES};
use crate::{BuildError, ColumnSpec, Engine, Transformer};

/// One transformer as `decoy transformer list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TransformerInfo {
    pub name: &'static str,
    pub description: &'static str,
    /// Whether it can run on a unique column (possibly after switching to its unique variant).
    pub unique_safe: bool,
    pub options: Vec<OptionInfo>,
    /// A YAML column rule using it.
    pub example: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct OptionInfo {
    pub name: &'static str,
    pub kind: &'static str,
    pub default: &'static str,
    pub description: &'static str,
}

/// Builds the transformer `name` for `column`. `options` is `Null` or a JSON object of the rule's
/// options (without the `transformer` key). All validation happens here, before any data moves.
pub fn build(
    name: &str,
    options: &serde_json::Value,
    column: &ColumnSpec,
    engine: &Engine,
) -> Result<Arc<dyn Transformer>, BuildError> {
    let entry = ENTRIES
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| BuildError::UnknownTransformer { name: name.to_string() })?;
    (entry.build)(&Ctx {
        name: entry.name,
        options,
        column,
        engine,
    })
}

/// Every transformer with its options, for `decoy transformer list`.
pub fn catalogue_info() -> Vec<TransformerInfo> {
    ENTRIES.iter().map(|e| (e.info)()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil;
    use serde_json::json;

    #[test]
    fn catalogue_and_build_agree() {
        let info = catalogue_info();
        let names: Vec<&str> = crate::catalogue::names().collect();
        assert_eq!(info.iter().map(|i| i.name).collect::<Vec<_>>(), names);
        for i in &info {
            assert!(!i.description.is_empty() && i.example.contains(i.name), "{}", i.name);
            let err = testutil::build_on(i.name, json!({"definitely_not_an_option": 1}), &ColumnSpec::text("t.c"));
            assert!(
                matches!(&err, Err(BuildError::BadOption { message, .. }) if message.contains("definitely_not_an_option")),
                "{}: {:?}",
                i.name,
                err.err()
            );
        }
        let unknown = testutil::build_on("nope", json!(null), &ColumnSpec::text("t.c"));
        assert!(matches!(unknown, Err(BuildError::UnknownTransformer { .. })));
    }

    #[test]
    fn examples_build() {
        // Each example is a YAML column rule (`column: { transformer: name, ...options }`) as a
        // config file would hold it; its options must be accepted by the builder.
        for i in catalogue_info() {
            let rule: serde_json::Value =
                serde_norway::from_str(i.example).unwrap_or_else(|e| panic!("example of {} is not YAML: {e}", i.name));
            let rule = rule
                .as_object()
                .filter(|r| r.len() == 1)
                .unwrap_or_else(|| panic!("example of {} must be one `column: {{ ... }}` mapping", i.name));
            let mut options = match rule.values().next() {
                Some(serde_json::Value::Object(o)) => o.clone(),
                other => panic!("example of {}: expected a mapping, got {other:?}", i.name),
            };
            assert_eq!(options.remove("transformer"), Some(json!(i.name)));
            testutil::build_on(i.name, serde_json::Value::Object(options), &ColumnSpec::text("t.c"))
                .unwrap_or_else(|e| panic!("example of {}: {e}", i.name));
        }
    }

    #[test]
    fn non_mapping_options_rejected() {
        let err = testutil::build_on("hash", json!("x"), &ColumnSpec::text("t.c"));
        assert!(matches!(err, Err(BuildError::BadOption { .. })));
    }

    #[test]
    fn info_serializes() {
        let s = serde_json::to_string(&catalogue_info()).unwrap();
        assert!(s.contains("\"unique_safe\""));
    }
}
