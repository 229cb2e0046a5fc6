//! A streaming statement splitter over the bytes of a plain SQL dump.
//!
//! It reads one line at a time and knows just enough SQL to find where statements end: quoted
//! strings (`''` doubling, PostgreSQL `E''` and MySQL backslash escapes), quoted identifiers,
//! PostgreSQL dollar quotes, `--`, `#` and `/* */` comments, MySQL `DELIMITER` lines, and the data
//! block after `COPY ... FROM stdin;` (read separately, line by line, up to `\.`). It works on bytes,
//! not text: a mysqldump file holds binary values as raw bytes inside string literals.

use std::io::BufRead;

use super::{Engine, FileError};

/// One statement: the comments before it (pg_dump's `-- Name: ...` headers) and its text, without the
/// delimiter.
#[derive(Debug, Clone)]
pub struct Statement {
    pub text: Vec<u8>,
    /// Where the statement proper starts in `text`, after leading comments and blank lines.
    pub body: usize,
    /// The line of the file the statement proper starts on (1-based).
    pub line: u64,
}

impl Statement {
    pub fn body(&self) -> &[u8] {
        &self.text[self.body..]
    }

    /// The statement proper as text (lossy: DDL is UTF-8, data is read from the bytes).
    pub fn body_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.body())
    }

    /// The leading comments, e.g. pg_dump's `--\n-- Name: t; Type: TABLE; ...\n--\n\n`.
    pub fn leading(&self) -> &[u8] {
        &self.text[..self.body]
    }

    /// The line of byte `offset` of the text.
    pub fn line_at(&self, offset: usize) -> u64 {
        let newlines = self.text[self.body..offset.min(self.text.len()).max(self.body)]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.line + newlines as u64
    }

    /// True when the statement proper starts with these words (ASCII case-insensitive, any spacing).
    pub fn starts_with_words(&self, words: &[&str]) -> bool {
        starts_with_words(self.body(), words)
    }
}

/// True when `text` starts with `words` separated by whitespace (ASCII case-insensitive).
pub fn starts_with_words(mut text: &[u8], words: &[&str]) -> bool {
    for word in words {
        text = trim_start(text);
        if text.len() < word.len() || !text[..word.len()].eq_ignore_ascii_case(word.as_bytes()) {
            return false;
        }
        text = &text[word.len()..];
        if text.first().is_some_and(|b| is_ident(*b)) {
            return false;
        }
    }
    true
}

pub fn trim_start(text: &[u8]) -> &[u8] {
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    &text[start..]
}

pub fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Normal,
    /// A string literal; `escapes` when a backslash escapes the next byte.
    Single {
        escapes: bool,
    },
    /// `"..."`: an identifier in PostgreSQL, a string in MySQL (backslash escapes).
    Double,
    Backtick,
    LineComment,
    Block {
        depth: u32,
    },
    Dollar(Vec<u8>),
}

/// What a COPY data block gave.
pub enum CopyLine {
    /// A row, appended to the buffer with its newline.
    Row,
    /// The `\.` line.
    End,
}

pub struct Splitter<R> {
    reader: R,
    engine: Engine,
    file: String,
    line_no: u64,
    buf: Vec<u8>,
    pos: usize,
    delimiter: Vec<u8>,
    /// The dump tool's closing comment was read: the file is complete.
    pub saw_footer: bool,
}

impl<R: BufRead> Splitter<R> {
    pub fn new(reader: R, engine: Engine, file: &str) -> Self {
        Splitter {
            reader,
            engine,
            file: file.to_string(),
            line_no: 0,
            buf: Vec::new(),
            pos: 0,
            delimiter: b";".to_vec(),
            saw_footer: false,
        }
    }

    pub fn error(&self, line: u64, message: impl Into<String>) -> FileError {
        FileError::at(&self.file, line, message)
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// The number of the line read last.
    pub fn line(&self) -> u64 {
        self.line_no
    }

    fn read_line(&mut self) -> Result<bool, FileError> {
        self.buf.clear();
        self.pos = 0;
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| FileError::at(&self.file, self.line_no + 1, format!("cannot read: {e}")))?;
        if n == 0 {
            return Ok(false);
        }
        self.line_no += 1;
        if self.buf.starts_with(self.engine.footer()) {
            self.saw_footer = true;
        }
        Ok(true)
    }

