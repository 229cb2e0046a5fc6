//! `decoy dump restore` of a MySQL/MariaDB dump: tables without foreign keys, data in parallel with
//! `LOAD DATA LOCAL INFILE` streamed from the chunks (verified as they go), then the foreign keys,
//! each proven against the loaded rows. `--output` writes the same as a script of
//! multi-row INSERTs that the `mysql` client loads.

use std::io::Write;
use std::sync::Arc;

use anyhow::{bail, Context};
use connectors::mysql::{self, text::FieldCodec, MyUrl};
use connectors::postgres::copy_text::unescape;
use connectors::ConnectorError;
use futures_util::{StreamExt, TryStreamExt};
use mysql_async::prelude::Queryable;

use crate::datastore::Datastore;
use crate::dump::{self, Manifest, TableManifest};
use crate::restore::{chunk_stream, load_parts, Restored};
use crate::restore_marker as marker;

/// The dump's pre-data, post-data and clean scripts, each checked against its checksum before
/// anything is written (to a target or to a script).
fn read_scripts(store: &dyn Datastore, manifest: &Manifest) -> anyhow::Result<(String, String, String)> {
    Ok((
        manifest.read_script(store, &manifest.schema.pre_data)?,
        manifest.read_script(store, &manifest.schema.post_data)?,
        manifest.read_script(store, &manifest.schema.clean)?,
    ))
}

/// Bytes of VALUES per INSERT statement in a script: well under the default max_allowed_packet.
const INSERT_BYTES: usize = 1 << 20;

pub async fn to_database(
    store: Arc<dyn Datastore>,
    manifest: &Manifest,
    url: &MyUrl,
    clean: bool,
    workers: usize,
) -> anyhow::Result<Restored> {
    let mut conn = mysql::connect(url).await?;
    let (pre_data, post_data, clean_script) = read_scripts(store.as_ref(), manifest)?;
    match marker::mysql::read(&mut conn, url.database()).await? {
        Some(found) if !clean => return Err(marker::refusal(url, &marker::mysql::found(), &found)),
        Some(found) => marker::warn_if_other_dump(&found, &manifest.name),
        None => {}
    }
    if !clean {
        refuse_existing_tables(&mut conn, manifest, url).await?;
    }
    // From here on the target changes: the marker goes first and comes off last.
    marker::mysql::write(&mut conn, &manifest.name).await?;
    marker::set_marked(Some((&manifest.name, url)));
    if clean {
        mysql::run_script(&mut conn, "dropping what the dump contains (--clean)", &clean_script).await?;
    }
    mysql::run_script(&mut conn, "creating the tables (schema/pre-data.sql)", &pre_data).await?;
    let phase = std::time::Instant::now();

    // One LOAD DATA per table, in one transaction: two connections loading one InnoDB table were
    // no faster here (see the README's MySQL benchmark).
    let rows = load_parts(
        manifest,
        workers,
        false,
        |table, _| load_table(store.clone(), manifest, table, url),
        |_| {},
    )
    .await?;
    tracing::info!(seconds = phase.elapsed().as_secs_f64(), "data loaded");

    // Foreign keys last. Added with checks on, MariaDB would rebuild each table once per key; they
    // are added with checks off instead and then proven by one anti-join per key, in parallel: a
    // dangling reference still fails the restore.
    let phase = std::time::Instant::now();
    let mut conn = mysql::connect(url).await?;
    conn.query_drop("SET foreign_key_checks = 0")
        .await
        .map_err(|e| anyhow::anyhow!("preparing the foreign keys failed: {}", mysql::describe_error(&e)))?;
    mysql::run_script(&mut conn, "adding the foreign keys (schema/post-data.sql)", &post_data).await?;
    check_foreign_keys(&mut conn, url, workers).await?;
    tracing::info!(
        seconds = phase.elapsed().as_secs_f64(),
        "foreign keys created and checked"
    );
    marker::mysql::remove(&mut conn).await?;
    marker::set_marked(None);
    Ok(Restored {
        tables: manifest.tables.len(),
        rows,
    })
}

