/// Errors from talking to a database. Messages never contain a password: URLs are always redacted
/// before they are formatted (see [`crate::url::redact`]).
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    // tokio-postgres's own Display says only "db error"; the server's message is what helps.
    // Not a `source`: the message already carries the server's words, and a source would repeat
    // them when the chain is printed.
    #[error("{context}: {}", describe_pg_error(error))]
    Query {
        context: String,
        error: tokio_postgres::Error,
    },
    #[error("{0}")]
    Tool(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid database URL: {0}")]
    Url(String),
}

impl ConnectorError {
    pub fn query(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let context = context.into();
        move |error| ConnectorError::Query { context, error }
    }
}

/// Formats a tokio-postgres error with the server's message, detail and hint where there is one
/// (its Display alone says only "db error").
pub fn describe_pg_error(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            if let Some(pos) = db.where_() {
                text.push_str(&format!("; at {pos}"));
            }
            text
        }
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(inner) = source {
                text.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            text
        }
    }
}
