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

/// A query that finds a row breaking one foreign key: a referencing row, all of whose key columns
/// are set (MySQL checks no key with a NULL part), with no referenced row.
#[derive(Debug, Clone)]
pub struct ForeignKeyCheck {
    pub table: String,
    pub name: String,
    pub referenced: String,
    pub sql: String,
}

/// One check per foreign key of `database`, read from information_schema.
pub async fn foreign_key_checks(conn: &mut Conn, database: &str) -> Result<Vec<ForeignKeyCheck>, ConnectorError> {
    type Part = (String, String, String, String, String, String);
    let parts: Vec<Part> = conn
        .exec(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, \
             REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
            (database,),
        )
        .await
        .map_err(|e| {
            ConnectorError::Tool(format!(
                "listing the foreign keys of {database} failed: {}",
                describe_error(&e)
            ))
        })?;
    let mut checks: Vec<(ForeignKeyCheck, Vec<(String, String)>)> = Vec::new();
    for (table, name, column, ref_schema, ref_table, ref_column) in parts {
        let same = checks.last().is_some_and(|(c, _)| c.table == table && c.name == name);
        if !same {
            let referenced = if ref_schema == database {
                quote_ident(&ref_table)
            } else {
                format!("{}.{}", quote_ident(&ref_schema), quote_ident(&ref_table))
            };
            checks.push((
                ForeignKeyCheck {
                    table,
                    name,
                    referenced,
                    sql: String::new(),
                },
                Vec::new(),
            ));
        }
        checks.last_mut().expect("pushed above").1.push((column, ref_column));
    }
    Ok(checks
        .into_iter()
        .map(|(mut check, columns)| {
            let set: Vec<String> = columns
                .iter()
                .map(|(c, _)| format!("c.{} IS NOT NULL", quote_ident(c)))
                .collect();
            let join: Vec<String> = columns
                .iter()
                .map(|(c, r)| format!("p.{} = c.{}", quote_ident(r), quote_ident(c)))
                .collect();
            check.sql = format!(
                "SELECT COUNT(*) FROM {} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {})",
                quote_ident(&check.table),
                set.join(" AND "),
                check.referenced,
                join.join(" AND ")
            );
            check
        })
        .collect())
}

/// Rows breaking `check` (0 when the key holds).
pub async fn dangling_rows(conn: &mut Conn, check: &ForeignKeyCheck) -> Result<u64, ConnectorError> {
    let count: Option<u64> = conn.query_first(check.sql.as_str()).await.map_err(|e| {
        ConnectorError::Tool(format!(
            "checking foreign key {} of table {} failed: {}",
            check.name,
            check.table,
            describe_error(&e)
        ))
    })?;
    Ok(count.unwrap_or(0))
}
