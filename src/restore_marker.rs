//! The marker a `restore --to` keeps in its target while it runs, so that a restore that failed,
//! was interrupted or was killed says so in the database itself.
//!
//! It is one object named `_decoy_restore`, decoy's own (decoy creates and drops nothing else of its
//! own): a table in PostgreSQL (`public._decoy_restore`) and in MySQL/MariaDB (in the target
//! database), a collection in MongoDB, holding one row or document with the dump's name, when the
//! restore started and its state (`incomplete`). It is written before the target is touched (before
//! `--clean` drops anything) and removed as the restore's last step, so it is there exactly while
//! the target may hold part of a dump. A later restore without `--clean` refuses such a target;
//! `--clean` replaces it.

use std::sync::Mutex;

use anyhow::Context;
use connectors::ConnectorError;

use crate::error::ConfigError;

/// The marker's table or collection name.
pub const NAME: &str = "_decoy_restore";
/// The only state a marker is written in: nothing changes it, since a restore that ends well
/// removes it and one that does not may have no chance to write anything more.
const STATE: &str = "incomplete";
/// What the marker is, for whoever finds it.
const COMMENT: &str = "Written by decoy dump restore: this database holds an incomplete restore of the dump \
                       named here. Restore again with --clean to start over; decoy drops this table once a \
                       restore is complete.";

/// A marker found in a target.
#[derive(Debug)]
pub struct Marker {
    pub dump: String,
    pub started_at: String,
    pub state: String,
}

/// The refusal to restore over an incomplete restore without `--clean`.
pub fn refusal(target: &impl std::fmt::Display, found: &str, marker: &Marker) -> anyhow::Error {
    anyhow::Error::new(ConfigError::new(format!(
        "{target} holds an incomplete restore of dump {} (started {}, {}; {found}): a restore there failed or was \
         interrupted. Pass --clean to drop what the dump contains and restore it again",
        marker.dump, marker.started_at, marker.state
    )))
}

/// With `--clean` over another dump's incomplete restore: what only that dump had is not dropped.
pub fn warn_if_other_dump(marker: &Marker, dump: &str) {
    if marker.dump != dump {
        tracing::warn!(
            "the target holds an incomplete restore of dump {}; --clean drops what dump {dump} contains, so tables \
             only {} had are left in place",
            marker.dump,
            marker.dump
        );
    }
}

/// The restore whose marker is in its target now: (dump, target without password).
static MARKED: Mutex<Option<(String, String)>> = Mutex::new(None);

/// Called once the marker is written, and with `None` once it is removed.
pub fn set_marked(marked: Option<(&str, &dyn std::fmt::Display)>) {
    *MARKED.lock().unwrap_or_else(|e| e.into_inner()) =
        marked.map(|(dump, target)| (dump.to_string(), target.to_string()));
}

