//! Conditions on a row (`when: "country = 'FR' AND age >= 18"`) and rule lists where the first
//! rule whose condition holds applies. Conditions read the row as it came from the source.
//!
//! Grammar (SQL-like, keywords case-insensitive):
//! `expr := and (OR and)*`, `and := not (AND not)*`, `not := NOT not | '(' expr ')' | test`,
//! `test := column (= | != | <> | < | <= | > | >=) literal | column IS [NOT] NULL
//!        | column [NOT] IN (literal, ...) | column [NOT] LIKE 'pattern'`,
//! literals are `'text'` (with `''` for a quote), numbers, TRUE and FALSE; columns are bare names
//! or `"quoted"`. Numbers compare numerically, everything else as text; NULL matches only IS NULL.

use std::sync::Arc;

use crate::{Row, TransformError, Transformer, Value};

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(String, Op, Literal),
    IsNull(String, bool),
    In(String, Vec<Literal>, bool),
    Like(String, String, bool),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    expr: Expr,
    source: String,
}

impl Condition {
    /// Parses a condition; the error says what was expected and where.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, pos: 0 };
        let expr = parser.or()?;
        if parser.pos != parser.tokens.len() {
            return Err(format!(
                "unexpected `{}` in condition `{text}`",
                parser.tokens[parser.pos].text()
            ));
        }
        Ok(Condition {
            expr,
            source: text.to_string(),
        })
    }

    /// The columns the condition reads.
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect(&self.expr, &mut out);
        out.sort();
        out.dedup();
        out
    }

    pub fn matches(&self, row: &dyn Row) -> bool {
        eval(&self.expr, row)
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

fn collect(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::Or(items) | Expr::And(items) => items.iter().for_each(|e| collect(e, out)),
        Expr::Not(inner) => collect(inner, out),
        Expr::Compare(c, _, _) | Expr::IsNull(c, _) | Expr::In(c, _, _) | Expr::Like(c, _, _) => out.push(c.clone()),
    }
}

fn text_of(value: &Value<'_>) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Text(s) => Some(s.to_string()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
    }
}

fn equal(value: &str, literal: &Literal) -> bool {
    match literal {
        Literal::Number(n) => value.trim().parse::<f64>().is_ok_and(|v| v == *n),
        Literal::Text(t) => value == t,
        // PostgreSQL's text form of booleans is t/f.
        Literal::Bool(b) => matches!(
            (value.to_ascii_lowercase().as_str(), b),
            ("t" | "true" | "1", true) | ("f" | "false" | "0", false)
        ),
    }
}

fn compare(value: &str, op: Op, literal: &Literal) -> bool {
    let ordering = match literal {
        Literal::Number(n) => match value.trim().parse::<f64>() {
            Ok(v) => v.partial_cmp(n),
            Err(_) => None,
        },
        Literal::Text(t) => Some(value.cmp(t.as_str())),
        Literal::Bool(_) => None,
    };
    match op {
        Op::Eq => equal(value, literal),
        Op::Ne => !equal(value, literal),
        Op::Lt => ordering.is_some_and(|o| o.is_lt()),
        Op::Le => ordering.is_some_and(|o| o.is_le()),
        Op::Gt => ordering.is_some_and(|o| o.is_gt()),
        Op::Ge => ordering.is_some_and(|o| o.is_ge()),
    }
}

/// Wildcard matching with a backtracking scan: `many` matches any run of characters, `one` any
/// single character. SQL LIKE uses `%` and `_`; decoy's table globs use `*` and `?`.
pub fn wildcard_match(text: &str, pattern: &str, many: char, one: char) -> bool {
    let v: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut vi, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] != many && (p[pi] == one || p[pi] == v[vi]) {
            vi += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == many {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == many)
}

fn like(value: &str, pattern: &str) -> bool {
    wildcard_match(value, pattern, '%', '_')
}

fn eval(expr: &Expr, row: &dyn Row) -> bool {
    let value = |column: &str| row.original(column).as_ref().and_then(text_of);
    match expr {
        Expr::Or(items) => items.iter().any(|e| eval(e, row)),
        Expr::And(items) => items.iter().all(|e| eval(e, row)),
        Expr::Not(inner) => !eval(inner, row),
        Expr::Compare(c, op, lit) => value(c).is_some_and(|v| compare(&v, *op, lit)),
        Expr::IsNull(c, negated) => value(c).is_none() != *negated,
        Expr::In(c, items, negated) => value(c).is_some_and(|v| items.iter().any(|l| equal(&v, l)) != *negated),
        Expr::Like(c, pattern, negated) => value(c).is_some_and(|v| like(&v, pattern) != *negated),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Keyword(String),
    Text(String),
    Number(f64),
    Symbol(&'static str),
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Ident(s) | Token::Keyword(s) => s.clone(),
            Token::Text(s) => format!("'{s}'"),
            Token::Number(n) => n.to_string(),
            Token::Symbol(s) => s.to_string(),
        }
    }
}

