//! pg_dump's plain format: the DDL before the data is the pre-data script, the DDL after it the
//! post-data script (indexes, constraints, foreign keys, triggers), `setval` calls the sequence
//! values. CREATE TABLE, CREATE TYPE ... AS ENUM, CREATE DOMAIN, ALTER TABLE ... ADD CONSTRAINT and
//! CREATE UNIQUE INDEX are parsed with `sqlparser` into the schema model, with the same type mapping
//! as live introspection.
//!
//! Ownership and privileges are left out (`ALTER ... OWNER TO`, GRANT, REVOKE), as the live path's
//! `pg_dump --no-owner --no-privileges` does: test databases rarely have production's roles.

use std::collections::HashMap;

use sqlparser::ast::{
    ColumnOption, DataType, Expr, ObjectName, ObjectNamePart, Statement as Ast, TableConstraint,
    UserDefinedTypeRepresentation,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};
use transformers::ColumnKind;

use super::statements::Statement;
use super::FileError;
use crate::postgres::{SchemaScripts, Sequence};
use crate::schema::{Column, ForeignKey, QualifiedName, Schema, Table};

/// One DDL statement kept for a script, with the tables it belongs to (to leave out with them).
#[derive(Debug, Clone)]
struct Ddl {
    text: String,
    tables: Vec<QualifiedName>,
    /// `DROP ... IF EXISTS` for the object it creates, for the clean script.
    drop: Option<String>,
    /// The sequence a CREATE SEQUENCE makes (left out with the table that owns it).
    sequence: Option<QualifiedName>,
}

#[derive(Default)]
pub struct Builder {
    /// SET statements before the first object: every script starts with them.
    session: Vec<String>,
    pre: Vec<Ddl>,
    post: Vec<Ddl>,
    tables: Vec<Table>,
    partitioned: Vec<QualifiedName>,
    /// child → parent of `ATTACH PARTITION`.
    parents: HashMap<QualifiedName, QualifiedName>,
    enums: HashMap<String, Vec<String>>,
    domains: HashMap<String, String>,
    sequences: Vec<Sequence>,
    seen_data: bool,
    seen_object: bool,
    /// Unique indexes and constraints met before their table (never in pg_dump's order, but legal).
    pending: Vec<(usize, Ast)>,
    /// (sequence, table) of `ALTER SEQUENCE ... OWNED BY table.column`.
    owned: Vec<(QualifiedName, QualifiedName)>,
}

pub struct Scripts {
    session: String,
    pre: Vec<Ddl>,
    post: Vec<Ddl>,
    owned: Vec<(QualifiedName, QualifiedName)>,
}

impl Scripts {
    /// Sequences owned by `excluded` tables: left out with them, as pg_dump --exclude-table does.
    pub fn excluded_sequences(&self, excluded: &[QualifiedName]) -> Vec<QualifiedName> {
        self.owned
            .iter()
            .filter(|(_, table)| excluded.contains(table))
            .map(|(sequence, _)| sequence.clone())
            .collect()
    }

    pub fn render(&self, excluded: &[QualifiedName]) -> SchemaScripts {
        let sequences = self.excluded_sequences(excluded);
        let keep = |d: &&Ddl| {
            !d.tables.iter().any(|t| excluded.contains(t))
                && !d.sequence.as_ref().is_some_and(|s| sequences.contains(s))
        };
        let join = |list: &[Ddl]| -> String {
            let mut out = self.session.clone();
            for d in list.iter().filter(keep) {
                out.push_str(&d.text);
            }
            out
        };
        let mut clean = self.session.clone();
        for d in self.post.iter().chain(&self.pre).rev().filter(keep) {
            if let Some(drop) = &d.drop {
                clean.push_str(drop);
                clean.push('\n');
            }
        }
        SchemaScripts {
            pre_data: join(&self.pre),
            post_data: join(&self.post),
            clean,
        }
    }
}

/// Object types pg_dump writes in its post-data section (from the `-- Name: ...; Type: X;` header).
const POST_DATA_TYPES: &[&str] = &[
    "INDEX",
    "CONSTRAINT",
    "FK CONSTRAINT",
    "TRIGGER",
    "EVENT TRIGGER",
    "RULE",
    "POLICY",
    "ROW SECURITY",
    "INDEX ATTACH",
    "MATERIALIZED VIEW DATA",
    "STATISTICS",
    "PUBLICATION TABLE",
];

