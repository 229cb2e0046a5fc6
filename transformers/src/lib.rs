//! decoy's transformers: the value model, the keyed deterministic engine, the registry that turns a
//! rule from the config (a name plus YAML options) into a transformer, and the catalogue.
//!
//! This crate knows nothing about databases: connectors describe a column with [`ColumnSpec`] and hand
//! values over as [`Value`].

mod column;
mod engine;
mod error;
mod fpe;
mod registry;
mod value;

pub mod catalogue;

pub use column::{ColumnKind, ColumnSpec};
pub use engine::{Engine, Mode};
pub use error::{BuildError, TransformError};
pub use registry::{build, catalogue_info, OptionInfo, TransformerInfo};
pub use value::Value;

/// A transformer turns one value of a column into its fake counterpart.
///
/// Implementations are built once per column by [`build`] and then called for every row, from many
/// threads at once, so they must be cheap to call and free of interior locking.
pub trait Transformer: Send + Sync {
    /// Transforms one value. `Value::Null` comes in for SQL NULL; transformers keep NULL as NULL
    /// unless their purpose is to produce values (for example `constant`).
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError>;
}
