//! Reads tables, columns, keys and views of one database from information_schema.

use std::collections::{BTreeSet, HashMap, HashSet};

use mysql_async::prelude::{FromValue, Queryable};
use mysql_async::{Conn, Row};
use transformers::ColumnKind;

use super::connect::describe_error;
use crate::schema::{Column, ForeignKey, QualifiedName, Schema, Table};
use crate::ConnectorError;

// Optional information_schema columns: GENERATION_EXPRESSION (MySQL 5.7+, MariaDB 10.2+) and
// CHECK_CONSTRAINTS.TABLE_NAME (MariaDB only; MySQL has a real JSON type and needs no check).
const OPTIONAL_COLUMNS: &str = "
SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = 'information_schema'
  AND ((TABLE_NAME = 'COLUMNS' AND COLUMN_NAME = 'GENERATION_EXPRESSION')
       OR (TABLE_NAME = 'CHECK_CONSTRAINTS' AND COLUMN_NAME = 'TABLE_NAME'))";

// System-versioned tables and sequences (MariaDB) have other TABLE_TYPEs and are left out.
const TABLES: &str = "
SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES
WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'";

// Views have columns too: rows of tables not listed are skipped.
const COLUMNS: &str = "
SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION,
       NUMERIC_SCALE, IS_NULLABLE, EXTRA, {generation}
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = ?
ORDER BY TABLE_NAME, ORDINAL_POSITION";

// MariaDB stores JSON as LONGTEXT with a `json_valid(col)` check.
const JSON_CHECKS: &str = "
SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = ? AND CHECK_CLAUSE LIKE 'json_valid(%'";

// COLUMN_NAME is NULL for MySQL 8's functional index parts: such an index is no column set.
const UNIQUE_INDEXES: &str = "
SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = ? AND NON_UNIQUE = 0
ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX";

// The second schema condition lets the server read one database's constraints instead of all.
const FOREIGN_KEYS: &str = "
SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME,
       k.REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.REFERENTIAL_CONSTRAINTS r
  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
     AND r.TABLE_NAME = k.TABLE_NAME
WHERE k.TABLE_SCHEMA = ? AND r.CONSTRAINT_SCHEMA = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION";

const VIEWS: &str = "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?";

