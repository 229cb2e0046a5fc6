//! decoy's transformers: the value model, the keyed deterministic engine, the registry that turns a
//! rule from the config (a name plus YAML options) into a transformer, and the catalogue.
//!
//! This crate knows nothing about databases: connectors describe a column with [`ColumnSpec`] and hand
//! values over as [`Value`].

mod column;
mod condition;
mod engine;
mod error;
mod fpe;
mod registry;
mod value;

pub mod catalogue;

pub use column::{ColumnKind, ColumnSpec};
pub use condition::{wildcard_match, Cases, Condition};
pub use engine::{Engine, Mode};
pub use error::{BuildError, TransformError};
pub use registry::{build, catalogue_info, OptionInfo, TransformerInfo};
pub use value::Value;

#[cfg(test)]
mod row_tests;

/// Check digits, shared with decoy's detection of personal data in kept columns.
pub mod checksum {
    /// True when the last of these digits (each 0-9) is the Luhn check digit of the others.
    pub fn luhn_valid(digits: &[u8]) -> bool {
        crate::catalogue::finance::luhn_valid(digits)
    }

    /// True when a compact IBAN (no spaces) has valid ISO 13616 mod-97 check digits.
    pub fn iban_valid(compact: &[u8]) -> bool {
        crate::catalogue::finance::iban_mod97(compact) == 1
    }
}

/// A transformer turns one value of a column into its fake counterpart.
///
/// Implementations are built once per column by [`build`] and then called for every row, from many
/// threads at once, so they must be cheap to call and free of interior locking.
pub trait Transformer: Send + Sync {
    /// Transforms one value. `Value::Null` comes in for SQL NULL; transformers keep NULL as NULL
    /// unless their purpose is to produce values (for example `constant`).
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError>;

    /// Other columns of the same row this transformer reads (a template's placeholders, a gender
    /// column). The plan checks they exist; the pipeline decodes them only when some rule asks.
    fn reads_columns(&self) -> Vec<String> {
        Vec::new()
    }

    /// Transforms with the rest of the row at hand. Transformers that read other columns override
    /// this; the default ignores the row.
    fn transform_in_row<'a>(&self, value: Value<'a>, row: &dyn Row) -> Result<Value<'a>, TransformError> {
        let _ = row;
        self.transform(value)
    }
}

/// The row a value belongs to, by column name, for rules that depend on other columns.
pub trait Row {
    /// The column's value as read from the source (`None` for a column the table does not have).
    fn original(&self, column: &str) -> Option<Value<'_>>;
    /// The column's value as it will be written: already transformed when that column has a rule.
    /// Rules that read other columns run after every rule that does not, so a template sees the
    /// fake first and last names, not the real ones.
    fn current(&self, column: &str) -> Option<Value<'_>>;
}
