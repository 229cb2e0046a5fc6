//! mysqldump / mariadb-dump files: each table's CREATE TABLE (the server's SHOW CREATE TABLE text)
//! becomes the same pre-data script a live MySQL dump stores, with foreign keys moved to post-data,
//! and views (their last, real definition, without DEFINER) after them. Column definitions are
//! tokenized with `sqlparser`'s MySQL tokenizer and typed with live introspection's mapping.
//! Triggers and routines are left out, as on the live path, with a warning.

use std::collections::HashSet;

use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::statements::{starts_with_words, Statement};
use super::FileError;
use crate::mysql::{ddl, quote_ident};
use crate::postgres::SchemaScripts;
use crate::schema::{Column, ForeignKey, QualifiedName, Schema, Table};

pub struct Builder {
    database: String,
    /// (table, CREATE TABLE text)
    tables: Vec<(Table, String)>,
    /// (view, CREATE VIEW text): the last definition of each view wins.
    views: Vec<(String, String)>,
    warnings: Vec<String>,
}

pub struct Scripts {
    /// (table name, create without foreign keys, foreign keys as ALTER TABLE)
    tables: Vec<(String, String, Vec<String>)>,
    views: Vec<(String, String)>,
}

impl Scripts {
    /// Like `mysql::ddl::schema_scripts`: views only when no table is left out.
    pub fn render(&self, excluded: &[QualifiedName]) -> SchemaScripts {
        let kept: Vec<&(String, String, Vec<String>)> = self
            .tables
            .iter()
            .filter(|(name, _, _)| !excluded.iter().any(|e| &e.name == name))
            .collect();
        let views: &[(String, String)] = if excluded.is_empty() { &self.views } else { &[] };
        let mut pre_data = String::from("SET FOREIGN_KEY_CHECKS=0;\n\n");
        let mut post_data = String::new();
        for (_, create, keys) in &kept {
            pre_data.push_str(create);
            pre_data.push_str(";\n\n");
            for key in keys {
                post_data.push_str(key);
                post_data.push_str(";\n\n");
            }
        }
        for (_, create) in views {
            post_data.push_str(create);
            post_data.push_str(";\n\n");
        }
        let mut clean = String::from("SET FOREIGN_KEY_CHECKS=0;\n");
        for (view, _) in views {
            clean.push_str(&format!("DROP VIEW IF EXISTS {};\n", quote_ident(view)));
        }
        for (name, _, _) in &kept {
            clean.push_str(&format!("DROP TABLE IF EXISTS {};\n", quote_ident(name)));
        }
        clean.push_str("SET FOREIGN_KEY_CHECKS=1;\n");
        SchemaScripts {
            pre_data,
            post_data,
            clean,
        }
    }
}

