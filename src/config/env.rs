//! `${VAR}` substitution in config values, applied after YAML parsing so that a value containing
//! YAML syntax (a `#` or `: ` in a password) can never change the document's structure.

/// Why a value could not be expanded. The caller adds the config key.
#[derive(Debug, PartialEq, Eq)]
pub enum ExpandError {
    Unset(String),
    Unterminated,
}

/// Expands `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`. A variable that is unset (or empty,
/// with no default) is an error: a silently empty salt or password is worse than a clear failure.
pub fn expand(value: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    expand_with(value, lookup, |name| Err(ExpandError::Unset(name.to_string())))
}

/// [`expand`], with `unset` deciding what a variable that is unset (or empty) with no default
/// becomes.
pub fn expand_with(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
    unset: impl Fn(&str) -> Result<String, ExpandError>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or(ExpandError::Unterminated)?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (expr, None),
            };
            match (lookup(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(default)) => out.push_str(default),
                (None, None) => out.push_str(&unset(name)?),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PGPASSWORD" => Some("p#ss: word".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_anywhere_in_a_value() {
        assert_eq!(
            expand("postgres://app:${PGPASSWORD}@db/app", env).unwrap(),
            "postgres://app:p#ss: word@db/app"
        );
        assert_eq!(expand("${MISSING:-fallback}-x", env).unwrap(), "fallback-x");
        assert_eq!(expand("cost $$5 and $x", env).unwrap(), "cost $5 and $x");
    }

    #[test]
    fn unset_or_empty_variables_are_errors() {
        assert_eq!(expand("${MISSING}", env), Err(ExpandError::Unset("MISSING".into())));
        assert_eq!(expand("${EMPTY}", env), Err(ExpandError::Unset("EMPTY".into())));
        assert_eq!(expand("${OOPS", env), Err(ExpandError::Unterminated));
    }
}
