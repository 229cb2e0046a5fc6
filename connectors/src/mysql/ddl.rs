//! The schema of a MySQL dump from `SHOW CREATE TABLE` / `SHOW CREATE VIEW`, with foreign keys moved
//! after the data so tables load in any order without checks against half-loaded parents.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::connect::{describe_error, quote_ident};
use crate::ConnectorError;

/// The DDL of a MySQL dump, split so data loads before foreign keys exist.
#[derive(Debug, Clone, Default)]
pub struct MysqlScripts {
    /// The tables, without their foreign keys.
    pub pre_data: String,
    /// The foreign keys as `ALTER TABLE`, then the views.
    pub post_data: String,
    /// DROP ... IF EXISTS for every view and table (for `restore --clean`).
    pub clean: String,
}

/// Reads `SHOW CREATE TABLE` for each table (and `SHOW CREATE VIEW` for each view) of `database`.
///
/// Makes `database` the connection's default database: the server then prints the names in it
/// unqualified, so the scripts restore into whatever database the target URL names.
pub async fn schema_scripts(
    conn: &mut Conn,
    database: &str,
    tables: &[String],
    views: &[String],
) -> Result<MysqlScripts, ConnectorError> {
    let fail = |what: String| {
        move |e: mysql_async::Error| ConnectorError::Tool(format!("{what} failed: {}", describe_error(&e)))
    };
    conn.query_drop(format!(
        "SET SESSION sql_quote_show_create = 1; USE {}",
        quote_ident(database)
    ))
    .await
    .map_err(fail(format!("reading the schema of database {database}")))?;

    let mut pre_data = String::from("SET FOREIGN_KEY_CHECKS=0;\n\n");
    let mut post_data = String::new();
    for table in tables {
        let sql = format!("SHOW CREATE TABLE {}", quote_ident(table));
        let row: Option<Row> = conn
            .query_first(sql)
            .await
            .map_err(fail(format!("reading the definition of table {database}.{table}")))?;
        let create = second_column(row, database, table)?;
        let (create, foreign_keys) = split_foreign_keys(table, &create);
        pre_data.push_str(&create);
        pre_data.push_str(";\n\n");
        for key in foreign_keys {
            post_data.push_str(&key);
            post_data.push_str(";\n\n");
        }
    }
    for view in views {
        let sql = format!("SHOW CREATE VIEW {}", quote_ident(view));
        let row: Option<Row> = conn
            .query_first(sql)
            .await
            .map_err(fail(format!("reading the definition of view {database}.{view}")))?;
        let create = second_column(row, database, view)?;
        post_data.push_str(&replaceable_view(database, &create));
        post_data.push_str(";\n\n");
    }

    let mut clean = String::from("SET FOREIGN_KEY_CHECKS=0;\n");
    for view in views {
        clean.push_str(&format!("DROP VIEW IF EXISTS {};\n", quote_ident(view)));
    }
    for table in tables {
        clean.push_str(&format!("DROP TABLE IF EXISTS {};\n", quote_ident(table)));
    }
    clean.push_str("SET FOREIGN_KEY_CHECKS=1;\n");
    Ok(MysqlScripts {
        pre_data,
        post_data,
        clean,
    })
}

/// The statement of a SHOW CREATE row (name, statement, ...).
fn second_column(row: Option<Row>, database: &str, object: &str) -> Result<String, ConnectorError> {
    match row.map(|row| row.get_opt::<String, _>(1)) {
        Some(Some(Ok(text))) => Ok(text),
        _ => Err(ConnectorError::Tool(format!(
            "reading the definition of {database}.{object} failed: the server returned no statement"
        ))),
    }
}

