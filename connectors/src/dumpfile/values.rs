//! INSERT statements of a dump file as rows of the dump's text format (PostgreSQL COPY text or
//! MySQL LOAD DATA text), byte for byte what the live path reads from the server.
//!
//! This is a scanner over the statement's bytes rather than a SQL parser: a mysqldump file holds
//! binary values as raw bytes inside string literals (not UTF-8, which `sqlparser` requires), and a
//! multi-row INSERT is megabytes that are better turned into rows as they are read than into an AST.
//! One statement is held at a time, which the dump tool bounds (mysqldump by `max_allowed_packet`,
//! pg_dump by `--rows-per-insert`).

use crate::mysql::text::FieldCodec;
use crate::postgres::copy_text::{escape_into, escape_mysql_into, NULL};

use super::statements::{is_ident, trim_start, Statement};
use super::{parse_qualified, Engine, FileError};

/// The head of an INSERT: its table and column list, and where VALUES begins.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertHead {
    /// One or two parts as written (`schema.table` or `table`), unquoted.
    pub table: Vec<String>,
    pub columns: Option<Vec<String>>,
    /// Offset in the statement body just past `VALUES`.
    pub values_at: usize,
}

/// Parses `INSERT [IGNORE] INTO name [(cols)] VALUES` (or `REPLACE INTO`); `None` for other
/// statements.
pub fn insert_head(engine: Engine, body: &[u8]) -> Result<Option<InsertHead>, String> {
    let mut s = Scanner {
        text: body,
        pos: 0,
        engine,
        bare_end: 0,
    };
    let first = s.word();
    if !(first.eq_ignore_ascii_case(b"INSERT") || first.eq_ignore_ascii_case(b"REPLACE")) {
        return Ok(None);
    }
    let mut word = s.word();
    while !word.eq_ignore_ascii_case(b"INTO") {
        // IGNORE, LOW_PRIORITY, DELAYED, HIGH_PRIORITY
        if word.is_empty() {
            return Err("INSERT without INTO".into());
        }
        word = s.word();
    }
    s.skip_space();
    let name_start = s.pos;
    let name_end = s.skip_name()?;
    let table = parse_qualified(engine, &String::from_utf8_lossy(&body[name_start..name_end]))
        .ok_or_else(|| "cannot read the table name of an INSERT".to_string())?;
    s.skip_space();
    let mut columns = None;
    if s.peek() == Some(b'(') {
        s.pos += 1;
        let mut list = Vec::new();
        loop {
            s.skip_space();
            let start = s.pos;
            let end = s.skip_name()?;
            let parts = parse_qualified(engine, &String::from_utf8_lossy(&body[start..end]))
                .ok_or_else(|| "cannot read a column name of an INSERT".to_string())?;
            list.push(parts.last().cloned().unwrap_or_default());
            s.skip_space();
            match s.next() {
                Some(b',') => continue,
                Some(b')') => break,
                _ => return Err("cannot read the column list of an INSERT".into()),
            }
        }
        columns = Some(list);
    }
    let mut values = s.word();
    // pg_dump's INSERTs into GENERATED ALWAYS identity columns.
    if values.eq_ignore_ascii_case(b"OVERRIDING") {
        s.word();
        s.word();
        values = s.word();
    }
    if !(values.eq_ignore_ascii_case(b"VALUES") || values.eq_ignore_ascii_case(b"VALUE")) {
        return Err("only INSERT ... VALUES statements can be read from a dump file".into());
    }
    Ok(Some(InsertHead {
        table,
        columns,
        values_at: s.pos,
    }))
}

/// Parses `COPY name [(columns)] FROM stdin`: the name's parts and the columns (empty when not
/// listed, which means every column).
pub fn copy_head(text: &str) -> Option<(Vec<String>, Vec<String>)> {
    let body = text.as_bytes();
    let mut s = Scanner {
        text: body,
        pos: 0,
        engine: Engine::Postgres,
        bare_end: 0,
    };
    if !s.word().eq_ignore_ascii_case(b"COPY") {
        return None;
    }
    s.skip_space();
    let start = s.pos;
    let end = s.skip_name().ok()?;
    let table = parse_qualified(Engine::Postgres, &text[start..end])?;
    s.skip_space();
    let mut columns = Vec::new();
    if s.peek() == Some(b'(') {
        s.pos += 1;
        loop {
            s.skip_space();
            let start = s.pos;
            let end = s.skip_name().ok()?;
            columns.push(parse_qualified(Engine::Postgres, &text[start..end])?.pop()?);
            s.skip_space();
            match s.next()? {
                b',' => continue,
                b')' => break,
                _ => return None,
            }
        }
    }
    s.word().eq_ignore_ascii_case(b"FROM").then_some((table, columns))
}

