//! One consistent point in time for a MySQL dump. A MySQL snapshot cannot be shared between
//! connections, so every worker starts its own `START TRANSACTION WITH CONSISTENT SNAPSHOT` while a
//! brief global read lock (`FLUSH TABLES WITH READ LOCK`) holds writes still, as mydumper does; the
//! lock is released as soon as the last worker's snapshot exists. Without the privilege for that
//! lock, one connection reads every table, one after the other.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tokio::sync::{mpsc, Mutex};

use super::connect::{connect, describe_error, quote_ident, MyUrl};
use super::text::{encode_row, field_codec, read_expr};
use crate::postgres::{KeyExpr, KeyQuery};
use crate::{ConnectorError, QualifiedName, ReadRange};

/// Rows encoded before a piece of LOAD DATA text is handed on.
const ROWS_PER_PIECE: usize = 1024;

pub struct Snapshot {
    url: MyUrl,
    server_version: String,
    workers: usize,
    idle: Mutex<mpsc::UnboundedReceiver<Conn>>,
    returns: mpsc::UnboundedSender<Conn>,
}

impl Snapshot {
    /// Opens `workers` connections that all see the same data.
    pub async fn open(url: &MyUrl, workers: usize) -> Result<Snapshot, ConnectorError> {
        let mut coordinator = connect(url).await?;
        let server_version: String = coordinator
            .query_first("SELECT VERSION()")
            .await
            .map_err(|e| ConnectorError::Tool(format!("reading the server version failed: {}", describe_error(&e))))?
            .unwrap_or_default();
        let mut wanted = workers.max(1);
        let locked = if wanted > 1 {
            match coordinator.query_drop("FLUSH TABLES WITH READ LOCK").await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(
                        reason = %describe_error(&e),
                        "no global read lock (it needs the RELOAD privilege): one connection reads every table"
                    );
                    wanted = 1;
                    false
                }
            }
        } else {
            false
        };
        let (returns, idle) = mpsc::unbounded_channel();
        let started = start_workers(url, wanted, &returns).await;
        if locked {
            coordinator
                .query_drop("UNLOCK TABLES")
                .await
                .map_err(|e| ConnectorError::Tool(format!("releasing the read lock failed: {}", describe_error(&e))))?;
        }
        started?;
        let _ = coordinator.disconnect().await;
        Ok(Snapshot {
            url: url.clone(),
            server_version,
            workers: wanted,
            idle: Mutex::new(idle),
            returns,
        })
    }

    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    pub fn url(&self) -> &MyUrl {
        &self.url
    }

    /// How many connections read at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// A connection inside the snapshot; it returns to the pool when dropped.
    pub async fn worker(&self) -> Result<Worker<'_>, ConnectorError> {
        let conn = self
            .idle
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| ConnectorError::Tool("the snapshot's connections are gone".into()))?;
        Ok(Worker {
            conn: Some(conn),
            returns: &self.returns,
        })
    }
}

async fn start_workers(url: &MyUrl, count: usize, pool: &mpsc::UnboundedSender<Conn>) -> Result<(), ConnectorError> {
    for _ in 0..count {
        let mut conn = connect(url).await?;
        conn.query_drop(
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
             START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        )
        .await
        .map_err(|e| {
            ConnectorError::Tool(format!(
                "starting a snapshot transaction failed: {}",
                describe_error(&e)
            ))
        })?;
        let _ = pool.send(conn);
    }
    Ok(())
}

/// One connection of the snapshot.
pub struct Worker<'a> {
    conn: Option<Conn>,
    returns: &'a mpsc::UnboundedSender<Conn>,
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = self.returns.send(conn);
        }
    }
}

