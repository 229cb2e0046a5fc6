//! decoy: safe, small, realistic copies of production databases.

mod budget;
mod cleanup;
mod cli;
mod commands;
mod config;
mod create;
mod create_from_file;
mod create_mongo;
mod crypto;
mod datastore;
mod dump;
mod error;
mod glob;
mod local_container;
mod logging;
mod memory;
mod output;
mod pii;
mod plan;
mod progress;
mod restore;
mod restore_guard;
mod restore_marker;
mod restore_mongo;
mod restore_mysql;
mod source;
mod subset;
mod units;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: memory::Watched = memory::Watched(mimalloc::MiMalloc);

fn main() {
    memory::tune_allocator();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let json_logs = matches!(cli.log_format, cli::LogFormat::Json);
    logging::init(cli.log_format, cli.verbose, cli.quiet);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        tokio::select! {
            result = commands::run(cli.command) => result,
            signal = shutdown_signal() => Err(anyhow::anyhow!(restore_marker::interrupted_message(signal))),
        }
    });
    // Shutting down waits for the chunk-writer threads, which stop at their next batch; only then can
    // a partial dump be removed without racing them.
    runtime.shutdown_timeout(std::time::Duration::from_secs(30));
    cleanup::remove_partial_dumps();
    if let Err(err) = result {
        // `decoy plan | head`: the reader has what it wanted.
        if output::closed(&err) {
            std::process::exit(0);
        }
        // One report: a JSON log line for log pipelines, plain text for people.
        // Masks any password a message may quote (a config value, a server's reply).
        let message = connectors::url::redact_text(&format!("{err:#}"));
        if json_logs {
            tracing::error!(exit_code = error::exit_code(&err), "{message}");
        } else {
            eprintln!("error: {message}");
        }
        std::process::exit(error::exit_code(&err));
    }
}

/// SIGINT or SIGTERM (what Kubernetes sends a CronJob pod). Dropping the command's future runs its
/// cleanup (a partial dump is removed).
async fn shutdown_signal() -> &'static str {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
