//! The database a dump reads, whatever its engine: one consistent snapshot, its schema, and workers
//! that stream rows and key scans as tab-separated text (PostgreSQL's COPY text or MySQL's LOAD DATA
//! text; see [`Dialect`]).

use bytes::Bytes;
use std::collections::HashMap;

use connectors::mongodb::{self, MongoUrl};
use connectors::mysql::{self, MyUrl};
use connectors::postgres::{self, copy_text::Dialect, KeyQuery, PgUrl};
use connectors::{ConnectorError, QualifiedName, ReadRange, Schema, Table};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use crate::config::Config;
use crate::error::ConfigError;

/// A checked source URL.
// One per run: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum SourceUrl {
    Postgres(PgUrl),
    Mysql(MyUrl),
    Mongo(MongoUrl),
}

impl std::fmt::Display for SourceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceUrl::Postgres(url) => write!(f, "{url}"),
            SourceUrl::Mysql(url) => write!(f, "{url}"),
            SourceUrl::Mongo(url) => write!(f, "{url}"),
        }
    }
}

impl SourceUrl {
    /// Parses a URL by its scheme; the error names what was wrong, never the password.
    pub fn parse(url: &str) -> Result<SourceUrl, ConnectorError> {
        match connectors::url::engine_of(url)? {
            connectors::url::Engine::Postgres => PgUrl::parse(url).map(SourceUrl::Postgres),
            connectors::url::Engine::Mysql => MyUrl::parse(url).map(SourceUrl::Mysql),
            connectors::url::Engine::Mongo => MongoUrl::parse(url).map(SourceUrl::Mongo),
        }
    }

    /// The source URL from the config, checked: `what` says which command needs it.
    pub fn from_config(config: &Config, what: &str) -> Result<SourceUrl, ConfigError> {
        let source = config.source.as_ref().ok_or_else(|| {
            config.error_at(
                &["source"],
                format!(
                    "`source.url` is needed to {what} (postgres://user@host/db, mysql://user@host/db or \
                     mongodb://user@host/db); to anonymize a dump file instead, run `decoy dump create --from-file FILE`"
                ),
            )
        })?;
        let url = SourceUrl::parse(&source.url).map_err(|e| config.error_at(&["source", "url"], e.to_string()))?;
        if !source.collections.is_empty() && !matches!(url, SourceUrl::Mongo(_)) {
            return Err(config.error_at(
                &["source", "collections"],
                "`source.collections` names MongoDB collections; for SQL databases use `only:` to choose tables".into(),
            ));
        }
        Ok(url)
    }
}

/// The source database inside one consistent snapshot.
#[allow(clippy::large_enum_variant)]
pub enum Source {
    Postgres(postgres::Snapshot),
    Mysql(mysql::Snapshot),
    Mongo(MongoSource),
}

/// A MongoDB database, and the field paths the config names (introspection adds those its sample
/// of documents did not show, so rules on rare fields still resolve).
pub struct MongoSource {
    pub snapshot: mongodb::Snapshot,
    extra_paths: HashMap<String, Vec<String>>,
}

impl Source {
    /// Opens the snapshot with `dump.workers` connections in mind.
    pub async fn open(url: &SourceUrl, config: &Config) -> Result<Source, ConnectorError> {
        let workers = config.dump.workers;
        Ok(match url {
            SourceUrl::Postgres(url) => Source::Postgres(postgres::Snapshot::export(url).await?),
            SourceUrl::Mysql(url) => Source::Mysql(mysql::Snapshot::open(url, workers).await?),
            SourceUrl::Mongo(url) => {
                let collections = config
                    .source
                    .as_ref()
                    .map(|s| s.collections.clone())
                    .unwrap_or_default();
                Source::Mongo(MongoSource {
                    snapshot: mongodb::Snapshot::open(url, &collections).await?,
                    extra_paths: configured_paths(config, url.database()),
                })
            }
        })
    }

