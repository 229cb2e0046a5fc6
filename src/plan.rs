//! The plan: which tables are dumped, and which transformer each column gets. Everything that can be
//! wrong in the config is found here, before any data moves.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use connectors::postgres::copy_text::Dialect;
use connectors::{QualifiedName, Schema, Table};
use transformers::{Cases, ColumnSpec, Condition, Engine, Mode, Transformer};

use crate::config::{ColumnRule, Config, RuleSpec, TableRule};
use crate::error::ConfigError;
use crate::glob;
use crate::source::{Source, SourceUrl};

pub struct Plan {
    /// Tables in the dump, skipped ones included (their definition is kept, their rows are not).
    pub tables: Vec<TablePlan>,
    /// Tables outside `only`: neither their definition nor their rows are dumped.
    pub excluded: Vec<QualifiedName>,
    /// What a config key without a schema means (`public`, or MySQL's database).
    pub default_schema: String,
    /// The source's text format and SQL quoting.
    pub dialect: Dialect,
}

impl Plan {
    /// An identifier quoted for the source's SQL.
    pub fn quote(&self, ident: &str) -> String {
        match self.dialect {
            Dialect::Postgres => connectors::postgres::quote_ident(ident),
            Dialect::Mysql => connectors::mysql::quote_ident(ident),
        }
    }
}

pub struct TablePlan {
    pub table: Table,
    pub skipped: bool,
    /// One entry per stored (non-generated) column, in table order.
    pub columns: Vec<ColumnPlan>,
}

pub struct ColumnPlan {
    pub name: String,
    pub rule: Option<AppliedRule>,
    /// Listed as `keep` in the config.
    pub keep: bool,
}

#[derive(Clone)]
pub struct AppliedRule {
    /// The transformer's name as configured.
    pub transformer: String,
    pub implementation: Arc<dyn Transformer>,
    /// `schema.table.column` of the key this foreign-key column follows.
    pub follows: Option<String>,
}

impl TablePlan {
    /// The dumped columns with their types, in dump order.
    pub fn column_types(&self) -> impl Iterator<Item = (&str, &str)> {
        self.columns.iter().map(|c| {
            let type_name = self.table.column(&c.name).map_or("", |col| col.type_name.as_str());
            (c.name.as_str(), type_name)
        })
    }

    pub fn transformed(&self) -> impl Iterator<Item = (&str, &AppliedRule)> {
        self.columns
            .iter()
            .filter_map(|c| c.rule.as_ref().map(|r| (c.name.as_str(), r)))
    }
}

/// A `tables:` key resolved to the tables it names.
struct KeyTargets<'a> {
    key: &'a str,
    rule: &'a TableRule,
    tables: Vec<usize>,
}

/// Opens a snapshot of the source, reads its schema inside it, and builds the plan.
pub async fn snapshot_and_plan(config: &Config, url: &SourceUrl) -> anyhow::Result<(Source, Plan)> {
    let source = Source::open(url, config).await?;
    let schema = source.introspect().await?;
    let mut plan = build(config, &schema)?;
    plan.dialect = source.dialect();
    Ok((source, plan))
}

