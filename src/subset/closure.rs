//! Choosing the rows: roots, then children down from them, then every parent any kept row needs,
//! repeated until nothing changes (cycles included). Each step is a read-only scan of key columns in
//! the dump's snapshot; chosen rows live in key sets, never in temporary tables.

use std::collections::{BinaryHeap, HashMap};

use anyhow::Context;
use connectors::postgres::KeyQuery;
use futures_util::StreamExt;

use super::graph::{Codec, Graph, Mode, Root};
use super::keys::{encode, identity, split_fields, Sampler};
use super::keyset::{enforce_budget, KeyKind, KeySet};
use crate::source::SourceWorker;

/// Why rows are in a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    Root,
    /// Referencing a kept row of this table.
    ChildOf(usize),
    /// Referenced by a kept row of this table.
    ParentOf(usize),
    Whole,
}

/// What the planner chose, per table (the graph's order).
pub struct Chosen {
    pub kept: Vec<KeySet>,
    pub reasons: Vec<Vec<(Reason, u64)>>,
    /// Rows of the table, when a scan read all of them.
    pub totals: Vec<Option<u64>>,
    /// Holds the sets spilled past the memory budget; removed when this is dropped.
    pub _spill_dir: Option<tempfile::TempDir>,
}

/// A key scan's fields, kept past the scan's buffer (sampling borders, child candidates).
type OwnedRow = Vec<Vec<u8>>;

/// Rows between two checks of the memory budget.
const BUDGET_CHECK_ROWS: u64 = 1 << 16;
/// Buckets of the sampling-hash histogram that finds the exact share of a percent root.
const BUCKET_BITS: u32 = 16;

pub async fn choose(graph: &Graph, worker: SourceWorker<'_>, salt: &str) -> anyhow::Result<Chosen> {
    let mut planner = Planner::new(graph, worker, Sampler::new(salt));
    for root in &graph.roots {
        planner.root(root).await.with_context(|| {
            format!(
                "choosing the rows of root table {} (`subset.roots` entry {}) failed",
                graph.nodes[root.node].name, root.entry
            )
        })?;
    }
    planner.whole_tables().await?;
    planner.children().await?;
    planner.complete_documents().await?;
    planner.parents().await?;
    Ok(planner.finish())
}

fn kind(codec: Codec) -> KeyKind {
    match codec {
        Codec::Int { .. } => KeyKind::Int,
        Codec::Hash => KeyKind::Hash,
    }
}

struct Planner<'a, 'w> {
    graph: &'a Graph,
    /// Taken by a running scan (whose stream borrows it) and put back when the scan ends.
    worker: Option<SourceWorker<'w>>,
    sampler: Sampler,
    kept: Vec<KeySet>,
    /// Per edge: referenced values that kept rows need and that no parent scan has looked for yet.
    needed: Vec<KeySet>,
    /// Per edge: the values a running parent scan looks for.
    probes: Vec<KeySet>,
    /// Per edge: referenced values of the rows whose children the next level follows.
    frontier: Vec<KeySet>,
    reasons: Vec<HashMap<Reason, u64>>,
    totals: Vec<Option<u64>>,
    spill_dir: Option<tempfile::TempDir>,
    rows_since_check: u64,
    /// The row being handed to a scan's callback repeats the previous row's identity: a MongoDB
    /// document whose reference path crosses an array gives one key row per element.
    repeated: bool,
    /// Per table: its key scans gave such repeated rows.
    multi_row: Vec<bool>,
}

impl<'a, 'w> Planner<'a, 'w> {
    fn new(graph: &'a Graph, worker: SourceWorker<'w>, sampler: Sampler) -> Self {
        let per_edge = || {
            graph
                .edges
                .iter()
                .map(|e| KeySet::new(kind(e.codec)))
                .collect::<Vec<_>>()
        };
        Planner {
            graph,
            worker: Some(worker),
            sampler,
            kept: graph
                .nodes
                .iter()
                .map(|n| KeySet::new(kind(n.identity_codec)))
                .collect(),
            needed: per_edge(),
            probes: per_edge(),
            frontier: per_edge(),
            reasons: vec![HashMap::new(); graph.nodes.len()],
            totals: vec![None; graph.nodes.len()],
            spill_dir: None,
            rows_since_check: 0,
            repeated: false,
            multi_row: vec![false; graph.nodes.len()],
        }
    }

