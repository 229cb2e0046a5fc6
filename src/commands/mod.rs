//! One file per command: each turns parsed arguments into work and prints the result.

mod dump_create;
mod dump_delete;
mod dump_list;
pub(crate) mod dump_restore;
mod dump_verify;
mod keygen;
mod plan;
mod transformer_list;
mod validate;

use crate::cli::{Command, DumpCommand, TransformerCommand};

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Dump(DumpCommand::Create(args)) => dump_create::run(args).await,
        Command::Dump(DumpCommand::List(args)) => dump_list::run(args),
        Command::Dump(DumpCommand::Restore(args)) if args.local.is_some() => crate::local_container::run(args).await,
        Command::Dump(DumpCommand::Restore(args)) => dump_restore::run(args).await,
        Command::Dump(DumpCommand::Verify(args)) => dump_verify::run(args).await,
        Command::Dump(DumpCommand::Delete(args)) => dump_delete::run(args),
        Command::Transformer(TransformerCommand::List { json }) => transformer_list::run(json),
        Command::Plan(args) => plan::run(args).await,
        Command::Validate(args) => validate::run(args).await,
        Command::Keygen(args) => keygen::run(args),
    }
}
