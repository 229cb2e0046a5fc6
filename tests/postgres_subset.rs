//! Subsetting (`subset:` in the config) end to end against PostgreSQL: roots, depth, fan-out caps,
//! disconnected tables, keep_all/exclude, virtual foreign keys, determinism, the manifest and the
//! plan. Every test loads fixtures/subset/shapes.sql (one schema with every foreign-key shape),
//! dumps a subset, restores it into a fresh database and checks that every foreign key, real or
//! virtual, still resolves.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{repo, TestDb, Workspace};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn shapes() -> TestDb {
    let db = TestDb::create("subset");
    db.load(&repo().join("fixtures/subset/shapes.sql"), &[]);
    db
}

/// Every table of the fixture.
const TABLES: &[&str] = &[
    "public.accounts",
    "public.audit_notes",
    "public.customers",
    "public.employees",
    "public.events",
    "public.invoices",
    "public.order_items",
    "public.orders",
    "public.players",
    "public.products",
    "public.regions",
    "public.scc_a",
    "public.scc_b",
    "public.scc_c",
    "public.scc_e",
    "public.settings",
    "public.shipments",
    "public.stores",
    "public.teams",
    "public.tickets",
    "public.warehouses",
];

/// A reference: referencing table, its expressions (on alias `c`), referenced table and columns.
type Reference = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static [&'static str],
);

/// The fixture's real foreign keys, checked by hand too (a constraint added NOT VALID, or missing,
/// would not prove anything).
const REAL_FKS: &[Reference] = &[
    ("public.orders", &["c.customer_id"], "public.customers", &["id"]),
    ("public.order_items", &["c.order_id"], "public.orders", &["id"]),
    ("public.order_items", &["c.product_id"], "public.products", &["id"]),
    ("public.stores", &["c.region_id"], "public.regions", &["id"]),
    ("public.warehouses", &["c.region_id"], "public.regions", &["id"]),
    ("public.shipments", &["c.store_id"], "public.stores", &["id"]),
    ("public.shipments", &["c.warehouse_id"], "public.warehouses", &["id"]),
    ("public.employees", &["c.manager_id"], "public.employees", &["id"]),
    ("public.employees", &["c.store_id"], "public.stores", &["id"]),
    ("public.tickets", &["c.assignee_id"], "public.employees", &["id"]),
    ("public.players", &["c.team_id"], "public.teams", &["id"]),
    ("public.teams", &["c.captain_id"], "public.players", &["id"]),
    ("public.scc_a", &["c.b_id"], "public.scc_b", &["id"]),
    ("public.scc_b", &["c.c_id"], "public.scc_c", &["id"]),
    ("public.scc_c", &["c.a_id"], "public.scc_a", &["id"]),
    ("public.scc_c", &["c.e_id"], "public.scc_e", &["id"]),
    ("public.scc_e", &["c.b_id"], "public.scc_b", &["id"]),
    (
        "public.invoices",
        &["c.tenant_id", "c.account_no"],
        "public.accounts",
        &["tenant_id", "account_no"],
    ),
];

/// The relationships the schema does not declare (no constraint): only checked when the config
/// declares them as `subset.foreign_keys`.
const VIRTUAL_FKS: &[Reference] = &[
    ("public.events", &["c.customer_ref"], "public.customers", &["id"]),
    (
        "public.events",
        &["(c.payload->'order'->>'id')::int"],
        "public.orders",
        &["id"],
    ),
];