impl Builder {
    pub fn data_seen(&mut self) {
        self.seen_data = true;
    }

    pub fn statement(&mut self, statement: &Statement, file: &str) -> Result<(), FileError> {
        let body = statement.body_str();
        let words = |w: &[&str]| statement.starts_with_words(w);
        if words(&["INSERT"]) {
            self.seen_data = true;
            return Ok(());
        }
        if words(&["SELECT", "pg_catalog.setval"]) || words(&["SELECT", "setval"]) {
            self.seen_data = true;
            let sequence =
                setval(&body).ok_or_else(|| FileError::at(file, statement.line, "cannot read this setval call"))?;
            self.sequences.push(sequence);
            return Ok(());
        }
        let dropped = (words(&["ALTER"]) && owner_to(&body))
            || words(&["GRANT"])
            || words(&["REVOKE"])
            || words(&["ALTER", "DEFAULT", "PRIVILEGES"])
            || words(&["SECURITY", "LABEL"])
            || words(&["CREATE", "PUBLICATION"])
            || words(&["ALTER", "PUBLICATION"])
            || words(&["CREATE", "SUBSCRIPTION"])
            || words(&["ALTER", "SUBSCRIPTION"])
            || words(&["CREATE", "DATABASE"])
            || words(&["ALTER", "DATABASE"])
            || words(&["COMMENT", "ON", "DATABASE"])
            // `pg_dump --clean`: the clean script is made from what the file creates.
            || words(&["DROP"]);
        if dropped {
            return Ok(());
        }
        let text = format!("{};\n", String::from_utf8_lossy(&statement.text));
        if !self.seen_object && (words(&["SET"]) || words(&["SELECT", "pg_catalog.set_config"])) {
            self.session.push(text.trim_start().to_string());
            return Ok(());
        }
        self.seen_object = true;

        let kind = header_type(statement.leading());
        let tokens = tokens(&body);
        let post = self.seen_data
            || kind.as_deref().is_some_and(|k| POST_DATA_TYPES.contains(&k))
            || (kind.is_none() && is_post_data_statement(&tokens));
        let (mut tables, drop) = targets(&tokens);
        let sequence = if words(&["CREATE", "SEQUENCE"]) {
            name_at(&tokens, skip_words(&tokens, 2, &["IF", "NOT", "EXISTS"])).map(|(n, _)| n)
        } else {
            None
        };
        if let Some(owned) = owned_by(&tokens) {
            tables.push(owned.1.clone());
            self.owned.push(owned);
        }
        let ddl = Ddl {
            text: format!("\n{}", text.trim_start_matches('\n')),
            tables,
            drop,
            sequence,
        };
        if post {
            self.post.push(ddl);
        } else {
            self.pre.push(ddl);
        }

        if words(&["CREATE", "TABLE"]) || words(&["CREATE", "UNLOGGED", "TABLE"]) {
            if let Some((table, partitioned)) = create_table(&body, &tokens, statement.line, file)? {
                if partitioned {
                    self.partitioned.push(table.name.clone());
                }
                self.tables.push(table);
            }
        } else if words(&["CREATE", "TYPE"]) || words(&["CREATE", "DOMAIN"]) {
            // Types sqlparser does not know are kept in the script all the same.
            if let Ok(ast) = parse(&body) {
                match ast {
                    Ast::CreateType {
                        name,
                        representation: Some(UserDefinedTypeRepresentation::Enum { labels }),
                    } => {
                        self.enums
                            .insert(type_key(&name), labels.into_iter().map(|l| l.value).collect());
                    }
                    Ast::CreateDomain(domain) => {
                        self.domains
                            .insert(type_key(&domain.name), type_text(&domain.data_type));
                    }
                    _ => {}
                }
            }
        } else if words(&["ALTER", "TABLE"]) {
            if let Some((parent, child)) = attach_partition(&tokens) {
                self.parents.insert(child, parent);
            } else if let Ok(ast) = parse(&body) {
                self.pending.push((self.pending.len(), ast));
            }
        } else if words(&["CREATE", "UNIQUE", "INDEX"]) {
            if let Ok(ast) = parse(&body) {
                self.pending.push((self.pending.len(), ast));
            }
        }
        Ok(())
    }

