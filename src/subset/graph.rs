//! The subset's view of the schema: which tables take part and how, every foreign key (declared or
//! virtual) as an edge, and the key fields each table's scans read. Every config mistake is found
//! here, before a row is read.

use std::collections::VecDeque;

use connectors::postgres::KeyExpr;
use connectors::{QualifiedName, Table};
use transformers::ColumnKind;

use crate::config::{Config, Disconnected, SubsetConfig, VirtualForeignKey};
use crate::error::ConfigError;
use crate::plan::Plan;

/// How a table's key values become set members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// A single integer column: the value itself (exact, and dense keys compress well).
    Int { unsigned: bool },
    /// Anything else: a 64-bit fingerprint of the fields' text.
    Hash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Rows are chosen by the planner.
    Subset,
    /// Every row is kept; the string says why.
    Whole(&'static str),
    /// No row is kept; the string says why.
    Empty(&'static str),
}

pub struct Node {
    pub name: QualifiedName,
    pub mode: Mode,
    /// Columns that tell rows apart: the primary key, or every stored column.
    pub identity_columns: Vec<String>,
    pub identity_codec: Codec,
    /// The SQL type of a primary key that is one signed integer column: the dump can then ask the
    /// server for the kept rows by key instead of reading every row.
    pub integer_key_type: Option<String>,
    /// `subset.tables.<t>.where`: rows must meet it to enter as a root or a child.
    pub condition: Option<String>,
    /// Fields of this table's key scans; edges and the identity point into it.
    pub fields: Vec<KeyExpr>,
    /// Each column's type: a MySQL key scan reads a column the way the dump does.
    pub column_types: Vec<(String, String)>,
    pub identity_fields: Vec<usize>,
    /// Edges where this table is the referencing side, and where it is the referenced side.
    pub out_edges: Vec<usize>,
    pub in_edges: Vec<usize>,
}

pub struct Edge {
    /// The constraint's name, or `virtual` for one declared in the config.
    pub label: String,
    pub child: usize,
    pub parent: usize,
    /// Positions in the child's fields of the referencing values.
    pub child_fields: Vec<usize>,
    /// Positions in the parent's fields of the referenced columns.
    pub parent_fields: Vec<usize>,
    pub codec: Codec,
    /// The referenced columns are the parent's identity: a referenced value is a row's identity.
    pub references_identity: bool,
}

pub struct Root {
    pub node: usize,
    /// `subset.roots` entry, from 1, for messages.
    pub entry: usize,
    pub percent: Option<f64>,
    pub conditions: Vec<String>,
    pub limit: Option<u64>,
    pub order_by: Option<String>,
}

pub struct Graph {
    /// One per table of the plan, same order.
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub roots: Vec<Root>,
    pub depth: u32,
    pub max_children_per_row: Option<u32>,
    pub memory_budget: u64,
}

impl Graph {
    pub fn build(config: &Config, subset: &SubsetConfig, plan: &Plan) -> Result<Graph, ConfigError> {
        let tables: Vec<&Table> = plan.tables.iter().map(|t| &t.table).collect();
        let resolve = |key: &str| -> Vec<usize> {
            let wanted = crate::plan::qualify(key, &plan.default_schema);
            tables
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    t.name.to_string() == wanted || t.partition_root.as_ref().is_some_and(|r| r.to_string() == wanted)
                })
                .map(|(i, _)| i)
                .collect()
        };
        let unknown = |key: &str| {
            let outside = plan
                .excluded
                .iter()
                .any(|n| n.to_string() == crate::plan::qualify(key, &plan.default_schema));
            if outside {
                format!(
                    "table {} is outside `only`, so it has no rows to subset",
                    crate::plan::qualify(key, &plan.default_schema)
                )
            } else {
                format!(
                    "no table {} in the source",
                    crate::plan::qualify(key, &plan.default_schema)
                )
            }
        };

        // Per-table overrides.
        let mut keep_all = vec![false; tables.len()];
        let mut exclude = vec![false; tables.len()];
        let mut conditions: Vec<Option<String>> = vec![None; tables.len()];
        for (key, settings) in &subset.tables {
            let keys = ["subset", "tables", key.as_str()];
            let targets = resolve(key);
            if targets.is_empty() {
                return Err(config.error_at(&keys, unknown(key)));
            }
            if settings.keep_all && settings.exclude {
                return Err(config.error_at(&keys, "`keep_all` and `exclude` contradict each other".into()));
            }
            for t in targets {
                keep_all[t] |= settings.keep_all;
                exclude[t] |= settings.exclude;
                conditions[t] = settings.where_.clone();
            }
        }

        let mut nodes: Vec<Node> = tables
            .iter()
            .enumerate()
            .map(|(i, table)| {
                let stored: Vec<&str> = plan.tables[i].columns.iter().map(|c| c.name.as_str()).collect();
                let pk_stored =
                    !table.primary_key.is_empty() && table.primary_key.iter().all(|c| stored.contains(&c.as_str()));
                let identity_columns: Vec<String> = if pk_stored {
                    table.primary_key.clone()
                } else {
                    stored.iter().map(|c| c.to_string()).collect()
                };
                let identity_codec = codec_of(table, &identity_columns);
                // Only a primary key: its values are never NULL, so a key list misses no row.
                let integer_key_type = match (pk_stored, identity_codec, identity_columns.as_slice()) {
                    (true, Codec::Int { unsigned: false }, [only]) => table.column(only).map(|c| c.type_name.clone()),
                    _ => None,
                };
                let mode = if plan.tables[i].skipped {
                    Mode::Empty("skipped by `tables`")
                } else if exclude[i] {
                    Mode::Empty("excluded")
                } else if keep_all[i] {
                    Mode::Whole("keep_all")
                } else {
                    Mode::Subset
                };
                let mut node = Node {
                    name: table.name.clone(),
                    mode,
                    identity_columns: identity_columns.clone(),
                    identity_codec,
                    integer_key_type,
                    condition: conditions[i].clone(),
                    fields: Vec::new(),
                    column_types: table
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), c.type_name.clone()))
                        .collect(),
                    identity_fields: Vec::new(),
                    out_edges: Vec::new(),
                    in_edges: Vec::new(),
                };
                node.identity_fields = identity_columns
                    .iter()
                    .map(|c| field(&mut node.fields, KeyExpr::Column(c.clone())))
                    .collect();
                node
            })
            .collect();

        // Declared foreign keys, then virtual ones.
        let mut edges = Vec::new();
        for (c, table) in tables.iter().enumerate() {
            for fk in &table.foreign_keys {
                for p in resolve(&fk.referenced_table.to_string()) {
                    let child_keys: Vec<(String, Vec<String>)> =
                        fk.columns.iter().map(|c| (c.clone(), Vec::new())).collect();
                    edges.push(new_edge(
                        &mut nodes,
                        &tables,
                        fk.name.clone(),
                        c,
                        p,
                        &child_keys,
                        &fk.referenced_columns,
                    ));
                }
            }
        }
        for (i, vfk) in subset.foreign_keys.iter().enumerate() {
            let (c, p, child_keys, referenced) = check_virtual(config, i, vfk, &tables, &resolve, &unknown)?;
            edges.push(new_edge(
                &mut nodes,
                &tables,
                "virtual".into(),
                c,
                p,
                &child_keys,
                &referenced,
            ));
        }
        for (e, edge) in edges.iter().enumerate() {
            nodes[edge.child].out_edges.push(e);
            nodes[edge.parent].in_edges.push(e);
        }

        // A row that stays must not point into a table restored empty.
        for edge in &edges {
            let (child, parent) = (&nodes[edge.child], &nodes[edge.parent]);
            if parent.mode == Mode::Empty("excluded") && !matches!(child.mode, Mode::Empty(_)) {
                return Err(config.error_at(
                    &["subset", "tables"],
                    format!(
                        "{} is excluded, but {} references it (foreign key {}): its rows would point at nothing. \
                         Exclude {} too, or keep {}",
                        parent.name, child.name, edge.label, child.name, parent.name
                    ),
                ));
            }
        }

        // Roots.
        if subset.roots.is_empty() {
            return Err(config.error_at(
                &["subset", "roots"],
                "list at least one root table, e.g. `- { table: public.orders, percent: 10 }`".into(),
            ));
        }
        let mut roots = Vec::new();
        for (i, root) in subset.roots.iter().enumerate() {
            let entry = i + 1;
            let at = |message: String| config.error_at(&["subset", "roots"], format!("entry {entry}: {message}"));
            let targets = resolve(&root.table);
            if targets.is_empty() {
                return Err(at(unknown(&root.table)));
            }
            if root.percent.is_none() && root.limit.is_none() && root.where_.is_none() {
                return Err(at(format!(
                    "say which rows of {} to keep with `percent`, `limit` or `where`",
                    crate::plan::qualify(&root.table, &plan.default_schema)
                )));
            }
            if let Some(p) = root.percent {
                if !(p > 0.0 && p <= 100.0) {
                    return Err(at(format!("`percent` must be above 0 and at most 100, not {p}")));
                }
            }
            if root.limit == Some(0) {
                return Err(at("`limit` must be at least 1".into()));
            }
            if root.order_by.is_some() && root.limit.is_none() {
                return Err(at("`order_by` only applies with `limit`".into()));
            }
            for t in targets {
                if let Mode::Empty(why) | Mode::Whole(why) = nodes[t].mode {
                    return Err(at(format!("{} cannot be a root: it is {why}", nodes[t].name)));
                }
                let mut root_conditions: Vec<String> = root.where_.iter().cloned().collect();
                root_conditions.extend(nodes[t].condition.iter().cloned());
                let order_by = root.limit.map(|_| {
                    root.order_by
                        .clone()
                        .unwrap_or_else(|| quoted_list(plan, &nodes[t].identity_columns))
                });
                roots.push(Root {
                    node: t,
                    entry,
                    percent: root.percent,
                    conditions: root_conditions,
                    limit: root.limit,
                    order_by,
                });
            }
        }

        // Tables the subset reaches: those linked to a root by foreign keys in either direction
        // (not through a table kept whole or left empty, which would tie unrelated tables
        // together), plus every table a reached or whole table references. The rest are
        // disconnected.
        let mut reached = vec![false; nodes.len()];
        let mut queue: VecDeque<usize> = roots.iter().map(|r| r.node).collect();
        while let Some(n) = queue.pop_front() {
            if std::mem::replace(&mut reached[n], true) {
                continue;
            }
            for &e in nodes[n].in_edges.iter().chain(&nodes[n].out_edges) {
                let other = if edges[e].child == n {
                    edges[e].parent
                } else {
                    edges[e].child
                };
                if nodes[other].mode == Mode::Subset && !reached[other] {
                    queue.push_back(other);
                }
            }
        }
        for (n, node) in nodes.iter().enumerate() {
            if matches!(node.mode, Mode::Whole(_)) {
                reached[n] = true;
            }
        }
        let mut stack: Vec<usize> = (0..nodes.len()).filter(|&n| reached[n]).collect();
        while let Some(n) = stack.pop() {
            for &e in &nodes[n].out_edges {
                let parent = edges[e].parent;
                if !reached[parent] {
                    reached[parent] = true;
                    stack.push(parent);
                }
            }
        }
        for (n, node) in nodes.iter_mut().enumerate() {
            if !reached[n] && node.mode == Mode::Subset {
                node.mode = match subset.disconnected {
                    Disconnected::Keep => Mode::Whole("not reached from a root"),
                    Disconnected::Empty => Mode::Empty("not reached from a root"),
                };
            }
        }

        Ok(Graph {
            nodes,
            edges,
            roots,
            depth: subset.depth,
            max_children_per_row: subset.max_children_per_row,
            memory_budget: subset.memory_budget,
        })
    }

    /// Subset tables in an order where referencing tables come before the tables they reference
    /// (cycles grouped), so the upward closure settles a schema without cycles in one pass.
    pub fn children_first(&self) -> Vec<usize> {
        // Tarjan's algorithm lists each strongly connected component after every component its
        // members reference, i.e. parents first; reversed, children come first.
        struct State<'a> {
            graph: &'a Graph,
            index: Vec<Option<usize>>,
            low: Vec<usize>,
            on_stack: Vec<bool>,
            stack: Vec<usize>,
            next: usize,
            order: Vec<usize>,
        }
        fn visit(s: &mut State, n: usize) {
            s.index[n] = Some(s.next);
            s.low[n] = s.next;
            s.next += 1;
            s.stack.push(n);
            s.on_stack[n] = true;
            for &e in &s.graph.nodes[n].out_edges {
                let p = s.graph.edges[e].parent;
                match s.index[p] {
                    None => {
                        visit(s, p);
                        s.low[n] = s.low[n].min(s.low[p]);
                    }
                    Some(i) if s.on_stack[p] => s.low[n] = s.low[n].min(i),
                    Some(_) => {}
                }
            }
            if Some(s.low[n]) == s.index[n] {
                while let Some(m) = s.stack.pop() {
                    s.on_stack[m] = false;
                    s.order.push(m);
                    if m == n {
                        break;
                    }
                }
            }
        }
        let count = self.nodes.len();
        let mut state = State {
            graph: self,
            index: vec![None; count],
            low: vec![0; count],
            on_stack: vec![false; count],
            stack: Vec::new(),
            next: 0,
            order: Vec::new(),
        };
        for n in 0..count {
            if state.index[n].is_none() {
                visit(&mut state, n);
            }
        }
        let mut order = state.order;
        order.reverse();
        order.retain(|&n| self.nodes[n].mode == Mode::Subset);
        order
    }
}

