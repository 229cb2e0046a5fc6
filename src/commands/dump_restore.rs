use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};

use crate::cli::RestoreArgs;
use crate::config::Config;
use crate::datastore::Datastore;
use crate::dump::{self, Manifest};
use crate::error::ConfigError;
use crate::output::outln;
use crate::source::SourceUrl;

pub async fn run(args: RestoreArgs) -> anyhow::Result<()> {
    let config = Config::load_for_dumps(&args.config.config)?;
    if args.workers == Some(0) {
        bail!(ConfigError::new(
            "--workers must be at least 1 (the tables loaded at once)"
        ));
    }
    if let (Some(to), true) = (&args.to, args.clean) {
        crate::restore_guard::refuse_source_as_target(&config, to, args.force)?;
    }
    let store: Arc<dyn Datastore> = Arc::from(crate::datastore::open(&config.datastore)?);
    let name = dump::resolve(store.as_ref(), &args.name)?;
    let mut manifest = Manifest::load(store.as_ref(), &name)?;
    crate::restore_guard::refuse_unencrypted(&config, &manifest, args.allow_unencrypted)?;
    manifest.unlock(
        store.as_ref(),
        &crate::crypto::Keys::new(&config, args.identity.clone()),
    )?;
    // Both --to and --output: nothing is written from a manifest that contradicts itself.
    manifest.check_consistent()?;
    let started = Instant::now();

    if let Some(output) = args.output {
        if manifest.source.engine == "mongodb" {
            bail!(ConfigError::new(format!(
                "--output writes a SQL script; dump {} holds MongoDB documents: restore it with --to mongodb://..., or \
                 read its chunks with mongorestore (see the README)",
                manifest.name
            )));
        }
        let clean = args.clean;
        return tokio::task::spawn_blocking(move || write_script(store.as_ref(), &manifest, clean, &output)).await?;
    }
    let to = args.to.expect("clap requires --to or --output");
    let url = SourceUrl::parse(&to).map_err(|e| crate::error::ConfigError::new(format!("--to: {e}")))?;
    let workers = args.workers.unwrap_or(config.dump.workers).max(1);
    let workers = crate::budget::restore_streams(&config, store.as_ref(), config.dump.compression_level, workers)?;
    let restored = crate::budget::within(config.dump.memory_limit, async {
        restore(store, &manifest, &url, args.clean, workers).await
    })
    .await
    .map_err(crate::restore_marker::explain_failure)?;
    outln!(
        "restored dump {} into {url}: {} tables, {} rows in {:.1}s",
        manifest.name,
        restored.tables,
        restored.rows,
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// Restores into the engine `url` names, which must be the dump's own.
async fn restore(
    store: Arc<dyn Datastore>,
    manifest: &Manifest,
    url: &SourceUrl,
    clean: bool,
    workers: usize,
) -> anyhow::Result<crate::restore::Restored> {
    Ok(match (url, manifest.source.engine.as_str()) {
        (SourceUrl::Postgres(url), "postgresql") => {
            crate::restore::to_database(store, manifest, url, clean, workers).await?
        }
        (SourceUrl::Mysql(url), "mysql") => {
            crate::restore_mysql::to_database(store, manifest, url, clean, workers).await?
        }
        (SourceUrl::Mongo(url), "mongodb") => {
            crate::restore_mongo::to_database(store, manifest, url, clean, workers).await?
        }
        (_, engine) => bail!(ConfigError::new(format!(
            "--to: dump {} was made from a {} database and restores into the same engine; give a {} URL",
            manifest.name,
            engine_label(engine),
            match engine {
                "mysql" => "mysql://",
                "mongodb" => "mongodb://",
                _ => "postgres://",
            }
        ))),
    })
}

/// A file is written under a temporary name and renamed when complete, so a failed restore never
/// leaves a script that looks whole.
fn write_script(
    store: &dyn Datastore,
    manifest: &Manifest,
    clean: bool,
    output: &std::path::Path,
) -> anyhow::Result<()> {
    if output.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
        script(store, manifest, clean, &mut out)?;
        return out.flush().context("writing to stdout failed");
    }
    let mut temp = output.as_os_str().to_owned();
    temp.push(".partial");
    let temp = std::path::PathBuf::from(temp);
    let file = std::fs::File::create(&temp).with_context(|| format!("cannot create {}", temp.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let result = script(store, manifest, clean, &mut out)
        .and_then(|_| out.flush().map_err(anyhow::Error::from))
        .and_then(|_| std::fs::rename(&temp, output).with_context(|| format!("cannot write {}", output.display())));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    eprintln!("wrote dump {} as a SQL script to {}", manifest.name, output.display());
    Ok(())
}

/// The dump as a script for its engine's client (psql or mysql).
fn script(store: &dyn Datastore, manifest: &Manifest, clean: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    match manifest.source.engine.as_str() {
        "mysql" => crate::restore_mysql::to_script(store, manifest, clean, out),
        _ => crate::restore::to_script(store, manifest, clean, out),
    }
}

fn engine_label(engine: &str) -> &str {
    match engine {
        "mysql" => "MySQL/MariaDB",
        "postgresql" => "PostgreSQL",
        "mongodb" => "MongoDB",
        other => other,
    }
}