/// Every foreign key of the target holds: no row references a missing one.
async fn check_foreign_keys(conn: &mut mysql_async::Conn, url: &MyUrl, workers: usize) -> anyhow::Result<()> {
    let checks = mysql::foreign_key_checks(conn, url.database()).await?;
    let broken: Vec<(mysql::ForeignKeyCheck, u64)> = futures_util::stream::iter(checks)
        .map(|check| async move {
            let mut conn = mysql::connect(url).await?;
            let rows = mysql::dangling_rows(&mut conn, &check).await?;
            anyhow::Ok((check, rows))
        })
        .buffer_unordered(workers)
        .try_filter(|(_, rows)| futures_util::future::ready(*rows > 0))
        .try_collect()
        .await?;
    if broken.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = broken
        .iter()
        .map(|(check, rows)| {
            format!(
                "{} row(s) of {} reference missing rows of {} (foreign key {})",
                rows, check.table, check.referenced, check.name
            )
        })
        .collect();
    bail!(
        "the restored data breaks foreign keys: {}; the dump is inconsistent with its schema",
        list.join("; ")
    )
}

/// Restoring over existing tables would mix two datasets: ask for --clean instead.
async fn refuse_existing_tables(conn: &mut mysql_async::Conn, manifest: &Manifest, url: &MyUrl) -> anyhow::Result<()> {
    let existing: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
            (url.database(),),
        )
        .await
        .map_err(|e| {
            ConnectorError::Tool(format!(
                "checking {url} for existing tables failed: {}",
                mysql::describe_error(&e)
            ))
        })?;
    let clashes: Vec<&String> = existing
        .iter()
        .filter(|name| manifest.tables.iter().any(|t| &t.name == *name))
        .take(5)
        .collect();
    if !clashes.is_empty() {
        let names: Vec<&str> = clashes.iter().map(|s| s.as_str()).collect();
        bail!(crate::error::ConfigError::new(format!(
            "{url} already has tables of this dump ({}); restore into an empty database, or pass --clean to drop and \
             recreate everything the dump contains",
            names.join(", ")
        )));
    }
    Ok(())
}

/// Each copied column with the codec its chunk field is in.
fn codecs(table: &TableManifest) -> Vec<(String, FieldCodec)> {
    table
        .copied_columns
        .iter()
        .map(|name| {
            let type_name = table
                .columns
                .iter()
                .find(|c| &c.name == name)
                .map_or("", |c| c.type_name.as_str());
            (name.clone(), mysql::text::field_codec(type_name))
        })
        .collect()
}

async fn load_table(
    store: Arc<dyn Datastore>,
    manifest: &Manifest,
    table: &TableManifest,
    url: &MyUrl,
) -> anyhow::Result<u64> {
    let mut conn = mysql::connect(url).await?;
    let (stream, reader) = chunk_stream(store, manifest, table);
    let loaded = mysql::load_data(&mut conn, &table.name, &codecs(table), stream).await;
    reader.await.context("the chunk reader thread panicked")?;
    let rows = loaded?;
    if rows != table.rows {
        bail!(
            "loaded {rows} rows into {} where the manifest says {}",
            table.name,
            table.rows
        );
    }
    Ok(rows)
}