    pub fn finish(mut self, file: &str) -> Result<(Schema, Scripts, Vec<Sequence>), FileError> {
        let index: HashMap<QualifiedName, usize> = self
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        for (_, ast) in std::mem::take(&mut self.pending) {
            match ast {
                Ast::AlterTable(alter) => {
                    let Some(&i) = index.get(&qualified(&alter.name)) else {
                        continue;
                    };
                    for op in alter.operations {
                        if let sqlparser::ast::AlterTableOperation::AddConstraint { constraint, .. } = op {
                            add_constraint(&mut self.tables[i], &constraint);
                        }
                    }
                }
                Ast::CreateIndex(create) if create.unique && create.predicate.is_none() => {
                    let Some(&i) = index.get(&qualified(&create.table_name)) else {
                        continue;
                    };
                    let columns: Option<Vec<String>> = create
                        .columns
                        .iter()
                        .map(|c| match &c.column.expr {
                            Expr::Identifier(ident) => Some(ident.value.clone()),
                            _ => None,
                        })
                        .collect();
                    if let Some(columns) = columns.filter(|c| !c.is_empty()) {
                        if !self.tables[i].unique.contains(&columns) {
                            self.tables[i].unique.push(columns);
                        }
                    }
                }
                _ => {}
            }
        }
        // Column kinds need the enums and domains, which may be created after a table uses them
        // only in hand-written files; pg_dump creates types first.
        for table in &mut self.tables {
            for column in &mut table.columns {
                column.kind = kind_of(&column.type_name, &self.enums, &self.domains, 0);
            }
            table.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
        }
        // Partitions name the root of their tree; partitioned parents hold no rows.
        let mut schema = Schema::default();
        let partitioned: Vec<QualifiedName> = self.partitioned.clone();
        for mut table in self.tables {
            if partitioned.contains(&table.name) {
                schema.partitioned.push(table.name);
                continue;
            }
            let mut root = None;
            let mut at = &table.name;
            let mut hops = 0;
            while let Some(parent) = self.parents.get(at) {
                root = Some(parent.clone());
                at = parent;
                hops += 1;
                if hops > 100 {
                    return Err(FileError::at(file, 0, "partitions attach in a cycle"));
                }
            }
            table.partition_root = root;
            schema.tables.push(table);
        }
        schema.tables.sort_by(|a, b| a.name.cmp(&b.name));
        let scripts = Scripts {
            session: self.session.concat(),
            pre: self.pre,
            post: self.post,
            owned: self.owned,
        };
        Ok((schema, scripts, self.sequences))
    }
}

fn parse(sql: &str) -> Result<Ast, String> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| e.to_string())?;
    match statements.len() {
        1 => Ok(statements.remove(0)),
        _ => Err("expected one statement".into()),
    }
}

fn tokens(sql: &str) -> Vec<Token> {
    Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect()
}

