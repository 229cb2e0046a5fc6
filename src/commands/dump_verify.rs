use std::sync::Arc;

use crate::cli::VerifyArgs;
use crate::config::Config;
use crate::datastore::Datastore;
use crate::dump::{self, Manifest};
use crate::output::outln;

/// Checks every file of a dump and reports every problem, not only the first.
pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let config = Config::load_for_dumps(&args.config.config)?;
    let store: Arc<dyn Datastore> = Arc::from(crate::datastore::open(&config.datastore)?);
    let name = dump::resolve(store.as_ref(), &args.name)?;
    let mut manifest = Manifest::load(store.as_ref(), &name)?;
    crate::restore_guard::refuse_unencrypted(&config, &manifest, args.allow_unencrypted)?;
    manifest.unlock(store.as_ref(), &crate::crypto::Keys::new(&config, args.identity))?;
    if let Some(original) = &manifest.written_as {
        // Its files are read from this folder, not the original's (see Manifest::load).
        tracing::warn!(dump = %name, "dump {name} was written as `{original}` and has since been copied or renamed");
    }
    let (problems, chunks, rows) = tokio::task::spawn_blocking(move || verify(store.as_ref(), &manifest)).await?;
    if problems.is_empty() {
        outln!("dump {name} is intact: {chunks} chunks, {rows} rows, schema scripts checked")?;
        Ok(())
    } else {
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        anyhow::bail!("dump {name} failed verification: {} problem(s)", problems.len())
    }
}

fn verify(store: &dyn Datastore, manifest: &Manifest) -> (Vec<String>, usize, u64) {
    let mut problems = Vec::new();
    for file in [
        &manifest.schema.pre_data,
        &manifest.schema.post_data,
        &manifest.schema.clean,
    ] {
        if let Err(e) = manifest.read_script(store, file) {
            problems.push(e.to_string());
        }
    }
    let (mut chunks, mut rows) = (0, 0);
    for table in &manifest.tables {
        for chunk in &table.chunks {
            match dump::read_chunk(store, &manifest.name, chunk, manifest.opener(), &mut |_: &[u8]| Ok(())) {
                Ok(()) => {
                    chunks += 1;
                    rows += chunk.rows;
                }
                Err(e) => problems.push(format!("table {}.{}: {e}", table.schema, table.name)),
            }
        }
        let sum: u64 = table.chunks.iter().map(|c| c.rows).sum();
        if sum != table.rows {
            problems.push(format!(
                "table {}.{}: the manifest lists {} rows but its chunks hold {sum}",
                table.schema, table.name, table.rows
            ));
        }
    }
    (problems, chunks, rows)
}
