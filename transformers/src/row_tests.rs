//! A simple in-memory [`Row`] for tests of row-aware transformers.
#![allow(dead_code)] // helpers for tests of row-aware transformers; not every test binary uses all of them

use std::collections::HashMap;

use crate::{Row, Value};

/// Columns by name, with optional transformed values.
#[derive(Default)]
pub(crate) struct TestRow {
    pub original: HashMap<String, Option<String>>,
    pub current: HashMap<String, Option<String>>,
}

impl TestRow {
    pub(crate) fn with(columns: &[(&str, Option<&str>)]) -> Self {
        let original: HashMap<String, Option<String>> = columns
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect();
        TestRow {
            current: original.clone(),
            original,
        }
    }
}

fn get<'a>(map: &'a HashMap<String, Option<String>>, column: &str) -> Option<Value<'a>> {
    map.get(column).map(|v| match v {
        Some(s) => Value::text(s.as_str()),
        None => Value::Null,
    })
}

impl Row for TestRow {
    fn original(&self, column: &str) -> Option<Value<'_>> {
        get(&self.original, column)
    }
    fn current(&self, column: &str) -> Option<Value<'_>> {
        get(&self.current, column)
    }
}