/// The tables of `database` (base tables only, not views) with columns, primary key, unique sets and foreign keys,
/// read from information_schema. QualifiedName.schema is the database name.
pub async fn introspect(conn: &mut Conn, database: &str) -> Result<Schema, ConnectorError> {
    let fail = |e: mysql_async::Error| failed(database, e);
    let optional: Vec<(String, String)> = conn.query(OPTIONAL_COLUMNS).await.map_err(fail)?;
    let has_generation = optional.iter().any(|(t, _)| t.eq_ignore_ascii_case("COLUMNS"));
    let has_check_tables = optional
        .iter()
        .any(|(t, _)| t.eq_ignore_ascii_case("CHECK_CONSTRAINTS"));

    let mut tables: Vec<Table> = Vec::new();
    for row in conn.exec::<Row, _, _>(TABLES, (database,)).await.map_err(fail)? {
        tables.push(Table {
            name: QualifiedName::new(database, get::<String>(&row, 0, database)?),
            columns: Vec::new(),
            primary_key: Vec::new(),
            unique: Vec::new(),
            foreign_keys: Vec::new(),
            estimated_rows: get::<Option<i64>>(&row, 1, database)?.unwrap_or(0),
            estimated_bytes: get::<Option<i64>>(&row, 2, database)?.unwrap_or(0),
            partition_root: None,
        });
    }
    // information_schema sorts names case-insensitively; a stable byte order is what callers compare.
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let index: HashMap<String, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.name.clone(), i))
        .collect();

    let json_columns: HashSet<(String, String)> = if has_check_tables {
        conn.exec::<Row, _, _>(JSON_CHECKS, (database,))
            .await
            .map_err(fail)?
            .iter()
            .filter_map(|row| {
                let table = get::<String>(row, 0, database).ok()?;
                let clause = get::<String>(row, 1, database).ok()?;
                Some((table, json_checked_column(&clause)?))
            })
            .collect()
    } else {
        HashSet::new()
    };

    let generation = if has_generation {
        "GENERATION_EXPRESSION"
    } else {
        "NULL"
    };
    let columns = COLUMNS.replace("{generation}", generation);
    for row in conn.exec::<Row, _, _>(columns, (database,)).await.map_err(fail)? {
        let table: String = get(&row, 0, database)?;
        let Some(&i) = index.get(&table) else {
            continue;
        };
        let name: String = get(&row, 1, database)?;
        let data_type: String = get(&row, 2, database)?;
        let column_type: String = get(&row, 3, database)?;
        let extra: String = get::<Option<String>>(&row, 8, database)?.unwrap_or_default();
        let expression: String = get::<Option<String>>(&row, 9, database)?.unwrap_or_default();
        let kind = if data_type.eq_ignore_ascii_case("longtext") && json_columns.contains(&(table, name.clone())) {
            ColumnKind::Json
        } else {
            column_kind(
                &data_type,
                &column_type,
                get(&row, 4, database)?,
                get(&row, 5, database)?,
                get(&row, 6, database)?,
            )
        };
        // Not a bare "GENERATED": MySQL 8 marks expression defaults as DEFAULT_GENERATED.
        let upper_extra = extra.to_ascii_uppercase();
        let generated = upper_extra.contains("VIRTUAL GENERATED")
            || upper_extra.contains("STORED GENERATED")
            || !expression.trim().is_empty();
        tables[i].columns.push(Column {
            name,
            type_name: column_type,
            kind,
            nullable: get::<String>(&row, 7, database)?.eq_ignore_ascii_case("YES"),
            generated,
        });
    }

    // (index name, columns) per table; None marks an index with an expression part.
    let mut unique: Vec<Vec<(String, Option<Vec<String>>)>> = vec![Vec::new(); tables.len()];
    for row in conn
        .exec::<Row, _, _>(UNIQUE_INDEXES, (database,))
        .await
        .map_err(fail)?
    {
        let Some(&i) = index.get(&get::<String>(&row, 0, database)?) else {
            continue;
        };
        let index_name: String = get(&row, 1, database)?;
        let column: Option<String> = get(&row, 2, database)?;
        let sets = &mut unique[i];
        let at = match sets.iter().position(|(n, _)| *n == index_name) {
            Some(at) => at,
            None => {
                sets.push((index_name, Some(Vec::new())));
                sets.len() - 1
            }
        };
        match (&mut sets[at].1, column) {
            (Some(columns), Some(column)) => columns.push(column),
            (set, _) => *set = None,
        }
    }
    for (table, mut sets) in tables.iter_mut().zip(unique) {
        sets.sort_by(|(a, _), (b, _)| (a != "PRIMARY", a).cmp(&(b != "PRIMARY", b)));
        for (index_name, columns) in sets {
            let Some(columns) = columns.filter(|c| !c.is_empty()) else {
                continue;
            };
            if index_name == "PRIMARY" {
                table.primary_key = columns.clone();
            }
            if !table.unique.contains(&columns) {
                table.unique.push(columns);
            }
        }
    }

    let rows = conn
        .exec::<Row, _, _>(FOREIGN_KEYS, (database, database))
        .await
        .map_err(fail)?;
    for row in rows {
        let Some(&i) = index.get(&get::<String>(&row, 0, database)?) else {
            continue;
        };
        let name: String = get(&row, 1, database)?;
        let column: String = get(&row, 2, database)?;
        let referenced = QualifiedName::new(get::<String>(&row, 3, database)?, get::<String>(&row, 4, database)?);
        let referenced_column: String = get(&row, 5, database)?;
        let keys = &mut tables[i].foreign_keys;
        match keys.iter_mut().find(|k| k.name == name) {
            Some(key) => {
                key.columns.push(column);
                key.referenced_columns.push(referenced_column);
            }
            None => keys.push(ForeignKey {
                name,
                columns: vec![column],
                referenced_table: referenced,
                referenced_columns: vec![referenced_column],
            }),
        }
    }
    for table in &mut tables {
        table.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
    }

    Ok(Schema {
        tables,
        partitioned: Vec::new(),
        default_schema: database.to_string(),
    })
}