/// Pure: splits one `SHOW CREATE TABLE` statement into (create statement without FOREIGN KEY constraints, one `ALTER TABLE `t` ADD CONSTRAINT ... FOREIGN KEY ...` statement per FK).
///
/// Statements carry no terminating `;`. The definitions between the outer parentheses are split at top-level
/// commas (outside quotes, identifiers and parentheses), so a comment, default or check that mentions
/// FOREIGN KEY is never taken for one; the kept definitions are rejoined one per line as the server prints them.
pub fn split_foreign_keys(table: &str, create: &str) -> (String, Vec<String>) {
    let Some((open, parts, close)) = definitions(create) else {
        return (create.to_string(), Vec::new());
    };
    let (keys, kept): (Vec<&str>, Vec<&str>) = parts.into_iter().partition(|part| is_foreign_key(part));
    if keys.is_empty() {
        return (create.to_string(), Vec::new());
    }
    let body: Vec<String> = kept.iter().map(|part| format!("  {part}")).collect();
    let statement = format!(
        "{}\n{}\n{}",
        create[..=open].trim_end(),
        body.join(",\n"),
        &create[close..]
    );
    let alters = keys
        .iter()
        .map(|key| format!("ALTER TABLE {} ADD {key}", quote_ident(table)))
        .collect();
    (statement, alters)
}