/// How one output field is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldKind {
    /// PostgreSQL: COPY text of the literal.
    Postgres,
    /// MySQL, in the column's codec (see [`crate::mysql::text`]).
    Mysql(FieldCodec),
}

/// Maps the values of an INSERT (or the fields of a COPY row) to the dump's columns.
#[derive(Debug, Clone)]
pub struct RowLayout {
    /// For each output column: the index of its value in the source row, and how to write it.
    pub fields: Vec<(usize, FieldKind)>,
    /// Values per source row.
    pub width: usize,
    /// Source positions that must hold DEFAULT (generated columns in a full-width INSERT).
    pub defaults: Vec<usize>,
}

impl RowLayout {
    /// `all` is the table's columns in order with their generated flag, `copied` the dump's
    /// columns with their kind, `source` the statement's column list (None: every column of the
    /// table, or the stored ones when `width` says so).
    pub fn new(
        all: &[(String, bool)],
        copied: &[(String, FieldKind)],
        source: Option<&[String]>,
    ) -> Result<RowLayout, String> {
        let source: Vec<String> = match source {
            Some(list) => list.to_vec(),
            None => all.iter().map(|(n, _)| n.clone()).collect(),
        };
        let mut fields = Vec::with_capacity(copied.len());
        for (name, kind) in copied {
            let Some(at) = source.iter().position(|s| s == name) else {
                return Err(format!(
                    "the data names the columns ({}) but not `{name}`: decoy reads data that lists every stored \
                     column",
                    source.join(", ")
                ));
            };
            fields.push((at, *kind));
        }
        let mut defaults = Vec::new();
        for (i, name) in source.iter().enumerate() {
            match all.iter().find(|(n, _)| n == name) {
                None => return Err(format!("the data has a column `{name}` that the table does not have")),
                Some((_, true)) => defaults.push(i),
                Some(_) => {}
            }
        }
        Ok(RowLayout {
            fields,
            width: source.len(),
            defaults,
        })
    }

    /// Without a column list, an INSERT either gives every column (generated ones as DEFAULT) or
    /// only the stored ones (mysqldump leaves generated columns out).
    pub fn for_width(all: &[(String, bool)], copied: &[(String, FieldKind)], width: usize) -> Result<Self, String> {
        if width == all.len() {
            return Self::new(all, copied, None);
        }
        let stored: Vec<String> = all.iter().filter(|(_, g)| !g).map(|(n, _)| n.clone()).collect();
        if width == stored.len() {
            return Self::new(all, copied, Some(&stored));
        }
        Err(format!(
            "a row has {width} values where the table has {} columns",
            all.len()
        ))
    }

    /// True when COPY lines can be written as they are.
    pub fn is_identity(&self) -> bool {
        self.defaults.is_empty()
            && self.width == self.fields.len()
            && self.fields.iter().enumerate().all(|(i, (at, _))| *at == i)
    }

    /// Rewrites one COPY line (without its newline) into the dump's column order.
    pub fn copy_row(&self, line: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        if fields.len() != self.width {
            return Err(format!(
                "a COPY row has {} fields where {} were named",
                fields.len(),
                self.width
            ));
        }
        for (i, (at, _)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            out.extend_from_slice(fields[*at]);
        }
        out.push(b'\n');
        Ok(())
    }
}

/// A value as written in an INSERT.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Literal {
    Null,
    Default,
    /// A string literal, decoded into the scratch buffer.
    Text,
    /// A number or other bare word, as written.
    Bare,
    /// `true`/`false`.
    Bool(bool),
    /// `X'..'` or `0x..`, decoded into the scratch buffer.
    Hex,
    /// `B'..'` or `0b..`: the digits, in the scratch buffer.
    Bits,
}