pub fn build(config: &Config, schema: &Schema) -> Result<Plan, ConfigError> {
    let default_schema = if schema.default_schema.is_empty() {
        "public".to_string()
    } else {
        schema.default_schema.clone()
    };
    let names = |t: &Table| -> Vec<String> {
        let mut names = vec![t.name.to_string()];
        if let Some(root) = &t.partition_root {
            names.push(root.to_string());
        }
        names
    };

    // 1. `only`: every pattern must match something, or it is a typo.
    let mut dumped = vec![config.only.is_empty(); schema.tables.len()];
    for (i, pattern) in config.only.iter().enumerate() {
        let pattern = qualify(pattern, &default_schema);
        let mut hit = false;
        for (t, table) in schema.tables.iter().enumerate() {
            if names(table).iter().any(|n| glob::matches(&pattern, n)) {
                dumped[t] = true;
                hit = true;
            }
        }
        if !hit {
            return Err(config.error_at(
                &["only"],
                format!(
                    "`{}` (entry {}) matches no table in the source{}",
                    config.only[i],
                    i + 1,
                    suggest(schema, &pattern)
                ),
            ));
        }
    }

    // 2. Resolve every `tables:` key.
    let mut targets = Vec::new();
    for (key, rule) in &config.tables {
        let pattern = qualify(key, &default_schema);
        let tables: Vec<usize> = schema
            .tables
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                names(t).iter().any(|n| {
                    if glob::is_glob(&pattern) {
                        glob::matches(&pattern, n)
                    } else {
                        *n == pattern
                    }
                })
            })
            .map(|(i, _)| i)
            .collect();
        if tables.is_empty() {
            return Err(config.error_at(
                &["tables", key],
                format!("no table `{pattern}` in the source{}", suggest(schema, &pattern)),
            ));
        }
        targets.push(KeyTargets { key, rule, tables });
    }

    let salt_needed = config.mode == Mode::Deterministic
        && config.tables.values().any(
            |r| matches!(r, TableRule::Columns(c) if c.values().flat_map(ColumnRule::specs).any(|s| !matches!(s.name.as_str(), "keep" | "transient"))),
        );
    if salt_needed && config.salt.is_none() {
        return Err(config.error_at(
            &["salt"],
            "deterministic transformers need a secret salt: set `salt:` in the config (e.g. salt: ${DECOY_SALT}) or \
             the DECOY_SALT environment variable"
                .into(),
        ));
    }
    let engine = Engine::new(config.salt.as_deref().unwrap_or_default().as_bytes(), config.mode);

    // 3. Build the configured rules.
    let mut skipped = vec![false; schema.tables.len()];
    let mut rules: HashMap<(usize, String), AppliedRule> = HashMap::new();
    let mut configured: HashMap<(usize, String), &str> = HashMap::new(); // -> the config key that set it
    let mut kept: HashMap<(usize, String), &str> = HashMap::new();
    for target in &targets {
        for &t in &target.tables {
            let table = &schema.tables[t];
            match target.rule {
                TableRule::Skip => skipped[t] = true,
                TableRule::Columns(columns) => {
                    for (column_name, column_rule) in columns {
                        let keys = ["tables", target.key, "columns", column_name.as_str()];
                        let Some(column) = table.column(column_name) else {
                            let known: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
                            return Err(config.error_at(
                                &keys,
                                format!(
                                    "table {} has no column `{column_name}`; its columns are: {}",
                                    table.name,
                                    known.join(", ")
                                ),
                            ));
                        };
                        if column.generated {
                            return Err(config.error_at(
                                &keys,
                                format!(
                                    "{}.{column_name} is a generated column: the database computes it on restore from \
                                     the other columns, so transform those instead",
                                    table.name
                                ),
                            ));
                        }
                        let slot = (t, column_name.clone());
                        if let Some(previous) = configured.get(&slot).or(kept.get(&slot)) {
                            return Err(config.error_at(
                                &keys,
                                format!(
                                    "{}.{column_name} already has a rule under `tables.{previous}`",
                                    table.name
                                ),
                            ));
                        }
                        match column_rule {
                            ColumnRule::Keep => {
                                kept.insert(slot, target.key);
                            }
                            ColumnRule::Transform(specs) => {
                                let rule = build_rule(config, &keys, table, column, specs, &engine)?;
                                rules.insert(slot.clone(), rule);
                                configured.insert(slot, target.key);
                            }
                        }
                    }
                }
            }
        }
    }

    // 4. Every foreign key of a dumped table must point at a table whose rows are dumped too.
    let index: HashMap<&QualifiedName, Vec<usize>> = {
        let mut index: HashMap<&QualifiedName, Vec<usize>> = HashMap::new();
        for (i, t) in schema.tables.iter().enumerate() {
            index.entry(&t.name).or_default().push(i);
            if let Some(root) = &t.partition_root {
                index.entry(root).or_default().push(i);
            }
        }
        index
    };
    for (t, table) in schema.tables.iter().enumerate() {
        if !dumped[t] || skipped[t] {
            continue;
        }
        for fk in &table.foreign_keys {
            let referenced = index.get(&fk.referenced_table).cloned().unwrap_or_default();
            if let Some(&r) = referenced.iter().find(|&&r| r != t && (!dumped[r] || skipped[r])) {
                let why = if !dumped[r] { "outside `only`" } else { "skipped" };
                return Err(ConfigError::new(format!(
                    "{} has a foreign key {} to {}, which is {why}: its rows would point at nothing and the \
                     constraint could not be restored. Dump {} too, or leave {} out as well",
                    table.name, fk.name, schema.tables[r].name, schema.tables[r].name, table.name
                )));
            }
        }
    }

    // 5. A transformed key carries its transformer to every column that references it, so joins hold.
    loop {
        let mut changed = false;
        for (t, table) in schema.tables.iter().enumerate() {
            if !dumped[t] || skipped[t] {
                continue;
            }
            for fk in &table.foreign_keys {
                for (column, referenced_column) in fk.columns.iter().zip(&fk.referenced_columns) {
                    let referenced = index.get(&fk.referenced_table).cloned().unwrap_or_default();
                    let Some(source) = referenced
                        .iter()
                        .find_map(|&r| rules.get(&(r, referenced_column.clone())))
                    else {
                        continue;
                    };
                    let slot = (t, column.clone());
                    let origin = format!("{}.{referenced_column}", fk.referenced_table);
                    match rules.get(&slot) {
                        Some(existing) if Arc::ptr_eq(&existing.implementation, &source.implementation) => continue,
                        _ => {}
                    }
                    if config.mode == Mode::Random {
                        return Err(config.error_at(
                            &["mode"],
                            format!(
                                "{origin} is transformed and {}.{column} references it; `mode: random` would give the \
                                 two different values. Use `mode: deterministic` (the default)",
                                table.name
                            ),
                        ));
                    }
                    if let Some(key) = configured.get(&slot).or(kept.get(&slot)) {
                        return Err(config.error_at(
                            &["tables", key, "columns", column],
                            format!(
                                "{}.{column} references {origin} (foreign key {}), which is transformed: decoy applies \
                                 the same transformation here automatically so the key still joins. Remove this rule",
                                table.name, fk.name
                            ),
                        ));
                    }
                    if !source.implementation.reads_columns().is_empty() {
                        return Err(ConfigError::new(format!(
                            "{origin} is referenced by {}.{column} (foreign key {}), so its rule is applied there too; \
                             a rule that reads other columns (a template or a `when`) cannot be, because those columns \
                             differ between the tables. Use a rule that depends only on the value",
                            table.name, fk.name
                        )));
                    }
                    let follows = source.follows.clone().unwrap_or(origin);
                    let rule = AppliedRule {
                        follows: Some(follows),
                        ..source.clone()
                    };
                    rules.insert(slot, rule);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }

    // 6. Assemble, and apply strict mode.
    let mut plan = Plan {
        tables: Vec::new(),
        excluded: Vec::new(),
        default_schema,
        dialect: Dialect::Postgres,
    };
    let mut unclassified = Vec::new();
    for (t, table) in schema.tables.iter().enumerate() {
        if !dumped[t] {
            plan.excluded.push(table.name.clone());
            continue;
        }
        let columns: Vec<ColumnPlan> = table
            .stored_columns()
            .map(|c| {
                let slot = (t, c.name.clone());
                ColumnPlan {
                    name: c.name.clone(),
                    rule: rules.remove(&slot),
                    keep: kept.contains_key(&slot),
                }
            })
            .collect();
        if config.strict && !skipped[t] {
            for c in columns.iter().filter(|c| c.rule.is_none() && !c.keep) {
                unclassified.push(format!("{}.{}", table.name, c.name));
            }
        }
        plan.tables.push(TablePlan {
            table: table.clone(),
            skipped: skipped[t],
            columns,
        });
    }
    if !unclassified.is_empty() {
        return Err(config.error_at(
            &["strict"],
            format!(
                "strict mode: {} column(s) have no rule; give each a transformer or mark it `keep` under `tables:`:\n  {}",
                unclassified.len(),
                unclassified.join("\n  ")
            ),
        ));
    }
    Ok(plan)
}

/// Builds a column's rule: one transformer, or a list tried in order with `when` conditions. Every
/// column a rule reads (a template's placeholders, a condition's columns) must exist in the table.
fn build_rule(
    config: &Config,
    keys: &[&str],
    table: &Table,
    column: &connectors::Column,
    specs: &[RuleSpec],
    engine: &Engine,
) -> Result<AppliedRule, ConfigError> {
    let spec = ColumnSpec {
        name: format!("{}.{}", table.name, column.name),
        kind: column.kind.clone(),
        nullable: column.nullable,
        unique: table.is_unique_column(&column.name),
    };
    let mut cases = Vec::with_capacity(specs.len());
    let mut labels = Vec::with_capacity(specs.len());
    for rule in specs {
        let implementation = transformers::build(&rule.name, &rule.options, &spec, engine)
            .map_err(|e| config.error_at(keys, e.to_string()))?;
        let condition = match &rule.when {
            Some(text) => Some(Condition::parse(text).map_err(|e| config.error_at(keys, format!("`when`: {e}")))?),
            None => None,
        };
        labels.push(match (&rule.shared, &condition) {
            (Some(shared), Some(c)) => format!("{} (rule {shared}) when {}", rule.name, c.source()),
            (Some(shared), None) => format!("{} (rule {shared})", rule.name),
            (None, Some(c)) => format!("{} when {}", rule.name, c.source()),
            (None, None) => rule.name.clone(),
        });
        cases.push((condition, implementation));
    }
    let implementation: Arc<dyn Transformer> = match cases.as_slice() {
        [(None, only)] => only.clone(),
        _ => Arc::new(Cases::new(cases)),
    };
    for read in implementation.reads_columns() {
        if table.column(&read).is_none_or(|c| c.generated) {
            return Err(config.error_at(
                keys,
                format!(
                    "the rule reads column `{read}`, which table {} does not have (or generates)",
                    table.name
                ),
            ));
        }
    }
    Ok(AppliedRule {
        transformer: labels.join("; otherwise "),
        implementation,
        follows: None,
    })
}

/// `users` means `public.users` (PostgreSQL's default schema), or `users` in the URL's database on
/// MySQL.
pub fn qualify(key: &str, default_schema: &str) -> String {
    if key.contains('.') {
        key.to_string()
    } else {
        format!("{default_schema}.{key}")
    }
}

/// A hint listing a few table names, closest first, for "no such table" errors.
fn suggest(schema: &Schema, wanted: &str) -> String {
    let mut names: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for t in &schema.tables {
        let name = t.name.to_string();
        names.entry(distance(&name, wanted)).or_default().push(name);
    }
    let close: Vec<String> = names.into_values().flatten().take(5).collect();
    if close.is_empty() {
        "; the source has no tables".into()
    } else {
        format!("; did you mean one of: {}?", close.join(", "))
    }
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            current.push(
                (previous[j] + usize::from(ca != *cb))
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}
