//! Loading a dump into PostgreSQL: scripts over the simple-query protocol and data with COPY FROM.

use bytes::Bytes;
use futures_util::{pin_mut, SinkExt, Stream, StreamExt};
use tokio_postgres::Client;

use super::connect::{quote_ident, quote_qualified};
use super::snapshot::Sequence;
use crate::error::describe_pg_error;
use crate::{ConnectorError, QualifiedName};

/// Runs a multi-statement SQL script (pg_dump's plain output). `what` names the script in errors.
pub async fn run_script(client: &Client, what: &str, script: &str) -> Result<(), ConnectorError> {
    client
        .batch_execute(script)
        .await
        .map_err(|e| ConnectorError::Tool(format!("{what} failed: {}", describe_pg_error(&e))))
}

/// Streams COPY text into a table. The load is all-or-nothing: when `data` yields an error (a chunk
/// fails its checksum, say) the COPY is abandoned and the server rolls the table's rows back.
pub async fn copy_in<S>(
    client: &Client,
    table: &QualifiedName,
    columns: &[String],
    data: S,
) -> Result<u64, ConnectorError>
where
    S: Stream<Item = Result<Bytes, ConnectorError>>,
{
    let column_list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "COPY {} ({}) FROM STDIN",
        quote_qualified(table),
        column_list.join(", ")
    );
    let describe = |e: tokio_postgres::Error| {
        ConnectorError::Tool(format!("loading table {table} failed: {}", describe_pg_error(&e)))
    };
    let sink = client.copy_in::<_, Bytes>(&sql).await.map_err(describe)?;
    pin_mut!(sink);
    pin_mut!(data);
    while let Some(chunk) = data.next().await {
        // Dropping the sink on error aborts the COPY.
        sink.feed(chunk?).await.map_err(describe)?;
    }
    sink.as_mut().finish().await.map_err(describe)
}

/// Sets every sequence to its value at dump time. A sequence that pg_dump left out with its table
/// (a table outside `only`) does not exist in the target and is passed over.
pub async fn set_sequences(client: &Client, sequences: &[Sequence]) -> Result<(), ConnectorError> {
    const SQL: &str = "SELECT pg_catalog.setval(to_regclass($1), $2, $3) WHERE to_regclass($1) IS NOT NULL";
    for seq in sequences {
        let name = quote_qualified(&QualifiedName::new(&seq.schema, &seq.name));
        client
            .execute(SQL, &[&name, &seq.last_value, &seq.is_called])
            .await
            .map_err(|e| {
                ConnectorError::Tool(format!(
                    "setting sequence {}.{} failed: {}",
                    seq.schema,
                    seq.name,
                    describe_pg_error(&e)
                ))
            })?;
    }
    Ok(())
}