/// The restore left marked in its target, if the run stopped now.
pub fn marked() -> Option<(String, String)> {
    MARKED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// What a run stopped by `signal` left behind, for its last message.
pub fn interrupted_message(signal: &str) -> String {
    match marked() {
        Some((dump, target)) => format!(
            "interrupted by {signal}; the restore of dump {dump} into {target} is incomplete and the target is marked \
             as such (`{NAME}`): restore again with --clean"
        ),
        None => format!("interrupted by {signal}; nothing was left that looks complete"),
    }
}

/// Adds to a failed restore's error what it left in the target.
pub fn explain_failure(err: anyhow::Error) -> anyhow::Error {
    match marked() {
        Some((dump, target)) => err.context(format!(
            "the restore of dump {dump} into {target} failed; the target is left incomplete and marked as such \
             (`{NAME}`): restore again with --clean"
        )),
        None => err,
    }
}

/// PostgreSQL: `public._decoy_restore`.
pub mod postgres {
    use super::*;

    const TABLE: &str = "public._decoy_restore";

    pub fn found() -> String {
        format!("marked by table {TABLE}")
    }

    pub async fn read(client: &tokio_postgres::Client) -> anyhow::Result<Option<Marker>> {
        const WHAT: &str = "looking for an incomplete restore in the target";
        let exists: bool = client
            .query_one(&format!("SELECT to_regclass('{TABLE}') IS NOT NULL"), &[])
            .await
            .map_err(ConnectorError::query(WHAT))?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let row = client
            .query_opt(
                &format!(
                    "SELECT dump, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), state \
                     FROM {TABLE} LIMIT 1"
                ),
                &[],
            )
            .await
            .map_err(ConnectorError::query(WHAT))?;
        Ok(row.map(|row| Marker {
            dump: row.get(0),
            started_at: row.get(1),
            state: row.get(2),
        }))
    }

    pub async fn write(client: &tokio_postgres::Client, dump: &str) -> anyhow::Result<()> {
        let comment = COMMENT.replace('\'', "''");
        client
            .batch_execute(&format!(
                "BEGIN; CREATE TABLE IF NOT EXISTS {TABLE} (dump text NOT NULL, started_at timestamptz NOT NULL, \
                 state text NOT NULL); COMMENT ON TABLE {TABLE} IS '{comment}'; DELETE FROM {TABLE};"
            ))
            .await
            .map_err(ConnectorError::query(format!(
                "marking the target as being restored (table {TABLE})"
            )))?;
        client
            .execute(
                &format!("INSERT INTO {TABLE} (dump, started_at, state) VALUES ($1, now(), $2)"),
                &[&dump, &STATE],
            )
            .await
            .map_err(ConnectorError::query("marking the target as being restored"))?;
        client
            .batch_execute("COMMIT")
            .await
            .map_err(ConnectorError::query("marking the target as being restored"))?;
        Ok(())
    }

    pub async fn remove(client: &tokio_postgres::Client) -> anyhow::Result<()> {
        client
            .batch_execute(&format!("DROP TABLE IF EXISTS {TABLE}"))
            .await
            .map_err(ConnectorError::query(format!("removing the restore marker {TABLE}")))?;
        Ok(())
    }
}

/// MySQL/MariaDB: `_decoy_restore` in the target database.
pub mod mysql {
    use super::*;
    use mysql_async::prelude::Queryable;

    pub fn found() -> String {
        format!("marked by table {NAME}")
    }

    fn fail(what: &'static str) -> impl Fn(mysql_async::Error) -> anyhow::Error {
        move |e| anyhow::anyhow!("{what} failed: {}", connectors::mysql::describe_error(&e))
    }

    pub async fn read(conn: &mut mysql_async::Conn, database: &str) -> anyhow::Result<Option<Marker>> {
        let exists: Option<u64> = conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (database, NAME),
            )
            .await
            .map_err(fail("looking for an incomplete restore in the target"))?;
        if exists.unwrap_or(0) == 0 {
            return Ok(None);
        }
        let row: Option<(String, String, String)> = conn
            .query_first(format!(
                "SELECT dump, DATE_FORMAT(started_at, '%Y-%m-%dT%H:%i:%sZ'), state FROM `{NAME}` LIMIT 1"
            ))
            .await
            .map_err(fail("reading the restore marker"))?;
        Ok(row.map(|(dump, started_at, state)| Marker {
            dump,
            started_at,
            state,
        }))
    }

    fn create_table() -> String {
        let comment = COMMENT.replace('\'', "''");
        format!(
            "CREATE TABLE IF NOT EXISTS `{NAME}` (dump VARCHAR(255) NOT NULL, started_at DATETIME NOT NULL, \
             state VARCHAR(32) NOT NULL) COMMENT = '{comment}'"
        )
    }

    /// The marker as statements of a script (`restore --output`), for its start and its end: DDL
    /// cannot be rolled back in MySQL, so a script cut short leaves the marker in its target.
    pub fn script_statements(dump: &str) -> (String, String) {
        let dump = dump.replace('\\', "\\\\").replace('\'', "''");
        (
            format!(
                "{};\nDELETE FROM `{NAME}`;\nINSERT INTO `{NAME}` (dump, started_at, state) VALUES ('{dump}', \
                 UTC_TIMESTAMP(), '{STATE}');\n",
                create_table()
            ),
            format!("DROP TABLE IF EXISTS `{NAME}`;\n"),
        )
    }

    /// The connection's session is in UTC (see `connectors::mysql::connect`).
    pub async fn write(conn: &mut mysql_async::Conn, dump: &str) -> anyhow::Result<()> {
        conn.query_drop(create_table())
            .await
            .map_err(fail("marking the target as being restored (table _decoy_restore)"))?;
        let mut tx = conn
            .start_transaction(Default::default())
            .await
            .map_err(fail("marking the target as being restored"))?;
        tx.query_drop(format!("DELETE FROM `{NAME}`"))
            .await
            .map_err(fail("marking the target as being restored"))?;
        tx.exec_drop(
            format!("INSERT INTO `{NAME}` (dump, started_at, state) VALUES (?, NOW(), ?)"),
            (dump, STATE),
        )
        .await
        .map_err(fail("marking the target as being restored"))?;
        tx.commit()
            .await
            .map_err(fail("marking the target as being restored"))?;
        Ok(())
    }

    pub async fn remove(conn: &mut mysql_async::Conn) -> anyhow::Result<()> {
        conn.query_drop(format!("DROP TABLE IF EXISTS `{NAME}`"))
            .await
            .map_err(fail("removing the restore marker _decoy_restore"))
    }
}