fn is_word(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// A name made of `Word . Word` tokens starting at `at`, and the index past it.
fn name_at(tokens: &[Token], mut at: usize) -> Option<(QualifiedName, usize)> {
    let mut parts = Vec::new();
    loop {
        let Some(Token::Word(w)) = tokens.get(at) else {
            return None;
        };
        parts.push(if w.quote_style.is_some() {
            w.value.clone()
        } else {
            w.value.to_lowercase()
        });
        at += 1;
        if tokens.get(at) == Some(&Token::Period) {
            at += 1;
            continue;
        }
        break;
    }
    let name = match parts.as_slice() {
        [name] => QualifiedName::new("public", name),
        [schema, name] => QualifiedName::new(schema, name),
        [.., schema, name] => QualifiedName::new(schema, name),
        [] => return None,
    };
    Some((name, at))
}

/// Skips the words given if they come next.
fn skip_words(tokens: &[Token], mut at: usize, words: &[&str]) -> usize {
    while words.iter().any(|w| is_word(tokens.get(at), w)) {
        at += 1;
    }
    at
}

/// The tables a DDL statement belongs to (so it is left out with a table outside `only`), and the
/// DROP that undoes it.
fn targets(tokens: &[Token]) -> (Vec<QualifiedName>, Option<String>) {
    let quoted = |n: &QualifiedName| crate::postgres::quote_qualified(n);
    if is_word(tokens.first(), "CREATE") {
        let at = skip_words(
            tokens,
            1,
            &["OR", "REPLACE", "UNLOGGED", "TEMPORARY", "TEMP", "RECURSIVE"],
        );
        let kind = match tokens.get(at) {
            Some(Token::Word(w)) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            _ => return (Vec::new(), None),
        };
        match kind.as_str() {
            "TABLE" => {
                let at = skip_words(tokens, at + 1, &["IF", "NOT", "EXISTS"]);
                if let Some((name, _)) = name_at(tokens, at) {
                    let drop = format!("DROP TABLE IF EXISTS {} CASCADE;", quoted(&name));
                    return (vec![name], Some(drop));
                }
            }
            "VIEW" | "SEQUENCE" | "TYPE" | "DOMAIN" | "MATERIALIZED" => {
                let (word, at) = if kind == "MATERIALIZED" {
                    ("MATERIALIZED VIEW", at + 2)
                } else {
                    (kind.as_str(), at + 1)
                };
                let at = skip_words(tokens, at, &["IF", "NOT", "EXISTS"]);
                if let Some((name, _)) = name_at(tokens, at) {
                    return (
                        Vec::new(),
                        Some(format!("DROP {word} IF EXISTS {} CASCADE;", quoted(&name))),
                    );
                }
            }
            "SCHEMA" => {
                let at = skip_words(tokens, at + 1, &["IF", "NOT", "EXISTS"]);
                if let Some(Token::Word(w)) = tokens.get(at) {
                    let name = crate::postgres::quote_ident(&w.value);
                    return (Vec::new(), Some(format!("DROP SCHEMA IF EXISTS {name};")));
                }
            }
            "EXTENSION" => {
                let at = skip_words(tokens, at + 1, &["IF", "NOT", "EXISTS"]);
                if let Some(Token::Word(w)) = tokens.get(at) {
                    let name = crate::postgres::quote_ident(&w.value);
                    return (Vec::new(), Some(format!("DROP EXTENSION IF EXISTS {name};")));
                }
            }
            "FUNCTION" | "PROCEDURE" | "AGGREGATE" => {
                if let Some((name, mut at)) = name_at(tokens, at + 1) {
                    // The argument types, without names' defaults: `(a integer DEFAULT 1)` → `(a integer)`.
                    if tokens.get(at) == Some(&Token::LParen) {
                        let mut depth = 0;
                        let mut args = Vec::new();
                        let mut current = String::new();
                        let mut in_default = false;
                        at += 1;
                        while let Some(t) = tokens.get(at) {
                            match t {
                                Token::LParen => depth += 1,
                                Token::RParen if depth == 0 => break,
                                Token::RParen => depth -= 1,
                                Token::Comma if depth == 0 => {
                                    args.push(std::mem::take(&mut current));
                                    in_default = false;
                                    at += 1;
                                    continue;
                                }
                                _ => {}
                            }
                            if depth == 0 && (is_word(Some(t), "DEFAULT") || *t == Token::Eq) {
                                in_default = true;
                            }
                            if !in_default {
                                if !current.is_empty()
                                    && !matches!(
                                        t,
                                        Token::Period
                                            | Token::LParen
                                            | Token::RParen
                                            | Token::LBracket
                                            | Token::RBracket
                                    )
                                    && !current.ends_with(['.', '(', '['])
                                {
                                    current.push(' ');
                                }
                                current.push_str(&t.to_string());
                            }
                            at += 1;
                        }
                        if !current.trim().is_empty() {
                            args.push(current);
                        }
                        let word = if kind == "PROCEDURE" {
                            "PROCEDURE"
                        } else if kind == "AGGREGATE" {
                            "AGGREGATE"
                        } else {
                            "FUNCTION"
                        };
                        return (
                            Vec::new(),
                            Some(format!(
                                "DROP {word} IF EXISTS {}({}) CASCADE;",
                                quoted(&name),
                                args.join(", ")
                            )),
                        );
                    }
                }
            }
            "INDEX" | "UNIQUE" => {
                // CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON [ONLY] table
                if let Some(on) = tokens.iter().position(|t| is_word(Some(t), "ON")) {
                    let at = skip_words(tokens, on + 1, &["ONLY"]);
                    if let Some((name, _)) = name_at(tokens, at) {
                        return (vec![name], None);
                    }
                }
            }
            "TRIGGER" | "CONSTRAINT" | "POLICY" | "RULE" => {
                // ... ON table (a rule: ... TO table)
                let key = if kind == "RULE" { "TO" } else { "ON" };
                let start = at + 2;
                if let Some(on) = tokens.iter().skip(start).position(|t| is_word(Some(t), key)) {
                    if let Some((name, _)) = name_at(tokens, start + on + 1) {
                        return (vec![name], None);
                    }
                }
            }
            _ => {}
        }
        return (Vec::new(), None);
    }
    if is_word(tokens.first(), "ALTER") && is_word(tokens.get(1), "TABLE") {
        let at = skip_words(tokens, 2, &["IF", "EXISTS", "ONLY"]);
        if let Some((name, _)) = name_at(tokens, at) {
            let mut tables = vec![name];
            if let Some((_, child)) = attach_partition(tokens) {
                tables.push(child);
            }
            return (tables, None);
        }
    }
    if is_word(tokens.first(), "COMMENT") && is_word(tokens.get(1), "ON") {
        if is_word(tokens.get(2), "TABLE") {
            if let Some((name, _)) = name_at(tokens, 3) {
                return (vec![name], None);
            }
        }
        if is_word(tokens.get(2), "COLUMN") {
            // table.column or schema.table.column
            let mut parts = Vec::new();
            let mut at = 3;
            while let Some(Token::Word(w)) = tokens.get(at) {
                parts.push(if w.quote_style.is_some() {
                    w.value.clone()
                } else {
                    w.value.to_lowercase()
                });
                at += 1;
                if tokens.get(at) != Some(&Token::Period) {
                    break;
                }
                at += 1;
            }
            let table = match parts.as_slice() {
                [table, _] => Some(QualifiedName::new("public", table)),
                [schema, table, _] => Some(QualifiedName::new(schema, table)),
                _ => None,
            };
            return (table.into_iter().collect(), None);
        }
    }
    (Vec::new(), None)
}

/// `ALTER SEQUENCE seq OWNED BY schema.table.column`: (sequence, table).
fn owned_by(tokens: &[Token]) -> Option<(QualifiedName, QualifiedName)> {
    if !(is_word(tokens.first(), "ALTER") && is_word(tokens.get(1), "SEQUENCE")) {
        return None;
    }
    let (sequence, at) = name_at(tokens, skip_words(tokens, 2, &["IF", "EXISTS"]))?;
    if !(is_word(tokens.get(at), "OWNED") && is_word(tokens.get(at + 1), "BY")) {
        return None;
    }
    let mut parts = Vec::new();
    let mut i = at + 2;
    while let Some(Token::Word(w)) = tokens.get(i) {
        parts.push(if w.quote_style.is_some() {
            w.value.clone()
        } else {
            w.value.to_lowercase()
        });
        if tokens.get(i + 1) != Some(&Token::Period) {
            break;
        }
        i += 2;
    }
    let table = match parts.as_slice() {
        [schema, table, _] => QualifiedName::new(schema, table),
        [table, _] => QualifiedName::new("public", table),
        _ => return None,
    };
    Some((sequence, table))
}

/// `ALTER TABLE [ONLY] parent ATTACH PARTITION child ...`
fn attach_partition(tokens: &[Token]) -> Option<(QualifiedName, QualifiedName)> {
    let at = skip_words(tokens, 2, &["IF", "EXISTS", "ONLY"]);
    let (parent, at) = name_at(tokens, at)?;
    if !(is_word(tokens.get(at), "ATTACH") && is_word(tokens.get(at + 1), "PARTITION")) {
        return None;
    }
    let (child, _) = name_at(tokens, at + 2)?;
    Some((parent, child))
}

/// Without pg_dump's headers: statements that belong after the data.
fn is_post_data_statement(tokens: &[Token]) -> bool {
    let w = |i: usize, word: &str| is_word(tokens.get(i), word);
    (w(0, "CREATE") && (w(1, "INDEX") || (w(1, "UNIQUE") && w(2, "INDEX"))))
        || (w(0, "CREATE")
            && (w(1, "TRIGGER") || w(1, "RULE") || w(1, "POLICY") || (w(1, "CONSTRAINT") && w(2, "TRIGGER"))))
        || (w(0, "ALTER")
            && w(1, "TABLE")
            && tokens.iter().any(|t| is_word(Some(t), "CONSTRAINT"))
            && tokens.iter().any(|t| is_word(Some(t), "ADD")))
        || (w(0, "REFRESH") && w(1, "MATERIALIZED"))
}

/// The `Type:` of pg_dump's `-- Name: ...; Type: X; Schema: ...` header in the leading comments.
fn header_type(leading: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(leading);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("-- Name: ") || l.starts_with("-- Data for Name: "))?;
    line.split("; ")
        .find_map(|f| f.strip_prefix("Type: "))
        .map(|t| t.trim_end_matches(';').to_string())
}

