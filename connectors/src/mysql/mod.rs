//! MySQL and MariaDB: consistent-snapshot reads streamed as LOAD DATA text, schema from
//! `SHOW CREATE TABLE`, and restores with `LOAD DATA LOCAL INFILE`.

mod connect;
pub mod ddl;
pub mod introspect;
mod load;
mod snapshot;
pub mod text;

pub use connect::{connect, describe_error, quote_ident, MyUrl};
pub use load::{dangling_rows, foreign_key_checks, load_data, run_script, ForeignKeyCheck};
pub use snapshot::{Snapshot, Worker};
