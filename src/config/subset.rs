//! The `subset:` section: which rows to keep, and how far to follow foreign keys from them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetConfig {
    /// Tables whose rows start the subset; at least one.
    pub roots: Vec<RootConfig>,
    /// Levels of children (rows referencing a kept row) followed down from root rows; 0 = none.
    #[serde(default = "default_depth")]
    pub depth: u32,
    /// At most this many children per parent row and foreign key (the ones with the smallest keyed
    /// hash, so the choice is deterministic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_children_per_row: Option<u32>,
    /// What happens to tables that no root reaches.
    #[serde(default)]
    pub disconnected: Disconnected,
    /// Kept-key sets beyond this size move to disk.
    #[serde(
        default = "default_memory_budget",
        deserialize_with = "crate::units::deserialize_bytes"
    )]
    pub memory_budget: u64,
    /// Relationships the schema does not declare, followed exactly like real foreign keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<VirtualForeignKey>,
    /// Per-table overrides.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, SubsetTableConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RootConfig {
    pub table: String,
    /// The exact share of rows (after `where`) to keep, chosen by a keyed hash of the primary key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// A SQL condition on the table's own columns.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<String>,
    /// At most this many rows, the first ones by `order_by`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// SQL `ORDER BY` list for `limit`; the primary key when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Disconnected {
    /// Kept whole (their parents are kept too, so their foreign keys still resolve).
    #[default]
    Keep,
    /// Restored empty.
    Empty,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualForeignKey {
    /// The referencing table.
    pub table: String,
    /// Its columns; `column->key->key` reads a value inside a json/jsonb column.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// The referenced columns; the referenced table's primary key when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_columns: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetTableConfig {
    /// Every row is kept (lookup tables); no children are followed from it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_all: bool,
    /// No row is kept; the table is restored empty. Tables referencing it must be excluded too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude: bool,
    /// A SQL condition rows must meet to enter as a root or a child. Rows that kept rows reference
    /// are kept regardless, so no foreign key dangles.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<String>,
}

fn default_depth() -> u32 {
    1
}

fn default_memory_budget() -> u64 {
    256 * 1024 * 1024
}
