use std::collections::BTreeSet;
use std::time::SystemTime;

use crate::cli::DeleteArgs;
use crate::config::Config;
use crate::dump::{self, Manifest};
use crate::output::outln;

pub fn run(args: DeleteArgs) -> anyhow::Result<()> {
    let config = Config::load_for_dumps(&args.config.config)?;
    let store = crate::datastore::open(&config.datastore)?;
    let mut dumps = store.list_dumps()?;
    dumps.sort_by(|a, b| b.name.cmp(&a.name)); // newest first
    let mut doomed = BTreeSet::new();

    for name in &args.names {
        let resolved = if name == "latest" {
            dump::resolve(store.as_ref(), name)?
        } else {
            name.clone()
        };
        if !dumps.iter().any(|d| d.name == resolved) {
            anyhow::bail!(
                "no dump named `{resolved}` in {}; `decoy dump list` shows what exists",
                store.describe()
            );
        }
        doomed.insert(resolved);
    }
    if let Some(keep) = args.keep_last {
        for entry in dumps.iter().filter(|d| d.complete).skip(keep) {
            doomed.insert(entry.name.clone());
        }
    }
    if let Some(age) = args.older_than {
        let cutoff = SystemTime::now() - age;
        for entry in dumps.iter().filter(|d| d.complete) {
            let created: SystemTime = Manifest::load(store.as_ref(), &entry.name)?.created_at.into();
            if created < cutoff {
                doomed.insert(entry.name.clone());
            }
        }
    }
    if args.incomplete {
        for entry in dumps.iter().filter(|d| !d.complete) {
            doomed.insert(entry.name.clone());
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
            store
                .delete_dump(name)
                .map_err(|e| anyhow::anyhow!("deleting dump {name} failed: {e}"))?;
            outln!("deleted {name}")?;
        }
    }
    Ok(())
}
