//! PostgreSQL: connect, export one snapshot, introspect, stream tables with COPY, dump the schema with
//! `pg_dump`, and load a dump back with COPY FROM.

mod connect;
pub mod copy_text;
mod introspect;
mod key_scan;
mod pg_dump;
mod post_data;
mod restore;
mod snapshot;
mod tls;

pub use connect::{connect, quote_ident, quote_qualified, PgUrl};
pub use introspect::{column_kind, introspect};
pub use key_scan::{KeyExpr, KeyQuery};
pub use pg_dump::{dump_schema, newest_installed_pg_dump, SchemaFilter, SchemaScripts};
pub use post_data::{clean_script, PostData};
pub use restore::{copy_in, run_script, set_sequences};
pub use snapshot::{Sequence, Snapshot, SnapshotWorker};