/// The number of values in the first row of an INSERT (for [`RowLayout::for_width`]).
pub fn first_row_width(engine: Engine, body: &[u8], values_at: usize) -> Result<usize, String> {
    let mut s = Scanner {
        text: body,
        pos: values_at,
        engine,
        bare_end: 0,
    };
    s.skip_space();
    if s.next() != Some(b'(') {
        return Err("VALUES without a row".into());
    }
    let mut width = 0;
    let mut scratch = Vec::new();
    loop {
        s.literal(&mut scratch)?;
        width += 1;
        s.skip_space();
        match s.next() {
            Some(b',') => continue,
            Some(b')') => return Ok(width),
            _ => return Err("cannot read a row of the INSERT".into()),
        }
    }
}

/// Appends every row of an INSERT's VALUES to `out` as text rows; returns how many. Errors carry
/// the file line of the value that failed.
pub fn insert_rows(
    engine: Engine,
    statement: &Statement,
    values_at: usize,
    layout: &RowLayout,
    out: &mut Vec<u8>,
    file: &str,
) -> Result<u64, FileError> {
    let body = statement.body();
    let mut s = Scanner {
        text: body,
        pos: values_at,
        engine,
        bare_end: 0,
    };
    let fail = |pos: usize, message: String| FileError::at(file, statement.line_at(statement.body + pos), message);
    // (literal, start, end) in `scratch` or in `body`
    let mut values: Vec<(Literal, usize, usize)> = Vec::with_capacity(layout.width);
    let mut scratch: Vec<u8> = Vec::new();
    let mut rows = 0;
    loop {
        s.skip_space();
        if s.next() != Some(b'(') {
            return Err(fail(s.pos, "expected `(` to start a row of VALUES".into()));
        }
        values.clear();
        scratch.clear();
        loop {
            s.skip_space();
            let start = s.pos;
            let scratch_start = scratch.len();
            let literal = s.literal(&mut scratch).map_err(|e| fail(start, e))?;
            let (from, to) = match literal {
                Literal::Bare => (start, s.bare_end),
                _ => (scratch_start, scratch.len()),
            };
            values.push((literal, from, to));
            s.skip_space();
            match s.next() {
                Some(b',') => continue,
                Some(b')') => break,
                _ => {
                    return Err(fail(
                        s.pos.saturating_sub(1),
                        "expected `,` or `)` after a value".into(),
                    ))
                }
            }
        }
        if values.len() != layout.width {
            return Err(fail(
                s.pos,
                format!("a row has {} values where {} were expected", values.len(), layout.width),
            ));
        }
        for (i, (at, kind)) in layout.fields.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            let (literal, from, to) = values[*at];
            let bytes = match literal {
                Literal::Bare => &body[from..to],
                _ => &scratch[from..to],
            };
            write_field(literal, bytes, *kind, out).map_err(|e| fail(s.pos, e))?;
        }
        out.push(b'\n');
        rows += 1;
        s.skip_space();
        match s.next() {
            Some(b',') => continue,
            None => return Ok(rows),
            Some(_) => {
                s.pos -= 1;
                // ON DUPLICATE KEY UPDATE / ON CONFLICT: the rows are all read.
                return if s.word().eq_ignore_ascii_case(b"ON") {
                    Ok(rows)
                } else {
                    Err(fail(s.pos, "unexpected text after the VALUES rows".into()))
                };
            }
        }
    }
}