/// `ALTER <object> name OWNER TO role`
fn owner_to(body: &str) -> bool {
    let tokens = tokens(body);
    tokens
        .windows(2)
        .any(|w| is_word(Some(&w[0]), "OWNER") && is_word(Some(&w[1]), "TO"))
}

/// `SELECT pg_catalog.setval('public.seq', 42, true)`
fn setval(body: &str) -> Option<Sequence> {
    let tokens = tokens(body);
    let open = tokens.iter().position(|t| *t == Token::LParen)?;
    let args: Vec<&Token> = tokens[open + 1..]
        .iter()
        .filter(|t| !matches!(t, Token::Comma))
        .take(3)
        .collect();
    let Token::SingleQuotedString(name) = args.first()? else {
        return None;
    };
    let parts = super::parse_qualified(super::Engine::Postgres, name)?;
    let (schema, name) = match parts.as_slice() {
        [name] => ("public".to_string(), name.clone()),
        [schema, name] => (schema.clone(), name.clone()),
        _ => return None,
    };
    let last_value = match args.get(1)? {
        Token::Number(n, _) => n.parse().ok()?,
        _ => return None,
    };
    let is_called = match args.get(2) {
        None => true,
        Some(t) => is_word(Some(t), "true"),
    };
    Some(Sequence {
        schema,
        name,
        last_value,
        is_called,
    })
}

