use std::collections::BTreeSet;

use chrono::Utc;

use crate::cli::DeleteArgs;
use crate::config::Config;
use crate::dump::{self, Status};
use crate::error::ConfigError;
use crate::output::outln;

/// Deletes dumps, and only dumps: a folder decoy did not mark or commit is never listed, so it
/// can be neither named nor selected, and inside a dump only decoy's own files are removed.
pub fn run(args: DeleteArgs) -> anyhow::Result<()> {
    let config = Config::load_for_dumps(&args.config.config)?;
    let store = crate::datastore::open(&config.datastore)?;
    let dumps = dump::list(store.as_ref())?; // newest first
    let now = Utc::now();
    let mut doomed = BTreeSet::new();

    for name in &args.names {
        let resolved = if name == "latest" {
            dump::resolve(store.as_ref(), name)?
        } else {
            name.clone()
        };
        let Some(info) = dumps.iter().find(|d| d.name == resolved) else {
            anyhow::bail!(dump::unknown_dump(store.as_ref(), &resolved, &dumps));
        };
        if let Some(lease) = info.live_lease(store.as_ref(), now).filter(|_| !args.force) {
            anyhow::bail!(ConfigError::new(format!(
                "dump `{resolved}` is being written (its writer renewed its lease at {}); deleting it would break \
                 that run: wait for it, or add --force",
                lease.renewed_at.format("%Y-%m-%d %H:%M:%S UTC")
            )));
        }
        doomed.insert(resolved);
    }
    // A damaged dump is never counted as kept: the N newest intact ones are.
    if let Some(keep) = args.keep_last {
        for info in dumps
            .iter()
            .filter(|d| d.status == Status::Complete)
            .skip(keep as usize)
        {
            doomed.insert(info.name.clone());
        }
    }
    if let Some(age) = args.older_than {
        let cutoff = now - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        for info in dumps.iter().filter(|d| d.status == Status::Complete) {
            if info.created_at.is_some_and(|created| created < cutoff) {
                doomed.insert(info.name.clone());
            }
        }
    }
    if args.incomplete {
        for info in dumps.iter().filter(|d| d.status == Status::Incomplete) {
            match info.live_lease(store.as_ref(), now) {
                Some(lease) if !args.force => outln!(
                    "kept {}: being written (lease renewed {}s ago); --force deletes it anyway",
                    info.name,
                    (now - lease.renewed_at).num_seconds().max(0)
                )?,
                _ => {
                    doomed.insert(info.name.clone());
                }
            }
        }
    }

    if doomed.is_empty() {
        outln!("nothing to delete")?;
        return Ok(());
    }
    for name in &doomed {
        if args.dry_run {
            outln!("would delete {name}")?;
        } else {
            let left = dump::delete(store.as_ref(), name)?;
            if left.is_empty() {
                outln!("deleted {name}")?;
            } else {
                outln!(
                    "deleted {name} (left {} file(s) decoy did not write in its folder)",
                    left.len()
                )?;
            }
        }
    }
    Ok(())
}