    /// The next statement, or `None` at the end of the file. A file that ends inside a statement is
    /// an error naming the line the statement started on.
    pub fn next_statement(&mut self) -> Result<Option<Statement>, FileError> {
        let mut text: Vec<u8> = Vec::new();
        let mut body: Option<usize> = None;
        let mut body_line = 0;
        let mut state = State::Normal;
        let mysql = self.engine == Engine::Mysql;
        loop {
            if self.pos >= self.buf.len() {
                if !self.read_line()? {
                    return match (body, &state) {
                        (None, State::Normal | State::LineComment) => Ok(None),
                        _ => Err(self.error(
                            body_line.max(1),
                            "the file ends in the middle of this statement: it is truncated",
                        )),
                    };
                }
                if body.is_none() && state == State::Normal {
                    let line = trim_start(&self.buf);
                    // Client commands, not SQL: psql's `\restrict`/`\connect`, mysql's DELIMITER.
                    if !mysql && line.starts_with(b"\\") {
                        self.pos = self.buf.len();
                        continue;
                    }
                    if mysql && starts_with_words(line, &["DELIMITER"]) {
                        let rest = trim_start(&line[9..]);
                        let end = rest.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(rest.len());
                        if end == 0 {
                            return Err(self.error(self.line_no, "DELIMITER without a delimiter"));
                        }
                        self.delimiter = rest[..end].to_vec();
                        self.pos = self.buf.len();
                        continue;
                    }
                }
            }
            while self.pos < self.buf.len() {
                let b = self.buf[self.pos];
                let next = self.buf.get(self.pos + 1).copied();
                match &mut state {
                    State::Normal => {
                        let comment = (b == b'-' && next == Some(b'-') && (!mysql || self.after_dashes_is_space()))
                            || (mysql && b == b'#')
                            || (b == b'/'
                                && next == Some(b'*')
                                && !(mysql && self.buf.get(self.pos + 2) == Some(&b'!')));
                        if body.is_none() && !b.is_ascii_whitespace() && !comment {
                            if self.buf[self.pos..].starts_with(&self.delimiter) {
                                // An empty statement: nothing to return.
                                self.pos += self.delimiter.len();
                                continue;
                            }
                            body = Some(text.len());
                            body_line = self.line_no;
                        }
                        if let Some(body) = body.filter(|_| self.buf[self.pos..].starts_with(&self.delimiter)) {
                            self.pos += self.delimiter.len();
                            return Ok(Some(Statement {
                                text,
                                body,
                                line: body_line,
                            }));
                        }
                        if comment {
                            state = if b == b'/' {
                                text.extend_from_slice(b"/*");
                                self.pos += 2;
                                State::Block { depth: 1 }
                            } else {
                                State::LineComment
                            };
                            if matches!(state, State::Block { .. }) {
                                continue;
                            }
                        } else {
                            match b {
                                b'\'' => {
                                    let e_string = !mysql
                                        && matches!(text.last(), Some(b'E' | b'e'))
                                        && !text.len().checked_sub(2).is_some_and(|i| is_ident(text[i]));
                                    state = State::Single {
                                        escapes: mysql || e_string,
                                    }
                                }
                                b'"' => state = State::Double,
                                b'`' if mysql => state = State::Backtick,
                                b'/' if mysql && next == Some(b'*') => {
                                    // A versioned comment `/*!40101 ... */` is SQL for MySQL.
                                    text.extend_from_slice(b"/*");
                                    self.pos += 2;
                                    state = State::Block { depth: 1 };
                                    continue;
                                }
                                b'$' if !mysql && !text.last().is_some_and(|&p| is_ident(p)) => {
                                    if let Some(tag) = self.dollar_tag() {
                                        text.extend_from_slice(&tag);
                                        self.pos += tag.len();
                                        state = State::Dollar(tag);
                                        continue;
                                    }
                                }
                                _ => {}
                            }
                        }
                        text.push(b);
                        self.pos += 1;
                    }
                    State::Single { escapes } => {
                        if *escapes && b == b'\\' {
                            text.push(b);
                            self.pos += 1;
                            if let Some(n) = next {
                                text.push(n);
                                self.pos += 1;
                            }
                            continue;
                        }
                        if b == b'\'' {
                            if next == Some(b'\'') {
                                text.extend_from_slice(b"''");
                                self.pos += 2;
                                continue;
                            }
                            state = State::Normal;
                        }
                        text.push(b);
                        self.pos += 1;
                    }
                    State::Double | State::Backtick => {
                        let quote = if state == State::Double { b'"' } else { b'`' };
                        if mysql && quote == b'"' && b == b'\\' {
                            text.push(b);
                            self.pos += 1;
                            if let Some(n) = next {
                                text.push(n);
                                self.pos += 1;
                            }
                            continue;
                        }
                        if b == quote {
                            if next == Some(quote) {
                                text.extend_from_slice(&[quote, quote]);
                                self.pos += 2;
                                continue;
                            }
                            state = State::Normal;
                        }
                        text.push(b);
                        self.pos += 1;
                    }
                    State::LineComment => {
                        if b == b'\n' {
                            state = State::Normal;
                        }
                        text.push(b);
                        self.pos += 1;
                    }
                    State::Block { depth } => {
                        if b == b'*' && next == Some(b'/') {
                            *depth -= 1;
                            text.extend_from_slice(b"*/");
                            self.pos += 2;
                            if *depth == 0 {
                                state = State::Normal;
                            }
                            continue;
                        }
                        if !mysql && b == b'/' && next == Some(b'*') {
                            *depth += 1;
                            text.extend_from_slice(b"/*");
                            self.pos += 2;
                            continue;
                        }
                        text.push(b);
                        self.pos += 1;
                    }
                    State::Dollar(tag) => {
                        if self.buf[self.pos..].starts_with(tag) {
                            let len = tag.len();
                            text.extend_from_slice(&self.buf[self.pos..self.pos + len]);
                            self.pos += len;
                            state = State::Normal;
                            continue;
                        }
                        text.push(b);
                        self.pos += 1;
                    }
                }
            }
        }
    }

