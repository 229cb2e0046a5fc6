//! Dump names and object keys.

use anyhow::bail;
use connectors::QualifiedName;

/// A new dump's default name: UTC time to the millisecond, then a random part so that two runs
/// started in the same millisecond (CronJob retries, two engineers) never pick the same name.
pub fn new_dump_name(now: chrono::DateTime<chrono::Utc>) -> String {
    format!("{}-{}", now.format("%Y%m%d-%H%M%S-%3f"), super::random_hex(3))
}

/// Names become folder names and object key prefixes: keep them to a portable alphabet.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name != "latest"
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        bail!(crate::error::ConfigError::new(format!(
            "invalid dump name `{name}`: use 1-128 letters, digits, `-`, `_` or `.` (and not `latest`)"
        )));
    }
    Ok(())
}

/// A folder name for a table that is safe on every filesystem and object store: bytes outside
/// `[A-Za-z0-9_-]` are percent-encoded, so `"MixedSchema"."Weird Table"` stays readable and unique.
pub fn table_folder(table: &QualifiedName) -> String {
    format!("{}.{}", encode(&table.schema), encode(&table.name))
}

fn encode(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `NAME/data/<table folder>/<n>.<format>.zst`, zero-padded so chunk 10 sorts after chunk 2; the
/// format is `copy` (PostgreSQL COPY text) or `tsv` (MySQL LOAD DATA text).
pub fn chunk_key(dump: &str, table: &QualifiedName, index: usize, format: &str) -> String {
    format!("{dump}/data/{}/{index:06}.{format}.zst", table_folder(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time() {
        let a = new_dump_name(chrono::DateTime::from_timestamp(1_700_000_000, 5_000_000).unwrap());
        let b = new_dump_name(chrono::DateTime::from_timestamp(1_700_000_000, 60_000_000).unwrap());
        assert!(
            a.starts_with("20231114-221320-005-") && a.len() == "20231114-221320-005-".len() + 6,
            "{a}"
        );
        assert!(a < b);
        // Same millisecond, different names.
        let now = chrono::Utc::now();
        assert_ne!(new_dump_name(now), new_dump_name(now));
        validate_name(&a).unwrap();
    }

    #[test]
    fn bad_names_are_rejected() {
        for bad in ["", "latest", "../x", "a/b", ".hidden", "with space"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_folders_are_portable_and_distinct() {
        let weird = QualifiedName::new("MixedSchema", "Weird Table");
        assert_eq!(table_folder(&weird), "MixedSchema.Weird%20Table");
        assert_ne!(
            table_folder(&QualifiedName::new("a.b", "c")),
            table_folder(&QualifiedName::new("a", "b.c"))
        );
        assert_eq!(
            chunk_key("d", &weird, 2, "copy"),
            "d/data/MixedSchema.Weird%20Table/000002.copy.zst"
        );
    }
}
