//! Finds the line of a key path in YAML text, so errors found after parsing (an unknown column, a bad
//! transformer option) can still say where to look.

/// The 1-based line of the deepest key of `path` found in `text` (block-style mappings; a key inside
/// a flow mapping `{ a: 1 }` reports the line of the mapping's own key).
pub fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut best: Option<(usize, usize)> = None; // (matched depth, line)
    for (number, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("- ") || trimmed == "-" {
            continue;
        }
        let indent = raw.len() - trimmed.len();
        let Some(key) = key_of(trimmed) else { continue };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key));
        let depth = stack.len();
        if depth <= path.len() && stack.iter().zip(path).all(|((_, k), p)| k == p) {
            if best.is_none_or(|(d, _)| depth > d) {
                best = Some((depth, number + 1));
            }
            if depth == path.len() {
                return Some(number + 1);
            }
        }
    }
    best.map(|(_, line)| line)
}

/// The key of a `key: value` or `key:` line, unquoted.
fn key_of(line: &str) -> Option<String> {
    if let Some(quote) = line.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = line[1..].find(quote)? + 1;
        return line[end + 1..]
            .trim_start()
            .starts_with(':')
            .then(|| line[1..end].to_string());
    }
    let colon = line.find(": ").or_else(|| line.strip_suffix(':').map(|l| l.len()))?;
    Some(line[..colon].trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "source:\n  url: x\ntables:\n  # users\n  public.users:\n    columns:\n      email: { transformer: email, keep_domian: true }\n      \"first name\": first-name\n  public.orders: skip\n";

    #[test]
    fn finds_nested_keys() {
        assert_eq!(line_of(YAML, &["tables", "public.users", "columns", "email"]), Some(7));
        assert_eq!(
            line_of(YAML, &["tables", "public.users", "columns", "email", "keep_domian"]),
            Some(7)
        );
        assert_eq!(
            line_of(YAML, &["tables", "public.users", "columns", "first name"]),
            Some(8)
        );
        assert_eq!(line_of(YAML, &["tables", "public.orders"]), Some(9));
        assert_eq!(line_of(YAML, &["source", "url"]), Some(2));
        assert_eq!(line_of(YAML, &["nowhere"]), None);
    }
}