    /// The engine's name as the manifest records it.
    pub fn engine(&self) -> &'static str {
        match self {
            Source::Postgres(_) => "postgresql",
            Source::Mysql(_) => "mysql",
            Source::Mongo(_) => "mongodb",
        }
    }

    /// The text format of rows and key scans (MongoDB key scans use PostgreSQL's COPY escaping).
    pub fn dialect(&self) -> Dialect {
        match self {
            Source::Postgres(_) | Source::Mongo(_) => Dialect::Postgres,
            Source::Mysql(_) => Dialect::Mysql,
        }
    }

    pub fn server_version(&self) -> &str {
        match self {
            Source::Postgres(s) => s.server_version(),
            Source::Mysql(s) => s.server_version(),
            Source::Mongo(s) => s.snapshot.server_version(),
        }
    }

    /// What the snapshot is known by in logs.
    pub fn describe(&self) -> String {
        match self {
            Source::Postgres(s) => format!("snapshot {}", s.id()),
            Source::Mysql(s) => format!("{} consistent-snapshot connection(s)", s.workers()),
            Source::Mongo(s) => match s.snapshot.at_cluster_time() {
                Some(t) => format!("snapshot at cluster time {}.{}", t.time, t.increment),
                None => "no snapshot (the server keeps none)".to_string(),
            },
        }
    }

    pub fn database(&self) -> Option<String> {
        match self {
            Source::Postgres(s) => s.url().dbname().map(str::to_string),
            Source::Mysql(s) => Some(s.url().database().to_string()),
            Source::Mongo(s) => Some(s.snapshot.url().database().to_string()),
        }
    }

    /// The tables, columns and keys the snapshot sees.
    pub async fn introspect(&self) -> Result<Schema, ConnectorError> {
        match self {
            Source::Postgres(s) => postgres::introspect(s.client()).await,
            Source::Mysql(s) => {
                let mut conn = mysql::connect(s.url()).await?;
                let mut schema = mysql::introspect::introspect(&mut conn, s.url().database()).await?;
                schema.default_schema = s.url().database().to_string();
                Ok(schema)
            }
            Source::Mongo(s) => s.snapshot.introspect(&s.extra_paths).await,
        }
    }

    /// Up to `limit` rows of `columns`, as text rows, for `decoy plan` and `decoy validate`.
    pub async fn sample(
        &self,
        table: &QualifiedName,
        columns: &[(&str, &str)],
        limit: usize,
    ) -> anyhow::Result<Vec<u8>> {
        match self {
            Source::Postgres(s) => {
                let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
                Ok(s.sample(table, &names, limit).await?)
            }
            Source::Mysql(_) => {
                let mut worker = self.worker().await?;
                let mut stream = worker.copy_out(table, columns, Some(limit)).await?;
                let mut rows = Vec::new();
                while let Some(piece) = stream.next().await {
                    rows.extend_from_slice(&piece?);
                }
                Ok(rows)
            }
            Source::Mongo(s) => {
                let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
                Ok(s.snapshot.worker().sample_rows(&table.name, &names, limit).await?)
            }
        }
    }

    /// Ranges that read `table` in about `parts` pieces on several connections of this snapshot:
    /// heap page ranges on PostgreSQL 14+, integer primary-key ranges on MySQL, `_id` ranges
    /// (ObjectIds or integers) on MongoDB. `None` when the table is read in one piece (no such
    /// key, or too few rows).
    pub async fn split(&self, table: &Table, parts: usize) -> Result<Option<Vec<ReadRange>>, ConnectorError> {
        if parts < 2 {
            return Ok(None);
        }
        match self {
            Source::Postgres(s) => match s.page_count(&table.name).await? {
                Some(pages) => Ok(connectors::range::page_ranges(pages, parts)),
                None => Ok(None),
            },
            Source::Mysql(s) => {
                let [key] = table.primary_key.as_slice() else {
                    return Ok(None);
                };
                let is_int = table
                    .column(key)
                    .is_some_and(|c| matches!(c.kind, transformers::ColumnKind::Int { .. }));
                if !is_int {
                    return Ok(None);
                }
                let bounds = s.worker().await?.key_bounds(&table.name, key).await?;
                Ok(bounds.and_then(|(first, last)| {
                    let ranges = connectors::range::int_ranges(first, last, parts)?;
                    Some(
                        ranges
                            .into_iter()
                            .map(|(from, to)| ReadRange::IntKey {
                                column: key.clone(),
                                from,
                                to,
                            })
                            .collect(),
                    )
                }))
            }
            Source::Mongo(s) => s.snapshot.worker().id_ranges(&table.name.name, parts).await,
        }
    }

    /// A connection inside the snapshot.
    pub async fn worker(&self) -> Result<SourceWorker<'_>, ConnectorError> {
        Ok(match self {
            Source::Postgres(s) => SourceWorker::Postgres(s.worker().await?),
            Source::Mysql(s) => SourceWorker::Mysql(s.worker().await?),
            Source::Mongo(s) => SourceWorker::Mongo(s.snapshot.worker()),
        })
    }
}

