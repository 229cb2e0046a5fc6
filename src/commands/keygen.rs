//! `decoy keygen`: an age X25519 key pair, for dumps only private-key holders can restore.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use age::secrecy::ExposeSecret;
use anyhow::Context;

use crate::cli::KeygenArgs;
use crate::output::outln;

pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let key = age::x25519::Identity::generate();
    let public = key.to_public().to_string();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.output)
        .map_err(|e| {
            anyhow::anyhow!(crate::error::ConfigError::new(format!(
                "cannot create {}: {e} (an existing key is never overwritten)",
                args.output.display()
            )))
        })?;
    let text = format!(
        "# created: {}\n# public key: {public}\n{}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        key.to_string().expose_secret()
    );
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {} failed", args.output.display()))?;
    outln!("{public}")?;
    eprintln!(
        "wrote the private key to {}; put the public key above in encryption.recipients",
        args.output.display()
    );
    Ok(())
}