const KEYWORDS: &[&str] = &["AND", "OR", "NOT", "IS", "NULL", "IN", "LIKE", "TRUE", "FALSE"];

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated {c}...{c} in condition `{text}`")),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        s.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        s.push(other);
                        i += 1;
                    }
                }
            }
            tokens.push(if c == '\'' { Token::Text(s) } else { Token::Ident(s) });
        } else if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let number: String = chars[start..i].iter().collect();
            tokens.push(Token::Number(
                number
                    .parse()
                    .map_err(|_| format!("bad number `{number}` in `{text}`"))?,
            ));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let upper = word.to_ascii_uppercase();
            tokens.push(if KEYWORDS.contains(&upper.as_str()) {
                Token::Keyword(upper)
            } else {
                Token::Ident(word)
            });
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let symbol = match (two.as_str(), c) {
                ("<=", _) => "<=",
                (">=", _) => ">=",
                ("!=", _) => "!=",
                ("<>", _) => "<>",
                (_, '=') => "=",
                (_, '<') => "<",
                (_, '>') => ">",
                (_, '(') => "(",
                (_, ')') => ")",
                (_, ',') => ",",
                _ => return Err(format!("unexpected `{c}` in condition `{text}`")),
            };
            i += symbol.len();
            tokens.push(Token::Symbol(symbol));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn keyword(&mut self, word: &str) -> bool {
        if self.peek() == Some(&Token::Keyword(word.into())) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn symbol(&mut self, symbol: &str) -> bool {
        if matches!(self.peek(), Some(Token::Symbol(s)) if *s == symbol) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, symbol: &str) -> Result<(), String> {
        if self.symbol(symbol) {
            Ok(())
        } else {
            Err(format!("expected `{symbol}`, found {}", self.found()))
        }
    }

    fn found(&self) -> String {
        self.peek()
            .map(|t| format!("`{}`", t.text()))
            .unwrap_or_else(|| "the end of the condition".into())
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while self.keyword("OR") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.not()?];
        while self.keyword("AND") {
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.symbol("(") {
            let inner = self.or()?;
            self.expect(")")?;
            return Ok(inner);
        }
        self.test()
    }

    fn literal(&mut self) -> Result<Literal, String> {
        let literal = match self.peek() {
            Some(Token::Text(s)) => Literal::Text(s.clone()),
            Some(Token::Number(n)) => Literal::Number(*n),
            Some(Token::Keyword(k)) if k == "TRUE" => Literal::Bool(true),
            Some(Token::Keyword(k)) if k == "FALSE" => Literal::Bool(false),
            _ => {
                return Err(format!(
                    "expected a value ('text', a number, TRUE or FALSE), found {}",
                    self.found()
                ))
            }
        };
        self.pos += 1;
        Ok(literal)
    }

    fn test(&mut self) -> Result<Expr, String> {
        let column = match self.peek() {
            Some(Token::Ident(name)) => name.clone(),
            _ => return Err(format!("expected a column name, found {}", self.found())),
        };
        self.pos += 1;
        if self.keyword("IS") {
            let negated = self.keyword("NOT");
            if !self.keyword("NULL") {
                return Err(format!("expected NULL after IS, found {}", self.found()));
            }
            return Ok(Expr::IsNull(column, negated));
        }
        let negated = self.keyword("NOT");
        if self.keyword("IN") {
            self.expect("(")?;
            let mut items = vec![self.literal()?];
            while self.symbol(",") {
                items.push(self.literal()?);
            }
            self.expect(")")?;
            return Ok(Expr::In(column, items, negated));
        }
        if self.keyword("LIKE") {
            return match self.literal()? {
                Literal::Text(pattern) => Ok(Expr::Like(column, pattern, negated)),
                _ => Err("LIKE needs a 'pattern'".into()),
            };
        }
        if negated {
            return Err(format!("expected IN or LIKE after NOT, found {}", self.found()));
        }
        let op = match self.peek() {
            Some(Token::Symbol("=")) => Op::Eq,
            Some(Token::Symbol("!=" | "<>")) => Op::Ne,
            Some(Token::Symbol("<")) => Op::Lt,
            Some(Token::Symbol("<=")) => Op::Le,
            Some(Token::Symbol(">")) => Op::Gt,
            Some(Token::Symbol(">=")) => Op::Ge,
            _ => {
                return Err(format!(
                    "expected a comparison after `{column}`, found {}",
                    self.found()
                ))
            }
        };
        self.pos += 1;
        Ok(Expr::Compare(column, op, self.literal()?))
    }
}