/// The byte offsets of the outer `(` and `)` of a CREATE TABLE and the trimmed definitions between them.
pub fn definitions(create: &str) -> Option<(usize, Vec<&str>, usize)> {
    let bytes = create.as_bytes();
    let mut i = 0;
    // The table name is skipped as a token: a quoted name may itself contain `(`.
    let open = loop {
        match *bytes.get(i)? {
            b'`' | b'"' => i = skip_quoted(bytes, i),
            b'(' => break i,
            _ => i += 1,
        }
    };
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = open + 1;
    i = open + 1;
    loop {
        match *bytes.get(i)? {
            b'`' | b'"' | b'\'' => {
                i = skip_quoted(bytes, i);
                continue;
            }
            b'(' => depth += 1,
            b')' if depth == 0 => {
                parts.push(create[start..i].trim());
                return Some((open, parts.into_iter().filter(|p| !p.is_empty()).collect(), i));
            }
            b')' => depth -= 1,
            b',' if depth == 0 => {
                parts.push(create[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
}

/// The offset just past the quoted token starting at `start`: a doubled quote continues it, and in
/// strings a backslash escapes the next byte.
fn skip_quoted(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == b'\\' && quote != b'`' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// `CONSTRAINT `name` FOREIGN KEY (...`: the keyword is checked right after the quoted name, never in text.
fn is_foreign_key(definition: &str) -> bool {
    let Some(rest) = definition.strip_prefix("CONSTRAINT ") else {
        return false;
    };
    if !rest.starts_with('`') {
        return false;
    }
    let after_name = skip_quoted(rest.as_bytes(), 0);
    rest[after_name..].starts_with(" FOREIGN KEY (")
}

/// `CREATE [ALGORITHM=..] [DEFINER=..] [SQL SECURITY ..] VIEW name AS ...` as `CREATE OR REPLACE` without the
/// definer (a restore user may not be allowed to name another) and without the database before the name.
pub fn replaceable_view(database: &str, create: &str) -> String {
    let Some(mut rest) = create.strip_prefix("CREATE ") else {
        return create.to_string();
    };
    let mut options = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("DEFINER=") {
            // user@host, each part quoted, or a bare role/CURRENT_USER.
            let bytes = after.as_bytes();
            let mut i = 0;
            while i < bytes.len() && bytes[i] != b' ' {
                i = match bytes[i] {
                    b'`' | b'\'' | b'"' => skip_quoted(bytes, i),
                    _ => i + 1,
                };
            }
            rest = &after[i..];
        } else if let Some(after) = rest.strip_prefix("SQL SECURITY DEFINER") {
            // DEFINER security is the default; an INVOKER clause is kept.
            rest = after;
        } else if let Some(after) = rest.strip_prefix("VIEW ") {
            rest = after;
            break;
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            let option = &rest[..end];
            // ALGORITHM=.. and SQL SECURITY INVOKER.
            if option == "SQL" {
                let security = rest.splitn(4, ' ').take(3).collect::<Vec<_>>().join(" ");
                rest = &rest[security.len()..];
                options.push(security);
            } else {
                options.push(option.to_string());
                rest = &rest[end..];
            }
            if rest.is_empty() {
                return create.to_string();
            }
        }
    }
    let qualifier = format!("{}.", quote_ident(database));
    let rest = rest.strip_prefix(&qualifier).unwrap_or(rest);
    let mut out = String::from("CREATE OR REPLACE ");
    for option in options {
        out.push_str(&option);
        out.push(' ');
    }
    out.push_str("VIEW ");
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_without_foreign_keys_are_unchanged() {
        let create = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB";
        assert_eq!(split_foreign_keys("t", create), (create.to_string(), vec![]));
    }

    #[test]
    fn a_last_foreign_key_moves_out_and_the_comma_goes() {
        let create = "CREATE TABLE `c` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `p` int(11) DEFAULT NULL,\n  \
                      PRIMARY KEY (`id`),\n  KEY `fk_p` (`p`),\n  CONSTRAINT `fk_p` FOREIGN KEY (`p`) REFERENCES `p` (`id`) \
                      ON DELETE CASCADE ON UPDATE SET NULL\n) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4";
        let (table, keys) = split_foreign_keys("c", create);
        assert_eq!(
            table,
            "CREATE TABLE `c` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `p` int(11) DEFAULT NULL,\n  \
             PRIMARY KEY (`id`),\n  KEY `fk_p` (`p`)\n) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4"
        );
        assert_eq!(
            keys,
            vec![
                "ALTER TABLE `c` ADD CONSTRAINT `fk_p` FOREIGN KEY (`p`) REFERENCES `p` (`id`) ON DELETE CASCADE \
                 ON UPDATE SET NULL"
            ]
        );
    }

    #[test]
    fn a_check_after_the_foreign_key_stays() {
        let create = "CREATE TABLE `c` (\n  `p` int(11) DEFAULT NULL,\n  \
                      CONSTRAINT `fk` FOREIGN KEY (`p`) REFERENCES `other`.`p` (`id`),\n  \
                      CONSTRAINT `CONSTRAINT_1` CHECK (`p` > 0 and `p` in (1,2))\n) ENGINE=InnoDB";
        let (table, keys) = split_foreign_keys("c", create);
        assert_eq!(
            table,
            "CREATE TABLE `c` (\n  `p` int(11) DEFAULT NULL,\n  \
             CONSTRAINT `CONSTRAINT_1` CHECK (`p` > 0 and `p` in (1,2))\n) ENGINE=InnoDB"
        );
        assert_eq!(
            keys,
            vec!["ALTER TABLE `c` ADD CONSTRAINT `fk` FOREIGN KEY (`p`) REFERENCES `other`.`p` (`id`)"]
        );
    }

    #[test]
    fn composite_and_several_foreign_keys() {
        let create =
            "CREATE TABLE `line` (\n  `a` int(11) NOT NULL,\n  `b` int(11) NOT NULL,\n  `c` int(11) DEFAULT NULL,\n  \
                      CONSTRAINT `f1` FOREIGN KEY (`a`, `b`) REFERENCES `head` (`x`, `y`),\n  \
                      CONSTRAINT `f2` FOREIGN KEY (`c`) REFERENCES `line` (`a`)\n) ENGINE=InnoDB";
        let (table, keys) = split_foreign_keys("line", create);
        assert_eq!(
            table,
            "CREATE TABLE `line` (\n  `a` int(11) NOT NULL,\n  `b` int(11) NOT NULL,\n  `c` int(11) DEFAULT NULL\n) ENGINE=InnoDB"
        );
        assert_eq!(
            keys,
            vec![
                "ALTER TABLE `line` ADD CONSTRAINT `f1` FOREIGN KEY (`a`, `b`) REFERENCES `head` (`x`, `y`)",
                "ALTER TABLE `line` ADD CONSTRAINT `f2` FOREIGN KEY (`c`) REFERENCES `line` (`a`)",
            ]
        );
    }

    #[test]
    fn backticks_and_parentheses_in_names() {
        let create = "CREATE TABLE `we``ird (t)` (\n  `a``b, c` int(11) DEFAULT NULL,\n  \
                      CONSTRAINT `f``k (1)` FOREIGN KEY (`a``b, c`) REFERENCES `pa``rent` (`i``d`)\n) ENGINE=InnoDB";
        let (table, keys) = split_foreign_keys("we`ird (t)", create);
        assert_eq!(
            table,
            "CREATE TABLE `we``ird (t)` (\n  `a``b, c` int(11) DEFAULT NULL\n) ENGINE=InnoDB"
        );
        assert_eq!(
            keys,
            vec!["ALTER TABLE `we``ird (t)` ADD CONSTRAINT `f``k (1)` FOREIGN KEY (`a``b, c`) REFERENCES `pa``rent` (`i``d`)"]
        );
    }

    #[test]
    fn foreign_key_text_in_strings_is_not_a_key() {
        let create = "CREATE TABLE `t` (\n  `a` varchar(40) DEFAULT 'x),\\n  CONSTRAINT `f` FOREIGN KEY (`a`)' \
                      COMMENT 'it''s a FOREIGN KEY (no)',\n  \
                      `b` int(11) DEFAULT NULL COMMENT '\\nCONSTRAINT `x` FOREIGN KEY (`b`) REFERENCES `t` (`a`)'\n) \
                      ENGINE=InnoDB COMMENT='FOREIGN KEY (`a`)'";
        assert_eq!(split_foreign_keys("t", create), (create.to_string(), vec![]));
        assert!(!is_foreign_key("CONSTRAINT `c` CHECK (`a` <> ' FOREIGN KEY (')"));
    }

    #[test]
    fn foreign_keys_with_text_around_them() {
        let create = "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL COMMENT 'a, b (FOREIGN KEY)',\n  \
                      CONSTRAINT `f` FOREIGN KEY (`a`) REFERENCES `p` (`id`),\n  \
                      CONSTRAINT `CONSTRAINT_1` CHECK (`a` <> ',')\n) ENGINE=InnoDB COMMENT='x'";
        let (table, keys) = split_foreign_keys("t", create);
        assert_eq!(
            table,
            "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL COMMENT 'a, b (FOREIGN KEY)',\n  \
             CONSTRAINT `CONSTRAINT_1` CHECK (`a` <> ',')\n) ENGINE=InnoDB COMMENT='x'"
        );
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn unparsable_statements_are_kept_whole() {
        assert_eq!(
            split_foreign_keys("t", "CREATE TABLE `t"),
            ("CREATE TABLE `t".to_string(), vec![])
        );
    }

    #[test]
    fn views_lose_definer_and_database() {
        assert_eq!(
            replaceable_view(
                "db",
                "CREATE ALGORITHM=UNDEFINED DEFINER=`ro``ot`@`local host` SQL SECURITY DEFINER VIEW `v 2` AS select 1 AS `a`"
            ),
            "CREATE OR REPLACE ALGORITHM=UNDEFINED VIEW `v 2` AS select 1 AS `a`"
        );
        assert_eq!(
            replaceable_view(
                "db",
                "CREATE ALGORITHM=MERGE DEFINER=`app`@`%` SQL SECURITY INVOKER VIEW `db`.`v` AS select 1 AS `a` \
                 WITH CASCADED CHECK OPTION"
            ),
            "CREATE OR REPLACE ALGORITHM=MERGE SQL SECURITY INVOKER VIEW `v` AS select 1 AS `a` WITH CASCADED CHECK OPTION"
        );
        assert_eq!(
            replaceable_view("db", "CREATE DEFINER=`role` VIEW `v` AS select 1"),
            "CREATE OR REPLACE VIEW `v` AS select 1"
        );
    }
}
