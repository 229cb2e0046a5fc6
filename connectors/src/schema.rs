//! The engine-neutral schema model that planning, transforming and manifests work on.

use serde::{Deserialize, Serialize};
use transformers::ColumnKind;

/// `schema.table`; MySQL uses the database as the schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        QualifiedName {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    /// The engine's type as it would be written in DDL, e.g. `character varying(40)`.
    pub type_name: String,
    pub kind: ColumnKind,
    pub nullable: bool,
    /// Computed by the database (GENERATED ALWAYS AS ... STORED): never copied, recomputed on restore.
    pub generated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub referenced_table: QualifiedName,
    pub referenced_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: QualifiedName,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    /// Column sets with a UNIQUE constraint or unique index (the primary key included).
    pub unique: Vec<Vec<String>>,
    pub foreign_keys: Vec<ForeignKey>,
    /// The planner's estimate, for ordering work and for `decoy plan`.
    pub estimated_rows: i64,
    pub estimated_bytes: i64,
    /// For a partition: the partitioned table at the root of its tree.
    pub partition_root: Option<QualifiedName>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns that hold data in a dump (generated columns are recomputed by the database).
    pub fn stored_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.generated)
    }

    /// True when the column alone is a primary key or has a unique constraint/index.
    pub fn is_unique_column(&self, column: &str) -> bool {
        self.unique.iter().any(|set| set.len() == 1 && set[0] == column)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Tables that hold rows (partitions included, partitioned parents not).
    pub tables: Vec<Table>,
    /// Partitioned parents: no rows of their own, but config may name them for all their partitions.
    pub partitioned: Vec<QualifiedName>,
    /// The schema a config key without one means: PostgreSQL's `public` when empty, MySQL's
    /// database of the URL.
    pub default_schema: String,
}

impl Schema {
    pub fn table(&self, name: &QualifiedName) -> Option<&Table> {
        self.tables.iter().find(|t| &t.name == name)
    }
}
