//! Plain SQL dump files (`pg_dump` plain format, `mysqldump`/`mariadb-dump`) read without a database:
//! the schema they create and the rows they load, in the same text formats the live connectors
//! stream, so `decoy dump create --from-file` makes the same dump a live source would.
//!
//! A file is read twice, each time front to back with bounded memory: the first pass reads the DDL
//! (pg_dump puts primary keys, unique constraints and foreign keys after the data, and the plan needs
//! them before any row is transformed), the second streams the data. Standard input is copied to a
//! temporary file during the first pass.

mod mysqldump;
mod pg_plain;
pub mod statements;
pub mod values;

use std::io::{BufRead, Read};

use crate::postgres::{SchemaScripts, Sequence};
use crate::schema::{QualifiedName, Schema};
use statements::{CopyLine, Splitter, Statement};

/// The tool that wrote the file, from its first lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
}

impl Engine {
    /// The comment the tool writes last: a file without it was cut short.
    pub fn footer(self) -> &'static [u8] {
        match self {
            Engine::Postgres => b"-- PostgreSQL database dump complete",
            Engine::Mysql => b"-- Dump completed",
        }
    }

    fn tool(self) -> &'static str {
        match self {
            Engine::Postgres => "pg_dump",
            Engine::Mysql => "mysqldump",
        }
    }
}

/// A problem in the file, with its name and line.
#[derive(Debug, thiserror::Error)]
#[error("{file}, line {line}: {message}")]
pub struct FileError {
    pub file: String,
    pub line: u64,
    pub message: String,
}

