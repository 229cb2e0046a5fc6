use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::{Client, Config};

use crate::error::describe_pg_error;
use crate::url::redact;
use crate::ConnectorError;

/// A parsed `postgres://` URL. Keeps the original text only in redacted form.
#[derive(Clone)]
pub struct PgUrl {
    config: Config,
    tls: super::tls::TlsSettings,
    redacted: String,
    raw_without_password: String,
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl std::fmt::Display for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl PgUrl {
    pub fn parse(url: &str) -> Result<Self, ConnectorError> {
        let (driver_url, tls) = super::tls::split_tls_params(url);
        let mut config = Config::from_str(&driver_url)
            .map_err(|e| ConnectorError::Url(format!("`{}` is not a valid PostgreSQL URL: {e}", redact(url))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("decoy");
        Ok(PgUrl {
            config,
            tls,
            redacted: redact(url),
            raw_without_password: strip_password(url),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn dbname(&self) -> Option<&str> {
        self.config.get_dbname()
    }

    /// The URL with its password removed, for tools such as `pg_dump` that get the password through
    /// `PGPASSWORD` instead of their command line (visible to every user in `ps`).
    pub fn without_password(&self) -> &str {
        &self.raw_without_password
    }

    pub fn password(&self) -> Option<String> {
        self.config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    }
}

fn strip_password(url: &str) -> String {
    let redacted = redact(url);
    redacted
        .replace(":***@", "@")
        .replace("password=***&", "")
        .replace("&password=***", "")
        .replace("?password=***", "")
}

/// Opens a connection and drives it on the runtime. Errors say which server and why, without the
/// password.
pub async fn connect(url: &PgUrl) -> Result<Client, ConnectorError> {
    let tls = super::tls::connector(&url.tls)?;
    let (client, connection) = url.config.connect(tls).await.map_err(|e| ConnectorError::Connect {
        target: url.redacted.clone(),
        reason: describe_pg_error(&e),
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %describe_pg_error(&e), "postgres connection closed");
        }
    });
    Ok(client)
}

/// Quotes an identifier the way PostgreSQL's `quote_ident` does, always (simpler and never wrong).
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

pub fn quote_qualified(name: &crate::QualifiedName) -> String {
    format!("{}.{}", quote_ident(&name.schema), quote_ident(&name.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_kept_out_of_tool_urls_and_debug() {
        let url = PgUrl::parse("postgres://app:hunter2@db:5432/app?sslmode=disable").unwrap();
        assert_eq!(url.without_password(), "postgres://app@db:5432/app?sslmode=disable");
        assert_eq!(url.password().as_deref(), Some("hunter2"));
        assert!(!format!("{url:?} {url}").contains("hunter2"));
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_ident("Col\"Quote"), "\"Col\"\"Quote\"");
        let name = crate::QualifiedName::new("MixedSchema", "Weird Table");
        assert_eq!(quote_qualified(&name), "\"MixedSchema\".\"Weird Table\"");
    }
}