fn qualified(name: &ObjectName) -> QualifiedName {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(ident) if ident.quote_style.is_some() => ident.value.clone(),
            ObjectNamePart::Identifier(ident) => ident.value.to_lowercase(),
            other => other.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [name] => QualifiedName::new("public", name),
        [.., schema, name] => QualifiedName::new(schema, name),
        [] => QualifiedName::new("public", ""),
    }
}

/// The key enums and domains are found by: `schema.name` in lower case, or `public.name`.
fn type_key(name: &ObjectName) -> String {
    qualified(name).to_string()
}

/// A column type as PostgreSQL's format_type prints it: lower case, except quoted names.
fn type_text(data_type: &DataType) -> String {
    match data_type {
        DataType::Custom(..) => data_type.to_string(),
        other => other.to_string().to_lowercase(),
    }
}

/// `CREATE TABLE name (...)` as a table; the clauses after the column list (PARTITION BY, WITH,
/// INHERITS, USING, ...) are cut before parsing.
fn create_table(body: &str, tokens: &[Token], line: u64, file: &str) -> Result<Option<(Table, bool)>, FileError> {
    let partitioned = {
        let mut depth = 0i32;
        let mut seen_list = false;
        let mut found = false;
        for (i, t) in tokens.iter().enumerate() {
            match t {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        seen_list = true;
                    }
                }
                _ if seen_list && depth == 0 && is_word(Some(t), "PARTITION") && is_word(tokens.get(i + 1), "BY") => {
                    found = true
                }
                _ => {}
            }
        }
        found
    };
    // The end of the column list: the `)` that closes the first `(`.
    let bytes = body.as_bytes();
    let cut = column_list_end(bytes).ok_or_else(|| {
        FileError::at(
            file,
            line,
            "a CREATE TABLE without a column list (OF type, or PARTITION OF) cannot be read yet",
        )
    })?;
    let sql = &body[..cut];
    let ast = parse(sql).map_err(|e| FileError::at(file, line, format!("cannot parse this CREATE TABLE: {e}")))?;
    let Ast::CreateTable(create) = ast else {
        return Ok(None);
    };
    let mut table = Table {
        name: qualified(&create.name),
        columns: Vec::new(),
        primary_key: Vec::new(),
        unique: Vec::new(),
        foreign_keys: Vec::new(),
        estimated_rows: 0,
        estimated_bytes: 0,
        partition_root: None,
    };
    for column in &create.columns {
        let mut nullable = true;
        let mut generated = false;
        for option in &column.options {
            match &option.option {
                ColumnOption::NotNull => nullable = false,
                ColumnOption::Generated {
                    generation_expr: Some(_),
                    ..
                } => generated = true,
                ColumnOption::PrimaryKey(_) => {
                    nullable = false;
                    table.primary_key = vec![column.name.value.clone()];
                    table.unique.push(vec![column.name.value.clone()]);
                }
                ColumnOption::Unique(_) => table.unique.push(vec![column.name.value.clone()]),
                ColumnOption::ForeignKey(fk) => table.foreign_keys.push(ForeignKey {
                    name: fk
                        .name
                        .as_ref()
                        .map(|n| n.value.clone())
                        .unwrap_or_else(|| format!("{}_{}_fkey", table.name.name, column.name.value)),
                    columns: vec![column.name.value.clone()],
                    referenced_table: qualified(&fk.foreign_table),
                    referenced_columns: fk.referred_columns.iter().map(|c| c.value.clone()).collect(),
                }),
                _ => {}
            }
        }
        table.columns.push(Column {
            name: column.name.value.clone(),
            type_name: type_text(&column.data_type),
            kind: ColumnKind::Other(String::new()),
            nullable,
            generated,
        });
    }
    for constraint in &create.constraints {
        add_constraint(&mut table, constraint);
    }
    Ok(Some((table, partitioned)))
}