    /// Streams a key scan of `node`, calling `on_row` with each row's fields. Returns the row count.
    async fn scan<F>(
        &mut self,
        node: usize,
        conditions: &[String],
        order_by: Option<&str>,
        limit: Option<u64>,
        mut on_row: F,
    ) -> anyhow::Result<u64>
    where
        F: FnMut(&mut Self, &[&[u8]]) -> anyhow::Result<()>,
    {
        let graph = self.graph;
        let mut worker = self.worker.take().context("a key scan is already running")?;
        let n = &graph.nodes[node];
        let query = KeyQuery {
            table: &n.name,
            fields: &n.fields,
            conditions,
            order_by,
            limit,
        };
        let types = |column: &str| n.column_types.iter().find(|(c, _)| c == column).map(|(_, t)| t.clone());
        let scanned = self.read_scan(node, &mut worker, &query, &types, &mut on_row).await;
        self.worker = Some(worker);
        let rows = scanned?;
        self.enforce_budget()?;
        Ok(rows)
    }

    async fn read_scan<F>(
        &mut self,
        node: usize,
        worker: &mut SourceWorker<'w>,
        query: &KeyQuery<'_>,
        types: &dyn Fn(&str) -> Option<String>,
        on_row: &mut F,
    ) -> anyhow::Result<u64>
    where
        F: FnMut(&mut Self, &[&[u8]]) -> anyhow::Result<()>,
    {
        let graph = self.graph;
        let n = &graph.nodes[node];
        let mut stream = worker.copy_keys(query, types).await?;
        let mut buffer: Vec<u8> = Vec::with_capacity(1 << 16);
        let mut rows = 0u64;
        let mut previous: Option<u64> = None;
        while let Some(piece) = stream.next().await {
            buffer.extend_from_slice(&piece?);
            let Some(end) = buffer.iter().rposition(|&b| b == b'\n') else {
                continue;
            };
            let mut fields: Vec<&[u8]> = Vec::with_capacity(n.fields.len());
            for line in buffer[..end].split(|&b| b == b'\n') {
                split_fields(line, &mut fields);
                // Rows of one document come together; the table's row count counts documents.
                let id = identity(n.identity_codec, &fields, &n.identity_fields);
                self.repeated = previous == Some(id);
                previous = Some(id);
                if self.repeated {
                    self.multi_row[node] = true;
                    // A kept document's other array elements reference rows too.
                    if self.kept[node].contains(id) {
                        self.need_parents(node, &fields);
                        continue;
                    }
                } else {
                    rows += 1;
                }
                on_row(self, &fields)?;
                self.rows_since_check += 1;
            }
            buffer.drain(..=end);
            if self.rows_since_check >= BUDGET_CHECK_ROWS {
                self.enforce_budget()?;
            }
        }
        anyhow::ensure!(
            buffer.is_empty(),
            "the key scan of {} ended in the middle of a row",
            n.name
        );
        Ok(rows)
    }

    /// Keeps a row; returns false when it was kept already.
    fn add(&mut self, node: usize, fields: &[&[u8]], reason: Reason, level: u32) -> bool {
        let graph = self.graph;
        let n = &graph.nodes[node];
        let id = identity(n.identity_codec, fields, &n.identity_fields);
        if !self.kept[node].insert(id) {
            return false;
        }
        *self.reasons[node].entry(reason).or_default() += 1;
        self.need_parents(node, fields);
        if level < graph.depth {
            for &e in &n.in_edges {
                let edge = &graph.edges[e];
                if graph.nodes[edge.child].mode != Mode::Subset {
                    continue;
                }
                if let Some(value) = encode(edge.codec, fields, &edge.parent_fields) {
                    self.frontier[e].insert(value);
                }
            }
        }
        true
    }