/// Adds an edge, registering its fields in both tables' scans.
fn new_edge(
    nodes: &mut [Node],
    tables: &[&Table],
    label: String,
    child: usize,
    parent: usize,
    child_keys: &[(String, Vec<String>)],
    referenced: &[String],
) -> Edge {
    let parent_table = tables[parent];
    let child_table = tables[child];
    let codec = codec_of(parent_table, referenced);
    let child_fields = child_keys
        .iter()
        .zip(referenced)
        .map(|((column, path), referenced_column)| {
            let expr = if !path.is_empty() {
                KeyExpr::JsonPath {
                    column: column.clone(),
                    path: path.clone(),
                }
            } else {
                let wanted = parent_table.column(referenced_column).map(|c| c.type_name.as_str());
                let have = child_table.column(column).map(|c| c.type_name.as_str());
                match wanted {
                    Some(type_name) if have != Some(type_name) => KeyExpr::Cast {
                        column: column.clone(),
                        type_name: type_name.to_string(),
                    },
                    _ => KeyExpr::Column(column.clone()),
                }
            };
            field(&mut nodes[child].fields, expr)
        })
        .collect();
    let parent_fields = referenced
        .iter()
        .map(|c| field(&mut nodes[parent].fields, KeyExpr::Column(c.clone())))
        .collect();
    Edge {
        label,
        child,
        parent,
        child_fields,
        parent_fields,
        codec,
        references_identity: referenced == nodes[parent].identity_columns.as_slice(),
    }
}