impl FileError {
    pub fn at(file: &str, line: u64, message: impl Into<String>) -> FileError {
        FileError {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// What the file's first lines say.
#[derive(Debug, Clone)]
pub struct Header {
    pub engine: Engine,
    pub server_version: String,
    /// mysqldump names the database; pg_dump does not.
    pub database: Option<String>,
}

/// Lines read to recognise the file.
const HEADER_LINES: usize = 40;

/// Reads the first lines of `reader` to recognise the dump tool, and returns a reader that still
/// yields the whole file.
pub fn open<R: BufRead>(mut reader: R, file: &str) -> Result<(Header, impl BufRead), FileError> {
    let mut prefix = Vec::new();
    for _ in 0..HEADER_LINES {
        let n = reader
            .read_until(b'\n', &mut prefix)
            .map_err(|e| FileError::at(file, 1, format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
    }
    let header = header(&prefix).ok_or_else(|| {
        FileError::at(
            file,
            1,
            "not a dump file decoy can read: expected a plain-SQL pg_dump file (`-- PostgreSQL database dump`) or a \
             mysqldump/mariadb-dump file (`-- MySQL dump` / `-- MariaDB dump`) in its first lines",
        )
    })?;
    Ok((
        header,
        std::io::BufReader::with_capacity(1 << 20, std::io::Cursor::new(prefix).chain(reader)),
    ))
}

fn header(prefix: &[u8]) -> Option<Header> {
    let text = String::from_utf8_lossy(prefix);
    let mut engine = None;
    let mut server_version = String::new();
    let mut database = None;
    for line in text.lines() {
        let line = line.trim_end();
        if line == "-- PostgreSQL database dump" {
            engine = engine.or(Some(Engine::Postgres));
        } else if line.starts_with("-- MySQL dump") || line.starts_with("-- MariaDB dump") {
            engine = engine.or(Some(Engine::Mysql));
        } else if let Some(v) = line.strip_prefix("-- Dumped from database version ") {
            server_version = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("-- Server version") {
            server_version = v.trim().to_string();
        } else if line.starts_with("-- Host:") {
            if let Some((_, db)) = line.split_once("Database:") {
                let db = db.trim();
                if !db.is_empty() {
                    database = Some(db.to_string());
                }
            }
        }
    }
    Some(Header {
        engine: engine?,
        server_version,
        database,
    })
}

/// The parts of a possibly qualified name, unquoted (PostgreSQL folds unquoted names to lower case).
pub fn parse_qualified(engine: Engine, text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        match chars.peek() {
            Some(&q) if q == '"' || q == '`' => {
                chars.next();
                loop {
                    match chars.next()? {
                        c if c == q && chars.peek() == Some(&q) => {
                            chars.next();
                            part.push(q);
                        }
                        c if c == q => break,
                        c => part.push(c),
                    }
                }
            }
            Some(_) => {
                while let Some(&c) = chars.peek() {
                    if c == '.' || c.is_whitespace() {
                        break;
                    }
                    part.push(c);
                    chars.next();
                }
                if engine == Engine::Postgres {
                    part = part.to_lowercase();
                }
            }
            None => return None,
        }
        if part.is_empty() {
            return None;
        }
        parts.push(part);
        match chars.next() {
            Some('.') => continue,
            None => return Some(parts),
            Some(_) => return None,
        }
    }
}

/// What the first pass learnt: the tables and keys, the schema scripts, and sequence values.
pub struct DumpSchema {
    pub header: Header,
    /// The tables, with `default_schema` set to MySQL's database (or empty for PostgreSQL).
    pub schema: Schema,
    pub sequences: Vec<Sequence>,
    /// Things the file holds that a dump does not keep (triggers, routines), for the log.
    pub warnings: Vec<String>,
    scripts: Scripts,
}

enum Scripts {
    Postgres(pg_plain::Scripts),
    Mysql(mysqldump::Scripts),
}

impl DumpSchema {
    /// Sequences that go with `excluded` tables (owned by them): their values are left out too.
    pub fn excluded_sequences(&self, excluded: &[QualifiedName]) -> Vec<QualifiedName> {
        match &self.scripts {
            Scripts::Postgres(s) => s.excluded_sequences(excluded),
            Scripts::Mysql(_) => Vec::new(),
        }
    }

    /// The schema scripts of a dump that leaves `excluded` tables out.
    pub fn scripts(&self, excluded: &[QualifiedName]) -> SchemaScripts {
        match &self.scripts {
            Scripts::Postgres(s) => s.render(excluded),
            Scripts::Mysql(s) => s.render(excluded),
        }
    }
}

/// The first pass: reads every statement's DDL (data is skipped), and checks that the file is
/// complete. A truncated file fails here, before anything is written.
pub fn read_schema<R: BufRead>(reader: R, header: Header, file: &str) -> Result<DumpSchema, FileError> {
    let mut splitter = Splitter::new(reader, header.engine, file);
    let mut pg = pg_plain::Builder::default();
    let database = header.database.clone().unwrap_or_else(|| "mysql".to_string());
    let mut my = mysqldump::Builder::new(&database);
    let mut scratch = Vec::new();
    while let Some(statement) = splitter.next_statement()? {
        if let Some((_, _)) = copy_head(header.engine, &statement, file)? {
            loop {
                scratch.clear();
                if let CopyLine::End = splitter.copy_line(&mut scratch, statement.line)? {
                    break;
                }
            }
            pg.data_seen();
            continue;
        }
        match header.engine {
            Engine::Postgres => pg.statement(&statement, file)?,
            Engine::Mysql => my.statement(&statement, file)?,
        }
    }
    if !splitter.saw_footer {
        return Err(FileError::at(
            file,
            splitter.line(),
            format!(
                "the file ends without {}'s closing `{}` line: it is truncated (or not a whole dump)",
                header.engine.tool(),
                String::from_utf8_lossy(header.engine.footer())
            ),
        ));
    }
    let (schema, scripts, sequences, warnings) = match header.engine {
        Engine::Postgres => {
            let (schema, scripts, sequences) = pg.finish(file)?;
            (schema, Scripts::Postgres(scripts), sequences, Vec::new())
        }
        Engine::Mysql => {
            let (schema, scripts, warnings) = my.finish();
            (schema, Scripts::Mysql(scripts), Vec::new(), warnings)
        }
    };
    Ok(DumpSchema {
        header,
        schema,
        sequences,
        warnings,
        scripts,
    })
}

/// The name parts of a table and the columns of a COPY.
type CopyHead = (Vec<String>, Vec<String>);

/// `COPY name (columns) FROM stdin`: the table's name parts and columns.
fn copy_head(engine: Engine, statement: &Statement, file: &str) -> Result<Option<CopyHead>, FileError> {
    if engine != Engine::Postgres || !statement.starts_with_words(&["COPY"]) {
        return Ok(None);
    }
    let body = statement.body_str();
    let trimmed = body.trim_end();
    if !trimmed.to_ascii_lowercase().ends_with("from stdin") {
        return Ok(None);
    }
    values::copy_head(trimmed)
        .map(Some)
        .ok_or_else(|| FileError::at(file, statement.line, "cannot read the table and columns of this COPY"))
}

/// The start of one table's data in the second pass.
pub enum DataStart {
    /// A COPY block: read its lines with [`DataPass::copy_line`].
    Copy {
        table: QualifiedName,
        columns: Vec<String>,
        line: u64,
    },
    /// An INSERT statement, whole.
    Insert {
        table: QualifiedName,
        head: values::InsertHead,
        statement: Statement,
    },
}

/// The second pass: the data statements, in file order.
pub struct DataPass<R> {
    splitter: Splitter<R>,
    engine: Engine,
    file: String,
    default_schema: String,
}

impl<R: BufRead> DataPass<R> {
    pub fn new(reader: R, header: &Header, file: &str) -> Self {
        DataPass {
            splitter: Splitter::new(reader, header.engine, file),
            engine: header.engine,
            file: file.to_string(),
            default_schema: match header.engine {
                Engine::Postgres => "public".to_string(),
                Engine::Mysql => header.database.clone().unwrap_or_else(|| "mysql".to_string()),
            },
        }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    fn qualify(&self, parts: Vec<String>) -> QualifiedName {
        match parts.as_slice() {
            [schema, name] if self.engine == Engine::Postgres => QualifiedName::new(schema, name),
            // MySQL: the dump's database, whatever a qualified INSERT names.
            [.., name] => QualifiedName::new(&self.default_schema, name),
            [] => QualifiedName::new(&self.default_schema, ""),
        }
    }

    /// The next COPY block or INSERT statement; other statements are passed over.
    pub fn next_data(&mut self) -> Result<Option<DataStart>, FileError> {
        while let Some(statement) = self.splitter.next_statement()? {
            if let Some((parts, columns)) = copy_head(self.engine, &statement, &self.file)? {
                return Ok(Some(DataStart::Copy {
                    table: self.qualify(parts),
                    columns,
                    line: statement.line,
                }));
            }
            if self.engine == Engine::Mysql
                && !statement.starts_with_words(&["INSERT"])
                && !statement.starts_with_words(&["REPLACE"])
            {
                continue;
            }
            if self.engine == Engine::Postgres && !statement.starts_with_words(&["INSERT"]) {
                continue;
            }
            let head = values::insert_head(self.engine, statement.body())
                .map_err(|e| FileError::at(&self.file, statement.line, e))?
                .expect("an INSERT");
            let table = self.qualify(head.table.clone());
            return Ok(Some(DataStart::Insert { table, head, statement }));
        }
        Ok(None)
    }

    /// One line of the current COPY block into `out`.
    pub fn copy_line(&mut self, out: &mut Vec<u8>, started: u64) -> Result<CopyLine, FileError> {
        self.splitter.copy_line(out, started)
    }
}

/// A reader that copies what it reads to a writer: standard input is kept in a temporary file
/// during the first pass, for the second.
pub struct Tee<R, W> {
    pub reader: R,
    pub copy: W,
}

impl<R: Read, W: std::io::Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_the_tool() {
        let pg =
            header(b"--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.4 (Debian)\n").unwrap();
        assert_eq!(
            (pg.engine, pg.server_version.as_str()),
            (Engine::Postgres, "15.4 (Debian)")
        );
        let my = header(
            b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n--\n-- Host: 127.0.0.1    Database: shop\n-- Server version\t10.11.6-MariaDB\n",
        )
        .unwrap();
        assert_eq!(my.engine, Engine::Mysql);
        assert_eq!(my.database.as_deref(), Some("shop"));
        assert_eq!(my.server_version, "10.11.6-MariaDB");
        assert!(header(b"SELECT 1;\n").is_none());
        let err = open("hello\n".as_bytes(), "x.sql").err().unwrap().to_string();
        assert!(err.starts_with("x.sql, line 1: not a dump file"), "{err}");
    }

    #[test]
    fn qualified_names_unquote() {
        assert_eq!(
            parse_qualified(Engine::Postgres, "public.\"Mixed \"\"Case\"\"\""),
            Some(vec!["public".into(), "Mixed \"Case\"".into()])
        );
        assert_eq!(
            parse_qualified(Engine::Postgres, "Public.T"),
            Some(vec!["public".into(), "t".into()])
        );
        assert_eq!(parse_qualified(Engine::Mysql, "`a``b`"), Some(vec!["a`b".into()]));
        assert_eq!(parse_qualified(Engine::Mysql, "a b"), None);
    }
}
