//! Reads tables, columns, keys and types from the catalogue, inside the snapshot.

use std::collections::HashMap;

use tokio_postgres::Client;
use transformers::ColumnKind;

use crate::schema::{Column, ForeignKey, QualifiedName, Schema, Table};
use crate::ConnectorError;

type Oid = u32;

const TABLES: &str = "
SELECT c.oid, n.nspname, c.relname, c.relkind = 'p' AS partitioned,
       greatest(c.reltuples, 0)::int8, pg_relation_size(c.oid)::int8,
       rn.nspname, rc.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class rc ON c.relispartition AND rc.oid = pg_partition_root(c.oid)
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname";

// Domains are resolved to their base type, which decides what a generated value must look like.
const COLUMNS: &str = "
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated <> '',
       CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
       CASE WHEN t.typtype = 'd' THEN bt.typtype ELSE t.typtype END,
       CASE WHEN t.typtype = 'd' THEN bt.oid ELSE t.oid END
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum";

const ENUMS: &str =
    "SELECT enumtypid, array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum GROUP BY enumtypid";

const CONSTRAINTS: &str = "
SELECT con.conrelid, con.contype::text, con.conname,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
       fn.nspname, fc.relname,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)
FROM pg_constraint con
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.contype IN ('p', 'u', 'f') AND con.conrelid = ANY($1)
ORDER BY con.conrelid, con.conname";

// Unique indexes that are not constraints still make a column unique.
const UNIQUE_INDEXES: &str = "
SELECT i.indrelid,
       ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o)
FROM pg_index i
WHERE i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indrelid = ANY($1)";

/// Introspects every user table (partitions included; extension-owned tables excluded).
pub async fn introspect(client: &Client) -> Result<Schema, ConnectorError> {
    let table_rows = client
        .query(TABLES, &[])
        .await
        .map_err(ConnectorError::query("listing tables"))?;
    let mut tables: Vec<(Oid, Table, bool)> = Vec::with_capacity(table_rows.len());
    for row in &table_rows {
        let root = match (row.get::<_, Option<String>>(6), row.get::<_, Option<String>>(7)) {
            (Some(schema), Some(name)) => Some(QualifiedName::new(schema, name)),
            _ => None,
        };
        tables.push((
            row.get(0),
            Table {
                name: QualifiedName::new(row.get::<_, String>(1), row.get::<_, String>(2)),
                columns: Vec::new(),
                primary_key: Vec::new(),
                unique: Vec::new(),
                foreign_keys: Vec::new(),
                estimated_rows: row.get(4),
                estimated_bytes: row.get(5),
                partition_root: root,
            },
            row.get(3),
        ));
    }
    let oids: Vec<Oid> = tables.iter().map(|(oid, _, _)| *oid).collect();
    let index: HashMap<Oid, usize> = oids.iter().enumerate().map(|(i, oid)| (*oid, i)).collect();

    let enums: HashMap<Oid, Vec<String>> = client
        .query(ENUMS, &[])
        .await
        .map_err(ConnectorError::query("listing enum types"))?
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();

    let column_rows = client
        .query(COLUMNS, &[&oids])
        .await
        .map_err(ConnectorError::query("listing columns"))?;
    for row in column_rows {
        let Some(&i) = index.get(&row.get::<_, Oid>(0)) else {
            continue;
        };
        let base: String = row.get(5);
        let typmod: i32 = row.get(6);
        let typtype: i8 = row.get(7);
        let type_oid: Oid = row.get(8);
        let kind = if typtype as u8 == b'e' {
            ColumnKind::Enum {
                values: enums.get(&type_oid).cloned().unwrap_or_default(),
            }
        } else {
            column_kind(&base, typmod)
        };
        tables[i].1.columns.push(Column {
            name: row.get(1),
            type_name: row.get(2),
            kind,
            nullable: !row.get::<_, bool>(3),
            generated: row.get(4),
        });
    }

    let constraint_rows = client
        .query(CONSTRAINTS, &[&oids])
        .await
        .map_err(ConnectorError::query("listing constraints"))?;
    for row in constraint_rows {
        let Some(&i) = index.get(&row.get::<_, Oid>(0)) else {
            continue;
        };
        let table = &mut tables[i].1;
        let columns: Vec<String> = row.get(3);
        match row.get::<_, String>(1).as_str() {
            "p" => {
                table.primary_key = columns.clone();
                table.unique.push(columns);
            }
            "u" => table.unique.push(columns),
            _ => table.foreign_keys.push(ForeignKey {
                name: row.get(2),
                columns,
                referenced_table: QualifiedName::new(row.get::<_, String>(4), row.get::<_, String>(5)),
                referenced_columns: row.get(6),
            }),
        }
    }

    let index_rows = client
        .query(UNIQUE_INDEXES, &[&oids])
        .await
        .map_err(ConnectorError::query("listing unique indexes"))?;
    for row in index_rows {
        let Some(&i) = index.get(&row.get::<_, Oid>(0)) else {
            continue;
        };
        let columns: Vec<String> = row.get(1);
        let table = &mut tables[i].1;
        if !columns.is_empty() && !table.unique.contains(&columns) {
            table.unique.push(columns);
        }
    }

    // A partitioned parent holds no rows itself; it is kept apart so config can still name it.
    let mut schema = Schema::default();
    for (_, table, partitioned) in tables {
        if partitioned {
            schema.partitioned.push(table.name);
        } else {
            schema.tables.push(table);
        }
    }
    Ok(schema)
}

/// Maps a base type name and typmod to what constrains generated values.
pub fn column_kind(base: &str, typmod: i32) -> ColumnKind {
    let length = (typmod >= 4).then(|| (typmod - 4) as u32);
    match base {
        "int2" => ColumnKind::Int {
            bits: 16,
            unsigned: false,
        },
        "int4" => ColumnKind::Int {
            bits: 32,
            unsigned: false,
        },
        "int8" => ColumnKind::Int {
            bits: 64,
            unsigned: false,
        },
        "varchar" | "bpchar" => ColumnKind::Text { max_chars: length },
        "text" | "citext" | "name" => ColumnKind::Text { max_chars: None },
        "numeric" => ColumnKind::Numeric {
            precision: length.map(|l| (l >> 16) & 0xffff),
            scale: length.map(|l| l & 0xffff),
        },
        "float4" | "float8" => ColumnKind::Float,
        "bool" => ColumnKind::Bool,
        "bytea" => ColumnKind::Bytes,
        "uuid" => ColumnKind::Uuid,
        "date" => ColumnKind::Date,
        "timestamp" => ColumnKind::Timestamp { with_tz: false },
        "timestamptz" => ColumnKind::Timestamp { with_tz: true },
        "time" | "timetz" => ColumnKind::Time,
        "json" | "jsonb" => ColumnKind::Json,
        other => ColumnKind::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typmods_become_limits() {
        assert_eq!(column_kind("varchar", 44), ColumnKind::Text { max_chars: Some(40) });
        assert_eq!(column_kind("varchar", -1), ColumnKind::Text { max_chars: None });
        assert_eq!(
            column_kind("numeric", ((12 << 16) | 2) + 4),
            ColumnKind::Numeric {
                precision: Some(12),
                scale: Some(2)
            }
        );
        assert_eq!(
            column_kind("int2", -1),
            ColumnKind::Int {
                bits: 16,
                unsigned: false
            }
        );
        assert_eq!(column_kind("_text", -1), ColumnKind::Other("_text".into()));
    }
}