    /// MySQL needs whitespace (or the end of the line) after `--` for a comment.
    fn after_dashes_is_space(&self) -> bool {
        self.buf
            .get(self.pos + 2)
            .is_none_or(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    }

    /// `$tag$` starting at the current position, if it is one.
    fn dollar_tag(&self) -> Option<Vec<u8>> {
        let rest = &self.buf[self.pos + 1..];
        let end = rest
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80))?;
        if rest.get(end) != Some(&b'$') || rest.first().is_some_and(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(self.buf[self.pos..self.pos + end + 2].to_vec())
    }

    /// After a `COPY ... FROM stdin;` statement: the rest of its line is dropped, and each call reads
    /// one data line into `out` (with its newline) until the `\.` line. A file that ends first is an
    /// error: it is truncated.
    pub fn copy_line(&mut self, out: &mut Vec<u8>, started: u64) -> Result<CopyLine, FileError> {
        if self.pos < self.buf.len() {
            let rest = trim_start(&self.buf[self.pos..]);
            if !rest.is_empty() {
                return Err(self.error(self.line_no, "unexpected text after COPY ... FROM stdin;"));
            }
            self.pos = self.buf.len();
        }
        if !self.read_line()? {
            return Err(self.error(
                started,
                "the file ends inside the COPY data that starts here (no `\\.` line): it is truncated",
            ));
        }
        self.pos = self.buf.len();
        let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"\\." {
            return Ok(CopyLine::End);
        }
        if !self.buf.ends_with(b"\n") {
            return Err(self.error(
                self.line_no,
                "the file ends in the middle of a COPY row: it is truncated",
            ));
        }
        out.extend_from_slice(&self.buf);
        Ok(CopyLine::Row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(engine: Engine, text: &str) -> Vec<String> {
        let mut s = Splitter::new(text.as_bytes(), engine, "t.sql");
        let mut out = Vec::new();
        while let Some(st) = s.next_statement().unwrap() {
            out.push(st.body_str().into_owned());
        }
        out
    }

    #[test]
    fn postgres_quotes_comments_and_dollar_quotes() {
        let sql = "-- head; not a statement\nSET a = 'x;y';\n\\restrict abc\nCREATE FUNCTION f() RETURNS int AS $f$ select 1; $f$ LANGUAGE sql;\n\
                   /* a; /* nested; */ still */ SELECT E'it\\'s;', 'a''b;', \"we;ird\";\nSELECT $$;$$;";
        assert_eq!(
            split(Engine::Postgres, sql),
            vec![
                "SET a = 'x;y'",
                "CREATE FUNCTION f() RETURNS int AS $f$ select 1; $f$ LANGUAGE sql",
                "SELECT E'it\\'s;', 'a''b;', \"we;ird\"",
                "SELECT $$;$$",
            ]
        );
    }

    #[test]
    fn mysql_escapes_versioned_comments_and_delimiters() {
        let sql = "/*!40101 SET NAMES utf8mb4 */;\n-- c;\n# also;\nINSERT INTO `a;b` VALUES ('x\\';',\"y\\\";\"),(1);\n\
                   DELIMITER ;;\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET @x = 1; END ;;\nDELIMITER ;\nSELECT 1--2\n;";
        assert_eq!(
            split(Engine::Mysql, sql),
            vec![
                "/*!40101 SET NAMES utf8mb4 */",
                "INSERT INTO `a;b` VALUES ('x\\';',\"y\\\";\"),(1)",
                "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET @x = 1; END ",
                "SELECT 1--2\n",
            ]
        );
    }

    #[test]
    fn copy_blocks_and_truncation() {
        let sql = "COPY t (a) FROM stdin;\n1\n2\\t\n\\.\nSELECT 1;\n";
        let mut s = Splitter::new(sql.as_bytes(), Engine::Postgres, "f.sql");
        let st = s.next_statement().unwrap().unwrap();
        assert_eq!(st.body_str(), "COPY t (a) FROM stdin");
        let mut rows = Vec::new();
        while let CopyLine::Row = s.copy_line(&mut rows, st.line).unwrap() {}
        assert_eq!(rows, b"1\n2\\t\n");
        assert_eq!(s.next_statement().unwrap().unwrap().body_str(), "SELECT 1");

        let mut s = Splitter::new("COPY t (a) FROM stdin;\n1\n".as_bytes(), Engine::Postgres, "f.sql");
        let st = s.next_statement().unwrap().unwrap();
        let mut rows = Vec::new();
        assert!(matches!(s.copy_line(&mut rows, st.line), Ok(CopyLine::Row)));
        let err = s.copy_line(&mut rows, st.line).err().unwrap().to_string();
        assert!(err.contains("f.sql, line 1") && err.contains("truncated"), "{err}");

        let mut s = Splitter::new(
            "SELECT 1;\n\nINSERT INTO t VALUES ('ab".as_bytes(),
            Engine::Mysql,
            "m.sql",
        );
        s.next_statement().unwrap();
        let err = s.next_statement().err().unwrap().to_string();
        assert!(err.contains("m.sql, line 3") && err.contains("truncated"), "{err}");
    }

    #[test]
    fn leading_comments_stay_with_the_statement() {
        let sql = "--\n-- Name: t; Type: TABLE\n--\n\nCREATE TABLE t (a int);\n";
        let mut s = Splitter::new(sql.as_bytes(), Engine::Postgres, "f.sql");
        let st = s.next_statement().unwrap().unwrap();
        assert_eq!(st.leading(), b"--\n-- Name: t; Type: TABLE\n--\n\n");
        assert_eq!(st.line, 5);
    }
}
