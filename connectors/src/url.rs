//! Database URLs: redaction for messages and logs.

/// Replaces the password of a `scheme://user:password@host/...` URL with `***`, so URLs can be shown
/// in logs, errors and manifests. Strings that are not URLs are returned unchanged.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return redact_query(url);
    };
    let userinfo = &authority[..at];
    let redacted_userinfo = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        None => userinfo.to_string(),
    };
    redact_query(&format!(
        "{}://{}@{}{}",
        &url[..scheme_end],
        redacted_userinfo,
        &authority[at + 1..],
        &rest[authority_end..]
    ))
}

/// `?password=...` is accepted by libpq-style URLs too.
fn redact_query(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_string();
    };
    let params: Vec<String> = url[q + 1..]
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{}?{}", &url[..q], params.join("&"))
}

/// The engine a URL points at, from its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
}

pub fn engine_of(url: &str) -> Result<Engine, crate::ConnectorError> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => Ok(Engine::Postgres),
        "" => Err(crate::ConnectorError::Url(format!(
            "`{}` has no scheme; expected postgres://user@host:port/database",
            redact(url)
        ))),
        other => Err(crate::ConnectorError::Url(format!(
            "unsupported scheme `{other}://` in `{}`; this version of decoy supports postgres:// (and postgresql://)",
            redact(url)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_but_keeps_the_rest() {
        assert_eq!(
            redact("postgres://app:s3cr%40t@db:5432/app?sslmode=disable"),
            "postgres://app:***@db:5432/app?sslmode=disable"
        );
        assert_eq!(redact("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(
            redact("postgres://db/app?user=a&password=hunter2"),
            "postgres://db/app?user=a&password=***"
        );
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn rejects_unknown_schemes_without_leaking_secrets() {
        let err = engine_of("oracle://u:topsecret@h/db").unwrap_err().to_string();
        assert!(err.contains("oracle://"), "{err}");
        assert!(!err.contains("topsecret"), "{err}");
        assert_eq!(engine_of("postgresql://h/db").unwrap(), Engine::Postgres);
    }
}
