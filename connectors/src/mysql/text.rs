//! How each MySQL column travels in a chunk of LOAD DATA text: most as the server prints them, binary
//! ones as `\x`-prefixed hex (the same spelling as PostgreSQL's bytea, so transformers see one
//! format), BIT as its number. Dump and restore pick the same codec from the column's type.

use super::connect::quote_ident;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldCodec {
    /// The server's text, unchanged.
    Plain,
    /// `\x` + hex of the bytes: any byte sequence survives any connection character set.
    Hex,
    /// BIT(n) as an unsigned number: LOAD DATA would otherwise store the digits' characters.
    BitNumber,
}

/// The codec for a column, from its type as `information_schema.COLUMNS.COLUMN_TYPE` prints it.
pub fn field_codec(type_name: &str) -> FieldCodec {
    let base = type_name
        .split(|c: char| c == '(' || c.is_whitespace())
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match base.as_str() {
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "geometry" | "point"
        | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon" | "geometrycollection" => {
            FieldCodec::Hex
        }
        "bit" => FieldCodec::BitNumber,
        _ => FieldCodec::Plain,
    }
}

/// The select-list expression that reads a column in its codec.
pub fn read_expr(column: &str, codec: FieldCodec) -> String {
    let quoted = quote_ident(column);
    match codec {
        FieldCodec::Plain => quoted,
        // HEX(NULL) and CONCAT(.., NULL) are NULL, so NULL stays NULL.
        FieldCodec::Hex => format!("CONCAT('\\\\x', HEX({quoted}))"),
        FieldCodec::BitNumber => format!("CAST({quoted} AS UNSIGNED)"),
    }
}

/// The column list and SET clause of a `LOAD DATA` for `columns` (name, codec): plain columns load
/// directly, the others through a user variable converted back. Once there is a SET clause, every
/// column goes through one: MariaDB then ignores NO_AUTO_VALUE_ON_ZERO for columns loaded directly,
/// and would renumber a row whose AUTO_INCREMENT key is 0.
pub fn load_targets(columns: &[(String, FieldCodec)]) -> (String, String) {
    let converted = columns.iter().any(|(_, codec)| *codec != FieldCodec::Plain);
    let mut targets = Vec::with_capacity(columns.len());
    let mut sets = Vec::new();
    for (i, (name, codec)) in columns.iter().enumerate() {
        let quoted = quote_ident(name);
        match codec {
            FieldCodec::Plain if converted => {
                targets.push(format!("@v{i}"));
                sets.push(format!("{quoted} = @v{i}"));
            }
            FieldCodec::Plain => targets.push(quoted),
            FieldCodec::Hex => {
                targets.push(format!("@v{i}"));
                sets.push(format!("{quoted} = UNHEX(SUBSTRING(@v{i}, 3))"));
            }
            FieldCodec::BitNumber => {
                targets.push(format!("@v{i}"));
                sets.push(format!("{quoted} = CAST(@v{i} AS UNSIGNED)"));
            }
        }
    }
    let set = if sets.is_empty() {
        String::new()
    } else {
        format!(" SET {}", sets.join(", "))
    };
    (targets.join(", "), set)
}

/// Appends one row of text-protocol values as a LOAD DATA line (fields tab-separated, `\N` for NULL).
pub fn encode_row(row: &mysql_async::Row, out: &mut Vec<u8>) {
    use mysql_async::Value;
    for i in 0..row.len() {
        if i > 0 {
            out.push(b'\t');
        }
        match row.as_ref(i) {
            None | Some(Value::NULL) => out.extend_from_slice(crate::postgres::copy_text::NULL),
            Some(Value::Bytes(bytes)) => crate::postgres::copy_text::escape_mysql_into(bytes, out),
            // The text protocol sends everything as bytes; the binary one is not used for reads.
            Some(other) => {
                let text = other.as_sql(true);
                crate::postgres::copy_text::escape_mysql_into(text.trim_matches('\'').as_bytes(), out)
            }
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_follow_the_type() {
        assert_eq!(field_codec("varbinary(16)"), FieldCodec::Hex);
        assert_eq!(field_codec("longblob"), FieldCodec::Hex);
        assert_eq!(field_codec("bit(3)"), FieldCodec::BitNumber);
        assert_eq!(field_codec("varchar(40)"), FieldCodec::Plain);
        assert_eq!(field_codec("int(10) unsigned"), FieldCodec::Plain);
        assert_eq!(read_expr("b", FieldCodec::Hex), "CONCAT('\\\\x', HEX(`b`))");
    }

    #[test]
    fn load_targets_convert_through_variables() {
        let columns = vec![
            ("id".to_string(), FieldCodec::Plain),
            ("data".to_string(), FieldCodec::Hex),
            ("flags".to_string(), FieldCodec::BitNumber),
        ];
        let (targets, set) = load_targets(&columns);
        assert_eq!(targets, "@v0, @v1, @v2");
        assert_eq!(
            set,
            " SET `id` = @v0, `data` = UNHEX(SUBSTRING(@v1, 3)), `flags` = CAST(@v2 AS UNSIGNED)"
        );
        let plain = vec![
            ("id".to_string(), FieldCodec::Plain),
            ("a b".to_string(), FieldCodec::Plain),
        ];
        assert_eq!(load_targets(&plain), ("`id`, `a b`".to_string(), String::new()));
    }
}
