//! Database URLs as decoy reads them, and their redaction for messages and logs.
//!
//! Passwords are often generated and hold `@`, `/`, `?`, `#` or `:` written as they are rather than
//! percent-encoded. The drivers disagree on such URLs: tokio-postgres ends the user info at the
//! first `@`, the `url` crate that mysql_async uses ends the host at the first `/`, `?` or `#`, and
//! the MongoDB driver refuses them. decoy therefore cuts a URL itself (see [`split`]): the user
//! info ends at the LAST `@` that is followed by a host list, and the user name at the first `:`.
//! [`normalize`] then percent-encodes the user name and password, so every driver reads the same
//! parts, and [`redact`] masks the password whatever characters it holds.

/// A URL cut into its parts. The user name and password are as written (percent escapes kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    /// `host[:port]`, several separated by commas, `[v6]:port`, or empty.
    pub hosts: &'a str,
    /// What follows the hosts: `/database?params`, `?params` or nothing.
    pub rest: &'a str,
}

/// Cuts `scheme://[user[:password]@]hosts[/database][?params]`. The user info ends at the last `@`
/// whose following host list (up to the next `/` or `?`) holds only host characters, and whose
/// user name (up to the first `:`) holds no `/`, `?` or `#`: so `p@ss/w?rd#1` is one password, and
/// an `@` in the path or a query value (`?application_name=a@b&...`) is not taken for the
/// separator. A query value's `@` followed by host-like text at the very end of the URL is
/// ambiguous: write it `%40`. `None` when `url` has no `scheme://`.
pub fn split(url: &str) -> Option<UrlParts<'_>> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let after = &url[scheme_end + 3..];
    let host_end = |tail: &str| tail.find(['/', '?']).unwrap_or(tail.len());
    let at = after.rmatch_indices('@').map(|(i, _)| i).find(|&i| {
        let tail = &after[i + 1..];
        let user = after[..i].split(':').next().unwrap_or_default();
        is_host_list(&tail[..host_end(tail)]) && !user.contains(['/', '?', '#'])
    });
    let (user, password, tail) = match at {
        Some(at) => {
            let (user, password) = match after[..at].split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (&after[..at], None),
            };
            (Some(user), password, &after[at + 1..])
        }
        None => (None, None, after),
    };
    let end = host_end(tail);
    Some(UrlParts {
        scheme,
        user,
        password,
        hosts: &tail[..end],
        rest: &tail[end..],
    })
}

/// Host names, IPv4 and bracketed IPv6 addresses, ports, commas between hosts, percent-encoded
/// socket paths and international names; not `@`, `&`, `=` or spaces.
fn is_host_list(hosts: &str) -> bool {
    hosts.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~' | '%' | ',' | ':' | '[' | ']') || !c.is_ascii()
    })
}

/// The URL with its user name and password percent-encoded (existing `%XX` escapes kept), so that
/// every driver reads the parts [`split`] found. Other URLs are returned as they are.
pub fn normalize(url: &str) -> String {
    let Some(parts) = split(url) else {
        return url.to_string();
    };
    let Some(user) = parts.user else {
        return url.to_string();
    };
    let mut out = format!("{}://{}", parts.scheme, encode_userinfo(user));
    if let Some(password) = parts.password {
        out.push(':');
        out.push_str(&encode_userinfo(password));
    }
    out.push('@');
    out.push_str(parts.hosts);
    out.push_str(parts.rest);
    out
}

/// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`); a `%` that starts a
/// valid escape is kept, since every driver decodes user info.
fn encode_userinfo(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        let escape =
            b == b'%' && bytes.len() > i + 2 && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit();
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || escape {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Replaces the password of a `scheme://user:password@host/...` URL with `***` (and the value of
/// any `...password=` parameter), so URLs can be shown in logs, errors and summaries. The password
/// may hold any character, `@`, `/`, `?` and `#` included. Strings that are not URLs are returned
/// with only `password=` values masked.
pub fn redact(url: &str) -> String {
    let Some(parts) = split(url) else {
        return redact_password_params(url);
    };
    if parts.user.is_none() {
        // No host list follows any `@`, so where the password ends is unknown: mask everything from
        // the first `:` to the last `@`, whatever it holds.
        let after = &url[parts.scheme.len() + 3..];
        if let Some(at) = after.rfind('@') {
            if let Some(colon) = after[..at].find(':') {
                return format!(
                    "{}://{}:***{}",
                    parts.scheme,
                    &after[..colon],
                    redact_password_params(&after[at..])
                );
            }
        }
    }
    let mut out = format!("{}://", parts.scheme);
    match (parts.user, parts.password) {
        (Some(user), Some(_)) => out.push_str(&format!("{user}:***@")),
        (Some(user), None) => out.push_str(&format!("{user}@")),
        (None, _) => {}
    }
    out.push_str(parts.hosts);
    out.push_str(&redact_query(parts.rest));
    redact_session_tokens(&out)
}

/// True when `url` seems to carry a password, so that a message about a URL a driver refused can
/// suggest percent-encoding it.
pub fn has_password(url: &str) -> bool {
    split(url).is_some_and(|p| p.password.is_some() || (p.user.is_none() && url[p.scheme.len() + 3..].contains('@')))
}

/// What to add to a message about a URL that could not be parsed: the likely cause, without the
/// password.
pub fn encoding_hint(url: &str) -> &'static str {
    if has_password(url) {
        "; if the password holds characters such as @ / ? # : % or spaces, it probably needs \
         percent-encoding (@ as %40, / as %2F, ? as %3F, # as %23, : as %3A, % as %25, a space as %20)"
    } else {
        ""
    }
}

/// Masks the password of every `scheme://user:password@` found anywhere in `text` (an error message
/// that quotes a config value, say), and every `password=` value. Used as a last safety net before
/// anything is printed. A URL runs to the next whitespace; its user info ends at its last `@` and
/// its user name at its first `:`, so a password holding `@`, `/`, `?` or `#` is masked whole (a
/// password holding a space must be percent-encoded to be masked here).
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let start = pos + 3;
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let url = &tail[..end];
        match url
            .rfind('@')
            .and_then(|at| url[..at].find(':').map(|colon| (colon, at)))
        {
            Some((colon, at)) => {
                out.push_str(&url[..colon]);
                out.push_str(":***");
                out.push_str(&url[at..]);
            }
            None => out.push_str(url),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    redact_session_tokens(&redact_password_params(&out))
}

/// MongoDB's `authMechanismProperties=AWS_SESSION_TOKEN:<token>` (also percent-encoded) carries a
/// temporary AWS credential: its value is masked like a password, up to the next property.
fn redact_session_tokens(text: &str) -> String {
    let mut out = text.to_string();
    for marker in ["aws_session_token:", "aws_session_token%3a"] {
        let mut masked = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(pos) = rest.to_ascii_lowercase().find(marker) {
            let value_start = pos + marker.len();
            masked.push_str(&rest[..value_start]);
            let tail = &rest[value_start..];
            let end = tail
                .find(|c: char| c.is_whitespace() || matches!(c, ',' | '&' | '"' | '\'' | '`'))
                .unwrap_or(tail.len());
            if end > 0 {
                masked.push_str("***");
            }
            rest = &tail[end..];
        }
        masked.push_str(rest);
        out = masked;
    }
    out
}

/// `password=...` (and `sslpassword=`, `tlsCertificateKeyFilePassword=`, ...) in a query string or
/// connection string, anywhere in `text`; a quoted value is masked up to its closing quote.
fn redact_password_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.to_ascii_lowercase().find("password=") {
        let value_start = pos + "password=".len();
        out.push_str(&rest[..value_start]);
        let tail = &rest[value_start..];
        let end = match tail.strip_prefix('\'') {
            Some(quoted) => quoted.find('\'').map_or(tail.len(), |close| close + 2),
            None => tail
                .find(|c: char| c.is_whitespace() || matches!(c, '&' | '"' | '\'' | '`'))
                .unwrap_or(tail.len()),
        };
        if end > 0 {
            out.push_str("***");
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `?password=...` is accepted by libpq-style URLs too, and `?tlsCertificateKeyFilePassword=` by
/// MongoDB's: every parameter whose name ends in `password` is masked.
fn redact_query(rest: &str) -> String {
    let Some((path, query)) = rest.split_once('?') else {
        return rest.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.to_ascii_lowercase().ends_with("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

/// Decodes `%XX` escapes of a URL part (a database name, a file path); other bytes stay.
pub(crate) fn percent_decode(text: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(text)).into_owned()
}

/// [`percent_decode`] without the UTF-8 check (a password may be any bytes).
pub(crate) fn percent_decode_bytes(text: &str) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
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
    fn aws_session_tokens_are_masked() {
        let url = "mongodb://db:27017/app?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:FQoGZXIvYXdzEtok3n,SERVICE_NAME:x";
        let shown = redact(url);
        assert!(
            !shown.contains("FQoGZXIvYXdzEtok3n") && shown.contains("SERVICE_NAME:x"),
            "{shown}"
        );
        let text = format!("cannot connect to {} (AWS_SESSION_TOKEN%3AFQoGZXIvYXdzEtok3n)", url);
        assert!(
            !redact_text(&text).contains("FQoGZXIvYXdzEtok3n"),
            "{}",
            redact_text(&text)
        );
    }

    /// Passwords as password generators make them, written into the URL as they are.
    const RAW: &[&str] = &[
        "Zq@Xw/Yv?Ku#9t",
        "aZ:bY@cX",
        "xQ/yW",
        "qJ?rK",
        "hV#sV",
        "@@",
        "::@:/",
        "100%sure",
    ];

    fn fragments(password: &str) -> Vec<&str> {
        password
            .split(['@', '/', '?', '#', ':'])
            .filter(|f| f.len() > 1)
            .chain([password])
            .collect()
    }

    #[test]
    fn the_user_info_ends_at_the_last_at_sign_before_the_host() {
        let parts = split("postgres://app:p@ss/w?rd#1@127.0.0.1:5432/db?sslmode=disable").unwrap();
        assert_eq!(
            parts,
            UrlParts {
                scheme: "postgres",
                user: Some("app"),
                password: Some("p@ss/w?rd#1"),
                hosts: "127.0.0.1:5432",
                rest: "/db?sslmode=disable",
            }
        );
        // Azure's `user@server` names keep their `@`; the password is after the first `:`.
        let parts = split("postgresql://me@srv:pa:ss@db.example.com/app").unwrap();
        assert_eq!(
            (parts.user, parts.password, parts.hosts),
            (Some("me@srv"), Some("pa:ss"), "db.example.com")
        );
        let parts = split("mongodb+srv://u:a/b@cluster0.example.net/shop?authSource=admin").unwrap();
        assert_eq!(
            (parts.password, parts.hosts, parts.rest),
            (Some("a/b"), "cluster0.example.net", "/shop?authSource=admin")
        );
        let parts = split("mongodb://u:p@h1:27017,h2:27018,[::1]:27019/db").unwrap();
        assert_eq!(parts.hosts, "h1:27017,h2:27018,[::1]:27019");
        // An `@` in the path or in a query value is not the separator.
        let parts = split("postgres://h:5432/db?application_name=a@b&sslmode=disable").unwrap();
        assert_eq!((parts.user, parts.hosts), (None, "h:5432"));
        let parts = split("postgres://h/db@x").unwrap();
        assert_eq!((parts.user, parts.hosts, parts.rest), (None, "h", "/db@x"));
        let parts = split("mysql://root@127.0.0.1:3306/app").unwrap();
        assert_eq!((parts.user, parts.password), (Some("root"), None));
        assert_eq!(
            split("postgres://%2Fvar%2Frun%2Fpostgresql/db").unwrap().hosts,
            "%2Fvar%2Frun%2Fpostgresql"
        );
        assert!(split("not a url").is_none());
    }

    #[test]
    fn normalized_urls_carry_the_password_percent_encoded() {
        assert_eq!(
            normalize("postgres://app:p@ss/w?rd#1@127.0.0.1:5432/db"),
            "postgres://app:p%40ss%2Fw%3Frd%231@127.0.0.1:5432/db"
        );
        // Escapes already there stay; a `%` that starts none is encoded.
        assert_eq!(normalize("mysql://u:a%40b%zz@h/x"), "mysql://u:a%40b%25zz@h/x");
        assert_eq!(normalize("postgres://me@srv:pw@h/db"), "postgres://me%40srv:pw@h/db");
        assert_eq!(normalize("postgres://h/db?x=1"), "postgres://h/db?x=1");
        for password in RAW {
            let url = format!("mysql://u:{password}@db:3306/x");
            let decoded = percent_decode(split(&normalize(&url)).unwrap().password.unwrap());
            assert_eq!(decoded, *password, "{url}");
        }
    }

    #[test]
    fn raw_passwords_are_masked_in_every_url_form() {
        for password in RAW {
            for (url, shown) in [
                (
                    format!("postgres://app:{password}@127.0.0.1:5432/db?sslmode=disable"),
                    "postgres://app:***@127.0.0.1:5432/db?sslmode=disable",
                ),
                (
                    format!("postgresql://app:{password}@h1,h2:5433/db"),
                    "postgresql://app:***@h1,h2:5433/db",
                ),
                (
                    format!("mysql://root:{password}@127.0.0.1:3306/shop"),
                    "mysql://root:***@127.0.0.1:3306/shop",
                ),
                (
                    format!("mariadb://root:{password}@db/shop?require_ssl=true"),
                    "mariadb://root:***@db/shop?require_ssl=true",
                ),
                (
                    format!("mongodb://app:{password}@db:27017/shop?authSource=admin"),
                    "mongodb://app:***@db:27017/shop?authSource=admin",
                ),
                (
                    format!("mongodb+srv://app:{password}@cluster0.example.net/shop"),
                    "mongodb+srv://app:***@cluster0.example.net/shop",
                ),
            ] {
                assert_eq!(redact(&url), shown, "{url}");
                let message = format!("connecting to `{url}` failed: timeout; also tried {url}.");
                let clean = redact_text(&message);
                for fragment in fragments(password) {
                    assert!(!clean.contains(fragment), "{fragment} in {clean}");
                }
                assert!(clean.contains(shown.split('?').next().unwrap()), "{clean}");
            }
        }
    }

    #[test]
    fn urls_that_cannot_be_cut_are_masked_whole() {
        // No host list after any `@`: everything between the first `:` and the last `@` goes.
        assert_eq!(redact("postgres://u:p/x@bad host/db"), "postgres://u:***@bad host/db");
        assert!(has_password("postgres://u:p/x@bad host/db"));
        assert!(encoding_hint("postgres://u:p/x@bad host/db").contains("percent-encoding"));
        assert_eq!(encoding_hint("postgres://h/db"), "");
        assert_eq!(
            redact("mongodb://h/db?tlsCertificateKeyFilePassword=k3y&x=1"),
            "mongodb://h/db?tlsCertificateKeyFilePassword=***&x=1"
        );
        assert_eq!(
            redact_text("host=h password='a b' user=u"),
            "host=h password=*** user=u"
        );
    }

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
