use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::{Client, Config};

use crate::error::describe_pg_error;
use crate::url::{encoding_hint, percent_decode, redact};
use crate::ConnectorError;

/// A parsed `postgres://` URL. Keeps the original text only in redacted form.
#[derive(Clone)]
pub struct PgUrl {
    config: Config,
    tls: super::tls::TlsSettings,
    redacted: String,
    tool_conninfo: String,
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
    /// Parses a URL whose password may hold `@`, `/`, `?`, `#` or `:` as they are (see
    /// [`crate::url::split`]); an error says what was wrong without the password.
    pub fn parse(url: &str) -> Result<Self, ConnectorError> {
        let normalized = crate::url::normalize(url);
        let (driver_url, tls) = super::tls::split_tls_params(&normalized);
        let mut config = Config::from_str(&driver_url).map_err(|e| {
            ConnectorError::Url(format!(
                "`{}` is not a valid PostgreSQL URL: {}{}",
                redact(url),
                crate::url::redact_text(&e.to_string()),
                encoding_hint(url)
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("decoy");
        Ok(PgUrl {
            config,
            tls,
            redacted: redact(url),
            tool_conninfo: tool_conninfo(&normalized),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn dbname(&self) -> Option<&str> {
        self.config.get_dbname()
    }

    /// The connection as a libpq keyword/value string without the password, for `pg_dump
    /// --dbname`: its command line is visible to every user in `ps`, so the password goes
    /// through `PGPASSWORD` instead (see [`Self::password`]).
    pub fn tool_conninfo(&self) -> &str {
        &self.tool_conninfo
    }

    /// The password as the server receives it (percent escapes decoded).
    pub fn password(&self) -> Option<&[u8]> {
        self.config.get_password()
    }
}

/// A normalized URL as libpq keywords: host and port lists, user, database and every query
/// parameter as written (`sslmode=verify-full`, `sslrootcert`, `options`, ...), decoded and
/// quoted, except the password.
fn tool_conninfo(url: &str) -> String {
    let Some(parts) = crate::url::split(url) else {
        return String::new();
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if !parts.hosts.is_empty() {
        let (mut hosts, mut ports) = (Vec::new(), Vec::new());
        for chunk in parts.hosts.split(',') {
            let (host, port) = match chunk.strip_prefix('[').and_then(|v6| v6.split_once(']')) {
                Some((host, after)) => (host, after.strip_prefix(':')),
                None => match chunk.split_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (chunk, None),
                },
            };
            hosts.push(percent_decode(host));
            ports.push(port.map(percent_decode).unwrap_or_default());
        }
        pairs.push(("host".into(), hosts.join(",")));
        // libpq reads an empty item of the list as the default port, as the URL means.
        if ports.iter().any(|p| !p.is_empty()) {
            pairs.push(("port".into(), ports.join(",")));
        }
    }
    if let Some(user) = parts.user.filter(|u| !u.is_empty()) {
        pairs.push(("user".into(), percent_decode(user)));
    }
    let (path, query) = parts.rest.split_once('?').unwrap_or((parts.rest, ""));
    let database = path.strip_prefix('/').unwrap_or(path);
    if !database.is_empty() {
        pairs.push(("dbname".into(), percent_decode(database)));
    }
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let key = percent_decode(key);
        if key != "password" {
            pairs.push((key, percent_decode(value)));
        }
    }
    pairs
        .iter()
        .map(|(key, value)| format!("{key}='{}'", value.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect::<Vec<_>>()
        .join(" ")
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
        assert_eq!(
            url.tool_conninfo(),
            "host='db' port='5432' user='app' dbname='app' sslmode='disable'"
        );
        assert_eq!(url.password(), Some(&b"hunter2"[..]));
        assert!(!format!("{url:?} {url}").contains("hunter2"));
    }

    #[test]
    fn raw_passwords_reach_the_driver_whole_and_nothing_else() {
        let url =
            PgUrl::parse("postgres://app:p@ss/w?rd#1@127.0.0.1:5433/shop?sslmode=verify-full&password=x").unwrap();
        // The query's password wins, as in libpq; neither is in the tool's arguments.
        assert_eq!(url.password(), Some(&b"x"[..]));
        let url =
            PgUrl::parse("postgresql://app:p@ss/w?rd#1@127.0.0.1:5433/shop?sslmode=verify-full&sslrootcert=%2Fca.pem")
                .unwrap();
        assert_eq!(url.password(), Some(&b"p@ss/w?rd#1"[..]));
        assert_eq!(url.dbname(), Some("shop"));
        assert_eq!(url.config().get_ports(), &[5433]);
        assert_eq!(
            url.to_string(),
            "postgresql://app:***@127.0.0.1:5433/shop?sslmode=verify-full&sslrootcert=%2Fca.pem"
        );
        assert_eq!(
            url.tool_conninfo(),
            "host='127.0.0.1' port='5433' user='app' dbname='shop' sslmode='verify-full' sslrootcert='/ca.pem'"
        );
        for text in [url.tool_conninfo().to_string(), format!("{url:?} {url}")] {
            assert!(!text.contains("ss/w") && !text.contains("rd#1"), "{text}");
        }
        let url = PgUrl::parse("postgres://o%27neil@[::1]:5432,%2Ftmp:5433/it's").unwrap();
        assert_eq!(
            url.tool_conninfo(),
            "host='::1,/tmp' port='5432,5433' user='o\\'neil' dbname='it\\'s'"
        );
    }

    #[test]
    fn a_url_the_driver_refuses_suggests_percent_encoding_without_the_password() {
        let err = PgUrl::parse("postgres://app:Zq@Xw/Yv?Ku#9t@db:5432/app?port=notaport")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("percent-encoding") && err.contains("postgres://app:***@db"),
            "{err}"
        );
        assert!(!err.contains("Xw") && !err.contains("Ku#9t"), "{err}");
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_ident("Col\"Quote"), "\"Col\"\"Quote\"");
        let name = crate::QualifiedName::new("MixedSchema", "Weird Table");
        assert_eq!(quote_qualified(&name), "\"MixedSchema\".\"Weird Table\"");
    }
}