/// MongoDB: the collection `_decoy_restore`, with one document `{ _id: "restore", ... }`.
pub mod mongo {
    use super::*;
    use bson::{doc, Document};

    pub fn found() -> String {
        format!("marked by collection {NAME}")
    }

    fn collection(db: &mongodb::Database) -> mongodb::Collection<Document> {
        db.collection(NAME)
    }

    pub async fn read(db: &mongodb::Database) -> anyhow::Result<Option<Marker>> {
        let found = collection(db)
            .find_one(doc! { "_id": "restore" })
            .await
            .map_err(|e| connectors::mongodb::describe_error("looking for an incomplete restore in the target", e))?;
        Ok(found.map(|d| Marker {
            dump: d.get_str("dump").unwrap_or("?").to_string(),
            started_at: d
                .get_datetime("started_at")
                .ok()
                .and_then(|t| t.try_to_rfc3339_string().ok())
                .unwrap_or_else(|| "?".into()),
            state: d.get_str("state").unwrap_or("?").to_string(),
        }))
    }

    pub async fn write(db: &mongodb::Database, dump: &str) -> anyhow::Result<()> {
        let marker = doc! {
            "_id": "restore",
            "dump": dump,
            "started_at": bson::DateTime::now(),
            "state": STATE,
            "comment": COMMENT,
        };
        // Delete and insert rather than an upsert: the plainest commands every server has.
        collection(db)
            .delete_many(doc! {})
            .await
            .map_err(|e| connectors::mongodb::describe_error("marking the target as being restored", e))?;
        collection(db)
            .insert_one(marker)
            .await
            .map_err(|e| connectors::mongodb::describe_error("marking the target as being restored", e))
            .context("a restore needs to write collection _decoy_restore in the target")?;
        Ok(())
    }

    /// Drops the collection; where the server has no `drop` (jongodb), deletes its document.
    pub async fn remove(db: &mongodb::Database) -> anyhow::Result<()> {
        if connectors::mongodb::write::drop_collection(db, NAME).await.is_ok() {
            return Ok(());
        }
        collection(db)
            .delete_many(doc! {})
            .await
            .map_err(|e| connectors::mongodb::describe_error("removing the restore marker _decoy_restore", e))?;
        Ok(())
    }
}