/// The `subset.foreign_keys` entries declaring VIRTUAL_FKS.
const VIRTUAL_FKS_YAML: &str = "  foreign_keys:
    - { table: public.events, columns: [customer_ref], references: public.customers }
    - { table: public.events, columns: [\"payload->order->id\"], references: public.orders, referenced_columns: [id] }
";

/// Rows of `references` that point at nothing, as `(description, count)` for each broken one.
fn dangling(db: &TestDb, references: &[Reference]) -> Vec<(String, i64)> {
    let mut broken = Vec::new();
    for (child, exprs, parent, columns) in references {
        let present: Vec<String> = exprs.iter().map(|e| format!("{e} IS NOT NULL")).collect();
        let join: Vec<String> = exprs
            .iter()
            .zip(columns.iter())
            .map(|(e, c)| format!("p.{c} = {e}"))
            .collect();
        let sql = format!(
            "SELECT count(*) FROM {child} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {})",
            present.join(" AND "),
            join.join(" AND ")
        );
        let n = db.count(&sql);
        if n > 0 {
            broken.push((format!("{child} ({}) -> {parent}", exprs.join(", ")), n));
        }
    }
    broken
}

fn fk_constraints(db: &TestDb) -> i64 {
    db.count("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace")
}

/// A restored subset has every table and every foreign-key constraint of the source (validated),
/// and no reference (real, and virtual when declared) points at a missing row.
fn assert_consistent(source: &TestDb, target: &TestDb, virtual_fks: bool, what: &str) {
    assert_eq!(
        source.tables(),
        target.tables(),
        "{what}: restored tables differ from the source's"
    );
    let expected = fk_constraints(source);
    assert_eq!(expected, 18, "the fixture declares 18 foreign keys");
    assert_eq!(
        fk_constraints(target),
        expected,
        "{what}: the restore must recreate every foreign-key constraint"
    );
    assert_eq!(
        target.count(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace \
             AND NOT convalidated"
        ),
        0,
        "{what}: every foreign key must be validated, not added NOT VALID"
    );
    let broken = dangling(target, REAL_FKS);
    assert!(broken.is_empty(), "{what}: dangling references: {broken:?}");
    if virtual_fks {
        let broken = dangling(target, VIRTUAL_FKS);
        assert!(broken.is_empty(), "{what}: dangling virtual references: {broken:?}");
    }
}

fn count(db: &TestDb, table: &str) -> i64 {
    db.count(&format!("SELECT count(*) FROM {table}"))
}

/// The exact share of a root: round(N * percent / 100).
fn share(total: i64, percent: f64) -> i64 {
    (total as f64 * percent / 100.0).round() as i64
}

/// The output lines of a query (psql unaligned, tuples only), in the query's order.
fn lines(db: &TestDb, sql: &str) -> Vec<String> {
    db.sql(sql).lines().map(str::to_string).collect()
}

/// A SQL list for `IN (...)`; `NULL` when empty so the query stays valid and matches nothing.
fn in_list(values: &[String]) -> String {
    if values.is_empty() {
        "NULL".to_string()
    } else {
        values.join(", ")
    }
}

/// Creates a workspace with `body` as the config body and dumps it as `name`.
fn dump(source: &TestDb, body: &str, name: &str) -> Workspace {
    let ws = Workspace::new();
    ws.config(&source.url(), body);
    ws.ok(&["dump", "create", "--name", name]);
    ws
}

/// Restores dump `name` of `ws` into a fresh database.
fn restore(ws: &Workspace, name: &str) -> TestDb {
    let target = TestDb::create("subset_copy");
    ws.ok(&["dump", "restore", name, "--to", &target.url()]);
    target
}

/// Dumps `body`, restores it, checks consistency and returns the workspace and the restored copy.
fn round_trip(source: &TestDb, body: &str, name: &str, virtual_fks: bool) -> (Workspace, TestDb) {
    let ws = dump(source, body, name);
    let target = restore(&ws, name);
    assert_consistent(source, &target, virtual_fks, &format!("dump {name}"));
    (ws, target)
}

fn manifest(ws: &Workspace, name: &str) -> serde_json::Value {
    let path = ws.dumps().join(name).join("manifest.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

/// `schema.table` -> sha256 of each chunk, from a manifest.
fn chunk_hashes(manifest: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    manifest["tables"]
        .as_array()
        .expect("manifest has tables")
        .iter()
        .map(|t| {
            let name = format!("{}.{}", t["schema"].as_str().unwrap(), t["name"].as_str().unwrap());
            let chunks = t["chunks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["sha256"].as_str().unwrap().to_string())
                .collect();
            (name, chunks)
        })
        .collect()
}

/// The subset entry of `table` in a manifest.
fn subset_entry<'a>(manifest: &'a serde_json::Value, table: &str) -> &'a serde_json::Value {
    manifest["subset"]["tables"]
        .as_array()
        .unwrap_or_else(|| panic!("manifest has no subset.tables: {}", manifest["subset"]))
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no subset entry for {table}: {}", manifest["subset"]))
}

fn reasons(entry: &serde_json::Value) -> Vec<(String, u64)> {
    entry["pulled_in_by"]
        .as_array()
        .unwrap_or_else(|| panic!("no pulled_in_by in {entry}"))
        .iter()
        .map(|r| (r["reason"].as_str().unwrap().to_string(), r["rows"].as_u64().unwrap()))
        .collect()
}

fn root(table: &str, percent: f64) -> String {
    format!("subset:\n  roots:\n    - {{ table: {table}, percent: {percent} }}\n")
}

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

#[test]
fn chain_roots_keep_the_exact_share_and_every_reference_resolves() {
    let source = shapes();
    let orders = count(&source, "public.orders");
    let items = count(&source, "public.order_items");
    assert_eq!((orders, items), (1080, 2700), "fixture sizes at scale 1");

    // Root in the middle of the chain: its children (depth 1) and its parents come along.
    for percent in [1.0, 10.0, 50.0] {
        let name = format!("orders-{percent}");
        let (_ws, target) = round_trip(&source, &root("public.orders", percent), &name, false);
        assert_eq!(
            count(&target, "public.orders"),
            share(orders, percent),
            "{name}: root orders must be round({orders} * {percent} / 100)"
        );
        let kept = lines(&target, "SELECT id FROM public.orders ORDER BY id");
        assert_eq!(
            count(&target, "public.order_items"),
            source.count(&format!(
                "SELECT count(*) FROM public.order_items WHERE order_id IN ({})",
                in_list(&kept)
            )),
            "{name}: every line of a root order is a child at depth 1 and must be kept"
        );
        assert_eq!(
            lines(&target, "SELECT id FROM public.customers ORDER BY id"),
            lines(&target, "SELECT DISTINCT customer_id FROM public.orders ORDER BY 1"),
            "{name}: customers are kept only as parents of kept orders"
        );
        assert_eq!(
            lines(&target, "SELECT id FROM public.products ORDER BY id"),
            lines(&target, "SELECT DISTINCT product_id FROM public.order_items ORDER BY 1"),
            "{name}: products are kept only as parents of kept order lines"
        );
    }

    // Root on the leaf (composite primary key): only parents come along.
    for percent in [1.0, 10.0, 50.0] {
        let name = format!("items-{percent}");
        let (_ws, target) = round_trip(&source, &root("public.order_items", percent), &name, false);
        assert_eq!(
            count(&target, "public.order_items"),
            share(items, percent),
            "{name}: root order_items must be round({items} * {percent} / 100)"
        );
        assert_eq!(
            lines(&target, "SELECT id FROM public.orders ORDER BY id"),
            lines(&target, "SELECT DISTINCT order_id FROM public.order_items ORDER BY 1"),
            "{name}: orders are kept only as parents of kept lines (their other lines are not followed)"
        );
        assert_eq!(
            lines(&target, "SELECT id FROM public.customers ORDER BY id"),
            lines(&target, "SELECT DISTINCT customer_id FROM public.orders ORDER BY 1"),
            "{name}: customers are kept only as parents"
        );
    }
}

#[test]
fn diamond_roots_keep_both_sides_of_the_diamond() {
    let source = shapes();
    let shipments = count(&source, "public.shipments");
    let warehouses = count(&source, "public.warehouses");
    // `disconnected: empty` so that which tables count as reached (employees and tickets hang off
    // stores) cannot change the parent sets checked below.
    for percent in [1.0, 10.0, 50.0] {
        let name = format!("shipments-{percent}");
        let body = format!("{}  disconnected: empty\n", root("public.shipments", percent));
        let (_ws, target) = round_trip(&source, &body, &name, false);
        assert_eq!(
            count(&target, "public.shipments"),
            share(shipments, percent),
            "{name}: root shipments"
        );
        assert_eq!(
            lines(&target, "SELECT id FROM public.stores ORDER BY id"),
            lines(&target, "SELECT DISTINCT store_id FROM public.shipments ORDER BY 1"),
            "{name}: stores are the parents of kept shipments"
        );
        assert_eq!(
            lines(&target, "SELECT id FROM public.warehouses ORDER BY id"),
            lines(&target, "SELECT DISTINCT warehouse_id FROM public.shipments ORDER BY 1"),
            "{name}: warehouses are the parents of kept shipments"
        );
        assert_eq!(
            lines(&target, "SELECT id FROM public.regions ORDER BY id"),
            lines(
                &target,
                "SELECT region_id FROM public.stores UNION SELECT region_id FROM public.warehouses ORDER BY 1"
            ),
            "{name}: regions are reached through both sides of the diamond"
        );
        assert!(count(&target, "public.regions") > 0, "{name}");
    }

    // A root on one side (default config): its children are followed, the other side comes as parents.
    let (_ws, target) = round_trip(&source, &root("public.warehouses", 10.0), "warehouses-10", false);
    assert_eq!(
        count(&target, "public.warehouses"),
        share(warehouses, 10.0),
        "root warehouses"
    );
    let kept = lines(&target, "SELECT id FROM public.warehouses ORDER BY id");
    assert_eq!(
        count(&target, "public.shipments"),
        source.count(&format!(
            "SELECT count(*) FROM public.shipments WHERE warehouse_id IN ({})",
            in_list(&kept)
        )),
        "every shipment of a root warehouse is a child at depth 1"
    );
    assert!(count(&target, "public.stores") > 0);
}

/// The managers of employee `id` up to the top, and its reports up to `levels` levels down.
fn hierarchy_sql(id: i64, levels: u32) -> String {
    format!(
        "WITH RECURSIVE up(id, manager_id) AS ( \
           SELECT id, manager_id FROM public.employees WHERE id = {id} \
           UNION SELECT e.id, e.manager_id FROM public.employees e JOIN up ON e.id = up.manager_id), \
         down(id, level) AS ( \
           SELECT id, 0 FROM public.employees WHERE id = {id} \
           UNION SELECT e.id, down.level + 1 FROM public.employees e JOIN down ON e.manager_id = down.id \
             WHERE down.level < {levels}) \
         SELECT id FROM up UNION SELECT id FROM down ORDER BY 1"
    )
}

/// Employee `id` and its reports up to `levels` levels down.
fn descendants_sql(id: i64, levels: u32) -> String {
    format!(
        "WITH RECURSIVE down(id, level) AS ( \
           SELECT id, 0 FROM public.employees WHERE id = {id} \
           UNION SELECT e.id, down.level + 1 FROM public.employees e JOIN down ON e.manager_id = down.id \
             WHERE down.level < {levels}) \
         SELECT id FROM down ORDER BY 1"
    )
}

#[test]
fn self_reference_keeps_every_manager_up_to_the_top_and_reports_down_to_depth() {
    let source = shapes();
    // Employee 20 is on the third of five levels: two managers above, reports two levels below.
    let levels = source.count(
        "WITH RECURSIVE r(id, l) AS (SELECT id, 1 FROM public.employees WHERE manager_id IS NULL \
         UNION ALL SELECT e.id, r.l + 1 FROM public.employees e JOIN r ON e.manager_id = r.id) SELECT max(l) FROM r",
    );
    assert_eq!(levels, 5, "the fixture's hierarchy has five levels");

    for depth in [0u32, 1, 2] {
        let name = format!("employee-20-depth-{depth}");
        let body =
            format!("subset:\n  roots:\n    - {{ table: public.employees, where: \"id = 20\" }}\n  depth: {depth}\n");
        let (_ws, target) = round_trip(&source, &body, &name, false);
        assert_eq!(
            lines(&target, "SELECT id FROM public.employees ORDER BY id"),
            lines(&source, &hierarchy_sql(20, depth)),
            "{name}: employees must be 20, every manager above it, and its reports {depth} level(s) down"
        );
        assert!(
            target.count("SELECT count(*) FROM public.employees WHERE id IN (1, 20)") == 2,
            "{name}: the root and the top of the hierarchy are kept"
        );
        // Tickets are children of employees: those of the root at depth 1, of its reports at depth 2.
        let assignees = lines(&source, &descendants_sql(20, depth.saturating_sub(1)));
        let expected_tickets = if depth == 0 {
            0
        } else {
            source.count(&format!(
                "SELECT count(*) FROM public.tickets WHERE assignee_id IN ({})",
                in_list(&assignees)
            ))
        };
        assert_eq!(
            count(&target, "public.tickets"),
            expected_tickets,
            "{name}: tickets are children of the root (and of its reports at depth 2)"
        );
    }

    // A percent root on the self-referencing table: the kept rows reach up to the top.
    let employees = count(&source, "public.employees");
    let (_ws, target) = round_trip(&source, &root("public.employees", 10.0), "employees-10", false);
    assert!(
        count(&target, "public.employees") >= share(employees, 10.0),
        "at least the root employees are kept"
    );
    assert_eq!(
        target.count("SELECT count(*) FROM public.employees WHERE manager_id IS NULL"),
        1,
        "the top manager is a parent of every kept chain"
    );
}

#[test]
fn two_table_cycle_restores_with_both_foreign_keys() {
    let source = shapes();
    let teams = count(&source, "public.teams");
    let players = count(&source, "public.players");

    let (_ws, target) = round_trip(&source, &root("public.teams", 10.0), "teams-10", false);
    // Captains play in their own team, so the root teams need no other team.
    assert_eq!(count(&target, "public.teams"), share(teams, 10.0), "root teams");
    let kept = lines(&target, "SELECT id FROM public.teams ORDER BY id");
    assert_eq!(
        count(&target, "public.players"),
        source.count(&format!(
            "SELECT count(*) FROM public.players WHERE team_id IN ({})",
            in_list(&kept)
        )),
        "every player of a root team is a child at depth 1"
    );
    assert_eq!(
        lines(&target, "SELECT id, captain_id FROM public.teams ORDER BY id"),
        lines(
            &source,
            &format!(
                "SELECT id, captain_id FROM public.teams WHERE id IN ({}) ORDER BY id",
                in_list(&kept)
            )
        ),
        "captains are kept, not nulled"
    );

    let (_ws, target) = round_trip(&source, &root("public.players", 10.0), "players-10", false);
    assert!(count(&target, "public.players") >= share(players, 10.0), "root players");
    assert!(count(&target, "public.teams") > 0, "teams come as parents of players");
    assert_eq!(
        target.count("SELECT count(*) FROM public.teams WHERE captain_id IS NOT NULL"),
        source.count(&format!(
            "SELECT count(*) FROM public.teams WHERE captain_id IS NOT NULL AND id IN ({})",
            in_list(&lines(&target, "SELECT id FROM public.teams"))
        )),
        "a kept team keeps its captain (the captain is a parent of the team)"
    );
}

#[test]
fn strongly_connected_component_with_overlapping_cycles_resolves() {
    let source = shapes();
    for table in ["public.scc_a", "public.scc_e"] {
        let name = format!("{}-10", table.trim_start_matches("public."));
        let (_ws, target) = round_trip(&source, &root(table, 10.0), &name, false);
        assert!(
            count(&target, table) >= share(count(&source, table), 10.0),
            "{name}: at least the root rows of {table}"
        );
        for member in ["public.scc_a", "public.scc_b", "public.scc_c", "public.scc_e"] {
            let kept = count(&target, member);
            assert!(
                kept > 0,
                "{name}: following references through the component must keep rows of {member}"
            );
            assert!(kept <= count(&source, member), "{name}: {member}");
        }
        // The references really are followed, not nulled.
        assert_eq!(
            target.count("SELECT count(*) FROM public.scc_c WHERE a_id IS NULL AND e_id IS NULL"),
            source.count(&format!(
                "SELECT count(*) FROM public.scc_c WHERE a_id IS NULL AND e_id IS NULL AND id IN ({})",
                in_list(&lines(&target, "SELECT id FROM public.scc_c"))
            )),
            "{name}: restored rows keep their references"
        );
    }
}

#[test]
fn composite_text_and_int_foreign_key_resolves() {
    let source = shapes();
    let invoices = count(&source, "public.invoices");
    let accounts = count(&source, "public.accounts");
    for percent in [1.0, 10.0, 50.0] {
        let name = format!("invoices-{percent}");
        let (_ws, target) = round_trip(&source, &root("public.invoices", percent), &name, false);
        assert_eq!(
            count(&target, "public.invoices"),
            share(invoices, percent),
            "{name}: root invoices"
        );
        assert_eq!(
            lines(
                &target,
                "SELECT tenant_id, account_no FROM public.accounts ORDER BY 1, 2"
            ),
            lines(
                &target,
                "SELECT DISTINCT tenant_id, account_no FROM public.invoices ORDER BY 1, 2"
            ),
            "{name}: accounts are exactly the parents of kept invoices"
        );
    }

    let (_ws, target) = round_trip(&source, &root("public.accounts", 10.0), "accounts-10", false);
    assert_eq!(
        count(&target, "public.accounts"),
        share(accounts, 10.0),
        "root accounts"
    );
    let kept = lines(
        &target,
        "SELECT format('(%L, %s)', tenant_id, account_no) FROM public.accounts ORDER BY 1",
    );
    assert_eq!(
        count(&target, "public.invoices"),
        source.count(&format!(
            "SELECT count(*) FROM public.invoices WHERE (tenant_id, account_no) IN ({})",
            in_list(&kept)
        )),
        "every invoice of a root account is a child at depth 1"
    );
}

#[test]
fn nullable_foreign_key_keeps_null_rows_and_resolves_the_others() {
    let source = shapes();
    let tickets = count(&source, "public.tickets");
    let (_ws, target) = round_trip(&source, &root("public.tickets", 10.0), "tickets-10", false);
    assert_eq!(count(&target, "public.tickets"), share(tickets, 10.0), "root tickets");
    assert!(
        target.count("SELECT count(*) FROM public.tickets WHERE assignee_id IS NULL") > 0,
        "about half the tickets have no assignee; some are among the kept ones"
    );
    assert!(target.count("SELECT count(*) FROM public.tickets WHERE assignee_id IS NOT NULL") > 0);
    // Employees: the assignees and every manager above them, nothing else.
    let assignees = lines(
        &target,
        "SELECT DISTINCT assignee_id FROM public.tickets WHERE assignee_id IS NOT NULL",
    );
    let expected = lines(
        &source,
        &format!(
            "WITH RECURSIVE up(id, manager_id) AS ( \
               SELECT id, manager_id FROM public.employees WHERE id IN ({}) \
               UNION SELECT e.id, e.manager_id FROM public.employees e JOIN up ON e.id = up.manager_id) \
             SELECT id FROM up ORDER BY 1",
            in_list(&assignees)
        ),
    );
    assert_eq!(
        lines(&target, "SELECT id FROM public.employees ORDER BY id"),
        expected,
        "employees are the assignees of kept tickets and their managers"
    );
}

#[test]
fn virtual_foreign_keys_are_followed_like_real_ones() {
    let source = shapes();
    let events = count(&source, "public.events");
    assert!(
        dangling(&source, VIRTUAL_FKS).is_empty(),
        "the source itself is consistent"
    );

    for percent in [1.0, 10.0, 50.0] {
        let name = format!("events-{percent}");
        let body = format!(
            "{}{VIRTUAL_FKS_YAML}  disconnected: empty\n",
            root("public.events", percent)
        );
        let (_ws, target) = round_trip(&source, &body, &name, true);
        assert_eq!(
            count(&target, "public.events"),
            share(events, percent),
            "{name}: root events"
        );
        assert_eq!(
            lines(&target, "SELECT id FROM public.orders ORDER BY id"),
            lines(
                &target,
                "SELECT DISTINCT (payload->'order'->>'id')::int FROM public.events \
                 WHERE payload->'order'->>'id' IS NOT NULL ORDER BY 1"
            ),
            "{name}: orders are exactly the ones kept events name in payload->order->id"
        );
        assert_eq!(
            lines(&target, "SELECT id FROM public.customers ORDER BY id"),
            lines(
                &target,
                "SELECT customer_ref FROM public.events WHERE customer_ref IS NOT NULL \
                 UNION SELECT customer_id FROM public.orders ORDER BY 1"
            ),
            "{name}: customers are those events reference and the buyers of kept orders"
        );
        assert!(
            target.count("SELECT count(*) FROM public.events WHERE customer_ref IS NULL") > 0 || percent < 10.0,
            "{name}: events without a customer are kept too"
        );
    }

    // Children through a virtual key: root customers 1..20 bring their events (and orders).
    let body = format!(
        "subset:\n  roots:\n    - {{ table: public.customers, where: \"id <= 20\" }}\n{VIRTUAL_FKS_YAML}  disconnected: empty\n"
    );
    let (_ws, target) = round_trip(&source, &body, "customers-1-20", true);
    assert_eq!(
        lines(&target, "SELECT id FROM public.events ORDER BY id"),
        lines(
            &source,
            "SELECT id FROM public.events WHERE customer_ref <= 20 ORDER BY id"
        ),
        "events are children of root customers through customer_ref, and only those (depth 1)"
    );
    assert_eq!(
        lines(&target, "SELECT id FROM public.orders ORDER BY id"),
        lines(
            &target,
            "SELECT id FROM public.orders WHERE customer_id <= 20 \
             UNION SELECT (payload->'order'->>'id')::int FROM public.events \
             WHERE payload->'order'->>'id' IS NOT NULL ORDER BY 1"
        ),
        "orders are the root customers' orders and the parents of kept events"
    );
    assert_eq!(
        target.count("SELECT count(*) FROM public.orders WHERE customer_id <= 20"),
        source.count("SELECT count(*) FROM public.orders WHERE customer_id <= 20"),
        "every order of a root customer is a child"
    );
}

// ---------------------------------------------------------------------------------------------
// depth and fan-out
// ---------------------------------------------------------------------------------------------

fn customers_root(extra: &str) -> String {
    format!("subset:\n  roots:\n    - {{ table: public.customers, percent: 10 }}\n{extra}")
}

#[test]
fn depth_zero_one_and_two_follow_that_many_child_levels() {
    let source = shapes();
    let customers = count(&source, "public.customers");

    let (_ws, zero) = round_trip(&source, &customers_root("  depth: 0\n"), "depth-0", false);
    assert_eq!(
        count(&zero, "public.customers"),
        share(customers, 10.0),
        "depth 0: root customers"
    );
    assert_eq!(
        count(&zero, "public.orders"),
        0,
        "depth 0: orders are children of customers and no kept row needs one"
    );
    assert_eq!(count(&zero, "public.order_items"), 0, "depth 0");
    // events has no declared key here, so it is connected to nothing and kept whole.
    assert_eq!(
        count(&zero, "public.events"),
        count(&source, "public.events"),
        "depth 0: events kept whole"
    );

    let (_ws, one) = round_trip(&source, &customers_root(""), "depth-default", false);
    let (_ws1, one_explicit) = round_trip(&source, &customers_root("  depth: 1\n"), "depth-1", false);
    assert_eq!(
        one.rows("public.orders"),
        one_explicit.rows("public.orders"),
        "depth defaults to 1"
    );
    assert_eq!(
        one.rows("public.customers"),
        zero.rows("public.customers"),
        "the same root rows whatever the depth"
    );
    let kept = lines(&one, "SELECT id FROM public.customers ORDER BY id");
    assert_eq!(kept.len() as i64, share(customers, 10.0), "depth 1: root customers");
    assert_eq!(
        one.count("SELECT count(*) FROM public.orders WHERE customer_id NOT IN (SELECT id FROM public.customers)"),
        0
    );
    assert_eq!(
        lines(&one, "SELECT id FROM public.orders ORDER BY id"),
        lines(
            &source,
            &format!(
                "SELECT id FROM public.orders WHERE customer_id IN ({}) ORDER BY id",
                in_list(&kept)
            )
        ),
        "depth 1: every order of a root customer, and no other"
    );
    assert!(
        count(&one, "public.orders") > 0,
        "depth 1: some root customer has orders"
    );
    assert_eq!(
        count(&one, "public.order_items"),
        0,
        "depth 1: order lines are two levels down"
    );
    assert_eq!(
        count(&one, "public.products"),
        0,
        "depth 1: no kept line needs a product"
    );

    let (_ws, two) = round_trip(&source, &customers_root("  depth: 2\n"), "depth-2", false);
    assert_eq!(
        two.rows("public.customers"),
        one.rows("public.customers"),
        "depth 2: same roots"
    );
    assert_eq!(
        two.rows("public.orders"),
        one.rows("public.orders"),
        "depth 2: same orders"
    );
    let orders = lines(&two, "SELECT id FROM public.orders ORDER BY id");
    assert_eq!(
        two.rows("public.order_items"),
        source.rows(&format!(
            "(SELECT * FROM public.order_items WHERE order_id IN ({})) s",
            in_list(&orders)
        )),
        "depth 2: every line of those orders"
    );
    assert!(count(&two, "public.order_items") > 0);
    assert_eq!(
        lines(&two, "SELECT id FROM public.products ORDER BY id"),
        lines(&two, "SELECT DISTINCT product_id FROM public.order_items ORDER BY 1"),
        "depth 2: products as parents of the kept lines"
    );
}

#[test]
fn max_children_per_row_caps_the_children_of_each_parent() {
    let source = shapes();
    let (_ws, target) = round_trip(
        &source,
        &customers_root("  max_children_per_row: 2\n"),
        "fanout-2",
        false,
    );
    let kept = lines(&target, "SELECT id FROM public.customers ORDER BY id");
    assert_eq!(kept.len() as i64, share(count(&source, "public.customers"), 10.0));
    let per_customer = |db: &TestDb| -> BTreeMap<String, i64> {
        lines(
            db,
            &format!(
                "SELECT customer_id, count(*) FROM public.orders WHERE customer_id IN ({}) GROUP BY 1",
                in_list(&kept)
            ),
        )
        .into_iter()
        .map(|l| {
            let (id, n) = l.split_once('|').unwrap();
            (id.to_string(), n.parse().unwrap())
        })
        .collect()
    };
    let in_source = per_customer(&source);
    let in_target = per_customer(&target);
    assert!(
        in_source.values().any(|&n| n > 2),
        "some kept customer has more than 2 orders in the source: {in_source:?}"
    );
    for id in &kept {
        let available = in_source.get(id).copied().unwrap_or(0);
        let got = in_target.get(id).copied().unwrap_or(0);
        assert!(
            got <= 2,
            "customer {id} has {got} orders pulled in as children, above the cap of 2"
        );
        assert_eq!(
            got,
            available.min(2),
            "customer {id} has {available} orders in the source: the cap keeps min(2, {available})"
        );
    }

    // The choice is deterministic.
    let ws = dump(
        &source,
        &customers_root("  max_children_per_row: 2\n"),
        "fanout-2-again",
    );
    let again = restore(&ws, "fanout-2-again");
    assert_eq!(again.rows("public.orders"), target.rows("public.orders"));
}

// ---------------------------------------------------------------------------------------------
// disconnected, keep_all, exclude, filters, root options
// ---------------------------------------------------------------------------------------------

/// Tables the chain (customers, orders, order_items, products) is not connected to when events'
/// references are not declared.
const UNREACHED_FROM_CHAIN: &[&str] = &[
    "public.settings",
    "public.audit_notes",
    "public.events",
    "public.teams",
    "public.players",
    "public.scc_a",
    "public.scc_b",
    "public.scc_c",
    "public.scc_e",
    "public.accounts",
    "public.invoices",
    "public.regions",
    "public.stores",
    "public.warehouses",
    "public.shipments",
    "public.employees",
    "public.tickets",
];

#[test]
fn disconnected_tables_are_kept_whole_or_empty() {
    let source = shapes();
    let orders = count(&source, "public.orders");

    let (_ws, keep) = round_trip(&source, &root("public.orders", 10.0), "keep", false);
    let (_ws2, keep_explicit) = round_trip(
        &source,
        &format!("{}  disconnected: keep\n", root("public.orders", 10.0)),
        "keep-explicit",
        false,
    );
    let (_ws3, empty) = round_trip(
        &source,
        &format!("{}  disconnected: empty\n", root("public.orders", 10.0)),
        "empty",
        false,
    );
    for table in UNREACHED_FROM_CHAIN {
        assert_eq!(
            keep.rows(table),
            source.rows(table),
            "disconnected: keep (the default) keeps {table} whole"
        );
        assert_eq!(
            count(&keep_explicit, table),
            count(&source, table),
            "disconnected: keep: {table}"
        );
        assert_eq!(count(&empty, table), 0, "disconnected: empty restores {table} empty");
    }
    for target in [&keep, &keep_explicit, &empty] {
        assert_eq!(
            count(target, "public.orders"),
            share(orders, 10.0),
            "the root is unaffected"
        );
    }
    assert_eq!(empty.rows("public.orders"), keep.rows("public.orders"));
    assert_eq!(empty.rows("public.order_items"), keep.rows("public.order_items"));
    assert_eq!(count(&empty, "public.settings"), 0);
    assert_eq!(count(&keep, "public.settings"), 20);
}

#[test]
fn keep_all_keeps_a_lookup_table_whole_and_exclude_empties_a_table() {
    let source = shapes();
    let body = format!(
        "{}  tables:\n    public.products: {{ keep_all: true }}\n    public.audit_notes: {{ exclude: true }}\n    public.order_items: {{ exclude: true }}\n",
        root("public.orders", 10.0)
    );
    let (_ws, target) = round_trip(&source, &body, "keep-all", false);
    assert_eq!(
        target.rows("public.products"),
        source.rows("public.products"),
        "keep_all keeps every product"
    );
    assert_eq!(
        count(&target, "public.audit_notes"),
        0,
        "an excluded table is restored empty"
    );
    assert_eq!(
        count(&target, "public.order_items"),
        0,
        "an excluded child table is restored empty even though its parents are kept"
    );
    assert_eq!(
        count(&target, "public.settings"),
        20,
        "other disconnected tables are still kept whole"
    );
    assert_eq!(
        count(&target, "public.orders"),
        share(count(&source, "public.orders"), 10.0)
    );
    assert_eq!(
        lines(&target, "SELECT id FROM public.customers ORDER BY id"),
        lines(&target, "SELECT DISTINCT customer_id FROM public.orders ORDER BY 1"),
        "keep_all on products pulls no orders or customers"
    );

    // Excluding a table that kept rows reference is a config error naming both tables.
    let ws = Workspace::new();
    ws.config(
        &source.url(),
        &format!(
            "{}  tables:\n    public.customers: {{ exclude: true }}\n",
            root("public.orders", 10.0)
        ),
    );
    let err = ws.fails(&["dump", "create", "--name", "bad-exclude"], 2);
    assert!(
        err.contains("public.customers") && err.contains("public.orders"),
        "the error names the excluded table and the one referencing it: {err}"
    );
    assert!(
        !ws.dumps().join("bad-exclude").join("manifest.json").exists(),
        "a config error writes no dump"
    );
}

#[test]
fn unknown_tables_and_columns_in_the_subset_config_are_config_errors() {
    let source = shapes();
    let cases: [(&str, String); 5] = [
        ("no_such_table", root("public.no_such_table", 10.0)),
        (
            "ghost_table",
            format!("{}  tables:\n    public.ghost_table: {{ keep_all: true }}\n", root("public.orders", 10.0)),
        ),
        (
            "no_such_column",
            format!(
                "{}  foreign_keys:\n    - {{ table: public.events, columns: [no_such_column], references: public.customers }}\n",
                root("public.events", 10.0)
            ),
        ),
        (
            "nope_column",
            format!(
                "{}  foreign_keys:\n    - {{ table: public.events, columns: [customer_ref], references: public.customers, referenced_columns: [nope_column] }}\n",
                root("public.events", 10.0)
            ),
        ),
        (
            "missing_events",
            format!(
                "{}  foreign_keys:\n    - {{ table: public.missing_events, columns: [customer_ref], references: public.customers }}\n",
                root("public.orders", 10.0)
            ),
        ),
    ];
    for (i, (needle, body)) in cases.iter().enumerate() {
        let ws = Workspace::new();
        ws.config(&source.url(), body);
        let name = format!("bad-{i}");
        let err = ws.fails(&["dump", "create", "--name", &name], 2);
        assert!(err.contains(needle), "the error must name `{needle}`:\n{body}\n{err}");
        assert!(
            !ws.dumps().join(&name).join("manifest.json").exists(),
            "{needle}: no dump written"
        );
        let err = ws.fails(&["plan"], 2);
        assert!(err.contains(needle), "plan reports `{needle}` too:\n{err}");
    }
}

#[test]
fn root_where_limit_order_by_and_table_filters_combine() {
    let source = shapes();

    // limit with order_by, limit with the default order (the primary key), one table twice.
    let body = "subset:
  roots:
    - { table: public.customers, limit: 3, order_by: \"id DESC\" }
    - { table: public.customers, limit: 2 }
    - { table: public.employees, where: \"id = 75\" }
  depth: 0
  disconnected: empty
";
    let (_ws, target) = round_trip(&source, body, "limits", false);
    assert_eq!(
        lines(&target, "SELECT id FROM public.customers ORDER BY id"),
        ["1", "2", "398", "399", "400"],
        "limit 3 by id DESC plus limit 2 by the primary key"
    );
    assert!(
        target.count("SELECT count(*) FROM public.employees WHERE id = 75") == 1,
        "a second root table"
    );
    assert_eq!(count(&target, "public.orders"), 0, "depth 0");

    // where and percent: the share is of the rows matching the condition.
    let body = "subset:
  roots:
    - { table: public.order_items, where: \"line_no = 1\", percent: 10 }
";
    let (_ws, target) = round_trip(&source, body, "where-percent", false);
    let first_lines = source.count("SELECT count(*) FROM public.order_items WHERE line_no = 1");
    assert_eq!(
        count(&target, "public.order_items"),
        share(first_lines, 10.0),
        "round({first_lines} * 10 / 100) of the rows matching the condition"
    );
    assert_eq!(
        target.count("SELECT count(*) FROM public.order_items WHERE line_no <> 1"),
        0
    );

    // percent and limit: at most `limit` of the share.
    let body = "subset:
  roots:
    - { table: public.orders, percent: 50, limit: 7 }
";
    let (_ws, target) = round_trip(&source, body, "percent-limit", false);
    assert_eq!(count(&target, "public.orders"), 7, "percent 50 then limit 7");

    // A table filter applies to roots and children, never to rows needed as parents.
    let body = "subset:
  roots:
    - { table: public.customers, percent: 20 }
  tables:
    public.customers: { where: \"id % 2 = 0\" }
    public.orders: { where: \"status <> 'returned'\" }
";
    let (_ws, target) = round_trip(&source, body, "table-where", false);
    let kept = lines(&target, "SELECT id FROM public.customers ORDER BY id");
    assert!(
        !kept.is_empty() && kept.len() <= 80,
        "20% of the customers at most: {}",
        kept.len()
    );
    assert_eq!(
        target.count("SELECT count(*) FROM public.customers WHERE id % 2 <> 0"),
        0,
        "root customers meet the table's filter"
    );
    assert_eq!(
        target.count("SELECT count(*) FROM public.orders WHERE status = 'returned'"),
        0,
        "child orders meet the table's filter"
    );
    assert_eq!(
        count(&target, "public.orders"),
        source.count(&format!(
            "SELECT count(*) FROM public.orders WHERE status <> 'returned' AND customer_id IN ({})",
            in_list(&kept)
        )),
        "every child order that meets the filter is kept"
    );

    let body = format!(
        "{}  tables:\n    public.customers: {{ where: \"id % 2 = 0\" }}\n",
        root("public.orders", 10.0)
    );
    let (_ws, target) = round_trip(&source, &body, "parents-unfiltered", false);
    assert_eq!(
        count(&target, "public.orders"),
        share(count(&source, "public.orders"), 10.0)
    );
    assert!(
        target.count("SELECT count(*) FROM public.customers WHERE id % 2 <> 0") > 0,
        "odd customers are parents of kept orders: kept despite the filter"
    );
}

// ---------------------------------------------------------------------------------------------
// Determinism, read-only, manifest, plan, transformers
// ---------------------------------------------------------------------------------------------

#[test]
fn the_same_config_gives_identical_chunks_and_smaller_percents_give_subsets() {
    let source = shapes();
    let body = format!(
        "subset:\n  roots:\n    - {{ table: public.orders, percent: 10 }}\n    - {{ table: public.scc_b, percent: 10 }}\n  depth: 2\n{VIRTUAL_FKS_YAML}"
    );
    let ws = Workspace::new();
    ws.config(&source.url(), &body);
    ws.ok(&["dump", "create", "--name", "first"]);
    ws.ok(&["dump", "create", "--name", "second"]);
    let first = manifest(&ws, "first");
    let second = manifest(&ws, "second");
    assert_eq!(
        chunk_hashes(&first),
        chunk_hashes(&second),
        "same config and salt: same chunks"
    );
    assert!(chunk_hashes(&first).values().any(|c| !c.is_empty()));
    assert_eq!(first["subset"], second["subset"], "same subset report");

    // Percent 5 keeps a subset (by primary key) of what percent 20 keeps.
    let small = round_trip(&source, &root("public.orders", 5.0), "five", false).1;
    let large = round_trip(&source, &root("public.orders", 20.0), "twenty", false).1;
    let small_ids: BTreeSet<String> = lines(&small, "SELECT id FROM public.orders").into_iter().collect();
    let large_ids: BTreeSet<String> = lines(&large, "SELECT id FROM public.orders").into_iter().collect();
    assert_eq!(small_ids.len() as i64, share(count(&source, "public.orders"), 5.0));
    assert_eq!(large_ids.len() as i64, share(count(&source, "public.orders"), 20.0));
    let missing: Vec<&String> = small_ids.difference(&large_ids).collect();
    assert!(missing.is_empty(), "orders kept at 5% but not at 20%: {missing:?}");

    // The same holds for a composite text key.
    let small = round_trip(&source, &root("public.accounts", 5.0), "accounts-five", false).1;
    let large = round_trip(&source, &root("public.accounts", 20.0), "accounts-twenty", false).1;
    let keys = |db: &TestDb| -> BTreeSet<String> {
        lines(db, "SELECT tenant_id || '/' || account_no FROM public.accounts")
            .into_iter()
            .collect()
    };
    let missing: Vec<String> = keys(&small).difference(&keys(&large)).cloned().collect();
    assert!(missing.is_empty(), "accounts kept at 5% but not at 20%: {missing:?}");
}

#[test]
fn a_small_memory_budget_spills_to_disk_and_changes_nothing() {
    let source = shapes();
    let config = |budget: &str| {
        format!(
            "subset:\n  roots:\n    - {{ table: public.customers, percent: 30 }}\n    - {{ table: public.scc_a, percent: 30 }}\n  depth: 2\n{VIRTUAL_FKS_YAML}{budget}"
        )
    };
    let roomy = dump(&source, &config(""), "roomy");
    let tight = dump(&source, &config("  memory_budget: 4KiB\n"), "tight");
    assert_eq!(
        chunk_hashes(&manifest(&roomy, "roomy")),
        chunk_hashes(&manifest(&tight, "tight")),
        "spilling kept keys to disk must not change the subset"
    );
    let target = restore(&tight, "tight");
    assert_consistent(&source, &target, true, "tight memory budget");
}

#[test]
fn a_large_small_share_is_read_by_key_in_several_queries_and_keeps_exactly_the_chosen_rows() {
    // Over 262,144 kept keys (one query's worth), negative ones included, spilled to disk by a
    // small budget: the dump asks the server for them in slices, merged from memory and disk.
    let source = TestDb::create("subset_big");
    source.sql(
        "CREATE TABLE public.big (id bigint PRIMARY KEY, note text NOT NULL);
         INSERT INTO public.big SELECT g * 3 - 900000, 'row ' || g FROM generate_series(1, 600000) g;",
    );
    let config = |percent: u32| {
        format!("subset:\n  roots:\n    - {{ table: public.big, percent: {percent} }}\n  memory_budget: 64KiB\n")
    };
    // 45% is read by key; 90% is read whole and filtered by decoy. Both choose by the same hash.
    let by_key_ws = Workspace::new();
    by_key_ws.config(&source.url(), &config(45));
    let log = by_key_ws.decoy(&["-vv", "dump", "create", "--name", "by-key"]);
    assert!(log.status.success(), "{}", String::from_utf8_lossy(&log.stderr));
    let queries = String::from_utf8_lossy(&log.stderr)
        .matches("reading kept rows by key")
        .count();
    assert_eq!(queries, 2, "270,000 keys take two queries");
    let by_key = restore(&by_key_ws, "by-key");
    let filtered = restore(&dump(&source, &config(90), "filtered"), "filtered");
    assert_eq!(count(&by_key, "public.big"), 270_000);
    assert_eq!(count(&filtered, "public.big"), 540_000);
    let entry = subset_entry(&manifest(&by_key_ws, "by-key"), "public.big").clone();
    assert_eq!(
        (entry["kept"].as_u64(), entry["total"].as_u64()),
        (Some(270_000), Some(600_000))
    );
    let small: BTreeSet<String> = lines(&by_key, "SELECT id FROM public.big").into_iter().collect();
    let large: BTreeSet<String> = lines(&filtered, "SELECT id FROM public.big").into_iter().collect();
    assert_eq!(small.len(), 270_000, "no row twice");
    let missing = small.difference(&large).count();
    assert_eq!(missing, 0, "rows read by key that the 90% subset does not hold");
    assert_eq!(
        lines(
            &by_key,
            "SELECT count(*) FROM public.big WHERE note <> 'row ' || ((id + 900000) / 3)"
        ),
        vec!["0".to_string()],
        "rows read by key come back whole"
    );
}

/// Everything that could betray a write: relations, schemas (a temporary table leaves a pg_temp_N
/// schema behind), functions, and a checksum of every table's rows.
fn fingerprint(db: &TestDb) -> Vec<String> {
    let mut print = vec![
        db.sql("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"),
        db.sql("SELECT count(*) FROM pg_class"),
        db.sql("SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace"),
        db.sql("SELECT count(*) FROM pg_proc"),
        db.sql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'pg_temp%'"),
    ];
    for table in TABLES {
        print.push(format!(
            "{table} {}",
            db.sql(&format!(
                "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t"
            ))
        ));
    }
    print
}

#[test]
fn subsetting_leaves_the_source_untouched() {
    let source = shapes();
    let before = fingerprint(&source);
    let body = format!(
        "subset:\n  roots:\n    - {{ table: public.orders, percent: 10 }}\n    - {{ table: public.scc_a, percent: 10 }}\n    - {{ table: public.teams, percent: 10 }}\n  depth: 2\n  max_children_per_row: 3\n  memory_budget: 4KiB\n{VIRTUAL_FKS_YAML}"
    );
    let ws = dump(&source, &body, "read-only");
    ws.ok(&["plan"]);
    assert_eq!(
        before,
        fingerprint(&source),
        "the source changed during the subset dump"
    );
}

#[test]
fn the_manifest_reports_kept_and_total_rows_and_why() {
    let source = shapes();
    let (ws, target) = round_trip(&source, &root("public.orders", 10.0), "report", false);
    let m = manifest(&ws, "report");
    let subset = &m["subset"];
    assert!(subset.is_object(), "manifest has a subset object: {m}");
    assert_eq!(subset["config"]["roots"][0]["table"], "public.orders", "{subset}");
    assert_eq!(subset["config"]["roots"][0]["percent"].as_f64(), Some(10.0), "{subset}");

    let orders = subset_entry(&m, "public.orders");
    let kept = count(&target, "public.orders") as u64;
    assert_eq!(orders["kept"].as_u64(), Some(kept), "kept = restored rows: {orders}");
    assert_eq!(
        orders["total"].as_u64(),
        Some(count(&source, "public.orders") as u64),
        "{orders}"
    );
    assert!(
        reasons(orders).contains(&("root".to_string(), kept)),
        "every kept order is a root: {orders}"
    );

    let customers = subset_entry(&m, "public.customers");
    assert_eq!(
        customers["kept"].as_u64(),
        Some(count(&target, "public.customers") as u64),
        "{customers}"
    );
    assert_eq!(
        customers["total"].as_u64(),
        Some(count(&source, "public.customers") as u64)
    );
    assert!(
        reasons(customers)
            .iter()
            .any(|(r, n)| r == "parent of public.orders" && *n > 0),
        "customers are pulled in as parents of orders: {customers}"
    );

    let items = subset_entry(&m, "public.order_items");
    assert_eq!(
        items["kept"].as_u64(),
        Some(count(&target, "public.order_items") as u64),
        "{items}"
    );
    assert!(
        reasons(items)
            .iter()
            .any(|(r, n)| r == "child of public.orders" && *n > 0),
        "order lines are pulled in as children of orders: {items}"
    );

    let settings = subset_entry(&m, "public.settings");
    assert_eq!(settings["kept"].as_u64(), Some(20), "{settings}");
    assert_eq!(settings["total"].as_u64(), Some(20), "{settings}");
    assert!(
        reasons(settings).iter().any(|(r, _)| r == "kept whole"),
        "a table no root reaches is kept whole: {settings}"
    );

    // The reasons' rows add up to the kept rows (each row counted under the first reason).
    for table in [
        "public.orders",
        "public.customers",
        "public.order_items",
        "public.products",
        "public.settings",
    ] {
        let entry = subset_entry(&m, table);
        let sum: u64 = reasons(entry).iter().map(|(_, n)| n).sum();
        assert_eq!(
            Some(sum),
            entry["kept"].as_u64(),
            "{table}: pulled_in_by rows add up to kept: {entry}"
        );
    }

    // Each table's `rows` is what was dumped, which is what the restore loaded.
    for table in m["tables"].as_array().unwrap() {
        let name = format!(
            "{}.{}",
            table["schema"].as_str().unwrap(),
            table["name"].as_str().unwrap()
        );
        assert_eq!(
            table["rows"].as_u64(),
            Some(count(&target, &name) as u64),
            "manifest rows of {name}"
        );
        if let Some(entry) = m["subset"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name.as_str())
        {
            assert_eq!(entry["kept"], table["rows"], "{name}: subset kept = rows dumped");
        }
    }
}

#[test]
fn plan_shows_kept_rows_and_reasons_per_table() {
    let source = shapes();
    let ws = Workspace::new();
    ws.config(&source.url(), &root("public.orders", 10.0));
    let plan = ws.ok(&["plan"]);
    let mentions = |table: &str, word: &str| plan.lines().any(|l| l.contains(table) && l.contains(word));
    assert!(
        mentions("public.orders", "root"),
        "the root table is marked root:\n{plan}"
    );
    assert!(
        mentions("public.customers", "parent of"),
        "customers are kept as parents of orders:\n{plan}"
    );
    assert!(
        mentions("public.order_items", "child of"),
        "order lines are kept as children of orders:\n{plan}"
    );
    assert!(plan.contains("108"), "10% of 1080 orders is 108:\n{plan}");
    assert!(
        !ws.dumps().exists() || std::fs::read_dir(ws.dumps()).unwrap().count() == 0,
        "plan writes nothing"
    );
}

#[test]
fn transformers_apply_to_the_subset_without_changing_which_rows_are_kept() {
    let source = shapes();
    let subset = root("public.customers", 10.0);
    let (_ws, plain) = round_trip(&source, &subset, "plain", false);
    let transformed_config =
        format!("tables:\n  public.customers:\n    columns:\n      first_name: first-name\n{subset}");
    let (_ws2, faked) = round_trip(&source, &transformed_config, "faked", false);

    let ids = lines(&plain, "SELECT id FROM public.customers ORDER BY id");
    assert_eq!(ids.len() as i64, share(count(&source, "public.customers"), 10.0));
    assert_eq!(
        lines(&faked, "SELECT id FROM public.customers ORDER BY id"),
        ids,
        "a transformer on a non-key column does not change the subset"
    );
    assert_eq!(
        lines(&plain, "SELECT id, first_name, email FROM public.customers ORDER BY id"),
        lines(
            &source,
            &format!(
                "SELECT id, first_name, email FROM public.customers WHERE id IN ({}) ORDER BY id",
                in_list(&ids)
            )
        ),
        "without a rule the subset's rows are byte-identical"
    );
    let original = lines(&plain, "SELECT id, first_name FROM public.customers ORDER BY id");
    let fake = lines(&faked, "SELECT id, first_name FROM public.customers ORDER BY id");
    let same = original.iter().zip(&fake).filter(|(a, b)| a == b).count();
    // Names come from a pool of thousands: a row may draw its own name by chance.
    assert!(same <= 1, "{same} of {} names kept their value:\n{fake:?}", fake.len());
    assert_eq!(
        lines(&plain, "SELECT id, email FROM public.customers ORDER BY id"),
        lines(&faked, "SELECT id, email FROM public.customers ORDER BY id"),
        "columns without a rule are untouched"
    );
    assert_eq!(plain.rows("public.orders"), faked.rows("public.orders"));
}
