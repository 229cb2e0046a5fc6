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

/// Masks the password of every `scheme://user:password@` found anywhere in `text` (an error message
/// that quotes a config value, say). Used as a last safety net before anything is printed.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let authority_start = pos + 3;
        out.push_str(&rest[..authority_start]);
        let tail = &rest[authority_start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '"' | '\'' | '`' | '?'))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    redact_password_params(&out)
}

/// `password=...` in a query string or connection string, anywhere in `text`.
fn redact_password_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.to_ascii_lowercase().find("password=") {
        let value_start = pos + "password=".len();
        out.push_str(&rest[..value_start]);
        let tail = &rest[value_start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | '"' | '\'' | '`'))
            .unwrap_or(tail.len());
        if end > 0 {
            out.push_str("***");
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
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

/// Decodes `%XX` escapes of a URL part (a database name, a file path); other bytes stay.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The engine a URL points at, from its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
    Mongo,
}

pub fn engine_of(url: &str) -> Result<Engine, crate::ConnectorError> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => Ok(Engine::Postgres),
        "mysql" | "mariadb" => Ok(Engine::Mysql),
        "mongodb" | "mongodb+srv" => Ok(Engine::Mongo),
        "" => Err(crate::ConnectorError::Url(format!(
            "`{}` has no scheme; expected postgres://user@host:port/database, mysql://user@host:port/database or mongodb://user@host:port/database",
            redact(url)
        ))),
        other => Err(crate::ConnectorError::Url(format!(
            "unsupported scheme `{other}://` in `{}`; decoy supports postgres:// (and postgresql://), mysql:// (and mariadb://) and mongodb:// (and mongodb+srv://)",
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
    fn passwords_are_masked_anywhere_in_a_message() {
        let message = "invalid type: string \"postgres://app:s3cr3t@db:5432/app\", expected struct; also \
                       mysql://root:pw@h/x and host=db password=hunter2 user=x";
        let clean = redact_text(message);
        assert!(
            !clean.contains("s3cr3t") && !clean.contains(":pw@") && !clean.contains("hunter2"),
            "{clean}"
        );
        assert!(
            clean.contains("postgres://app:***@db:5432/app") && clean.contains("password=*** user=x"),
            "{clean}"
        );
        assert_eq!(redact_text("no urls here: a:b@c"), "no urls here: a:b@c");
    }

    #[test]
    fn rejects_unknown_schemes_without_leaking_secrets() {
        let err = engine_of("oracle://u:topsecret@h/db").unwrap_err().to_string();
        assert!(err.contains("oracle://"), "{err}");
        assert!(!err.contains("topsecret"), "{err}");
        assert_eq!(engine_of("postgresql://h/db").unwrap(), Engine::Postgres);
    }
}
