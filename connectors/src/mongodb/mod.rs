//! MongoDB through the official driver: documents stream as raw BSON, and only the fields a rule
//! names are decoded and rewritten (see [`document`]). Tables and columns of the engine-neutral
//! schema are collections and field paths here, so one config style serves every engine.

mod connect;
pub mod document;
pub mod paths;
pub mod read;
pub mod values;
pub mod write;

pub use connect::{connect, describe_error, MongoUrl};
pub use read::{CollectionSpec, Snapshot, Worker};