/// View names of `database`, in an order where a view comes after the views it selects from if you can (else by name).
pub async fn views(conn: &mut Conn, database: &str) -> Result<Vec<String>, ConnectorError> {
    let rows = conn
        .exec::<Row, _, _>(VIEWS, (database,))
        .await
        .map_err(|e| failed(database, e))?;
    let mut definitions = Vec::with_capacity(rows.len());
    for row in rows {
        // Without the SHOW VIEW privilege the definition is empty: such a view just has no known dependencies.
        let definition = get::<Option<String>>(&row, 1, database)?.unwrap_or_default();
        definitions.push((get::<String>(&row, 0, database)?, definition));
    }
    Ok(order_views(database, &definitions))
}

fn failed(database: &str, e: mysql_async::Error) -> ConnectorError {
    ConnectorError::Tool(format!(
        "reading the schema of database {database} failed: {}",
        describe_error(&e)
    ))
}

/// Column `i` of an information_schema row, as an error rather than the driver's panic when it does not fit.
fn get<T: FromValue>(row: &Row, i: usize, database: &str) -> Result<T, ConnectorError> {
    match row.get_opt::<T, _>(i) {
        Some(Ok(value)) => Ok(value),
        _ => Err(ConnectorError::Tool(format!(
            "reading the schema of database {database} failed: unexpected value in column {} of information_schema",
            row.columns_ref()
                .get(i)
                .map(|c| c.name_str().into_owned())
                .unwrap_or_else(|| i.to_string())
        ))),
    }
}

/// Maps information_schema's type columns to what constrains generated values.
pub fn column_kind(
    data_type: &str,
    column_type: &str,
    char_max_len: Option<u64>,
    numeric_precision: Option<u64>,
    numeric_scale: Option<u64>,
) -> ColumnKind {
    let unsigned = column_type
        .to_ascii_lowercase()
        .split_whitespace()
        .any(|w| w == "unsigned");
    let int = |bits| ColumnKind::Int { bits, unsigned };
    let to_u32 = |n: Option<u64>| n.and_then(|n| u32::try_from(n).ok());
    match data_type.to_ascii_lowercase().as_str() {
        // tinyint(1) is MySQL's BOOLEAN, but it holds any 8-bit value and is dumped as a number.
        "tinyint" => int(8),
        "smallint" => int(16),
        "mediumint" => int(24),
        "int" | "integer" => int(32),
        "bigint" => int(64),
        "char" | "varchar" => ColumnKind::Text {
            max_chars: to_u32(char_max_len),
        },
        "tinytext" | "text" | "mediumtext" | "longtext" => ColumnKind::Text { max_chars: None },
        "decimal" | "numeric" => ColumnKind::Numeric {
            precision: to_u32(numeric_precision),
            scale: to_u32(numeric_scale),
        },
        "float" | "double" | "real" | "double precision" => ColumnKind::Float,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => ColumnKind::Bytes,
        "date" => ColumnKind::Date,
        // TIMESTAMP is stored in UTC and decoy's sessions read it with time_zone '+00:00': no zone in the text.
        "datetime" | "timestamp" => ColumnKind::Timestamp { with_tz: false },
        "time" => ColumnKind::Time,
        "json" => ColumnKind::Json,
        "enum" => ColumnKind::Enum {
            values: enum_values(column_type),
        },
        _ => ColumnKind::Other(data_type.to_string()),
    }
}

/// The labels of `enum('a','b''c')` as the server prints them: quotes doubled, backslashes escaped.
fn enum_values(column_type: &str) -> Vec<String> {
    let Some(start) = column_type.find('(') else {
        return Vec::new();
    };
    let mut values = Vec::new();
    let mut chars = column_type[start + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            // Commas between labels and the closing parenthesis.
            continue;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                '\'' => break,
                '\\' => match chars.next() {
                    Some('0') => value.push('\0'),
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some('Z') => value.push('\x1a'),
                    Some(other) => value.push(other),
                    None => value.push('\\'),
                },
                other => value.push(other),
            }
        }
        values.push(value);
    }
    values
}

