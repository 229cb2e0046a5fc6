//! `*` and `?` globs for table names in `only` and `tables:` keys.

pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Matches `text` against `pattern`, where `*` is any run of characters and `?` any one character.
pub fn matches(pattern: &str, text: &str) -> bool {
    transformers::wildcard_match(text, pattern, '*', '?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(matches("public.*", "public.users"));
        assert!(!matches("public.*", "billing.users"));
        assert!(matches("*.audit_?", "x.audit_1"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("exact", "exact"));
        assert!(is_glob("p.*") && !is_glob("p.t"));
    }
}
