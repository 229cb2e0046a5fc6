//! Refusals before a restore or a verify reads a dump or touches a target: a plain dump where the
//! config expects encrypted ones, and `--clean` into the config's own source database.

use connectors::url::Engine;

use crate::config::Config;
use crate::dump::Manifest;
use crate::error::ConfigError;

/// Whether the config has an `encryption:` section, even one left out because it names an unset
/// variable (commands that only read dumps drop such a section; the team still expects every dump
/// to be encrypted).
fn expects_encryption(config: &Config) -> bool {
    config.encryption.is_some() || raw_value(config, "encryption").is_some_and(|v| !v.is_null())
}

/// A top-level key of the config file as written, before `${VAR}` substitution.
fn raw_value(config: &Config, key: &str) -> Option<serde_norway::Value> {
    let value: serde_norway::Value = serde_norway::from_str(&config.origin.text).ok()?;
    value.get(key).cloned()
}

/// With `encryption:` in the config, a dump without encryption is refused unless
/// `--allow-unencrypted`: anyone who can write to the datastore could have put it there, and
/// nothing authenticates a plain dump.
pub fn refuse_unencrypted(config: &Config, manifest: &Manifest, allow: bool) -> Result<(), ConfigError> {
    if manifest.encryption.is_some() || allow || !expects_encryption(config) {
        return Ok(());
    }
    Err(ConfigError::new(format!(
        "dump {} is not encrypted, but the config has an `encryption:` section, so its dumps should be: anyone who \
         can write to the datastore could have put a plain dump there. Check where it came from, and pass \
         --allow-unencrypted to use it anyway",
        manifest.name
    )))
}

/// `restore --clean --to URL` where URL is the config's `source.url` (same engine, host, port and
/// database; the password, the user and other parameters do not count, and `localhost`,
/// `127.0.0.1` and `::1` are the same host) would drop the source's tables and load fakes in their
/// place: refused unless `--force`. When `source.url` names an unset variable (commands that read
/// dumps do not need it), what can still be read of it is compared; a host, port or database that
/// is a variable never matches.
pub fn refuse_source_as_target(config: &Config, target: &str, force: bool) -> Result<(), ConfigError> {
    if force {
        return Ok(());
    }
    let source = match &config.source {
        Some(source) => source.url.clone(),
        None => {
            match raw_value(config, "source").and_then(|s| s.get("url").and_then(|u| u.as_str().map(str::to_string))) {
                Some(raw) => expand_unset_as_unknown(&raw),
                None => return Ok(()),
            }
        }
    };
    let (Some(source_at), Some(target_at)) = (Endpoint::parse(&source), Endpoint::parse(target)) else {
        return Ok(());
    };
    if !source_at.same_database(&target_at) {
        return Ok(());
    }
    Err(ConfigError::new(format!(
        "--to {} is the config's source database (source.url: same host, port and database): --clean would drop its \
         tables and load the dump's fakes in their place. Restore into another database, or pass --force if this \
         really is not the source",
        connectors::url::redact(target)
    )))
}

/// Stands for the value of an unset variable: no host, port or database name contains it.
const UNKNOWN: &str = "\u{0}unset\u{0}";

/// `${VAR}` and `${VAR:-default}` as the config expands them, with [`UNKNOWN`] for a variable
/// that is unset and has no default (an unterminated `${` is left as written).
fn expand_unset_as_unknown(value: &str) -> String {
    crate::config::env::expand_with(value, |name| std::env::var(name).ok(), |_| Ok(UNKNOWN.to_string()))
        .unwrap_or_else(|_| value.to_string())
}

/// Where a database URL points: its engine, its (host, port) pairs and its database.
#[derive(Debug, PartialEq)]
struct Endpoint {
    engine: Engine,
    hosts: Vec<(String, u16)>,
    database: Option<String>,
}

