//! The binary's error types: a usage or config mistake (exit 2) versus a runtime failure (exit 1).
//! Everything else travels as `anyhow::Error` with context that says what failed and where.

/// A mistake in the config or on the command line: exit code 2, nothing was touched.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
        }
    }

    /// An error about the key path `keys` of config file `file`, with its line when it can be found.
    pub fn at(file: &str, text: &str, keys: &[&str], message: String) -> Self {
        let line = crate::config::line_of(text, keys)
            .map(|l| format!(" line {l}"))
            .unwrap_or_default();
        let key = if keys.is_empty() {
            String::new()
        } else {
            format!(", `{}`", keys.join("."))
        };
        ConfigError {
            message: format!("{file}{line}{key}: {message}"),
        }
    }
}

/// Exit codes are part of the CLI contract (pipelines branch on them).
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.downcast_ref::<ConfigError>().is_some() || err.downcast_ref::<clap::Error>().is_some() {
        2
    } else {
        1
    }
}