impl Builder {
    pub fn new(database: &str) -> Builder {
        Builder {
            database: database.to_string(),
            tables: Vec::new(),
            views: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn statement(&mut self, statement: &Statement, file: &str) -> Result<(), FileError> {
        let body = statement.body();
        // mysqldump wraps version-specific SQL in `/*!50001 ... */` comments, which MySQL runs.
        let versioned = body.starts_with(b"/*!") || body.starts_with(b"/*M!");
        let text = if versioned {
            unwrap_versioned(&statement.body_str())
        } else {
            statement.body_str().into_owned()
        };
        let bytes = text.as_bytes();
        if starts_with_words(bytes, &["CREATE", "TABLE"]) && !versioned {
            let table = create_table(&self.database, &text).map_err(|e| FileError::at(file, statement.line, e))?;
            self.tables.push((table, text));
        } else if starts_with_words(bytes, &["CREATE"]) && is_view(&text) {
            if let Some(name) = view_name(&text) {
                // The first CREATE VIEW is a stand-in (`SELECT 1 AS col`); the real one comes last.
                let create = ddl::replaceable_view(&self.database, text.trim());
                self.views.retain(|(v, _)| *v != name);
                self.views.push((name, create));
            }
        } else if starts_with_words(bytes, &["CREATE"]) && is_routine_or_trigger(&text) {
            let what = text.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
            self.warnings.push(format!(
                "{file}, line {}: `{what} ...` is not kept: decoy dumps tables and views (triggers and routines are \
                 not dumped on the live path either)",
                statement.line
            ));
        }
        // Everything else (SET, LOCK TABLES, DROP TABLE IF EXISTS, INSERT, ...) is session
        // housekeeping or data.
        Ok(())
    }

    pub fn finish(self) -> (Schema, Scripts, Vec<String>) {
        let view_names: HashSet<&str> = self.views.iter().map(|(v, _)| v.as_str()).collect();
        // A stand-in table for a view (older mysqldump) is no table.
        let tables: Vec<&(Table, String)> = self
            .tables
            .iter()
            .filter(|(t, _)| !view_names.contains(t.name.name.as_str()))
            .collect();
        let mut schema_tables: Vec<Table> = tables.iter().map(|(t, _)| t.clone()).collect();
        schema_tables.sort_by(|a, b| a.name.cmp(&b.name));
        let scripts = Scripts {
            tables: tables
                .iter()
                .map(|(t, create)| {
                    let (create, keys) = ddl::split_foreign_keys(&t.name.name, create.trim());
                    (t.name.name.clone(), create, keys)
                })
                .collect(),
            views: order_views(self.views),
        };
        (
            Schema {
                tables: schema_tables,
                partitioned: Vec::new(),
                default_schema: self.database,
            },
            scripts,
            self.warnings,
        )
    }
}

/// `/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=... */ /*!50001 VIEW ... */` →
/// `CREATE ALGORITHM=UNDEFINED DEFINER=... VIEW ...`.
fn unwrap_versioned(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let after = after
            .strip_prefix("M!")
            .or_else(|| after.strip_prefix('!'))
            .unwrap_or(after);
        let digits = after.chars().take_while(|c| c.is_ascii_digit()).count();
        let inner_start = &after[digits..];
        // The comment's end, outside quotes.
        let end = comment_end(inner_start).unwrap_or(inner_start.len());
        out.push_str(inner_start[..end].trim());
        out.push(' ');
        rest = inner_start.get(end + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out.trim().to_string()
}

fn comment_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'*' if bytes[i + 1] == b'/' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn tokens(sql: &str) -> Vec<Token> {
    Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect()
}

fn keyword(t: Option<&Token>, word: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// `CREATE [OR REPLACE] [ALGORITHM=..] [DEFINER=..] [SQL SECURITY ..] VIEW`
fn is_view(text: &str) -> bool {
    let tokens = tokens(text);
    let view = tokens.iter().position(|t| keyword(Some(t), "VIEW"));
    let table = tokens
        .iter()
        .position(|t| keyword(Some(t), "TABLE") || keyword(Some(t), "AS") || keyword(Some(t), "TRIGGER"));
    match (view, table) {
        (Some(v), Some(t)) => v < t,
        (Some(_), None) => true,
        _ => false,
    }
}

fn view_name(text: &str) -> Option<String> {
    let tokens = tokens(text);
    let at = tokens.iter().position(|t| keyword(Some(t), "VIEW"))?;
    let mut name = None;
    let mut i = at + 1;
    while let Some(Token::Word(w)) = tokens.get(i) {
        name = Some(w.value.clone());
        if tokens.get(i + 1) != Some(&Token::Period) {
            break;
        }
        i += 2;
    }
    name
}

fn is_routine_or_trigger(text: &str) -> bool {
    let tokens = tokens(text);
    tokens.iter().take(12).any(|t| {
        ["TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"]
            .iter()
            .any(|w| keyword(Some(t), w))
    })
}

/// Views after the views their text names, by name where that leaves a choice or in a cycle.
fn order_views(views: Vec<(String, String)>) -> Vec<(String, String)> {
    let names: Vec<String> = views.iter().map(|(n, _)| n.clone()).collect();
    let depends: Vec<Vec<usize>> = views
        .iter()
        .map(|(name, text)| {
            let body = text.split_once(" AS ").map_or(text.as_str(), |(_, b)| b);
            names
                .iter()
                .enumerate()
                .filter(|(_, other)| *other != name && body.contains(&quote_ident(other)))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let mut left: Vec<usize> = (0..views.len()).collect();
    left.sort_by(|a, b| names[*a].cmp(&names[*b]));
    let mut order = Vec::with_capacity(views.len());
    while !left.is_empty() {
        let pick = left
            .iter()
            .position(|&v| depends[v].iter().all(|d| !left.contains(d)))
            .unwrap_or(0);
        order.push(left.remove(pick));
    }
    let mut views: Vec<Option<(String, String)>> = views.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| views[i].take()).collect()
}

/// A CREATE TABLE as SHOW CREATE TABLE prints it: one definition per line.
fn create_table(database: &str, text: &str) -> Result<Table, String> {
    let (_, definitions, _) = ddl::definitions(text).ok_or("cannot read this CREATE TABLE")?;
    let head = tokens(&text[..text.find('(').unwrap_or(text.len())]);
    let name = head
        .iter()
        .rev()
        .find_map(|t| match t {
            Token::Word(w) => Some(w.value.clone()),
            _ => None,
        })
        .ok_or("a CREATE TABLE without a name")?;
    let mut table = Table {
        name: QualifiedName::new(database, name),
        columns: Vec::new(),
        primary_key: Vec::new(),
        unique: Vec::new(),
        foreign_keys: Vec::new(),
        estimated_rows: 0,
        estimated_bytes: 0,
        partition_root: None,
    };
    let mut json_checks = Vec::new();
    let mut unique_sets: Vec<(bool, String, Vec<String>)> = Vec::new();
    for definition in definitions {
        let tokens = tokens(definition);
        match tokens.first() {
            Some(Token::Word(w)) if w.quote_style == Some('`') => {
                table.columns.push(column(&w.value, definition, &tokens)?);
                if let Some(checked) = json_check(&tokens) {
                    json_checks.push(checked);
                }
            }
            _ if keyword(tokens.first(), "PRIMARY") => {
                unique_sets.push((true, "PRIMARY".into(), column_list(&tokens, 0)));
            }
            _ if keyword(tokens.first(), "UNIQUE") => {
                let name = match tokens.get(2) {
                    Some(Token::Word(w)) => w.value.clone(),
                    _ => String::new(),
                };
                unique_sets.push((false, name, column_list(&tokens, 0)));
            }
            _ if keyword(tokens.first(), "CONSTRAINT") => {
                let name = match tokens.get(1) {
                    Some(Token::Word(w)) => w.value.clone(),
                    _ => String::new(),
                };
                if keyword(tokens.get(2), "FOREIGN") {
                    let columns = column_list(&tokens, 0);
                    let references = tokens
                        .iter()
                        .position(|t| keyword(Some(t), "REFERENCES"))
                        .ok_or("a foreign key without REFERENCES")?;
                    let mut parts = Vec::new();
                    let mut i = references + 1;
                    while let Some(Token::Word(w)) = tokens.get(i) {
                        parts.push(w.value.clone());
                        if tokens.get(i + 1) != Some(&Token::Period) {
                            break;
                        }
                        i += 2;
                    }
                    let referenced_table = match parts.as_slice() {
                        [schema, name] => QualifiedName::new(schema, name),
                        [name] => QualifiedName::new(database, name),
                        _ => return Err("cannot read a foreign key's table".into()),
                    };
                    table.foreign_keys.push(ForeignKey {
                        name,
                        columns,
                        referenced_table,
                        referenced_columns: column_list(&tokens, references),
                    });
                } else if keyword(tokens.get(2), "CHECK") {
                    if let Some(checked) = json_check(&tokens) {
                        json_checks.push(checked);
                    }
                } else if keyword(tokens.get(2), "UNIQUE") || keyword(tokens.get(2), "PRIMARY") {
                    unique_sets.push((keyword(tokens.get(2), "PRIMARY"), name, column_list(&tokens, 0)));
                }
            }
            _ => {}
        }
    }
    // The primary key first, then unique indexes by name, as information_schema gives them.
    unique_sets.sort_by(|a, b| (!a.0, &a.1).cmp(&(!b.0, &b.1)));
    for (primary, _, columns) in unique_sets {
        if columns.is_empty() {
            continue;
        }
        if primary {
            table.primary_key = columns.clone();
        }
        if !table.unique.contains(&columns) {
            table.unique.push(columns);
        }
    }
    for column in &mut table.columns {
        if json_checks.contains(&column.name) && column.type_name.eq_ignore_ascii_case("longtext") {
            column.kind = transformers::ColumnKind::Json;
        }
    }
    table.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(table)
}

/// `json_valid(`col`)` in a CHECK: the column MariaDB stores JSON in.
fn json_check(tokens: &[Token]) -> Option<String> {
    let at = tokens.iter().position(|t| keyword(Some(t), "json_valid"))?;
    match (tokens.get(at + 1), tokens.get(at + 2), tokens.get(at + 3)) {
        (Some(Token::LParen), Some(Token::Word(w)), Some(Token::RParen)) => Some(w.value.clone()),
        _ => None,
    }
}

/// The plain column names of the first parenthesized list after token `from` (a prefix part
/// `col(10)` makes the set unusable: empty).
fn column_list(tokens: &[Token], from: usize) -> Vec<String> {
    let Some(open) = tokens
        .iter()
        .skip(from)
        .position(|t| *t == Token::LParen)
        .map(|p| p + from)
    else {
        return Vec::new();
    };
    let mut columns = Vec::new();
    let mut i = open + 1;
    loop {
        match (tokens.get(i), tokens.get(i + 1)) {
            (Some(Token::Word(w)), Some(Token::Comma)) => {
                columns.push(w.value.clone());
                i += 2;
            }
            (Some(Token::Word(w)), Some(Token::RParen)) => {
                columns.push(w.value.clone());
                return columns;
            }
            // ASC/DESC after a column
            (Some(Token::Word(w)), Some(Token::Word(order)))
                if order.value.eq_ignore_ascii_case("ASC") || order.value.eq_ignore_ascii_case("DESC") =>
            {
                columns.push(w.value.clone());
                i += 2;
                match tokens.get(i) {
                    Some(Token::Comma) => i += 1,
                    Some(Token::RParen) => return columns,
                    _ => return Vec::new(),
                }
            }
            _ => return Vec::new(),
        }
    }
}

/// Words that end a column's type in SHOW CREATE TABLE's text.
const AFTER_TYPE: &[&str] = &[
    "CHARACTER",
    "CHARSET",
    "COLLATE",
    "NOT",
    "NULL",
    "DEFAULT",
    "AUTO_INCREMENT",
    "COMMENT",
    "GENERATED",
    "AS",
    "ON",
    "INVISIBLE",
    "VISIBLE",
    "PRIMARY",
    "UNIQUE",
    "KEY",
    "CHECK",
    "REFERENCES",
    "STORAGE",
    "COLUMN_FORMAT",
    "SRID",
    "WITH",
    "WITHOUT",
    "COMPRESSED",
];

fn column(name: &str, definition: &str, tokens: &[Token]) -> Result<Column, String> {
    // The type's text is taken from the definition as written: `int(10) unsigned`, `enum('a','b')`.
    let after_name = {
        let bytes = definition.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            if bytes[i] == b'`' {
                if bytes.get(i + 1) == Some(&b'`') {
                    i += 2;
                    continue;
                }
                break;
            }
            i += 1;
        }
        &definition[(i + 1).min(definition.len())..]
    };
    let mut end = after_name.len();
    let mut depth = 0;
    let mut in_quote = None;
    let bytes = after_name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match in_quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    in_quote = None;
                }
            }
            None => match b {
                b'\'' | b'"' => in_quote = Some(b),
                b'(' => depth += 1,
                b')' => depth -= 1,
                b' ' if depth == 0 => {
                    let word: String = after_name[i + 1..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if AFTER_TYPE.iter().any(|w| w.eq_ignore_ascii_case(&word)) {
                        end = i;
                        break;
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    let type_name = after_name[..end].trim().to_string();
    if type_name.is_empty() {
        return Err(format!("cannot read the type of column `{name}`"));
    }
    let data_type: String = type_name
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_ascii_lowercase();
    let numbers: Vec<u64> = type_name
        .find('(')
        .and_then(|open| type_name[open + 1..].split(')').next())
        .map(|m| m.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    let char_len = matches!(data_type.as_str(), "char" | "varchar" | "binary" | "varbinary")
        .then(|| numbers.first().copied())
        .flatten();
    let (precision, scale) = if matches!(data_type.as_str(), "decimal" | "numeric") {
        (
            numbers.first().copied().or(Some(10)),
            numbers.get(1).copied().or(Some(0)),
        )
    } else {
        (None, None)
    };
    let kind = crate::mysql::introspect::column_kind(&data_type, &type_name, char_len, precision, scale);
    let nullable = !tokens
        .windows(2)
        .any(|w| keyword(Some(&w[0]), "NOT") && keyword(Some(&w[1]), "NULL"));
    // `GENERATED ALWAYS AS (...)`, or MariaDB's `AS (...) VIRTUAL|PERSISTENT|STORED`.
    let generated = tokens
        .windows(2)
        .any(|w| keyword(Some(&w[0]), "AS") && w[1] == Token::LParen);
    Ok(Column {
        name: name.to_string(),
        type_name,
        kind,
        nullable,
        generated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use transformers::ColumnKind;

    #[test]
    fn show_create_table_text_becomes_a_table() {
        let create = "CREATE TABLE `Order Items` (\n  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,\n  \
                      `sku` varchar(40) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL COMMENT 'a, (b)',\n  \
                      `price` decimal(10,2) DEFAULT NULL,\n  `kind` enum('a','b c','it''s') DEFAULT 'a',\n  \
                      `doc` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`doc`)),\n  \
                      `total` decimal(12,2) GENERATED ALWAYS AS (`price` * 2) VIRTUAL,\n  `data` blob,\n  \
                      PRIMARY KEY (`id`),\n  UNIQUE KEY `sku` (`sku`),\n  KEY `p` (`price`),\n  \
                      CONSTRAINT `fk` FOREIGN KEY (`id`) REFERENCES `orders` (`id`) ON DELETE CASCADE\n\
                      ) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4";
        let table = create_table("shop", create).unwrap();
        assert_eq!(table.name, QualifiedName::new("shop", "Order Items"));
        let columns: Vec<(&str, &str, bool, bool)> = table
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.type_name.as_str(), c.nullable, c.generated))
            .collect();
        assert_eq!(
            columns,
            vec![
                ("id", "int(10) unsigned", false, false),
                ("sku", "varchar(40)", false, false),
                ("price", "decimal(10,2)", true, false),
                ("kind", "enum('a','b c','it''s')", true, false),
                ("doc", "longtext", true, false),
                ("total", "decimal(12,2)", true, true),
                ("data", "blob", true, false),
            ]
        );
        assert_eq!(
            table.columns[0].kind,
            ColumnKind::Int {
                bits: 32,
                unsigned: true
            }
        );
        assert_eq!(
            table.columns[3].kind,
            ColumnKind::Enum {
                values: vec!["a".into(), "b c".into(), "it's".into()]
            }
        );
        assert_eq!(table.columns[4].kind, ColumnKind::Json);
        assert_eq!(table.primary_key, vec!["id"]);
        assert_eq!(table.unique, vec![vec!["id".to_string()], vec!["sku".to_string()]]);
        assert_eq!(
            table.foreign_keys[0].referenced_table,
            QualifiedName::new("shop", "orders")
        );
    }

    #[test]
    fn versioned_views_unwrap() {
        let text = "/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */\n/*!50001 VIEW `v` AS select `t`.`id` AS `id` from `t` */";
        let plain = unwrap_versioned(text);
        assert!(is_view(&plain), "{plain}");
        assert_eq!(view_name(&plain).as_deref(), Some("v"));
        assert_eq!(
            ddl::replaceable_view("db", &plain),
            "CREATE OR REPLACE ALGORITHM=UNDEFINED VIEW `v` AS select `t`.`id` AS `id` from `t`"
        );
        let ordered = order_views(vec![
            ("a".into(), "CREATE VIEW `a` AS select * from `b`".into()),
            ("b".into(), "CREATE VIEW `b` AS select 1".into()),
        ]);
        assert_eq!(ordered[0].0, "b");
    }
}
