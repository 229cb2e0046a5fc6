//! One consistent point in time for the whole dump: the coordinator exports a snapshot and keeps its
//! transaction open; every worker connection and `pg_dump` import it.

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use tokio_postgres::Client;

use super::connect::{connect, quote_ident, quote_qualified, PgUrl};
use crate::error::describe_pg_error;
use crate::{ConnectorError, QualifiedName, ReadRange};

pub struct Snapshot {
    url: PgUrl,
    /// Holds the exporting transaction open: the snapshot is valid only while it lives.
    coordinator: Client,
    id: String,
    server_version: String,
}

/// A sequence's state at snapshot time, applied with `setval` after a restore.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    pub last_value: i64,
    pub is_called: bool,
}

impl Snapshot {
    pub async fn export(url: &PgUrl) -> Result<Self, ConnectorError> {
        let coordinator = connect(url).await?;
        coordinator
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(|e| {
                ConnectorError::Tool(format!(
                    "cannot start a snapshot transaction: {}",
                    describe_pg_error(&e)
                ))
            })?;
        let row = coordinator
            .query_one("SELECT pg_export_snapshot(), current_setting('server_version')", &[])
            .await
            .map_err(|e| ConnectorError::Tool(format!("cannot export a snapshot: {}", describe_pg_error(&e))))?;
        Ok(Snapshot {
            url: url.clone(),
            coordinator,
            id: row.get(0),
            server_version: row.get(1),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    pub fn url(&self) -> &PgUrl {
        &self.url
    }

    /// The coordinator's own connection, inside the snapshot (for introspection).
    pub fn client(&self) -> &Client {
        &self.coordinator
    }

    /// Opens a new connection that sees exactly the snapshot's data.
    pub async fn worker(&self) -> Result<SnapshotWorker, ConnectorError> {
        let client = connect(&self.url).await?;
        let sql = format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '{}'",
            self.id.replace('\'', "''")
        );
        client.batch_execute(&sql).await.map_err(|e| {
            ConnectorError::Tool(format!("cannot import snapshot {}: {}", self.id, describe_pg_error(&e)))
        })?;
        Ok(SnapshotWorker { client })
    }

    /// Every sequence's current value. Sequences are not transactional, so this is read as close to
    /// the snapshot as possible (right after the export), like pg_dump does.
    pub async fn sequences(&self, schemas: &[String]) -> Result<Vec<Sequence>, ConnectorError> {
        let rows = self
            .coordinator
            .query(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind = 'S' AND n.nspname = ANY($1) ORDER BY 1, 2",
                &[&schemas],
            )
            .await
            .map_err(ConnectorError::query("listing sequences"))?;
        let mut sequences = Vec::with_capacity(rows.len());
        for row in rows {
            let name = QualifiedName::new(row.get::<_, String>(0), row.get::<_, String>(1));
            let state = self
                .coordinator
                .query_one(
                    &format!("SELECT last_value, is_called FROM {}", quote_qualified(&name)),
                    &[],
                )
                .await
                .map_err(ConnectorError::query(format!("reading sequence {name}")))?;
            sequences.push(Sequence {
                schema: name.schema,
                name: name.name,
                last_value: state.get(0),
                is_called: state.get(1),
            });
        }
        Ok(sequences)
    }
}

impl Snapshot {
    /// The heap pages of `table` when it can be read in page ranges: an ordinary table on
    /// PostgreSQL 14 or later (older servers have no TID range scan, so every range would read the
    /// whole table). Rows the snapshot sees are on pages that existed when it was taken, and the
    /// last range is open-ended, so pages added since are still read (and their rows skipped).
    pub async fn page_count(&self, table: &QualifiedName) -> Result<Option<u64>, ConnectorError> {
        let row = self
            .coordinator
            .query_one(
                "SELECT CASE WHEN c.relkind = 'r' AND current_setting('server_version_num')::int >= 140000 \
                 THEN pg_relation_size(c.oid) / current_setting('block_size')::int8 END \
                 FROM pg_class c WHERE c.oid = $1::text::regclass",
                &[&quote_qualified(table)],
            )
            .await
            .map_err(ConnectorError::query(format!("measuring table {table}")))?;
        Ok(row.get::<_, Option<i64>>(0).map(|pages| pages.max(0) as u64))
    }
}

impl Snapshot {
    /// Up to `limit` rows of `columns` in COPY text format, for `decoy plan` and `decoy validate`.
    pub async fn sample(
        &self,
        table: &QualifiedName,
        columns: &[&str],
        limit: usize,
    ) -> Result<Vec<u8>, ConnectorError> {
        let column_list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let sql = format!(
            "COPY (SELECT {} FROM {} LIMIT {limit}) TO STDOUT",
            column_list.join(", "),
            quote_qualified(table)
        );
        let stream = self
            .coordinator
            .copy_out(&sql)
            .await
            .map_err(|e| ConnectorError::Tool(format!("cannot sample table {table}: {}", describe_pg_error(&e))))?;
        futures_util::pin_mut!(stream);
        let mut rows = Vec::new();
        while let Some(piece) = futures_util::StreamExt::next(&mut stream).await {
            let piece = piece.map_err(|e| {
                ConnectorError::Tool(format!("sampling table {table} failed: {}", describe_pg_error(&e)))
            })?;
            rows.extend_from_slice(&piece);
        }
        Ok(rows)
    }
}

/// A connection inside the exported snapshot.
pub struct SnapshotWorker {
    client: Client,
}

impl SnapshotWorker {
    /// Streams a table in COPY text format: one row per line, fields separated by tabs, `\N` for NULL.
    /// Only `columns` are read (in that order): generated columns are left to the restore target.
    pub async fn copy_out(
        &self,
        table: &QualifiedName,
        columns: &[&str],
    ) -> Result<impl Stream<Item = Result<Bytes, ConnectorError>>, ConnectorError> {
        let column_list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let sql = format!("COPY {} ({}) TO STDOUT", quote_qualified(table), column_list.join(", "));
        self.copy_rows(table, &sql).await
    }

    /// Like [`Self::copy_out`], but only the rows in `range`, which [`Snapshot::page_count`] or an
    /// integer primary key gave.
    pub async fn copy_out_range(
        &self,
        table: &QualifiedName,
        columns: &[&str],
        range: &ReadRange,
    ) -> Result<impl Stream<Item = Result<Bytes, ConnectorError>>, ConnectorError> {
        if matches!(range, ReadRange::Ids { .. }) {
            return Err(ConnectorError::Tool(format!(
                "table {table} cannot be read by {range}: PostgreSQL tables split on pages or an integer key"
            )));
        }
        let sql = rows_in_range_sql(table, columns, range);
        self.copy_rows(table, &sql).await
    }

    /// Like [`Self::copy_out`], but only the rows whose integer `key_column` is one of `keys`
    /// (ascending): the server drops the others, so they never cross the wire. Rows come in the
    /// table's physical order within the range `keys` spans.
    pub async fn copy_out_with_keys(
        &self,
        table: &QualifiedName,
        columns: &[&str],
        key_column: &str,
        key_type: &str,
        keys: &[i64],
    ) -> Result<impl Stream<Item = Result<Bytes, ConnectorError>>, ConnectorError> {
        let sql = rows_with_keys_sql(table, columns, key_column, key_type, keys);
        self.copy_rows(table, &sql).await
    }

    /// Runs a `COPY ... TO STDOUT` of `table`'s rows, with errors that name the table.
    async fn copy_rows(
        &self,
        table: &QualifiedName,
        sql: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, ConnectorError>>, ConnectorError> {
        let table_name = table.to_string();
        let stream = self
            .client
            .copy_out(sql)
            .await
            .map_err(|e| ConnectorError::Tool(format!("cannot read table {table}: {}", describe_pg_error(&e))))?;
        Ok(stream.map_err(move |e| {
            ConnectorError::Tool(format!("reading table {table_name} failed: {}", describe_pg_error(&e)))
        }))
    }

    /// Streams a key scan (see [`super::KeyQuery`]) in COPY text format.
    pub async fn copy_keys(
        &self,
        query: &super::KeyQuery<'_>,
    ) -> Result<impl Stream<Item = Result<Bytes, ConnectorError>>, ConnectorError> {
        let table = query.table.to_string();
        let stream = self.client.copy_out(&query.to_sql()).await.map_err(|e| {
            ConnectorError::Tool(format!(
                "cannot read the keys of table {table}: {}",
                describe_pg_error(&e)
            ))
        })?;
        Ok(stream.map_err(move |e| {
            ConnectorError::Tool(format!(
                "reading the keys of table {table} failed: {}",
                describe_pg_error(&e)
            ))
        }))
    }
}

/// `COPY (SELECT .. FROM ONLY t WHERE ctid >= '(from,0)' AND ctid < '(to,0)') TO STDOUT`, or the
/// same on an integer key.
fn rows_in_range_sql(table: &QualifiedName, columns: &[&str], range: &ReadRange) -> String {
    let column_list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let condition = match range {
        ReadRange::Pages { from, to: Some(to) } => format!("ctid >= '({from},0)'::tid AND ctid < '({to},0)'::tid"),
        ReadRange::Pages { from, to: None } => format!("ctid >= '({from},0)'::tid"),
        ReadRange::IntKey { column, from, to } => crate::range::int_key_condition(&quote_ident(column), *from, *to),
        // Refused by the caller.
        ReadRange::Ids { .. } => "false".into(),
    };
    format!(
        "COPY (SELECT {} FROM ONLY {} WHERE {condition}) TO STDOUT",
        column_list.join(", "),
        quote_qualified(table),
    )
}

/// `COPY (SELECT .. FROM ONLY t WHERE k BETWEEN first AND last AND k = ANY('{..}')) TO STDOUT`.
/// The range lets an index on the key narrow the scan; the array is hashed by the server
/// (PostgreSQL 14 and later), so the test costs the same for any number of keys.
fn rows_with_keys_sql(
    table: &QualifiedName,
    columns: &[&str],
    key_column: &str,
    key_type: &str,
    keys: &[i64],
) -> String {
    use std::fmt::Write;
    let column_list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let key = quote_ident(key_column);
    let (first, last) = match (keys.first(), keys.last()) {
        (Some(first), Some(last)) => (*first, *last),
        // No key matches no row; `false` keeps the statement valid.
        _ => {
            return format!(
                "COPY (SELECT {} FROM ONLY {} WHERE false) TO STDOUT",
                column_list.join(", "),
                quote_qualified(table)
            )
        }
    };
    let mut array = String::with_capacity(keys.len() * 8 + 2);
    array.push('{');
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            array.push(',');
        }
        let _ = write!(array, "{k}");
    }
    array.push('}');
    format!(
        "COPY (SELECT {} FROM ONLY {} WHERE {key} BETWEEN {first} AND {last} AND {key} = ANY('{array}'::{key_type}[])) TO STDOUT",
        column_list.join(", "),
        quote_qualified(table),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_tid_or_key_conditions() {
        let table = QualifiedName::new("public", "Big");
        let pages = rows_in_range_sql(&table, &["id", "a b"], &ReadRange::Pages { from: 10, to: Some(20) });
        assert_eq!(
            pages,
            "COPY (SELECT \"id\", \"a b\" FROM ONLY \"public\".\"Big\" WHERE ctid >= '(10,0)'::tid AND ctid < '(20,0)'::tid) TO STDOUT"
        );
        let last = rows_in_range_sql(&table, &["id"], &ReadRange::Pages { from: 20, to: None });
        assert!(last.ends_with("WHERE ctid >= '(20,0)'::tid) TO STDOUT"), "{last}");
        let first = rows_in_range_sql(
            &table,
            &["id"],
            &ReadRange::IntKey {
                column: "id".into(),
                from: None,
                to: Some(-3),
            },
        );
        assert!(first.ends_with("WHERE \"id\" < -3) TO STDOUT"), "{first}");
    }

    #[test]
    fn rows_with_keys_bound_the_range_and_list_the_keys() {
        let table = QualifiedName::new("public", "Users");
        assert_eq!(
            rows_with_keys_sql(&table, &["id", "na\"me"], "id", "bigint", &[-3, 7, 10]),
            "COPY (SELECT \"id\", \"na\"\"me\" FROM ONLY \"public\".\"Users\" WHERE \"id\" BETWEEN -3 AND 10 \
             AND \"id\" = ANY('{-3,7,10}'::bigint[])) TO STDOUT"
        );
        assert_eq!(
            rows_with_keys_sql(&table, &["id"], "id", "integer", &[]),
            "COPY (SELECT \"id\" FROM ONLY \"public\".\"Users\" WHERE false) TO STDOUT"
        );
    }
}
