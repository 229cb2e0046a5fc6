//! Loading a dump into MySQL/MariaDB: scripts as multi-statement text, data with
//! `LOAD DATA LOCAL INFILE` streamed from the chunks (no file is written).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::connect::{describe_error, quote_ident};
use super::text::{load_targets, FieldCodec};
use crate::ConnectorError;

/// Runs a script of `;`-separated statements. `what` names it in errors.
pub async fn run_script(conn: &mut Conn, what: &str, script: &str) -> Result<(), ConnectorError> {
    if script.trim().is_empty() {
        return Ok(());
    }
    conn.query_drop(script)
        .await
        .map_err(|e| ConnectorError::Tool(format!("{what} failed: {}", describe_error(&e))))
}

/// Streams LOAD DATA text into `table` (in the connection's database) in one transaction: when
/// `data` yields an error (a chunk fails its checksum, say) nothing of the table is kept. Values
/// the column cannot hold are errors (strict mode), not silent truncations. Returns the rows loaded.
pub async fn load_data<S>(
    conn: &mut Conn,
    table: &str,
    columns: &[(String, FieldCodec)],
    data: S,
) -> Result<u64, ConnectorError>
where
    S: Stream<Item = Result<Bytes, ConnectorError>> + Send + 'static,
{
    let describe =
        |e: mysql_async::Error| ConnectorError::Tool(format!("loading table {table} failed: {}", describe_error(&e)));
    let (targets, set) = load_targets(columns);
    let sql = format!(
        "LOAD DATA LOCAL INFILE 'decoy-chunks' INTO TABLE {} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({targets}){set}",
        quote_ident(table)
    );
    // The first error the chunks gave, kept apart: the driver only says the stream stopped.
    let failure = std::sync::Arc::new(std::sync::Mutex::new(None::<ConnectorError>));
    let seen = failure.clone();
    // The driver wants a Sync future; the stream is moved out of a mutex when the server asks for it.
    let data = std::sync::Mutex::new(Some(data));
    conn.query_drop(
        "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION', \
         foreign_key_checks = 0, unique_checks = 0; START TRANSACTION",
    )
    .await
    .map_err(describe)?;
    conn.set_infile_handler(async move {
        let data = data
            .lock()
            .expect("not poisoned")
            .take()
            .expect("the server asks for the file once");
        Ok(data
            .map(move |item| {
                item.map_err(|e| {
                    let message = e.to_string();
                    *seen.lock().expect("not poisoned") = Some(e);
                    std::io::Error::other(message)
                })
            })
            .boxed())
    });
    let loaded = conn.query_drop(&sql).await;
    let rows = conn.affected_rows();
    if let Err(e) = loaded {
        let _ = conn.query_drop("ROLLBACK").await;
        if let Some(cause) = failure.lock().expect("not poisoned").take() {
            return Err(cause);
        }
        return Err(describe(e));
    }
    conn.query_drop("COMMIT").await.map_err(describe)?;
    Ok(rows)
}