/// Rules tried in order: the first whose condition holds (or that has none) transforms the value;
/// when none applies the value is kept.
pub struct Cases {
    cases: Vec<(Option<Condition>, Arc<dyn Transformer>)>,
}

impl Cases {
    pub fn new(cases: Vec<(Option<Condition>, Arc<dyn Transformer>)>) -> Self {
        Cases { cases }
    }
}

impl Transformer for Cases {
    fn transform<'a>(&self, _value: Value<'a>) -> Result<Value<'a>, TransformError> {
        Err(TransformError {
            transformer: "when".into(),
            message: "a conditional rule needs the whole row".into(),
        })
    }

    fn reads_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = self
            .cases
            .iter()
            .flat_map(|(condition, rule)| {
                condition
                    .iter()
                    .flat_map(Condition::columns)
                    .chain(rule.reads_columns())
                    .collect::<Vec<_>>()
            })
            .collect();
        columns.sort();
        columns.dedup();
        columns
    }

    fn transform_in_row<'a>(&self, value: Value<'a>, row: &dyn Row) -> Result<Value<'a>, TransformError> {
        for (condition, rule) in &self.cases {
            if condition.as_ref().is_none_or(|c| c.matches(row)) {
                return rule.transform_in_row(value, row);
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row_tests::TestRow;

    fn row() -> TestRow {
        TestRow::with(&[
            ("country", Some("FR")),
            ("age", Some("42")),
            ("active", Some("t")),
            ("name", Some("O'Brien")),
            ("note", None),
        ])
    }

    fn check(text: &str) -> bool {
        Condition::parse(text).unwrap_or_else(|e| panic!("{e}")).matches(&row())
    }

    #[test]
    fn evaluates_sql_like_conditions() {
        assert!(check("country = 'FR'"));
        assert!(!check("country = 'DE'"));
        assert!(check("country <> 'DE' AND age >= 18"));
        assert!(check("age > 9")); // numeric, not text, comparison
        assert!(!check("age < 18 OR country IN ('DE', 'ES')"));
        assert!(check("country NOT IN ('DE', 'ES')"));
        assert!(check("note IS NULL AND name IS NOT NULL"));
        assert!(
            !check("note = 'x'") && !check("note != 'x'"),
            "NULL matches only IS NULL"
        );
        assert!(check("name = 'O''Brien'"));
        assert!(check("name LIKE 'O%n' AND name NOT LIKE 'X%'"));
        assert!(check("active = TRUE"));
        assert!(check("NOT (country = 'DE' OR age < 10)"));
        assert!(check("\"country\" = 'FR'"));
    }

    #[test]
    fn lists_the_columns_it_reads() {
        let c = Condition::parse("country = 'FR' AND (age > 1 OR country IS NULL)").unwrap();
        assert_eq!(c.columns(), ["age", "country"]);
    }

    #[test]
    fn errors_say_what_was_expected() {
        for (text, needle) in [
            ("country = ", "expected a value"),
            ("country 'FR'", "expected a comparison"),
            ("(country = 'FR'", "expected `)`"),
            ("country = 'FR", "unterminated"),
            ("country = 'FR' garbage", "unexpected `garbage`"),
            ("= 'FR'", "expected a column name"),
            ("country IS 'x'", "expected NULL"),
        ] {
            let err = Condition::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    struct Tag(&'static str);
    impl Transformer for Tag {
        fn transform<'a>(&self, _: Value<'a>) -> Result<Value<'a>, TransformError> {
            Ok(Value::text(self.0))
        }
    }

    #[test]
    fn the_first_matching_case_applies_and_no_match_keeps_the_value() {
        let cases = Cases::new(vec![
            (Some(Condition::parse("country = 'DE'").unwrap()), Arc::new(Tag("de"))),
            (Some(Condition::parse("country = 'FR'").unwrap()), Arc::new(Tag("fr"))),
        ]);
        assert_eq!(
            cases.transform_in_row(Value::text("x"), &row()).unwrap(),
            Value::text("fr")
        );
        let none = Cases::new(vec![(
            Some(Condition::parse("country = 'ES'").unwrap()),
            Arc::new(Tag("es")),
        )]);
        assert_eq!(
            none.transform_in_row(Value::text("x"), &row()).unwrap(),
            Value::text("x")
        );
        assert_eq!(cases.reads_columns(), ["country"]);
    }
}
