//! Subsetting: keep a share of the rows such that every foreign key still points at a kept row.
//!
//! [`graph`] checks the config against the schema, [`closure`] chooses the rows with read-only key
//! scans, and [`RowFilter`] lets the dump keep exactly those rows as they stream past.

mod closure;
mod graph;
mod keys;
mod keyset;

use std::sync::Arc;

use crate::source::Source;

use crate::config::{Config, Disconnected, SubsetConfig};
use crate::dump::{ReasonCount, SubsetManifest, SubsetTableManifest};
use crate::plan::Plan;
use closure::Chosen;
pub use closure::Reason;
use graph::{Codec, Graph, Mode};
use keyset::KeySet;

/// The server filters a table by key when the subset keeps at most 1 row in this many.
const SERVER_FILTER_MAX_SHARE: u64 = 2;

pub struct Subset {
    config: SubsetConfig,
    graph: Graph,
    chosen: Chosen,
}

impl Subset {
    /// Checks the `subset:` section against the plan, then chooses the rows inside the snapshot.
    /// `None` when the config has no subset: every row is dumped.
    pub async fn choose(config: &Config, plan: &Plan, source: &Source) -> anyhow::Result<Option<Arc<Subset>>> {
        let Some(subset) = &config.subset else {
            return Ok(None);
        };
        let graph = Graph::build(config, subset, plan)?;
        let worker = source.worker().await?;
        let started = std::time::Instant::now();
        let chosen = closure::choose(&graph, worker, config.salt.as_deref().unwrap_or_default()).await?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            kept_rows = chosen.kept.iter().map(KeySet::len).sum::<u64>(),
            "subset chosen"
        );
        Ok(Some(Arc::new(Subset {
            config: subset.clone(),
            graph,
            chosen,
        })))
    }

    /// Which rows of the plan's table `index` the dump keeps.
    pub fn filter(self: &Arc<Self>, index: usize, dumped_columns: &[String]) -> RowFilter {
        let node = &self.graph.nodes[index];
        match node.mode {
            Mode::Whole(_) => RowFilter::All,
            Mode::Empty(_) => RowFilter::Nothing,
            // Nothing kept of a table whose size is known (the manifest still records it).
            Mode::Subset if self.chosen.kept[index].is_empty() && self.chosen.totals[index].is_some() => {
                RowFilter::Nothing
            }
            Mode::Subset => RowFilter::Keys(KeyFilter {
                subset: self.clone(),
                node: index,
                codec: node.identity_codec,
                ask_server: self.ask_server(index),
                positions: node
                    .identity_columns
                    .iter()
                    .map(|c| {
                        dumped_columns
                            .iter()
                            .position(|d| d == c)
                            .expect("identity columns are dumped columns")
                    })
                    .collect(),
            }),
        }
    }

    /// Whether the dump asks the server for the kept rows by key rather than reading every row:
    /// worth it when the key is an integer primary key and most rows are left out. The size must
    /// be known, since the manifest's per-table total would otherwise come from the rows read.
    fn ask_server(&self, index: usize) -> bool {
        let kept = self.chosen.kept[index].len();
        self.graph.nodes[index].integer_key_type.is_some()
            && self.chosen.totals[index].is_some_and(|total| kept.saturating_mul(SERVER_FILTER_MAX_SHARE) <= total)
    }

    /// One line on how the subset was set up, for `decoy plan`.
    pub fn settings(&self) -> String {
        let children = match (self.graph.depth, self.graph.max_children_per_row) {
            (0, _) => "children of root rows are not followed".to_string(),
            (depth, None) => format!("children followed {depth} level(s) down from root rows, all of them"),
            (depth, Some(cap)) => {
                format!("children followed {depth} level(s) down from root rows, at most {cap} per row and foreign key")
            }
        };
        let disconnected = match self.config.disconnected {
            Disconnected::Keep => "tables no root reaches are kept whole",
            Disconnected::Empty => "tables no root reaches are left empty",
        };
        format!(
            "subset: {} root(s); {children}; {disconnected}; parents of every kept row are kept",
            self.config.roots.len()
        )
    }

    /// Rows kept and why, for `decoy plan`: `12 of 120 rows kept (root 10; parent of public.x 2)`.
    pub fn describe(&self, index: usize, estimated_rows: i64) -> String {
        let node = &self.graph.nodes[index];
        let total = match self.chosen.totals[index] {
            Some(total) => total.to_string(),
            None => format!("~{}", estimated_rows.max(0)),
        };
        match node.mode {
            Mode::Whole(why) => format!("all {total} rows kept ({why})"),
            Mode::Empty(why) => format!("0 of {total} rows kept ({why})"),
            Mode::Subset => {
                let reasons: Vec<String> = self
                    .reasons(index)
                    .iter()
                    .map(|r| format!("{} {}", r.reason, r.rows))
                    .collect();
                let why = if reasons.is_empty() {
                    format!(
                        "no kept row references it, and no root row is within {} level(s) above it",
                        self.graph.depth
                    )
                } else {
                    reasons.join("; ")
                };
                format!("{} of {total} rows kept ({why})", self.chosen.kept[index].len())
            }
        }
    }

    fn reasons(&self, index: usize) -> Vec<ReasonCount> {
        self.chosen.reasons[index]
            .iter()
            .map(|(reason, rows)| ReasonCount {
                reason: match reason {
                    Reason::Root => "root".into(),
                    Reason::ChildOf(parent) => format!("child of {}", self.graph.nodes[*parent].name),
                    Reason::ParentOf(child) => format!("parent of {}", self.graph.nodes[*child].name),
                    Reason::Whole => "kept whole".into(),
                },
                rows: *rows,
            })
            .collect()
    }

    /// The manifest's record: the config, and per table the rows kept of the rows read.
    /// `dumped[i]` is (rows written, rows the source had) for the plan's table `i`.
    pub fn manifest(&self, dumped: &[(u64, u64)]) -> SubsetManifest {
        let tables = self
            .graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let (kept, total) = dumped[i];
                let (mode, pulled_in_by) = match node.mode {
                    Mode::Subset => ("subset".to_string(), self.reasons(i)),
                    Mode::Whole(why) => (
                        format!("whole ({why})"),
                        vec![ReasonCount {
                            reason: "kept whole".into(),
                            rows: kept,
                        }],
                    ),
                    Mode::Empty(why) => (format!("empty ({why})"), Vec::new()),
                };
                SubsetTableManifest {
                    table: node.name.to_string(),
                    mode,
                    kept,
                    total: total.max(self.chosen.totals[i].unwrap_or(0)),
                    pulled_in_by,
                }
            })
            .collect();
        SubsetManifest {
            config: serde_json::to_value(&self.config).unwrap_or_default(),
            tables,
        }
    }
}