    /// Records the rows this row references, so the parent scans keep them.
    fn need_parents(&mut self, node: usize, fields: &[&[u8]]) {
        let graph = self.graph;
        for &e in &graph.nodes[node].out_edges {
            let edge = &graph.edges[e];
            if graph.nodes[edge.parent].mode != Mode::Subset {
                continue;
            }
            let Some(value) = encode(edge.codec, fields, &edge.child_fields) else {
                continue;
            };
            if edge.references_identity && self.kept[edge.parent].contains(value) {
                continue;
            }
            self.needed[e].insert(value);
        }
    }

    async fn root(&mut self, root: &Root) -> anyhow::Result<()> {
        let graph = self.graph;
        let node = root.node;
        let n = &graph.nodes[node];
        let Some(percent) = root.percent else {
            self.scan(node, &root.conditions, root.order_by.as_deref(), root.limit, |s, f| {
                s.add(node, f, Reason::Root, 0);
                Ok(())
            })
            .await?;
            return Ok(());
        };

        // The exact share: the k rows with the smallest sampling hash. A histogram of the hash's
        // top bits finds the bucket holding the k-th, then only that bucket's hashes are sorted.
        // A smaller percent therefore keeps a subset of the rows a larger one keeps.
        let mut histogram = vec![0u64; 1 << BUCKET_BITS];
        let sampler = self.sampler;
        let total = self
            .scan(node, &root.conditions, None, None, |s, f| {
                if s.repeated {
                    return Ok(());
                }
                let h = sampler.hash(identity(n.identity_codec, f, &n.identity_fields));
                histogram[(h >> (64 - BUCKET_BITS)) as usize] += 1;
                Ok(())
            })
            .await?;
        if root.conditions.is_empty() {
            self.totals[node] = Some(total);
        }
        let wanted = ((total as f64) * percent / 100.0).round() as u64;
        if wanted == 0 {
            return Ok(());
        }
        let (mut bucket, mut below) = (0usize, 0u64);
        while below + histogram[bucket] < wanted {
            below += histogram[bucket];
            bucket += 1;
        }
        let from_bucket = (wanted - below) as usize;
        let bucket_of = |h: u64| (h >> (64 - BUCKET_BITS)) as usize;

        if root.limit.is_none() {
            // One more pass: rows below the bucket are in; the bucket's rows wait for the cut.
            let mut border: Vec<(u64, OwnedRow)> = Vec::new();
            self.scan(node, &root.conditions, None, None, |s, f| {
                if s.repeated {
                    return Ok(());
                }
                let h = sampler.hash(identity(n.identity_codec, f, &n.identity_fields));
                match bucket_of(h).cmp(&bucket) {
                    std::cmp::Ordering::Less => {
                        s.add(node, f, Reason::Root, 0);
                    }
                    std::cmp::Ordering::Equal => border.push((h, f.iter().map(|x| x.to_vec()).collect())),
                    std::cmp::Ordering::Greater => {}
                }
                Ok(())
            })
            .await?;
            border.sort();
            for (_, owned) in border.iter().take(from_bucket) {
                let fields: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
                self.add(node, &fields, Reason::Root, 0);
            }
            return Ok(());
        }

        // With a limit the rows come in `order_by` order, so the cut must be known first.
        let mut hashes: Vec<u64> = Vec::with_capacity(histogram[bucket] as usize);
        self.scan(node, &root.conditions, None, None, |s, f| {
            if s.repeated {
                return Ok(());
            }
            let h = sampler.hash(identity(n.identity_codec, f, &n.identity_fields));
            if bucket_of(h) == bucket {
                hashes.push(h);
            }
            Ok(())
        })
        .await?;
        hashes.sort_unstable();
        let cut = hashes[from_bucket - 1];
        let limit = root.limit.unwrap_or(u64::MAX);
        let mut taken = 0u64;
        self.scan(node, &root.conditions, root.order_by.as_deref(), None, |s, f| {
            if taken < limit && !s.repeated {
                let h = sampler.hash(identity(n.identity_codec, f, &n.identity_fields));
                if h <= cut && s.add(node, f, Reason::Root, 0) {
                    taken += 1;
                }
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Tables kept whole still need their parents: one scan of their foreign keys.
    async fn whole_tables(&mut self) -> anyhow::Result<()> {
        let graph = self.graph;
        for (node, n) in graph.nodes.iter().enumerate() {
            if !matches!(n.mode, Mode::Whole(_)) {
                continue;
            }
            let references_subset = n
                .out_edges
                .iter()
                .any(|&e| graph.nodes[graph.edges[e].parent].mode == Mode::Subset);
            if !references_subset {
                continue;
            }
            let rows = self
                .scan(node, &[], None, None, |s, f| {
                    s.need_parents(node, f);
                    Ok(())
                })
                .await
                .with_context(|| format!("reading the foreign keys of {} failed", n.name))?;
            self.totals[node] = Some(rows);
            self.reasons[node].insert(Reason::Whole, rows);
        }
        Ok(())
    }

    /// Level by level, the rows that reference rows of the level above.
    async fn children(&mut self) -> anyhow::Result<()> {
        let graph = self.graph;
        for level in 1..=graph.depth {
            // The frontier filled by the level above becomes the probe of this one.
            std::mem::swap(&mut self.frontier, &mut self.probes);
            for (e, set) in self.frontier.iter_mut().enumerate() {
                *set = KeySet::new(kind(graph.edges[e].codec));
            }
            let mut by_child: Vec<Vec<usize>> = vec![Vec::new(); graph.nodes.len()];
            for (e, probe) in self.probes.iter().enumerate() {
                if !probe.is_empty() {
                    by_child[graph.edges[e].child].push(e);
                }
            }
            for (child, edges) in by_child.iter().enumerate() {
                if edges.is_empty() {
                    continue;
                }
                self.children_of(child, edges, level)
                    .await
                    .with_context(|| format!("following children into {} failed", graph.nodes[child].name))?;
            }
            for (e, probe) in self.probes.iter_mut().enumerate() {
                *probe = KeySet::new(kind(graph.edges[e].codec));
            }
        }
        Ok(())
    }

    async fn children_of(&mut self, child: usize, edges: &[usize], level: u32) -> anyhow::Result<()> {
        let graph = self.graph;
        let n = &graph.nodes[child];
        let conditions: Vec<String> = n.condition.iter().cloned().collect();
        let sampler = self.sampler;
        let Some(cap) = graph.max_children_per_row else {
            let rows = self
                .scan(child, &conditions, None, None, |s, f| {
                    for &e in edges {
                        let edge = &graph.edges[e];
                        if let Some(value) = encode(edge.codec, f, &edge.child_fields) {
                            if s.probes[e].contains(value) {
                                s.add(child, f, Reason::ChildOf(edge.parent), level);
                                break;
                            }
                        }
                    }
                    Ok(())
                })
                .await?;
            if conditions.is_empty() {
                self.totals[child] = Some(rows);
            }
            return Ok(());
        };
        // Per parent row and foreign key, the `cap` candidates with the smallest sampling hash: a
        // max-heap that drops its largest when it grows past the cap.
        type Candidates = HashMap<(usize, u64), BinaryHeap<(u64, OwnedRow)>>;
        let mut candidates: Candidates = HashMap::new();
        let rows = self
            .scan(child, &conditions, None, None, |s, f| {
                let id = identity(n.identity_codec, f, &n.identity_fields);
                if s.kept[child].contains(id) {
                    return Ok(());
                }
                let h = sampler.hash(id);
                for &e in edges {
                    let edge = &graph.edges[e];
                    let Some(value) = encode(edge.codec, f, &edge.child_fields) else {
                        continue;
                    };
                    if !s.probes[e].contains(value) {
                        continue;
                    }
                    let heap = candidates.entry((e, value)).or_default();
                    if heap.len() < cap as usize {
                        heap.push((h, f.iter().map(|x| x.to_vec()).collect()));
                    } else if heap.peek().is_some_and(|(top, _)| h < *top) {
                        heap.pop();
                        heap.push((h, f.iter().map(|x| x.to_vec()).collect()));
                    }
                }
                Ok(())
            })
            .await?;
        if conditions.is_empty() {
            self.totals[child] = Some(rows);
        }
        let mut chosen: Vec<((usize, u64), u64, OwnedRow)> = candidates
            .into_iter()
            .flat_map(|(key, heap)| heap.into_iter().map(move |(h, f)| (key, h, f)))
            .collect();
        chosen.sort();
        for ((e, _), _, owned) in chosen {
            let fields: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
            self.add(child, &fields, Reason::ChildOf(graph.edges[e].parent), level);
        }
        Ok(())
    }

    /// Documents kept through one of their key rows (a root's cut, a capped child) still need what
    /// their other rows reference: one more scan of each table whose scans repeated rows.
    async fn complete_documents(&mut self) -> anyhow::Result<()> {
        let graph = self.graph;
        for node in 0..graph.nodes.len() {
            if !self.multi_row[node] || self.kept[node].is_empty() {
                continue;
            }
            let n = &graph.nodes[node];
            self.scan(node, &[], None, None, |s, f| {
                if s.kept[node].contains(identity(n.identity_codec, f, &n.identity_fields)) {
                    s.need_parents(node, f);
                }
                Ok(())
            })
            .await
            .with_context(|| format!("reading what the kept documents of {} reference failed", n.name))?;
        }
        Ok(())
    }

    /// The upward closure: scans every table some kept row references until none is missing.
    async fn parents(&mut self) -> anyhow::Result<()> {
        let graph = self.graph;
        let order = graph.children_first();
        loop {
            let mut progressed = false;
            for &node in &order {
                let n = &graph.nodes[node];
                let pending: Vec<usize> = n
                    .in_edges
                    .iter()
                    .copied()
                    .filter(|&e| !self.needed[e].is_empty())
                    .collect();
                if pending.is_empty() {
                    continue;
                }
                progressed = true;
                for &e in &pending {
                    let fresh = KeySet::new(kind(graph.edges[e].codec));
                    self.probes[e] = std::mem::replace(&mut self.needed[e], fresh);
                }
                let rows = self
                    .scan(node, &[], None, None, |s, f| {
                        for &e in &pending {
                            let edge = &graph.edges[e];
                            let Some(value) = encode(edge.codec, f, &edge.parent_fields) else {
                                continue;
                            };
                            if s.probes[e].contains(value) {
                                s.add(node, f, Reason::ParentOf(edge.child), u32::MAX);
                                break;
                            }
                        }
                        Ok(())
                    })
                    .await
                    .with_context(|| format!("keeping the rows of {} that kept rows reference failed", n.name))?;
                self.totals[node] = Some(rows);
                for &e in &pending {
                    self.probes[e] = KeySet::new(kind(graph.edges[e].codec));
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    fn enforce_budget(&mut self) -> anyhow::Result<()> {
        self.rows_since_check = 0;
        let budget = self.graph.memory_budget;
        let in_memory: u64 = self
            .kept
            .iter()
            .chain(&self.needed)
            .chain(&self.probes)
            .chain(&self.frontier)
            .map(KeySet::memory_bytes)
            .sum();
        if in_memory <= budget {
            return Ok(());
        }
        if self.spill_dir.is_none() {
            self.spill_dir = Some(tempfile::Builder::new().prefix("decoy-subset-").tempdir()?);
        }
        let dir = self.spill_dir.as_ref().expect("created above").path().to_path_buf();
        let mut sets: Vec<&mut KeySet> = self
            .kept
            .iter_mut()
            .chain(self.needed.iter_mut())
            .chain(self.probes.iter_mut())
            .chain(self.frontier.iter_mut())
            .collect();
        let spilled = enforce_budget(&mut sets, budget, &dir)
            .with_context(|| format!("moving subset keys to disk in {} failed", dir.display()))?;
        tracing::info!(
            spilled,
            budget,
            in_memory,
            "subset keys passed the memory budget; the largest sets moved to disk"
        );
        Ok(())
    }

    fn finish(self) -> Chosen {
        let reasons = self
            .reasons
            .into_iter()
            .map(|map| {
                let mut list: Vec<(Reason, u64)> = map.into_iter().collect();
                list.sort();
                list
            })
            .collect();
        Chosen {
            kept: self.kept,
            reasons,
            totals: self.totals,
            _spill_dir: self.spill_dir,
        }
    }
}
