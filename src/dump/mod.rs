//! The dump format: a manifest (the commit point), schema scripts, and data chunks.

mod catalog;
mod chunk;
mod manifest;
mod marker;
mod names;
mod writer;

pub use catalog::{list, resolve, unknown_dump, Status};
pub use chunk::{read_chunk, read_chunk_verified, ChunkWriter, FRAME_BYTES};
pub use manifest::{
    ChunkManifest, ColumnManifest, FileManifest, Manifest, ReasonCount, SchemaManifest, SourceManifest, SubsetManifest,
    SubsetTableManifest, TableManifest, Totals, TransformedColumn, FORMAT_VERSION,
};
pub use marker::{random_hex, CLAIM_PREFIX};
pub use names::{chunk_key, new_dump_name, validate_name};
pub use writer::{abandon, delete, ensure_free, DumpWriter};

/// The file whose presence makes a dump complete. Always written last.
pub const MANIFEST: &str = "manifest.json";
