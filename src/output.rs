//! Results go to stdout through [`outln!`]. When the reader closes it (`decoy plan | head`), the
//! command ends quietly with status 0 instead of panicking with "failed printing to stdout: Broken
//! pipe". SIGPIPE itself stays ignored, as Rust sets it: resetting it to its default would also
//! kill decoy silently, partial dump left behind, when a database or S3 socket closes.

use std::io::{ErrorKind, Write};

/// stdout was closed by its reader: the command stops, but it did not fail.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct StdoutClosed;

/// Writes one line to stdout.
pub fn line(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("writing to stdout failed")),
    }
}

/// True when `err` only says that stdout was closed.
pub fn closed(err: &anyhow::Error) -> bool {
    err.downcast_ref::<StdoutClosed>().is_some()
}

/// `println!` that returns an error instead of panicking when stdout is closed: `outln!(...)?`.
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_stdout_is_told_apart_from_other_errors() {
        assert!(closed(&anyhow::Error::new(StdoutClosed).context("printing the plan")));
        assert!(!closed(&anyhow::anyhow!("writing to stdout failed")));
    }
}