fn column_list_end(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0;
    let mut i = 0;
    let mut opened = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b'(' => {
                depth += 1;
                opened = true;
            }
            b')' => {
                depth -= 1;
                if depth == 0 && opened {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn index_columns(columns: &[sqlparser::ast::IndexColumn]) -> Option<Vec<String>> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(ident) => Some(ident.value.clone()),
            _ => None,
        })
        .collect()
}

fn add_constraint(table: &mut Table, constraint: &TableConstraint) {
    match constraint {
        TableConstraint::PrimaryKey(pk) => {
            if let Some(columns) = index_columns(&pk.columns) {
                table.primary_key = columns.clone();
                for c in &mut table.columns {
                    if columns.contains(&c.name) {
                        c.nullable = false;
                    }
                }
                if !table.unique.contains(&columns) {
                    table.unique.push(columns);
                }
            }
        }
        TableConstraint::Unique(unique) => {
            if let Some(columns) = index_columns(&unique.columns) {
                if !table.unique.contains(&columns) {
                    table.unique.push(columns);
                }
            }
        }
        TableConstraint::ForeignKey(fk) => table.foreign_keys.push(ForeignKey {
            name: fk.name.as_ref().map(|n| n.value.clone()).unwrap_or_default(),
            columns: fk.columns.iter().map(|c| c.value.clone()).collect(),
            referenced_table: qualified(&fk.foreign_table),
            referenced_columns: fk.referred_columns.iter().map(|c| c.value.clone()).collect(),
        }),
        _ => {}
    }
}

/// The column kind of a type as pg_dump writes it, through the same mapping as live introspection
/// (base type name and typmod).
fn kind_of(
    type_name: &str,
    enums: &HashMap<String, Vec<String>>,
    domains: &HashMap<String, String>,
    depth: usize,
) -> ColumnKind {
    let text = type_name.trim();
    if let Some(element) = text.strip_suffix("[]") {
        let element = element.trim_end_matches("[]");
        let (base, _) = base_and_typmod(element);
        return ColumnKind::Other(format!("_{base}"));
    }
    let (base, typmod) = base_and_typmod(text);
    let key = super::parse_qualified(super::Engine::Postgres, text).map(|parts| match parts.as_slice() {
        [name] => format!("public.{name}"),
        [schema, name] => format!("{schema}.{name}"),
        _ => String::new(),
    });
    if let Some(key) = key {
        if let Some(values) = enums.get(&key) {
            return ColumnKind::Enum { values: values.clone() };
        }
        if let Some(base) = domains.get(&key) {
            if depth < 10 {
                return kind_of(base, enums, domains, depth + 1);
            }
        }
    }
    crate::postgres::column_kind(&base, typmod)
}