fn write_field(literal: Literal, bytes: &[u8], kind: FieldKind, out: &mut Vec<u8>) -> Result<(), String> {
    match (literal, kind) {
        (Literal::Null, _) => out.extend_from_slice(NULL),
        (Literal::Default, _) => {
            return Err("DEFAULT in the data of a stored column: decoy needs the value itself".into())
        }
        (Literal::Bool(b), FieldKind::Postgres) => out.push(if b { b't' } else { b'f' }),
        (Literal::Bool(b), FieldKind::Mysql(_)) => out.push(if b { b'1' } else { b'0' }),
        (Literal::Bare, FieldKind::Postgres) => escape_into(bytes, out),
        (Literal::Text | Literal::Bits, FieldKind::Postgres) => escape_into(bytes, out),
        (Literal::Hex, FieldKind::Postgres) => {
            // A bytea written as X'..' (not pg_dump's own spelling): the COPY text of the bytes.
            let mut text = b"\\x".to_vec();
            text.extend_from_slice(hex_lower(bytes).as_bytes());
            escape_into(&text, out)
        }
        (Literal::Text | Literal::Hex, FieldKind::Mysql(FieldCodec::Hex)) => {
            let mut text = b"\\x".to_vec();
            text.extend_from_slice(hex_lower(bytes).to_ascii_uppercase().as_bytes());
            escape_mysql_into(&text, out)
        }
        (Literal::Bits, FieldKind::Mysql(FieldCodec::BitNumber)) => {
            let mut n: u128 = 0;
            for &d in bytes {
                n = n.checked_mul(2).ok_or("a BIT value longer than 64 bits")? + u128::from(d - b'0');
            }
            out.extend_from_slice(n.to_string().as_bytes())
        }
        (Literal::Hex | Literal::Text, FieldKind::Mysql(FieldCodec::BitNumber)) => {
            if bytes.len() > 16 {
                return Err("a BIT value longer than 64 bits".into());
            }
            let n = bytes.iter().fold(0u128, |n, &b| (n << 8) | u128::from(b));
            out.extend_from_slice(n.to_string().as_bytes())
        }
        (Literal::Bits, FieldKind::Mysql(_)) => {
            let mut n: u128 = 0;
            for &d in bytes {
                n = n.checked_mul(2).ok_or("a bit literal longer than 64 bits")? + u128::from(d - b'0');
            }
            out.extend_from_slice(n.to_string().as_bytes())
        }
        (Literal::Bare | Literal::Text | Literal::Hex, FieldKind::Mysql(_)) => escape_mysql_into(bytes, out),
    }
    Ok(())
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
    engine: Engine,
    /// The end of the last bare value read.
    bare_end: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn skip_space(&mut self) {
        loop {
            let rest = &self.text[self.pos..];
            let trimmed = trim_start(rest);
            self.pos += rest.len() - trimmed.len();
            // Comments between values (rare, but legal).
            if trimmed.starts_with(b"/*") && !trimmed.starts_with(b"/*!") {
                match trimmed.windows(2).position(|w| w == b"*/") {
                    Some(end) => self.pos += end + 2,
                    None => return,
                }
            } else if trimmed.starts_with(b"-- ") || trimmed.starts_with(b"--\n") {
                let end = trimmed.iter().position(|&b| b == b'\n').unwrap_or(trimmed.len());
                self.pos += end;
            } else {
                return;
            }
        }
    }

    /// The next bare word (letters, digits, `_`), possibly empty.
    fn word(&mut self) -> &[u8] {
        self.skip_space();
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// Skips a possibly qualified, possibly quoted name; returns its end.
    fn skip_name(&mut self) -> Result<usize, String> {
        loop {
            match self.peek() {
                Some(q @ (b'"' | b'`')) => {
                    self.pos += 1;
                    loop {
                        match self.next() {
                            Some(b) if b == q && self.peek() == Some(q) => self.pos += 1,
                            Some(b) if b == q => break,
                            Some(_) => {}
                            None => return Err("an unterminated quoted name".into()),
                        }
                    }
                }
                Some(b) if is_ident(b) => {
                    while self.peek().is_some_and(is_ident) {
                        self.pos += 1;
                    }
                }
                _ => return Err("expected a name".into()),
            }
            if self.peek() == Some(b'.') {
                self.pos += 1;
                continue;
            }
            return Ok(self.pos);
        }
    }
}

impl Scanner<'_> {
    /// Reads one value; string contents go (decoded) into `scratch`. For a bare value, its end is
    /// left in `bare_end`.
    fn literal(&mut self, scratch: &mut Vec<u8>) -> Result<Literal, String> {
        self.skip_space();
        let mysql = self.engine == Engine::Mysql;
        let start = self.pos;
        let Some(b) = self.peek() else {
            return Err("the statement ends inside a row".into());
        };
        let literal = match b {
            b'\'' => {
                self.string(b'\'', mysql, scratch)?;
                Literal::Text
            }
            b'"' if mysql => {
                self.string(b'"', true, scratch)?;
                Literal::Text
            }
            b'E' | b'e' if !mysql && self.text.get(self.pos + 1) == Some(&b'\'') => {
                self.pos += 1;
                self.string(b'\'', true, scratch)?;
                Literal::Text
            }
            b'X' | b'x' if self.text.get(self.pos + 1) == Some(&b'\'') => {
                self.pos += 1;
                let mut digits = Vec::new();
                self.string(b'\'', false, &mut digits)?;
                decode_hex(&digits, scratch)?;
                Literal::Hex
            }
            b'B' | b'b' if self.text.get(self.pos + 1) == Some(&b'\'') => {
                self.pos += 1;
                let from = scratch.len();
                self.string(b'\'', false, scratch)?;
                check_bits(&scratch[from..])?;
                Literal::Bits
            }
            b'0' if mysql && matches!(self.text.get(self.pos + 1), Some(b'x' | b'X')) => {
                self.pos += 2;
                let from = self.pos;
                while self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                    self.pos += 1;
                }
                let digits = self.text[from..self.pos].to_vec();
                decode_hex(&digits, scratch)?;
                Literal::Hex
            }
            b'0' if mysql && matches!(self.text.get(self.pos + 1), Some(b'b')) => {
                self.pos += 2;
                let from = self.pos;
                while self.peek().is_some_and(|b| b == b'0' || b == b'1') {
                    self.pos += 1;
                }
                scratch.extend_from_slice(&self.text[from..self.pos]);
                Literal::Bits
            }
            b'_' if mysql => {
                // A character set introducer: `_binary 'abc'`, `_utf8mb4'x'`.
                while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    self.pos += 1;
                }
                self.skip_space();
                return self.literal(scratch);
            }
            b'-' | b'+' | b'.' | b'0'..=b'9' => {
                self.pos += 1;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'+' || b == b'-')
                {
                    // `1e-5`: a sign only right after an exponent mark.
                    if matches!(self.peek(), Some(b'+' | b'-'))
                        && !matches!(self.text.get(self.pos - 1), Some(b'e' | b'E'))
                    {
                        break;
                    }
                    self.pos += 1;
                }
                self.bare_end = self.pos;
                let number = &self.text[start..self.pos];
                if number.first() == Some(&b'+') {
                    // Written as the server prints it: without the plus.
                    scratch.extend_from_slice(&number[1..]);
                    return Ok(Literal::Text);
                }
                Literal::Bare
            }
            _ => {
                let word = self.word().to_vec();
                if word.eq_ignore_ascii_case(b"NULL") {
                    Literal::Null
                } else if word.eq_ignore_ascii_case(b"DEFAULT") {
                    Literal::Default
                } else if word.eq_ignore_ascii_case(b"TRUE") {
                    Literal::Bool(true)
                } else if word.eq_ignore_ascii_case(b"FALSE") {
                    Literal::Bool(false)
                } else if word.is_empty() {
                    return Err(format!("unexpected `{}` where a value was expected", b as char));
                } else {
                    return Err(format!(
                        "`{}` is not a literal value; decoy reads INSERT statements of constants",
                        String::from_utf8_lossy(&word)
                    ));
                }
            }
        };
        // PostgreSQL casts (`'1'::integer`) leave the text as it is.
        if !mysql && self.text[self.pos..].starts_with(b"::") {
            self.pos += 2;
            let mut depth = 0usize;
            while let Some(b) = self.peek() {
                match b {
                    b'(' => depth += 1,
                    b')' if depth == 0 => break,
                    b')' => depth -= 1,
                    b',' if depth == 0 => break,
                    b'"' => {
                        self.skip_name()?;
                        continue;
                    }
                    _ => {}
                }
                self.pos += 1;
            }
        }
        Ok(literal)
    }

    /// A quoted literal starting at the quote: doubled quotes, and with `escapes` backslash escapes.
    fn string(&mut self, quote: u8, escapes: bool, out: &mut Vec<u8>) -> Result<(), String> {
        self.pos += 1;
        let mysql = self.engine == Engine::Mysql;
        loop {
            // Copy runs without special bytes at once.
            let rest = &self.text[self.pos..];
            let run = rest
                .iter()
                .position(|&b| b == quote || (escapes && b == b'\\'))
                .ok_or("an unterminated string")?;
            out.extend_from_slice(&rest[..run]);
            self.pos += run;
            let b = self.text[self.pos];
            self.pos += 1;
            if b == quote {
                if self.peek() == Some(quote) {
                    out.push(quote);
                    self.pos += 1;
                    continue;
                }
                return Ok(());
            }
            // A backslash escape.
            let e = self.next().ok_or("an unterminated string")?;
            if mysql {
                // `\%` and `\_` keep their backslash (they are LIKE escapes).
                if e == b'%' || e == b'_' {
                    out.push(b'\\');
                }
                out.push(match e {
                    b'0' => 0,
                    b'b' => 0x08,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'Z' => 0x1a,
                    other => other,
                });
                continue;
            }
            match e {
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'0'..=b'7' => {
                    let mut value = u32::from(e - b'0');
                    for _ in 0..2 {
                        match self.peek() {
                            Some(d @ b'0'..=b'7') => {
                                value = value * 8 + u32::from(d - b'0');
                                self.pos += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push((value & 0xff) as u8);
                }
                b'x' => {
                    let mut value = 0u32;
                    let mut digits = 0;
                    while digits < 2 && self.peek().is_some_and(|d| d.is_ascii_hexdigit()) {
                        value = value * 16 + (self.next().expect("peeked") as char).to_digit(16).expect("hex");
                        digits += 1;
                    }
                    if digits == 0 {
                        out.push(b'x');
                    } else {
                        out.push(value as u8);
                    }
                }
                b'u' | b'U' => {
                    let len = if e == b'u' { 4 } else { 8 };
                    let digits = self.text.get(self.pos..self.pos + len).ok_or("a short \\u escape")?;
                    let code = u32::from_str_radix(std::str::from_utf8(digits).map_err(|_| "a bad \\u escape")?, 16)
                        .map_err(|_| "a bad \\u escape")?;
                    let c = char::from_u32(code).ok_or("a \\u escape that is no character")?;
                    self.pos += len;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                other => out.push(other),
            }
        }
    }
}

fn decode_hex(digits: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let digits: &[u8] = digits;
    // MySQL reads an odd count as if a 0 led.
    let padded;
    let digits = if digits.len() % 2 == 1 {
        padded = [b"0".as_slice(), digits].concat();
        &padded[..]
    } else {
        digits
    };
    for pair in digits.chunks(2) {
        let s = std::str::from_utf8(pair).map_err(|_| "a bad hex literal")?;
        out.push(u8::from_str_radix(s, 16).map_err(|_| "a bad hex literal")?);
    }
    Ok(())
}

fn check_bits(bits: &[u8]) -> Result<(), String> {
    if bits.iter().all(|b| *b == b'0' || *b == b'1') {
        Ok(())
    } else {
        Err("a bit string with digits other than 0 and 1".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(text: &str) -> Statement {
        Statement {
            text: text.as_bytes().to_vec(),
            body: 0,
            line: 7,
        }
    }

    fn rows(engine: Engine, sql: &[u8], kinds: &[FieldKind], all: &[(&str, bool)]) -> Result<String, String> {
        let st = Statement {
            text: sql.to_vec(),
            body: 0,
            line: 7,
        };
        let head = insert_head(engine, st.body())?.expect("an insert");
        let all: Vec<(String, bool)> = all.iter().map(|(n, g)| (n.to_string(), *g)).collect();
        let copied: Vec<(String, FieldKind)> = all
            .iter()
            .filter(|(_, g)| !g)
            .zip(kinds)
            .map(|((n, _), k)| (n.clone(), *k))
            .collect();
        let layout = match &head.columns {
            Some(cols) => RowLayout::new(&all, &copied, Some(cols))?,
            None => {
                let width = first_row_width(engine, st.body(), head.values_at)?;
                RowLayout::for_width(&all, &copied, width)?
            }
        };
        let mut out = Vec::new();
        insert_rows(engine, &st, head.values_at, &layout, &mut out, "f.sql").map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn heads_name_table_and_columns() {
        let head = insert_head(
            Engine::Postgres,
            b"INSERT INTO public.\"Odd \"\"T\" (id, \"Name\") VALUES (1)",
        )
        .unwrap()
        .unwrap();
        assert_eq!(head.table, vec!["public", "Odd \"T"]);
        assert_eq!(head.columns, Some(vec!["id".to_string(), "Name".to_string()]));
        let head = insert_head(Engine::Mysql, b"INSERT IGNORE INTO `a``b` VALUES (1)")
            .unwrap()
            .unwrap();
        assert_eq!(head.table, vec!["a`b"]);
        assert!(insert_head(Engine::Mysql, b"SELECT 1").unwrap().is_none());
        assert!(statement("x").body().len() == 1);
    }

    #[test]
    fn postgres_literals_become_copy_text() {
        let pg = FieldKind::Postgres;
        let out = rows(
            Engine::Postgres,
            b"INSERT INTO public.t VALUES (1, 'it''s\ta\\b', NULL, '', E'l\\n\\\\\\x41\\101\\u00e9', true, false, -1.5e-3, '\\x00ff', B'101', '{1,2}'::int[], DEFAULT)",
            &[pg; 11],
            &[
                ("a", false),
                ("b", false),
                ("c", false),
                ("d", false),
                ("e", false),
                ("f", false),
                ("g", false),
                ("h", false),
                ("i", false),
                ("j", false),
                ("k", false),
                ("gen", true),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            "1\tit's\\ta\\\\b\t\\N\t\tl\\n\\\\AAé\tt\tf\t-1.5e-3\t\\\\x00ff\t101\t{1,2}\n"
        );
    }

    #[test]
    fn mysql_literals_follow_the_column_codecs() {
        let plain = FieldKind::Mysql(FieldCodec::Plain);
        let hex = FieldKind::Mysql(FieldCodec::Hex);
        let bit = FieldKind::Mysql(FieldCodec::BitNumber);
        let mut sql = b"INSERT INTO `t` VALUES (1,'a\\'b\\\\c\\n\\t\\0\\Z\\%','',NULL,_binary '".to_vec();
        sql.extend_from_slice(&[0xff, 0x00, b'\\', b'\'']);
        sql.extend_from_slice(b"',0xDEAD,b'101',X'0a'),(2,\"q\"\"\",'x',NULL,'',0x,0x05,'')");
        let out = rows(
            Engine::Mysql,
            &sql,
            &[plain, plain, plain, plain, hex, hex, bit, hex],
            &[
                ("id", false),
                ("s", false),
                ("e", false),
                ("n", false),
                ("b", false),
                ("h", false),
                ("f", false),
                ("x", false),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            "1\ta'b\\\\c\\n\\t\0\x1a\\\\%\t\t\\N\t\\\\xFF0027\t\\\\xDEAD\t5\t\\\\x0A\n\
             2\tq\"\tx\t\\N\t\\\\x\t\\\\x\t5\t\\\\x\n"
        );
    }

    #[test]
    fn generated_columns_are_left_out_and_bad_rows_name_the_line() {
        let plain = FieldKind::Mysql(FieldCodec::Plain);
        // mysqldump without a column list and without the generated column.
        let out = rows(
            Engine::Mysql,
            b"INSERT INTO `t` VALUES (1,'a'),(2,'b')",
            &[plain, plain],
            &[("id", false), ("gen", true), ("s", false)],
        )
        .unwrap();
        assert_eq!(out, "1\ta\n2\tb\n");
        let err = rows(
            Engine::Mysql,
            b"INSERT INTO `t` VALUES (1,'a'),\n(2)",
            &[plain, plain],
            &[("id", false), ("s", false)],
        )
        .unwrap_err();
        assert!(err.contains("f.sql, line 8") && err.contains("1 values"), "{err}");
        let err = rows(
            Engine::Postgres,
            b"INSERT INTO t VALUES (now())",
            &[FieldKind::Postgres],
            &[("a", false)],
        )
        .unwrap_err();
        assert!(err.contains("not a literal"), "{err}");
    }
}
