//! tracing to stderr: human text by default, JSON lines with `--log-format json`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

pub fn init(format: LogFormat, verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    // DECOY_LOG takes EnvFilter syntax for finer control, e.g. `decoy=debug,tokio_postgres=info`.
    let filter = EnvFilter::try_from_env("DECOY_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,decoy={level},connectors={level},transformers={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}
