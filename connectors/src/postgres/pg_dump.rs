//! The schema comes from pg_dump's pre-data and post-data sections inside the exported snapshot: it knows every object
//! type PostgreSQL has, so decoy does not re-implement DDL generation.

use tokio::process::Command;

use super::connect::{quote_ident, PgUrl};
use crate::{ConnectorError, QualifiedName};

/// The three scripts a restore needs, as plain SQL that `psql` can also run by hand.
#[derive(Debug, Clone, Default)]
pub struct SchemaScripts {
    /// Types, functions, tables, sequences, views: everything the data needs to load into.
    pub pre_data: String,
    /// Indexes, constraints (PK, UNIQUE, FK), triggers, rules, policies: created after the data.
    pub post_data: String,
    /// DROP ... IF EXISTS statements for everything the dump creates (for `restore --clean`).
    pub clean: String,
}

/// Tables whose definition the schema leaves out (those outside `only`). Skipped tables keep their
/// definition: the schema is always dumped whole apart from these.
#[derive(Debug, Clone, Default)]
pub struct SchemaFilter {
    pub exclude_tables: Vec<QualifiedName>,
}

pub async fn dump_schema(url: &PgUrl, snapshot: &str, filter: &SchemaFilter) -> Result<SchemaScripts, ConnectorError> {
    // The sections hold no table data (that is the data section), but post-data keeps the
    // REFRESH of populated materialized views, which --schema-only would drop.
    let pre = run_pg_dump(url, snapshot, filter, &["--section=pre-data"]);
    let post = run_pg_dump(url, snapshot, filter, &["--section=post-data"]);
    let clean = run_pg_dump(url, snapshot, filter, &["--schema-only", "--clean", "--if-exists"]);
    let (pre, post, clean) = tokio::try_join!(pre, post, clean)?;
    Ok(SchemaScripts {
        pre_data: pre,
        post_data: post,
        clean: drops_only(&clean),
    })
}

/// The pg_dump to run: `DECOY_PG_DUMP` if set; else the newest of Debian's and PGDG's versioned
/// installs (`/usr/lib/postgresql/N/bin/pg_dump`), since `pg_dump` on PATH there is a Perl
/// wrapper that costs about 40 ms of CPU per call, three calls per dump (a newer pg_dump reads
/// older servers); else `pg_dump` from PATH.
fn pg_dump_program() -> std::ffi::OsString {
    if let Some(program) = std::env::var_os("DECOY_PG_DUMP") {
        return program;
    }
    match newest_installed_pg_dump() {
        Some(program) => program.into_os_string(),
        None => "pg_dump".into(),
    }
}

/// The newest `/usr/lib/postgresql/N/bin/pg_dump`, if any is installed.
pub fn newest_installed_pg_dump() -> Option<std::path::PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let program = entry.path().join("bin/pg_dump");
            program.is_file().then_some((major, program))
        })
        .max_by_key(|(major, _)| *major)
        .map(|(_, program)| program)
}

async fn run_pg_dump(
    url: &PgUrl,
    snapshot: &str,
    filter: &SchemaFilter,
    extra: &[&str],
) -> Result<String, ConnectorError> {
    let mut command = Command::new(pg_dump_program());
    command
        .arg(format!("--snapshot={snapshot}"))
        // Test databases rarely have production's roles: ownership and grants would fail to restore.
        .args([
            "--no-owner",
            "--no-privileges",
            "--no-subscriptions",
            "--no-publications",
            "--no-security-labels",
        ])
        .args(extra);
    for table in &filter.exclude_tables {
        command.arg(format!("--exclude-table={}", pattern(table)));
    }
    // The command line is visible to every user in `ps`: it gets the connection without the
    // password, which goes through the environment (readable only by this user and root).
    if !url.tool_conninfo().is_empty() {
        command.arg(format!("--dbname={}", url.tool_conninfo()));
    }
    if let Some(password) = url.password() {
        use std::os::unix::ffi::OsStrExt;
        command.env("PGPASSWORD", std::ffi::OsStr::from_bytes(password));
    }
    command.kill_on_drop(true);
    let output = command.output().await.map_err(|e| {
        ConnectorError::Tool(format!(
            "cannot run pg_dump ({e}); install the PostgreSQL client tools (Debian: apt-get install postgresql-client) \
             in a version at least as new as the server"
        ))
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(ConnectorError::Tool(format!(
            "pg_dump failed for {url}: {}",
            crate::url::redact_text(stderr.trim())
        )));
    }
    let text = String::from_utf8(output.stdout)
        .map_err(|_| ConnectorError::Tool("pg_dump printed a schema that is not UTF-8".into()))?;
    Ok(strip_meta_commands(&text))
}

/// A pg_dump pattern that matches exactly this table: quoted parts make `*`, `?` and case literal.
fn pattern(table: &QualifiedName) -> String {
    format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.name))
}

/// Recent pg_dump versions wrap scripts in `\restrict KEY` / `\unrestrict KEY`, psql meta-commands
/// that the server itself would reject. decoy runs the scripts over the protocol and writes its own
/// restore scripts, so they are dropped.
fn strip_meta_commands(script: &str) -> String {
    script
        .lines()
        .filter(|line| !(line.starts_with("\\restrict ") || line.starts_with("\\unrestrict ")))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The part of a `--clean --if-exists` script before its first object: session settings and the DROP
/// statements, in an order that respects dependencies.
fn drops_only(script: &str) -> String {
    let end = script.find("--\n-- Name: ").unwrap_or(script.len());
    script[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_one_table_literally() {
        assert_eq!(pattern(&QualifiedName::new("Mixed", "a*b")), "\"Mixed\".\"a*b\"");
    }

    #[test]
    fn restrict_lines_are_removed() {
        let script = "\\restrict abc\nSET x = 1;\nCREATE TABLE t ();\n\\unrestrict abc\n";
        assert_eq!(strip_meta_commands(script), "SET x = 1;\nCREATE TABLE t ();\n");
    }

    #[test]
    fn clean_script_stops_before_the_first_object() {
        let script =
            "SET a = 1;\nDROP TABLE IF EXISTS public.t;\n\n--\n-- Name: t; Type: TABLE\n--\nCREATE TABLE t ();\n";
        assert_eq!(drops_only(script), "SET a = 1;\nDROP TABLE IF EXISTS public.t;\n\n");
    }
}
