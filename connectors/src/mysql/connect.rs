//! MySQL/MariaDB URLs and connections, with the session settings every decoy connection needs.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use crate::url::redact;
use crate::ConnectorError;

/// A checked `mysql://` (or `mariadb://`) URL naming a database.
#[derive(Clone)]
pub struct MyUrl {
    /// The URL with its user info percent-encoded ([`crate::url::normalize`]).
    raw: String,
    opts: Opts,
    database: String,
}

impl std::fmt::Debug for MyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MyUrl({})", redact(&self.raw))
    }
}

impl std::fmt::Display for MyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

impl MyUrl {
    /// Parses a URL whose password may hold `@`, `/`, `?`, `#` or `:` as they are (see
    /// [`crate::url::split`]); an error says what was wrong without the password.
    pub fn parse(url: &str) -> Result<Self, ConnectorError> {
        let normalized = crate::url::normalize(url);
        let as_mysql = match normalized.strip_prefix("mariadb://") {
            Some(rest) => format!("mysql://{rest}"),
            None => normalized.clone(),
        };
        let opts = Opts::from_url(&as_mysql).map_err(|e| {
            ConnectorError::Url(format!(
                "`{}`: {}{}",
                redact(url),
                crate::url::redact_text(&e.to_string()),
                crate::url::encoding_hint(url)
            ))
        })?;
        let database = opts
            .db_name()
            .map(str::to_string)
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                ConnectorError::Url(format!(
                    "`{}` names no database; add it to the path: mysql://user@host:3306/DATABASE",
                    redact(url)
                ))
            })?;
        // A dump streams rows as they arrive: the driver must not cache prepared statements per
        // connection for the text queries decoy sends, and a socket found through @@socket would
        // bypass the host the user gave.
        let opts = mysql_async::OptsBuilder::from_opts(opts).prefer_socket(false).into();
        Ok(MyUrl {
            raw: normalized,
            opts,
            database,
        })
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// The URL with its password masked, for messages.
    pub fn without_password(&self) -> String {
        redact(&self.raw)
    }
}

/// Opens a connection in the session state decoy's reads and loads rely on: utf8mb4 text both ways,
/// timestamps in UTC (so they are neither shifted nor ambiguous), and an SQL mode that accepts what
/// the source holds (zero dates) and keeps explicit zeros in AUTO_INCREMENT columns.
pub async fn connect(url: &MyUrl) -> Result<Conn, ConnectorError> {
    let mut conn = Conn::new(url.opts.clone()).await.map_err(|e| ConnectorError::Connect {
        target: url.without_password(),
        reason: describe_error(&e),
    })?;
    conn.query_drop(
        "SET NAMES utf8mb4, time_zone = '+00:00', \
         SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
    )
    .await
    .map_err(|e| ConnectorError::Tool(format!("preparing a session on {url} failed: {}", describe_error(&e))))?;
    Ok(conn)
}

/// The server's message for an error, without the driver's decoration; never a password.
pub fn describe_error(err: &mysql_async::Error) -> String {
    match err {
        mysql_async::Error::Server(server) => format!("{} (error {})", server.message, server.code),
        other => crate::url::redact_text(&other.to_string()),
    }
}

/// A backquoted identifier.
pub fn quote_ident(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_schemes_and_requires_a_database() {
        let url = MyUrl::parse("mysql://root:secret@127.0.0.1:3306/app").unwrap();
        assert_eq!(url.database(), "app");
        assert_eq!(url.to_string(), "mysql://root:***@127.0.0.1:3306/app");
        assert_eq!(MyUrl::parse("mariadb://root@db/shop").unwrap().database(), "shop");
        let err = MyUrl::parse("mysql://root:secret@127.0.0.1:3306")
            .unwrap_err()
            .to_string();
        assert!(err.contains("names no database") && !err.contains("secret"), "{err}");
    }

    #[test]
    fn raw_passwords_reach_the_driver_whole_and_are_never_shown() {
        let url = MyUrl::parse("mariadb://app:Zq@Xw/Yv?Ku#9t@127.0.0.1:3307/shop?require_ssl=false").unwrap();
        assert_eq!(url.opts.pass(), Some("Zq@Xw/Yv?Ku#9t"));
        assert_eq!((url.opts.ip_or_hostname(), url.opts.tcp_port()), ("127.0.0.1", 3307));
        assert_eq!(url.database(), "shop");
        assert_eq!(
            url.to_string(),
            "mariadb://app:***@127.0.0.1:3307/shop?require_ssl=false"
        );
        let err = MyUrl::parse("mysql://app:Zq@Xw/Yv?Ku#9t@127.0.0.1:notaport/shop")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("percent-encoding") && err.contains("mysql://app:***@"),
            "{err}"
        );
        for text in [format!("{url:?} {url} {}", url.without_password()), err] {
            assert!(!text.contains("Xw") && !text.contains("Ku#9t"), "{text}");
        }
    }

    #[test]
    fn quotes_backticks() {
        assert_eq!(quote_ident("we`ird"), "`we``ird`");
    }
}