impl Worker<'_> {
    /// Streams a table's `columns` (name, type) as LOAD DATA text, in pieces of a few hundred rows;
    /// `limit` caps the rows (for samples).
    pub async fn copy_out(
        &mut self,
        table: &QualifiedName,
        columns: &[(&str, &str)],
        limit: Option<usize>,
    ) -> Result<impl Stream<Item = Result<Bytes, ConnectorError>> + '_, ConnectorError> {
        let mut sql = format!("SELECT {} FROM {}", select_list(columns), qualified(table));
        if let Some(limit) = limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        self.rows(sql, format!("table {table}")).await
    }

    /// Like [`Self::copy_out`], but only the rows whose integer primary key is in `range`.
    pub async fn copy_out_range(
        &mut self,
        table: &QualifiedName,
        columns: &[(&str, &str)],
        range: &ReadRange,
    ) -> Result<impl Stream<Item = Result<Bytes, ConnectorError>> + '_, ConnectorError> {
        let ReadRange::IntKey { column, from, to } = range else {
            return Err(ConnectorError::Tool(format!(
                "table {table} cannot be read by {range}: MySQL tables split on an integer primary key"
            )));
        };
        let sql = format!(
            "SELECT {} FROM {} WHERE {}",
            select_list(columns),
            qualified(table),
            crate::range::int_key_condition(&quote_ident(column), *from, *to)
        );
        self.rows(sql, format!("table {table} ({range})")).await
    }

    /// The smallest and largest value of an integer key inside the snapshot (`None` for an empty
    /// table or keys beyond i64, which are then read in one piece).
    pub async fn key_bounds(
        &mut self,
        table: &QualifiedName,
        column: &str,
    ) -> Result<Option<(i64, i64)>, ConnectorError> {
        let key = quote_ident(column);
        let sql = format!(
            "SELECT CAST(MIN({key}) AS CHAR), CAST(MAX({key}) AS CHAR) FROM {}",
            qualified(table)
        );
        let conn = self.conn.as_mut().expect("a worker holds its connection until dropped");
        let row: Option<(Option<String>, Option<String>)> = conn.query_first(sql).await.map_err(|e| {
            ConnectorError::Tool(format!(
                "reading the key range of table {table} failed: {}",
                describe_error(&e)
            ))
        })?;
        Ok(match row {
            Some((Some(min), Some(max))) => min.parse().ok().zip(max.parse().ok()),
            _ => None,
        })
    }

    /// Like [`Self::copy_out`], but only the rows whose integer `key_column` is one of `keys`
    /// (ascending): the server drops the others. The range lets the primary key narrow the scan.
    pub async fn copy_out_with_keys(
        &mut self,
        table: &QualifiedName,
        columns: &[(&str, &str)],
        key_column: &str,
        keys: &[i64],
    ) -> Result<impl Stream<Item = Result<Bytes, ConnectorError>> + '_, ConnectorError> {
        let key = quote_ident(key_column);
        let condition = match (keys.first(), keys.last()) {
            (Some(first), Some(last)) => {
                let list: Vec<String> = keys.iter().map(i64::to_string).collect();
                format!("{key} BETWEEN {first} AND {last} AND {key} IN ({})", list.join(","))
            }
            _ => "FALSE".to_string(),
        };
        let sql = format!(
            "SELECT {} FROM {} WHERE {condition} ORDER BY {key}",
            select_list(columns),
            qualified(table)
        );
        self.rows(sql, format!("table {table}")).await
    }

    /// Streams a key scan of the subset planner. Columns are read with the dump's codecs, so a key
    /// prints the same here and in a dumped row; `types` gives a column's type.
    pub async fn copy_keys(
        &mut self,
        query: &KeyQuery<'_>,
        types: &dyn Fn(&str) -> Option<String>,
    ) -> Result<impl Stream<Item = Result<Bytes, ConnectorError>> + '_, ConnectorError> {
        let sql = key_sql(query, types);
        self.rows(sql, format!("the keys of table {}", query.table)).await
    }

    /// Streams the rows of any SELECT as LOAD DATA text (`what` names it in errors).
    pub async fn rows(
        &mut self,
        sql: String,
        what: String,
    ) -> Result<impl Stream<Item = Result<Bytes, ConnectorError>> + '_, ConnectorError> {
        let conn = self.conn.as_mut().expect("a worker holds its connection until dropped");
        let result = conn
            .query_iter(sql)
            .await
            .map_err(|e| ConnectorError::Tool(format!("cannot read {what}: {}", describe_error(&e))))?;
        let rows = result
            .stream_and_drop::<mysql_async::Row>()
            .await
            .map_err(|e| ConnectorError::Tool(format!("cannot read {what}: {}", describe_error(&e))))?;
        let stream = futures_util::stream::iter(rows).flatten();
        Ok(stream.ready_chunks(ROWS_PER_PIECE).map(move |batch| {
            let mut out = Vec::with_capacity(batch.len() * 64);
            for row in batch {
                let row =
                    row.map_err(|e| ConnectorError::Tool(format!("reading {what} failed: {}", describe_error(&e))))?;
                encode_row(&row, &mut out);
            }
            Ok(Bytes::from(out))
        }))
    }
}

fn qualified(table: &QualifiedName) -> String {
    format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.name))
}

fn select_list(columns: &[(&str, &str)]) -> String {
    let list: Vec<String> = columns.iter().map(|(c, t)| read_expr(c, field_codec(t))).collect();
    list.join(", ")
}

/// A key scan as MySQL SQL: the same fields, conditions, order and limit as PostgreSQL's, with
/// backquotes, JSON_EXTRACT for JSON paths, and text casts (both sides then print alike).
pub fn key_sql(query: &KeyQuery<'_>, types: &dyn Fn(&str) -> Option<String>) -> String {
    let fields: Vec<String> = query
        .fields
        .iter()
        .map(|field| match field {
            KeyExpr::Column(column) => {
                let codec = types(column).map_or(super::text::FieldCodec::Plain, |t| field_codec(&t));
                read_expr(column, codec)
            }
            KeyExpr::Cast { column, .. } => format!("CAST({} AS CHAR)", quote_ident(column)),
            KeyExpr::JsonPath { column, path } => {
                let steps: String = path
                    .iter()
                    .map(|p| format!(".\"{}\"", p.replace('\\', "\\\\").replace('"', "\\\"")))
                    .collect();
                format!(
                    "JSON_UNQUOTE(JSON_EXTRACT({}, '${}'))",
                    quote_ident(column),
                    steps.replace('\\', "\\\\").replace('\'', "''")
                )
            }
        })
        .collect();
    query.select(&fields, &qualified(query.table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_scans_read_binary_keys_as_hex_and_json_paths_with_json_extract() {
        let table = QualifiedName::new("shop", "Events");
        let fields = vec![
            KeyExpr::Column("id".into()),
            KeyExpr::Column("token".into()),
            KeyExpr::JsonPath {
                column: "payload".into(),
                path: vec!["order".into(), "id".into()],
            },
        ];
        let query = KeyQuery {
            table: &table,
            fields: &fields,
            conditions: &["kind = 'a'".to_string()],
            order_by: Some("id"),
            limit: Some(5),
        };
        let types = |c: &str| (c == "token").then(|| "varbinary(16)".to_string());
        assert_eq!(
            key_sql(&query, &types),
            "SELECT `id`, CONCAT('\\\\x', HEX(`token`)), JSON_UNQUOTE(JSON_EXTRACT(`payload`, '$.\"order\".\"id\"')) \
             FROM `shop`.`Events` WHERE (kind = 'a') ORDER BY id LIMIT 5"
        );
    }
}