/// `character varying(40)` → (`varchar`, 44), like pg_attribute's typname and atttypmod.
fn base_and_typmod(text: &str) -> (String, i32) {
    let (name, modifiers) = match (text.find('('), text.rfind(')')) {
        (Some(open), Some(close)) if close > open => (
            format!("{} {}", &text[..open], &text[close + 1..]),
            Some(&text[open + 1..close]),
        ),
        _ => (text.to_string(), None),
    };
    let name: Vec<&str> = name.split_whitespace().collect();
    let name = name.join(" ");
    let base = match name.as_str() {
        "integer" | "int" | "int4" => "int4",
        "smallint" | "int2" => "int2",
        "bigint" | "int8" => "int8",
        "real" | "float4" => "float4",
        "double precision" | "float8" => "float8",
        "boolean" | "bool" => "bool",
        "character varying" | "varchar" => "varchar",
        "character" | "char" | "bpchar" => "bpchar",
        "numeric" | "decimal" => "numeric",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamp with time zone" | "timestamptz" => "timestamptz",
        "time" | "time without time zone" => "time",
        "time with time zone" | "timetz" => "timetz",
        "bit varying" | "varbit" => "varbit",
        other => {
            // A user type: its own name, like typname.
            return (
                super::parse_qualified(super::Engine::Postgres, other)
                    .and_then(|mut p| p.pop())
                    .unwrap_or_else(|| other.to_string()),
                -1,
            );
        }
    };
    let numbers: Vec<i32> = modifiers
        .map(|m| m.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    let typmod = match (base, numbers.as_slice()) {
        ("varchar" | "bpchar", [n]) => n + 4,
        ("bpchar", []) if name == "character" || name == "char" => 1 + 4,
        ("numeric", [p]) => (p << 16) + 4,
        ("numeric", [p, s]) => ((p << 16) | s) + 4,
        _ => -1,
    };
    (base.to_string(), typmod)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_map_like_the_catalogue() {
        let none = HashMap::new();
        let kind = |t: &str| kind_of(t, &none, &HashMap::new(), 0);
        assert_eq!(kind("character varying(40)"), ColumnKind::Text { max_chars: Some(40) });
        assert_eq!(
            kind("numeric(12,2)"),
            ColumnKind::Numeric {
                precision: Some(12),
                scale: Some(2)
            }
        );
        assert_eq!(
            kind("integer"),
            ColumnKind::Int {
                bits: 32,
                unsigned: false
            }
        );
        assert_eq!(
            kind("timestamp(3) with time zone"),
            ColumnKind::Timestamp { with_tz: true }
        );
        assert_eq!(kind("text[]"), ColumnKind::Other("_text".into()));
        assert_eq!(kind("public.citext"), ColumnKind::Text { max_chars: None });
        let enums = HashMap::from([("public.mood".to_string(), vec!["ok".to_string()])]);
        let domains = HashMap::from([("public.email".to_string(), "character varying(80)".to_string())]);
        assert_eq!(
            kind_of("public.mood", &enums, &domains, 0),
            ColumnKind::Enum {
                values: vec!["ok".into()]
            }
        );
        assert_eq!(
            kind_of("public.email", &enums, &domains, 0),
            ColumnKind::Text { max_chars: Some(80) }
        );
    }

    #[test]
    fn setval_and_targets() {
        let s = setval("SELECT pg_catalog.setval('public.\"Odd_seq\"', 42, false)").unwrap();
        assert_eq!(
            (s.schema.as_str(), s.name.as_str(), s.last_value, s.is_called),
            ("public", "Odd_seq", 42, false)
        );
        let (tables, drop) = targets(&tokens("CREATE UNIQUE INDEX u ON ONLY public.\"T\" USING btree (a)"));
        assert_eq!((tables, drop), (vec![QualifiedName::new("public", "T")], None));
        let (_, drop) = targets(&tokens(
            "CREATE FUNCTION public.f(a integer DEFAULT 1, b text[]) RETURNS int LANGUAGE sql AS $$ select 1 $$",
        ));
        assert_eq!(
            drop.unwrap(),
            "DROP FUNCTION IF EXISTS \"public\".\"f\"(a integer, b text[]) CASCADE;"
        );
        let (tables, _) = targets(&tokens(
            "ALTER TABLE ONLY public.p ATTACH PARTITION public.p1 FOR VALUES IN (1)",
        ));
        assert_eq!(tables.len(), 2);
        assert!(owner_to("ALTER TABLE public.t OWNER TO app"));
    }

    #[test]
    fn create_table_reads_columns_and_keys() {
        let sql = "CREATE TABLE public.\"Order\" (\n    id integer NOT NULL,\n    \"Name\" character varying(40),\n    total numeric(10,2) GENERATED ALWAYS AS ((id * 2)) STORED,\n    tags text[]\n)\nPARTITION BY LIST (id)";
        let (table, partitioned) = create_table(sql, &tokens(sql), 1, "f").unwrap().unwrap();
        assert_eq!(table.name, QualifiedName::new("public", "Order"));
        let names: Vec<(&str, &str, bool, bool)> = table
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.type_name.as_str(), c.nullable, c.generated))
            .collect();
        assert_eq!(
            names,
            vec![
                ("id", "integer", false, false),
                ("Name", "character varying(40)", true, false),
                ("total", "numeric(10,2)", true, true),
                ("tags", "text[]", true, false),
            ]
        );
        assert!(partitioned);
    }
}
