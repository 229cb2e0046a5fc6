//! decoy's connectors: the engine-neutral schema model and one module per database engine.
//!
//! Connectors stream rows in the engine's native bulk format and know nothing about dumps or storage;
//! the `decoy` crate composes them with transformers and datastores.

pub mod dumpfile;
pub mod error;
pub mod mongodb;
pub mod mysql;
pub mod postgres;
pub mod range;
pub mod schema;
pub mod url;

pub use error::ConnectorError;
pub use range::ReadRange;
pub use schema::{Column, ForeignKey, QualifiedName, Schema, Table};