/// Field paths the config names per collection: column rules and subset references.
fn configured_paths(config: &Config, database: &str) -> HashMap<String, Vec<String>> {
    let collection = |key: &str| -> String {
        let qualified = crate::plan::qualify(key, database);
        qualified
            .strip_prefix(&format!("{database}."))
            .unwrap_or(&qualified)
            .to_string()
    };
    let mut paths: HashMap<String, Vec<String>> = HashMap::new();
    for (key, rule) in &config.tables {
        if let crate::config::TableRule::Columns(columns) = rule {
            paths
                .entry(collection(key))
                .or_default()
                .extend(columns.keys().cloned());
        }
    }
    if let Some(subset) = &config.subset {
        for fk in &subset.foreign_keys {
            paths
                .entry(collection(&fk.table))
                .or_default()
                .extend(fk.columns.iter().cloned());
        }
    }
    paths
}

pub type RowStream<'a> = BoxStream<'a, Result<Bytes, ConnectorError>>;

/// One connection of the snapshot.
pub enum SourceWorker<'a> {
    Postgres(postgres::SnapshotWorker),
    Mysql(mysql::Worker<'a>),
    Mongo(mongodb::Worker),
}

/// MongoDB documents are dumped as BSON by [`crate::create_mongo`], never as text rows.
fn not_text(table: &QualifiedName) -> ConnectorError {
    ConnectorError::Tool(format!("collection {table} is read as documents, not as text rows"))
}

impl SourceWorker<'_> {
    /// Streams `columns` (name, type) of a table as text rows; `limit` caps the rows.
    pub async fn copy_out(
        &mut self,
        table: &QualifiedName,
        columns: &[(&str, &str)],
        limit: Option<usize>,
    ) -> Result<RowStream<'_>, ConnectorError> {
        Ok(match self {
            SourceWorker::Postgres(w) => {
                let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
                w.copy_out(table, &names).await?.boxed()
            }
            SourceWorker::Mysql(w) => w.copy_out(table, columns, limit).await?.boxed(),
            SourceWorker::Mongo(_) => return Err(not_text(table)),
        })
    }

    /// Streams the rows of one range that [`Source::split`] gave.
    pub async fn copy_out_range(
        &mut self,
        table: &QualifiedName,
        columns: &[(&str, &str)],
        range: &ReadRange,
    ) -> Result<RowStream<'_>, ConnectorError> {
        Ok(match self {
            SourceWorker::Postgres(w) => {
                let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
                w.copy_out_range(table, &names, range).await?.boxed()
            }
            SourceWorker::Mysql(w) => w.copy_out_range(table, columns, range).await?.boxed(),
            SourceWorker::Mongo(_) => return Err(not_text(table)),
        })
    }

    /// Streams only the rows whose integer `key_column` is one of `keys` (ascending).
    pub async fn copy_out_with_keys(
        &mut self,
        table: &QualifiedName,
        columns: &[(&str, &str)],
        key_column: &str,
        key_type: &str,
        keys: &[i64],
    ) -> Result<RowStream<'_>, ConnectorError> {
        Ok(match self {
            SourceWorker::Postgres(w) => {
                let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
                w.copy_out_with_keys(table, &names, key_column, key_type, keys)
                    .await?
                    .boxed()
            }
            SourceWorker::Mysql(w) => w.copy_out_with_keys(table, columns, key_column, keys).await?.boxed(),
            SourceWorker::Mongo(_) => return Err(not_text(table)),
        })
    }

    /// Streams a key scan for the subset planner. `types` gives each column's type (MySQL reads
    /// binary keys the way it dumps them).
    pub async fn copy_keys(
        &mut self,
        query: &KeyQuery<'_>,
        types: &dyn Fn(&str) -> Option<String>,
    ) -> Result<RowStream<'_>, ConnectorError> {
        Ok(match self {
            SourceWorker::Postgres(w) => w.copy_keys(query).await?.boxed(),
            SourceWorker::Mysql(w) => w.copy_keys(query, types).await?.boxed(),
            SourceWorker::Mongo(w) => w.copy_keys(query).await?,
        })
    }
}
