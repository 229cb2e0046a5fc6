//! Read-only key scans for the subset planner: only the key columns of a table, streamed with COPY in
//! the exported snapshot. No temporary table or write ever touches the source.

use super::connect::{quote_ident, quote_qualified};
use crate::QualifiedName;

/// One field of a key scan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyExpr {
    /// A column as stored.
    Column(String),
    /// A column converted to the type of the key it references, so both sides print the same text.
    Cast { column: String, type_name: String },
    /// A value inside a json/jsonb column, as text (`column->a->b`).
    JsonPath { column: String, path: Vec<String> },
}

/// `COPY (SELECT <fields> FROM ONLY <table> [WHERE] [ORDER BY] [LIMIT]) TO STDOUT`.
#[derive(Debug, Clone)]
pub struct KeyQuery<'a> {
    pub table: &'a QualifiedName,
    pub fields: &'a [KeyExpr],
    /// SQL conditions from the config, combined with AND.
    pub conditions: &'a [String],
    pub order_by: Option<&'a str>,
    pub limit: Option<u64>,
}

impl KeyQuery<'_> {
    pub fn to_sql(&self) -> String {
        let fields: Vec<String> = self.fields.iter().map(render).collect();
        // `ONLY`: the rows COPY of this table reads, not those of tables inheriting from it.
        format!(
            "COPY ({}) TO STDOUT",
            self.select(&fields, &format!("ONLY {}", quote_qualified(self.table)))
        )
    }

    /// `SELECT <fields> FROM <from> [WHERE] [ORDER BY] [LIMIT]`, with the fields and the table
    /// already rendered in the engine's SQL: the clauses read the same on every engine.
    pub fn select(&self, fields: &[String], from: &str) -> String {
        let list = if fields.is_empty() {
            "1".to_string()
        } else {
            fields.join(", ")
        };
        let mut sql = format!("SELECT {list} FROM {from}");
        if !self.conditions.is_empty() {
            let conditions: Vec<String> = self.conditions.iter().map(|c| format!("({c})")).collect();
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        if let Some(order) = self.order_by {
            sql.push_str(" ORDER BY ");
            sql.push_str(order);
        }
        if let Some(limit) = self.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        sql
    }
}

fn render(expr: &KeyExpr) -> String {
    match expr {
        KeyExpr::Column(column) => quote_ident(column),
        KeyExpr::Cast { column, type_name } => format!("CAST({} AS {type_name})", quote_ident(column)),
        KeyExpr::JsonPath { column, path } => {
            let elements: Vec<String> = path
                .iter()
                .map(|p| format!("\"{}\"", p.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            let literal = format!("{{{}}}", elements.join(","));
            format!("({} #>> '{}')", quote_ident(column), literal.replace('\'', "''"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_clause_with_quoting() {
        let table = QualifiedName::new("public", "Events");
        let fields = vec![
            KeyExpr::Column("id".into()),
            KeyExpr::Cast {
                column: "user_id".into(),
                type_name: "bigint".into(),
            },
            KeyExpr::JsonPath {
                column: "pay\"load".into(),
                path: vec!["order".into(), "it's".into()],
            },
        ];
        let query = KeyQuery {
            table: &table,
            fields: &fields,
            conditions: &["id > 3".to_string(), "kind = 'a'".to_string()],
            order_by: Some("id DESC"),
            limit: Some(10),
        };
        assert_eq!(
            query.to_sql(),
            "COPY (SELECT \"id\", CAST(\"user_id\" AS bigint), (\"pay\"\"load\" #>> '{\"order\",\"it''s\"}') \
             FROM ONLY \"public\".\"Events\" WHERE (id > 3) AND (kind = 'a') ORDER BY id DESC LIMIT 10) TO STDOUT"
        );
    }
}