/// Writes a SQL script for the `mysql` client: tables, multi-row INSERTs, then foreign keys. As
/// for PostgreSQL (see [`crate::restore::to_script`]), the schema scripts are checked before the
/// first line is written and each chunk before any of its rows; should a chunk fail, the script
/// ends with a statement that fails, which stops the `mysql` client with an error.
pub fn to_script(store: &dyn Datastore, manifest: &Manifest, clean: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let (pre_data, post_data, clean_script) = read_scripts(store, manifest)?;
    writeln!(
        out,
        "-- decoy dump {} of database {} (MySQL/MariaDB {}), created {}\n-- Load with: mysql DATABASE < FILE\n\
         SET NAMES utf8mb4;\nSET time_zone = '+00:00';\n\
         SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION';\n\
         SET FOREIGN_KEY_CHECKS = 0;\nSET UNIQUE_CHECKS = 0;\n",
        manifest.name,
        manifest.source.database.as_deref().unwrap_or("?"),
        manifest.source.server_version,
        manifest.created_at.to_rfc3339()
    )?;
    if clean {
        out.write_all(clean_script.as_bytes())?;
    }
    // Marked as an incomplete restore until the script's last statement, as `--to` marks it.
    let (mark, unmark) = crate::restore_marker::mysql::script_statements(&manifest.name);
    out.write_all(mark.as_bytes())?;
    out.write_all(pre_data.as_bytes())?;
    for table in manifest.tables.iter().filter(|t| !t.chunks.is_empty()) {
        let codecs = codecs(table);
        let columns: Vec<String> = codecs.iter().map(|(c, _)| mysql::quote_ident(c)).collect();
        let head = format!(
            "INSERT INTO {} ({}) VALUES\n",
            mysql::quote_ident(&table.name),
            columns.join(", ")
        );
        let mut statement = Vec::with_capacity(INSERT_BYTES + 4096);
        let mut carry = Vec::new();
        let mut rows = 0usize;
        let emit =
            |line: &[u8], statement: &mut Vec<u8>, rows: &mut usize, out: &mut dyn Write| -> anyhow::Result<()> {
                statement.extend_from_slice(if *rows == 0 { head.as_bytes() } else { b",\n" });
                values_tuple(line, &codecs, statement).with_context(|| format!("table {}", table.name))?;
                *rows += 1;
                if statement.len() >= INSERT_BYTES {
                    statement.extend_from_slice(b";\n");
                    out.write_all(statement)?;
                    statement.clear();
                    *rows = 0;
                }
                Ok(())
            };
        for chunk in &table.chunks {
            let verified = dump::read_chunk_verified(
                store,
                &manifest.name,
                chunk,
                manifest.opener(),
                &mut |bytes: &[u8]| {
                    carry.extend_from_slice(bytes);
                    let Some(end) = carry.iter().rposition(|&b| b == b'\n') else {
                        return Ok(());
                    };
                    for line in carry[..end].split(|&b| b == b'\n') {
                        emit(line, &mut statement, &mut rows, out)?;
                    }
                    carry.drain(..=end);
                    Ok(())
                },
            );
            if let Err(e) = verified {
                let _ = write!(
                    out,
                    "\nSIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'decoy: this script is incomplete: a chunk failed \
                     verification (see decoy''s error)';\n"
                );
                let _ = out.flush();
                return Err(e);
            }
        }
        if !carry.is_empty() {
            bail!("the chunks of table {} end in the middle of a row", table.name);
        }
        if rows > 0 {
            statement.extend_from_slice(b";\n");
            out.write_all(&statement)?;
        }
    }
    out.write_all(b"\nSET FOREIGN_KEY_CHECKS = 1;\n")?;
    out.write_all(post_data.as_bytes())?;
    out.write_all(unmark.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// One row of LOAD DATA text as a VALUES tuple: NULL, a quoted string, X'..' for binary columns, a
/// number for BIT.
fn values_tuple(line: &[u8], codecs: &[(String, FieldCodec)], out: &mut Vec<u8>) -> anyhow::Result<()> {
    out.push(b'(');
    let mut count = 0;
    for (i, field) in line.split(|&b| b == b'\t').enumerate() {
        let Some((_, codec)) = codecs.get(i) else {
            bail!("a row has more fields than the {} columns", codecs.len());
        };
        count += 1;
        if i > 0 {
            out.push(b',');
        }
        let Some(value) = unescape(field) else {
            out.extend_from_slice(b"NULL");
            continue;
        };
        match codec {
            FieldCodec::Hex => {
                out.extend_from_slice(b"X'");
                out.extend_from_slice(value.strip_prefix(b"\\x").unwrap_or(&value));
                out.push(b'\'');
            }
            FieldCodec::BitNumber => out.extend_from_slice(&value),
            FieldCodec::Plain => quote_string(&value, out),
        }
    }
    if count != codecs.len() {
        bail!("a row has {count} fields where the table has {} columns", codecs.len());
    }
    out.push(b')');
    Ok(())
}

/// A MySQL string literal (the default SQL mode, where backslash escapes).
fn quote_string(value: &[u8], out: &mut Vec<u8>) {
    out.push(b'\'');
    for &b in value {
        match b {
            b'\'' => out.extend_from_slice(b"\\'"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0 => out.extend_from_slice(b"\\0"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x1a => out.extend_from_slice(b"\\Z"),
            _ => out.push(b),
        }
    }
    out.push(b'\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_values_tuples_with_every_quoting_case() {
        let codecs = vec![
            ("id".to_string(), FieldCodec::Plain),
            ("note".to_string(), FieldCodec::Plain),
            ("data".to_string(), FieldCodec::Hex),
            ("flags".to_string(), FieldCodec::BitNumber),
            ("gone".to_string(), FieldCodec::Plain),
        ];
        let mut out = Vec::new();
        values_tuple(
            b"7\tit's a \\\\ \\t\\n\x00 \x1a\t\\\\xdeadBEEF\t5\t\\N",
            &codecs,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "('7','it\\'s a \\\\ \t\\n\\0 \\Z',X'deadBEEF',5,NULL)"
        );
        let err = values_tuple(b"1\t2", &codecs, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("2 fields") && err.contains("5 columns"), "{err}");
    }
}