type Resolved = (usize, usize, Vec<(String, Vec<String>)>, Vec<String>);

/// Checks a `subset.foreign_keys` entry against the schema.
fn check_virtual(
    config: &Config,
    index: usize,
    vfk: &VirtualForeignKey,
    tables: &[&Table],
    resolve: &impl Fn(&str) -> Vec<usize>,
    unknown: &impl Fn(&str) -> String,
) -> Result<Resolved, ConfigError> {
    let at = |message: String| config.error_at(&["subset", "foreign_keys"], format!("entry {}: {message}", index + 1));
    let one = |key: &str| -> Result<usize, ConfigError> {
        match resolve(key).as_slice() {
            [] => Err(at(unknown(key))),
            [t] => Ok(*t),
            _ => Err(at(format!(
                "{key} is partitioned: name one partition per virtual foreign key"
            ))),
        }
    };
    let (c, p) = (one(&vfk.table)?, one(&vfk.references)?);
    let (child, parent) = (tables[c], tables[p]);
    let referenced = match &vfk.referenced_columns {
        Some(columns) => columns.clone(),
        None if !parent.primary_key.is_empty() => parent.primary_key.clone(),
        None => {
            return Err(at(format!(
                "{} has no primary key: give `referenced_columns`",
                parent.name
            )))
        }
    };
    for column in &referenced {
        if parent.column(column).is_none() {
            return Err(at(format!("{} has no column `{column}`", parent.name)));
        }
    }
    if vfk.columns.len() != referenced.len() {
        return Err(at(format!(
            "{} column(s) reference {} column(s) of {}; give one column per referenced column",
            vfk.columns.len(),
            referenced.len(),
            parent.name
        )));
    }
    let mut keys = Vec::new();
    for spec in &vfk.columns {
        let mut parts = spec.split("->").map(|p| p.trim_start_matches('>').trim());
        let column = parts.next().unwrap_or_default().to_string();
        let path: Vec<String> = parts.map(str::to_string).collect();
        let Some(found) = child.column(&column) else {
            return Err(at(format!("{} has no column `{column}`", child.name)));
        };
        if !path.is_empty() && found.kind != ColumnKind::Json {
            return Err(at(format!(
                "`{spec}` reads inside {}.{column}, which is {} rather than json/jsonb",
                child.name, found.type_name
            )));
        }
        if path.iter().any(String::is_empty) {
            return Err(at(format!("`{spec}`: a key in the path is empty")));
        }
        keys.push((column, path));
    }
    Ok((c, p, keys, referenced))
}

fn codec_of(table: &Table, columns: &[String]) -> Codec {
    match columns {
        [only] => match table.column(only).map(|c| &c.kind) {
            Some(ColumnKind::Int { unsigned, .. }) => Codec::Int { unsigned: *unsigned },
            _ => Codec::Hash,
        },
        _ => Codec::Hash,
    }
}

/// The position of `expr` among `fields`, adding it once.
fn field(fields: &mut Vec<KeyExpr>, expr: KeyExpr) -> usize {
    match fields.iter().position(|f| *f == expr) {
        Some(i) => i,
        None => {
            fields.push(expr);
            fields.len() - 1
        }
    }
}

fn quoted_list(plan: &Plan, columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| plan.quote(c)).collect();
    quoted.join(", ")
}
