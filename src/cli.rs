//! The command line (clap derive). Exit codes: 0 success, 1 runtime failure, 2 usage or config error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "decoy",
    version,
    about = "Safe, small, realistic copies of production databases"
)]
pub struct Cli {
    /// Log format: `text` for people, `json` for CronJobs and log pipelines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "DECOY_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create, list, restore, verify and delete dumps.
    #[command(subcommand)]
    Dump(DumpCommand),
    /// The transformer catalogue.
    #[command(subcommand)]
    Transformer(TransformerCommand),
    /// Show what `dump create` would do: tables, rules per column, skipped and excluded tables, and
    /// kept columns that look like personal data.
    Plan(PlanArgs),
    /// Run the rules on a few sampled rows and show each transformed value before and after.
    Validate(ValidateArgs),
    /// Create an age key pair for `encryption.recipients`: the private key goes to FILE (as
    /// `age-keygen` writes it), the public key to stdout.
    Keygen(KeygenArgs),
}

#[derive(Args)]
pub struct KeygenArgs {
    /// Where to write the private key (created with mode 0600; never overwritten).
    #[arg(long, short)]
    pub output: PathBuf,
}

#[derive(Args)]
pub struct ConfigArg {
    /// Config file.
    #[arg(short, long = "config", default_value = "decoy.yaml", env = "DECOY_CONFIG")]
    pub config: PathBuf,
}

#[derive(Subcommand)]
pub enum DumpCommand {
    /// Dump the source database, anonymized, into a new dump.
    Create(CreateArgs),
    /// List dumps, newest first.
    List(ListArgs),
    /// Restore a dump into a database, or write it as a SQL script.
    Restore(RestoreArgs),
    /// Re-read every chunk and check sizes, checksums and row counts against the manifest.
    Verify(VerifyArgs),
    /// Delete dumps by name, by count or by age.
    Delete(DeleteArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Name of the new dump (default: the UTC time, which sorts by creation).
    #[arg(long)]
    pub name: Option<String>,
    /// Print the final summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Read a plain-SQL pg_dump or mysqldump file (`-` for standard input) instead of the source
    /// database; the config's `source` is then not needed.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["to", "output", "local"]))]
pub struct RestoreArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Dump to restore: a name or `latest` (the newest complete dump).
    #[arg(default_value = "latest")]
    pub name: String,
    /// Target database URL (postgres://...). It must be empty unless --clean is given.
    #[arg(long, env = "DECOY_RESTORE_URL", hide_env_values = true)]
    pub to: Option<String>,
    /// Write a plain SQL script that psql loads, to FILE or `-` for stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Start a throwaway database container from this Docker image (postgres:16, mysql:8,
    /// mariadb:11, mongo:7), restore into it and print its connection URL.
    #[arg(long, value_name = "IMAGE")]
    pub local: Option<String>,
    /// Drop what the dump contains before recreating it.
    #[arg(long)]
    pub clean: bool,
    /// With --clean: restore even into the config's own source database (same host, port and
    /// database), which is refused otherwise.
    #[arg(long, requires = "clean")]
    pub force: bool,
    /// Tables loaded at once (default: dump.workers from the config).
    #[arg(long)]
    pub workers: Option<usize>,
    /// age identity file (AGE-SECRET-KEY-1... lines) for a dump encrypted to public keys.
    #[arg(long, env = "DECOY_IDENTITY")]
    pub identity: Option<PathBuf>,
    /// Restore a dump that is not encrypted although the config has an `encryption:` section.
    #[arg(long)]
    pub allow_unencrypted: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Dump to verify: a name or `latest`.
    #[arg(default_value = "latest")]
    pub name: String,
    /// age identity file (AGE-SECRET-KEY-1... lines) for a dump encrypted to public keys.
    #[arg(long, env = "DECOY_IDENTITY")]
    pub identity: Option<PathBuf>,
    /// Verify a dump that is not encrypted although the config has an `encryption:` section.
    #[arg(long)]
    pub allow_unencrypted: bool,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("what").required(true).multiple(true).args(["names", "keep_last", "older_than", "incomplete"]))]
pub struct DeleteArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Dumps to delete by name (`latest` works too).
    pub names: Vec<String>,
    /// Keep the N newest complete dumps (by creation time; at least 1) and delete the older
    /// complete ones.
    #[arg(long, value_name = "N", value_parser = parse_keep_last)]
    pub keep_last: Option<u64>,
    /// Delete complete dumps created longer ago than this (`12h`, `7d`, `2w`).
    #[arg(long, value_name = "AGE", value_parser = crate::units::parse_age)]
    pub older_than: Option<std::time::Duration>,
    /// Delete incomplete dumps (failed or interrupted runs); a dump whose writer still renews its
    /// lease (`dump.lease`) is kept unless --force.
    #[arg(long)]
    pub incomplete: bool,
    /// Also delete dumps being written right now (their run then fails).
    #[arg(long)]
    pub force: bool,
    /// Print what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Subcommand)]
pub enum TransformerCommand {
    /// Every transformer with its options and an example.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Rows sampled per table.
    #[arg(long, default_value_t = 5)]
    pub rows: usize,
    /// Only tables matching this `schema.table` glob (`table` means `public.table`).
    #[arg(long)]
    pub table: Option<String>,
}

/// `--keep-last 0` would delete every dump: refused, as the Helm chart's values schema does.
fn parse_keep_last(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("0 would delete every dump; keep at least 1 (use `dump delete NAME` to delete them all)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a number of dumps")),
    }
}
