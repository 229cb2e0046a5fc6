//! MongoDB URLs and clients.

use std::time::Duration;

use mongodb::options::ClientOptions;
use mongodb::Client;

use crate::url::{redact, redact_text};
use crate::ConnectorError;

/// A checked `mongodb://` (or `mongodb+srv://`) URL naming a database.
#[derive(Clone)]
pub struct MongoUrl {
    /// The URL with its user info percent-encoded ([`crate::url::normalize`]), as the driver
    /// requires.
    raw: String,
    database: String,
}

impl std::fmt::Debug for MongoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MongoUrl({})", redact(&self.raw))
    }
}

impl std::fmt::Display for MongoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

impl MongoUrl {
    /// Parses a URL whose password may hold `@`, `/`, `?`, `#` or `:` as they are (see
    /// [`crate::url::split`]); an error says what was wrong without the password.
    pub fn parse(url: &str) -> Result<MongoUrl, ConnectorError> {
        let parts = crate::url::split(url)
            .filter(|p| matches!(p.scheme, "mongodb" | "mongodb+srv"))
            .ok_or_else(|| ConnectorError::Url(format!("`{}` is not a mongodb:// URL", redact(url))))?;
        // The database is the path: mongodb://user@host:27017/DATABASE?options.
        let path = parts.rest.strip_prefix('/').unwrap_or_default();
        let database = path.split('?').next().unwrap_or_default();
        let database = crate::url::percent_decode(database);
        if database.is_empty() {
            return Err(ConnectorError::Url(format!(
                "`{}` names no database; add it to the path: mongodb://user@host:27017/DATABASE",
                redact(url)
            )));
        }
        if database.contains(['/', '\\', '.', ' ', '"', '$', '\0']) {
            return Err(ConnectorError::Url(format!(
                "`{}`: `{database}` is not a valid MongoDB database name",
                redact(url)
            )));
        }
        let normalized = crate::url::normalize(url);
        mongodb::options::ConnectionString::parse(&normalized).map_err(|e| {
            ConnectorError::Url(format!(
                "`{}`: {}{}",
                redact(url),
                redact_text(&e.to_string()),
                crate::url::encoding_hint(url)
            ))
        })?;
        Ok(MongoUrl {
            raw: normalized,
            database,
        })
    }

    pub fn database(&self) -> &str {
        &self.database
    }
}

/// Connects and checks the server answers, with timeouts short enough for a CronJob to fail fast.
pub async fn connect(url: &MongoUrl) -> Result<Client, ConnectorError> {
    let fail = |reason: String| ConnectorError::Connect {
        target: url.to_string(),
        reason: redact_text(&reason),
    };
    let mut options = ClientOptions::parse(&url.raw).await.map_err(|e| fail(e.to_string()))?;
    options.app_name.get_or_insert_with(|| "decoy".to_string());
    options.connect_timeout.get_or_insert(Duration::from_secs(10));
    options.server_selection_timeout.get_or_insert(Duration::from_secs(10));
    let client = Client::with_options(options).map_err(|e| fail(e.to_string()))?;
    client
        .database(url.database())
        .run_command(bson::doc! { "ping": 1 })
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(client)
}

/// A driver error with what decoy was doing, the password masked.
pub fn describe_error(context: impl std::fmt::Display, error: mongodb::error::Error) -> ConnectorError {
    ConnectorError::Tool(format!("{context}: {}", redact_text(&error.to_string())))
}

/// The server's name for a failed command (`CommandNotFound`, ...), when it gave one.
pub fn error_code_name(error: &mongodb::error::Error) -> Option<&str> {
    match error.kind.as_ref() {
        mongodb::error::ErrorKind::Command(c) => Some(c.code_name.as_str()),
        _ => None,
    }
}

/// True when the server does not know the command (jongodb lacks several; see the README).
pub fn is_unsupported(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        mongodb::error::ErrorKind::Command(c) => {
            matches!(c.code, 59 | 115 | 238) || c.code_name == "CommandNotFound" || c.code_name == "NotImplemented"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_comes_from_the_path() {
        let url = MongoUrl::parse("mongodb://app:s3cret@db:27017/shop?authSource=admin").unwrap();
        assert_eq!(url.database(), "shop");
        assert_eq!(url.to_string(), "mongodb://app:***@db:27017/shop?authSource=admin");
        let err = MongoUrl::parse("mongodb://app:s3cret@db:27017/")
            .unwrap_err()
            .to_string();
        assert!(err.contains("names no database") && !err.contains("s3cret"), "{err}");
        let err = MongoUrl::parse("mongodb://db/a.b").unwrap_err().to_string();
        assert!(err.contains("not a valid MongoDB database name"), "{err}");
        assert_eq!(
            MongoUrl::parse("mongodb+srv://c.example.net/my%2Ddb")
                .unwrap()
                .database(),
            "my-db"
        );
    }

    #[test]
    fn raw_passwords_reach_the_driver_whole_and_are_never_shown() {
        let url = MongoUrl::parse("mongodb://app:Zq@Xw/Yv?Ku#9t@db:27017,db2/shop?authSource=admin").unwrap();
        assert_eq!(url.database(), "shop");
        assert_eq!(url.to_string(), "mongodb://app:***@db:27017,db2/shop?authSource=admin");
        let parsed = mongodb::options::ConnectionString::parse(&url.raw).unwrap();
        let credential = parsed.credential.unwrap();
        assert_eq!(credential.password.as_deref(), Some("Zq@Xw/Yv?Ku#9t"));
        assert_eq!(credential.username.as_deref(), Some("app"));
        let err = MongoUrl::parse("mongodb://app:Zq@Xw/Yv?Ku#9t@db:27017/shop?maxPoolSize=lots&authSource=admin")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("percent-encoding") && err.contains("mongodb://app:***@db"),
            "{err}"
        );
        for text in [format!("{url:?} {url}"), err] {
            assert!(!text.contains("Xw") && !text.contains("Ku#9t"), "{text}");
        }
    }
}