/// The column a MariaDB `json_valid(`col`)` check clause validates.
fn json_checked_column(clause: &str) -> Option<String> {
    let inner = clause.trim().strip_prefix("json_valid(")?.strip_suffix(')')?;
    match identifiers(inner).as_slice() {
        [Token::Ident(name)] => Some(name.clone()),
        _ => None,
    }
}

/// What view dependency detection needs of SQL text: backquoted identifiers and the dots between them.
#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Dot,
    Other,
}

/// Tokens of SQL text, with string literals skipped so their contents never look like names.
fn identifiers(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                let mut name = String::new();
                while let Some(c) = chars.next() {
                    if c == '`' {
                        if chars.peek() == Some(&'`') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    name.push(c);
                }
                tokens.push(Token::Ident(name));
            }
            '\'' | '"' => {
                while let Some(q) = chars.next() {
                    if q == '\\' {
                        chars.next();
                    } else if q == c {
                        // A doubled quote continues the literal.
                        if chars.peek() == Some(&c) {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                tokens.push(Token::Other);
            }
            '.' => tokens.push(Token::Dot),
            c if c.is_whitespace() => {}
            _ => tokens.push(Token::Other),
        }
    }
    tokens
}

/// Orders views so each comes after the views its definition names as `database`.`view` (the server
/// qualifies every table in a stored definition); by name where dependencies leave a choice or form a cycle.
fn order_views(database: &str, definitions: &[(String, String)]) -> Vec<String> {
    let names: BTreeSet<&str> = definitions.iter().map(|(n, _)| n.as_str()).collect();
    let mut depends: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (name, definition) in definitions {
        let tokens = identifiers(definition);
        let used = depends.entry(name.as_str()).or_default();
        for window in tokens.windows(3) {
            if let [Token::Ident(schema), Token::Dot, Token::Ident(object)] = window {
                if schema == database && object != name {
                    if let Some(view) = names.get(object.as_str()) {
                        used.insert(view);
                    }
                }
            }
        }
    }
    let mut order = Vec::with_capacity(names.len());
    let mut left: BTreeSet<&str> = names;
    while !left.is_empty() {
        let next = left
            .iter()
            .find(|v| depends[*v].iter().all(|d| !left.contains(d)))
            .or_else(|| left.first())
            .copied()
            .expect("not empty");
        left.remove(next);
        order.push(next.to_string());
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(bits: u8, unsigned: bool) -> ColumnKind {
        ColumnKind::Int { bits, unsigned }
    }

    #[test]
    fn integers_keep_width_and_sign() {
        assert_eq!(
            column_kind("tinyint", "tinyint(3) unsigned", None, Some(3), Some(0)),
            int(8, true)
        );
        assert_eq!(
            column_kind("tinyint", "tinyint(1)", None, Some(3), Some(0)),
            int(8, false)
        );
        assert_eq!(column_kind("smallint", "smallint(6)", None, None, None), int(16, false));
        assert_eq!(
            column_kind("mediumint", "mediumint(8) unsigned", None, None, None),
            int(24, true)
        );
        assert_eq!(
            column_kind("int", "int(10) unsigned zerofill", None, None, None),
            int(32, true)
        );
        assert_eq!(column_kind("INT", "int", None, None, None), int(32, false));
        assert_eq!(
            column_kind("bigint", "bigint(20) unsigned", None, None, None),
            int(64, true)
        );
    }

    #[test]
    fn text_numbers_and_times() {
        assert_eq!(
            column_kind("varchar", "varchar(40)", Some(40), None, None),
            ColumnKind::Text { max_chars: Some(40) }
        );
        assert_eq!(
            column_kind("char", "char(2)", Some(2), None, None),
            ColumnKind::Text { max_chars: Some(2) }
        );
        assert_eq!(
            column_kind("text", "text", Some(65535), None, None),
            ColumnKind::Text { max_chars: None }
        );
        assert_eq!(
            column_kind("decimal", "decimal(10,2) unsigned", None, Some(10), Some(2)),
            ColumnKind::Numeric {
                precision: Some(10),
                scale: Some(2)
            }
        );
        assert_eq!(column_kind("double", "double", None, Some(22), None), ColumnKind::Float);
        assert_eq!(
            column_kind("float", "float(7,3)", None, Some(7), Some(3)),
            ColumnKind::Float
        );
        assert_eq!(
            column_kind("binary", "binary(16)", Some(16), None, None),
            ColumnKind::Bytes
        );
        assert_eq!(column_kind("longblob", "longblob", None, None, None), ColumnKind::Bytes);
        assert_eq!(column_kind("date", "date", None, None, None), ColumnKind::Date);
        assert_eq!(
            column_kind("datetime", "datetime(6)", None, None, None),
            ColumnKind::Timestamp { with_tz: false }
        );
        assert_eq!(
            column_kind("timestamp", "timestamp", None, None, None),
            ColumnKind::Timestamp { with_tz: false }
        );
        assert_eq!(column_kind("time", "time", None, None, None), ColumnKind::Time);
        assert_eq!(column_kind("json", "json", None, None, None), ColumnKind::Json);
    }

    #[test]
    fn enums_unescape_their_labels() {
        assert_eq!(
            column_kind(
                "enum",
                "enum('a','b''c','x,y','','back\\\\slash')",
                Some(10),
                None,
                None
            ),
            ColumnKind::Enum {
                values: vec!["a".into(), "b'c".into(), "x,y".into(), "".into(), "back\\slash".into()]
            }
        );
        assert_eq!(
            enum_values("enum('it''s (fine)','line\\nbreak')"),
            vec!["it's (fine)", "line\nbreak"]
        );
    }

    #[test]
    fn other_types_keep_their_name() {
        assert_eq!(
            column_kind("set", "set('a','b')", Some(3), None, None),
            ColumnKind::Other("set".into())
        );
        assert_eq!(
            column_kind("bit", "bit(3)", None, Some(3), None),
            ColumnKind::Other("bit".into())
        );
        assert_eq!(
            column_kind("year", "year(4)", None, None, None),
            ColumnKind::Other("year".into())
        );
        assert_eq!(
            column_kind("geometry", "geometry", None, None, None),
            ColumnKind::Other("geometry".into())
        );
    }

    #[test]
    fn json_checks_name_their_column() {
        assert_eq!(json_checked_column("json_valid(`doc`)"), Some("doc".into()));
        assert_eq!(
            json_checked_column("json_valid(`we``ird col`)"),
            Some("we`ird col".into())
        );
        assert_eq!(json_checked_column("json_valid(`a`) and `b` > 0"), None);
        assert_eq!(json_checked_column("`a` > 0"), None);
    }

    #[test]
    fn views_follow_the_views_they_read() {
        let definitions = vec![
            ("a".to_string(), "select `db`.`c`.`x` AS `x` from `db`.`c`".to_string()),
            ("b".to_string(), "select `db`.`t`.`x` AS `c` from `db`.`t`".to_string()),
            (
                "c".to_string(),
                "select `db`.`b`.`c` AS `x`, '`db`.`a`' AS `s` from `db`.`b` join `other`.`a`".to_string(),
            ),
        ];
        assert_eq!(order_views("db", &definitions), vec!["b", "c", "a"]);
    }

    #[test]
    fn view_cycles_fall_back_to_names() {
        let definitions = vec![
            ("y".to_string(), "select * from `db`.`x`".to_string()),
            ("x".to_string(), "select * from `db`.`y`".to_string()),
            ("z".to_string(), String::new()),
        ];
        // z is free to go first; the cycle is then broken at the smallest name.
        assert_eq!(order_views("db", &definitions), vec!["z", "x", "y"]);
    }
}
