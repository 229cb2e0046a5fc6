//! The dump format: a manifest (the commit point), schema scripts, and data chunks.

mod chunk;
mod manifest;
mod names;

pub use chunk::{read_chunk, read_chunk_verified, ChunkWriter, FRAME_BYTES};
pub use manifest::{
    ChunkManifest, ColumnManifest, FileManifest, Manifest, ReasonCount, SchemaManifest, SourceManifest, SubsetManifest,
    SubsetTableManifest, TableManifest, Totals, TransformedColumn, FORMAT_VERSION,
};
pub use names::{chunk_key, new_dump_name, resolve, validate_name};

/// The file whose presence makes a dump complete. Always written last.
pub const MANIFEST: &str = "manifest.json";