/// Which rows of a table the dump keeps.
#[derive(Clone)]
pub enum RowFilter {
    All,
    Nothing,
    Keys(KeyFilter),
}

#[derive(Clone)]
pub struct KeyFilter {
    subset: Arc<Subset>,
    node: usize,
    codec: Codec,
    /// The dump reads only the kept rows, by key (see [`Subset::ask_server`]).
    ask_server: bool,
    /// The identity columns' positions in a dumped row.
    positions: Vec<usize>,
}

/// The kept rows of a table as keys the server can look up: its integer primary key column, the
/// column's SQL type, and the kept values in ascending order.
pub struct ServerKeys<'a> {
    pub column: &'a str,
    pub type_name: &'a str,
    values: keyset::Ascending<'a>,
}

impl ServerKeys<'_> {
    /// The next (at most) `max` kept values, ascending; empty once all were given.
    pub fn next_batch(&mut self, max: usize) -> Vec<i64> {
        // Members are the keys' values with the sign bit flipped (see keys::encode).
        self.values.by_ref().take(max).map(|v| (v ^ (1 << 63)) as i64).collect()
    }
}

impl KeyFilter {
    /// The kept keys, when the dump should have the server drop the other rows. The rows that
    /// come back still go through [`KeyFilter::keeps`].
    pub fn server_keys(&self) -> Option<ServerKeys<'_>> {
        if !self.ask_server {
            return None;
        }
        let node = &self.subset.graph.nodes[self.node];
        Some(ServerKeys {
            column: &node.identity_columns[0],
            type_name: node.integer_key_type.as_deref()?,
            values: self.subset.chosen.kept[self.node].ascending()?,
        })
    }

    /// True when the planner chose this row (a COPY text line without its newline).
    pub fn keeps<'l>(&self, line: &'l [u8], scratch: &mut Vec<&'l [u8]>) -> bool {
        keys::split_fields(line, scratch);
        let id = keys::identity(self.codec, scratch, &self.positions);
        self.subset.chosen.kept[self.node].contains(id)
    }
}