impl Endpoint {
    /// Reads `scheme://[user[:password]@]host[:port][,host[:port]...][/database][?params]`, and for
    /// PostgreSQL the `host`, `port`, `dbname` and `user` parameters that override them. `None`
    /// when it cannot be read.
    fn parse(url: &str) -> Option<Endpoint> {
        let engine = connectors::url::engine_of(url).ok()?;
        let default_port = match engine {
            Engine::Postgres => 5432,
            Engine::Mysql => 3306,
            Engine::Mongo => 27017,
        };
        let rest = url.split_once("://")?.1;
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
        let (userinfo, hostlist) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let mut user = userinfo.map(|u| percent_decode(u.split(':').next().unwrap_or_default()));
        let mut database = Some(percent_decode(path)).filter(|d| !d.is_empty());
        let mut hosts: Vec<String> = hostlist.split(',').map(percent_decode).collect();
        let mut ports: Vec<String> = Vec::new();
        if engine == Engine::Postgres {
            for (key, value) in query.split('&').filter_map(|p| p.split_once('=')) {
                let value = percent_decode(value);
                match key {
                    "host" => hosts = value.split(',').map(str::to_string).collect(),
                    "port" => ports = value.split(',').map(str::to_string).collect(),
                    "dbname" => database = Some(value),
                    "user" => user = Some(value),
                    _ => {}
                }
            }
            // libpq's default database is the user's name.
            database = database.or(user);
        }
        let mut pairs = Vec::new();
        for (i, host) in hosts.iter().enumerate() {
            let (host, port) = split_port(host);
            let port = match ports.get(i).or(ports.first()).map(String::as_str).or(port) {
                Some(p) => p.parse().ok()?,
                None => default_port,
            };
            pairs.push((normal_host(host), port));
        }
        Some(Endpoint {
            engine,
            hosts: pairs,
            database,
        })
    }

    /// The same engine and database on a host and port both name; nothing unknown matches.
    fn same_database(&self, other: &Endpoint) -> bool {
        let known = |s: &str| !s.contains(UNKNOWN);
        let database = match (&self.database, &other.database) {
            (Some(a), Some(b)) => known(a) && a == b,
            _ => false,
        };
        self.engine == other.engine && database && self.hosts.iter().any(|h| known(&h.0) && other.hosts.contains(h))
    }
}

/// Decodes `%XX` escapes of a URL part.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `host:port`, `[v6]:port`, `host`.
fn split_port(host: &str) -> (&str, Option<&str>) {
    if let Some(inner) = host.strip_prefix('[') {
        return match inner.split_once(']') {
            Some((addr, tail)) => (addr, tail.strip_prefix(':')),
            None => (inner, None),
        };
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (host, None),
    }
}

/// Lower case; the loopback names and a local socket (an empty host or a socket path) are one.
fn normal_host(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match host.as_str() {
        "" | "localhost" | "127.0.0.1" | "::1" | "0:0:0:0:0:0:0:1" => "localhost".into(),
        h if h.starts_with('/') => "localhost".into(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        Endpoint::parse(a).unwrap().same_database(&Endpoint::parse(b).unwrap())
    }

    #[test]
    fn urls_are_compared_by_host_port_and_database() {
        assert!(same(
            "postgres://app:secret@localhost:5432/app?sslmode=require",
            "postgresql://other@127.0.0.1/app"
        ));
        assert!(same(
            "postgres://app@DB.example.com/app",
            "postgres://x:y@db.example.com:5432/app"
        ));
        assert!(same("postgres://[::1]:5433/app", "postgres://localhost:5433/app"));
        assert!(same("postgres://app@db/app", "postgres:///app?host=db&port=5432"));
        assert!(
            same("postgres://app@db", "postgres://db/app"),
            "libpq's default database is the user"
        );
        assert!(same("postgres://a@h1,h2:6000/app", "postgres://h2:6000/app"));
        assert!(!same("postgres://localhost/app", "postgres://localhost/app_copy"));
        assert!(!same("postgres://localhost/app", "postgres://localhost:5433/app"));
        assert!(!same("postgres://db1/app", "postgres://db2/app"));
        assert!(!same("postgres://localhost/app", "mysql://localhost/app"));
        assert!(same("mysql://root@127.0.0.1:3306/shop", "mariadb://u:p@localhost/shop"));
        assert!(same(
            "mongodb://localhost/app",
            "mongodb://127.0.0.1:27017/app?directConnection=true"
        ));
    }

    #[test]
    fn unset_variables_compare_what_is_left() {
        std::env::remove_var("DECOY_TEST_UNSET_GUARD");
        let source = expand_unset_as_unknown("postgres://app:${DECOY_TEST_UNSET_GUARD}@localhost:5432/app");
        assert!(same(&source, "postgres://localhost/app"), "{source:?}");
        let source = expand_unset_as_unknown("postgres://app@${DECOY_TEST_UNSET_GUARD}:5432/app");
        assert!(
            !same(&source, "postgres://localhost/app"),
            "an unknown host matches nothing"
        );
        let source = expand_unset_as_unknown("postgres://app@${DECOY_TEST_UNSET_GUARD:-localhost}/app");
        assert!(same(&source, "postgres://127.0.0.1/app"));
    }
}
