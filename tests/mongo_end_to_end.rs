//! MongoDB end to end against the MongoDB-wire test server (jongodb): every BSON type through a
//! round trip, rules on nested paths and arrays, a subset that follows references, engines that
//! agree on fakes, and the failure paths.

mod common;

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, DateTime, Decimal128, Document, Regex, Timestamp};
use common::mongo::MongoDb;
use common::Workspace;

/// Writes `decoy.yaml` for a MongoDB source with its collections named (jongodb cannot list them).
fn config(ws: &Workspace, db: &MongoDb, collections: &[&str], body: &str) {
    let text = format!(
        "source:\n  url: {}\n  collections: [{}]\ndatastore:\n  local:\n    path: {}\nsalt: test-salt-not-secret\n{body}",
        db.url(),
        collections.join(", "),
        ws.dumps().display()
    );
    std::fs::write(ws.path().join("decoy.yaml"), text).unwrap();
}

/// One document per BSON type, in a fixed field order.
fn every_type(i: i32) -> Document {
    doc! {
        "_id": ObjectId::from_bytes([i as u8; 12]),
        "double": 1.5 + f64::from(i),
        "string": format!("text {i} with \"quotes\", tabs\tand\nnewlines é ✓"),
        "object": { "nested": { "deep": i, "empty": {} } },
        "array": [1, "two", { "three": 3 }, [4]],
        "binary": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2, 255] },
        "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![i as u8; 16] },
        "object_id": ObjectId::from_bytes([7; 12]),
        "bool": i % 2 == 0,
        "date": DateTime::from_millis(1_709_296_245_123 + i64::from(i)),
        "null": Bson::Null,
        "regex": Regex { pattern: "^a.*z$".into(), options: "i".into() },
        "code": Bson::JavaScriptCode("function() { return 1; }".into()),
        "int32": i,
        "timestamp": Timestamp { time: 1_700_000_000, increment: i as u32 },
        "int64": Bson::Int64(1 << 40),
        "decimal": "12345.6789".parse::<Decimal128>().unwrap(),
        "min": Bson::MinKey,
        "max": Bson::MaxKey,
        "nan": f64::NAN,
    }
}

#[test]
fn a_dump_without_rules_restores_every_bson_type_byte_for_byte() {
    let source = MongoDb::create("types");
    source.insert("things", (0..50).map(every_type).collect());
    source.insert("empty_marker", vec![doc! { "_id": 1 }]);
    source.create_index("things", doc! { "int32": 1 }, true);
    source.create_index("things", doc! { "string": 1, "date": -1 }, false);
    let ws = Workspace::new();
    config(&ws, &source, &["things", "empty_marker"], "dump:\n  chunk_size: 2KiB\n");
    let out = ws.ok(&["dump", "create", "--name", "plain"]);
    assert!(out.contains("dump plain complete"), "{out}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.dumps().join("plain/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["source"]["engine"], "mongodb");
    let things = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "things")
        .unwrap();
    assert!(
        things["chunks"].as_array().unwrap().len() > 1,
        "2 KiB chunks split the collection"
    );
    assert!(things["chunks"][0]["path"].as_str().unwrap().ends_with(".bson.zst"));
    ws.ok(&["dump", "verify", "plain"]);

    let target = MongoDb::create("types_copy");
    let out = ws.ok(&["dump", "restore", "plain", "--to", &target.url()]);
    assert!(out.contains("2 tables, 51 rows"), "{out}");
    assert_eq!(source.raw_documents("things"), target.raw_documents("things"));
    assert_eq!(target.documents("empty_marker").len(), 1);
    assert_eq!(source.indexes("things"), target.indexes("things"));
    assert_eq!(target.indexes("things").len(), 3, "{:?}", target.indexes("things"));

    // A decompressed chunk is a mongodump .bson file: concatenated documents.
    let chunk = ws
        .dumps()
        .join("plain")
        .join(things["chunks"][0]["path"].as_str().unwrap());
    let bytes = zstd::decode_all(std::fs::File::open(chunk).unwrap()).unwrap();
    let first_len = i32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(
        bytes[..first_len],
        source.raw_documents("things")[0][..],
        "NaN compares by its bytes"
    );

    // Restoring over what is there is refused (exit 2), and nothing is inserted twice.
    let err = ws.fails(&["dump", "restore", "plain", "--to", &target.url()], 2);
    assert!(
        err.contains("already has collections of this dump") && err.contains("--clean"),
        "{err}"
    );
    assert_eq!(target.documents("things").len(), 50);
    // A SQL script cannot hold documents.
    let err = ws.fails(&["dump", "restore", "plain", "--output", "x.sql"], 2);
    assert!(err.contains("MongoDB documents"), "{err}");
    let err = ws.fails(&["dump", "restore", "plain", "--to", "postgres://127.0.0.1/x"], 2);
    assert!(err.contains("mongodb://"), "{err}");
}

fn people(n: i32) -> Vec<Document> {
    (0..n)
        .map(|i| {
            doc! {
                "_id": i,
                "email": format!("person{i}@example.com"),
                "name": { "first": format!("First{i}"), "last": format!("Last{i}") },
                "address": { "street": format!("{i} Rue de Rivoli"), "city": "Paris", "geo": [2.35, 48.85] },
                "contacts": [
                    { "kind": "work", "email": format!("work{i}@example.com") },
                    { "kind": "phone", "number": "+33 1 23 45 67 89" },
                    { "kind": "home", "email": format!("home{i}@example.com") },
                ],
                "aliases": [format!("alias{i}a"), format!("alias{i}b")],
                "born": DateTime::from_millis(315_532_800_000 + i64::from(i) * 86_400_000),
                "balance": format!("{i}.25").parse::<Decimal128>().unwrap(),
                "token": Binary { subtype: BinarySubtype::Uuid, bytes: vec![i as u8; 16] },
                "visits": i * 3,
                "notes": if i % 5 == 0 { Bson::Null } else { Bson::String(format!("note {i}")) },
            }
        })
        .collect()
}

#[test]
fn rules_rewrite_nested_paths_and_arrays_and_keep_types_and_field_order() {
    let source = MongoDb::create("people");
    source.insert("people", people(40));
    let ws = Workspace::new();
    config(
        &ws,
        &source,
        &["people"],
        "tables:\n  people:\n    columns:\n      email: email\n      name.first: first-name\n      \
         address.street: street-address\n      contacts[].email: email\n      aliases[]: username\n      \
         born: { transformer: noise-date, max_days: 30 }\n      balance: { transformer: noise-number, relative: 0.1 }\n      \
         visits: { transformer: random-int, min: 0, max: 9 }\n      notes: { transformer: constant, value: redacted }\n",
    );
    ws.ok(&["dump", "create", "--name", "one"]);
    ws.ok(&["dump", "create", "--name", "two"]);
    let target = MongoDb::create("people_copy");
    ws.ok(&["dump", "restore", "one", "--to", &target.url()]);

    let before = source.documents("people");
    let after = target.documents("people");
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        let keys = |d: &Document| d.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(b), keys(a), "field order");
        assert_eq!(b.get("_id"), a.get("_id"));
        assert_ne!(b.get_str("email").unwrap(), a.get_str("email").unwrap());
        assert!(a.get_str("email").unwrap().contains('@'));
        let (bn, an) = (b.get_document("name").unwrap(), a.get_document("name").unwrap());
        assert_ne!(bn.get_str("first"), an.get_str("first"));
        assert_eq!(
            bn.get_str("last"),
            an.get_str("last"),
            "a sibling without a rule is untouched"
        );
        let (ba, aa) = (b.get_document("address").unwrap(), a.get_document("address").unwrap());
        assert_ne!(ba.get_str("street"), aa.get_str("street"));
        assert_eq!(ba.get("city"), aa.get("city"));
        assert_eq!(ba.get("geo"), aa.get("geo"));
        let (bc, ac) = (b.get_array("contacts").unwrap(), a.get_array("contacts").unwrap());
        assert_eq!(bc.len(), ac.len());
        for (x, y) in bc.iter().zip(ac) {
            let (x, y) = (x.as_document().unwrap(), y.as_document().unwrap());
            assert_eq!(x.get("kind"), y.get("kind"));
            assert_eq!(x.get("number"), y.get("number"));
            match (x.get_str("email"), y.get_str("email")) {
                (Ok(old), Ok(new)) => assert!(old != new && new.contains('@')),
                (Err(_), Err(_)) => {}
                other => panic!("an element gained or lost its email: {other:?}"),
            }
        }
        let (bl, al) = (b.get_array("aliases").unwrap(), a.get_array("aliases").unwrap());
        assert!(bl.iter().zip(al).all(|(x, y)| x != y && y.as_str().is_some()));
        assert!(matches!(a.get("born"), Some(Bson::DateTime(_))), "a date stays a date");
        let shift =
            a.get_datetime("born").unwrap().timestamp_millis() - b.get_datetime("born").unwrap().timestamp_millis();
        assert!(shift.abs() <= 30 * 86_400_000, "shifted by at most 30 days: {shift}");
        assert!(
            matches!(a.get("balance"), Some(Bson::Decimal128(_))),
            "a decimal stays a decimal"
        );
        assert!(
            matches!(a.get("visits"), Some(Bson::Int32(v)) if (0..=9).contains(v)),
            "{:?}",
            a.get("visits")
        );
        assert_eq!(a.get("token"), b.get("token"));
        assert_eq!(
            a.get_str("notes").unwrap(),
            "redacted",
            "a constant replaces nulls too, as in SQL"
        );
    }
    // Deterministic: the second dump's chunks are the same bytes.
    let chunk = |name: &str| {
        std::fs::read(
            ws.dumps()
                .join(name)
                .join("data/".to_string() + &source.name + ".people/000000.bson.zst"),
        )
        .unwrap()
    };
    assert_eq!(chunk("one"), chunk("two"));
}

#[test]
fn a_subset_follows_references_by_id_and_inside_arrays() {
    let source = MongoDb::create("shop");
    let users: Vec<ObjectId> = (0..60u8).map(|i| ObjectId::from_bytes([i; 12])).collect();
    source.insert(
        "users",
        users
            .iter()
            .enumerate()
            .map(|(i, id)| doc! { "_id": id, "email": format!("u{i}@example.com"), "active": i % 3 != 0 })
            .collect(),
    );
    source.insert(
        "products",
        (0..40).map(|i| doc! { "_id": i, "name": format!("P{i}") }).collect(),
    );
    source.insert(
        "orders",
        (0..300)
            .map(|i| {
                doc! {
                    "_id": format!("order-{i:04}"),
                    "user_id": users[i % 60],
                    "items": [ { "product_id": (i % 40) as i32, "qty": 1 }, { "product_id": ((i * 7 + 3) % 40) as i32, "qty": 2 } ],
                }
            })
            .collect(),
    );
    source.insert(
        "countries",
        (0..5).map(|i| doc! { "_id": i, "name": format!("C{i}") }).collect(),
    );
    let ws = Workspace::new();
    let subset = "subset:\n  roots:\n    - { table: orders, percent: 10 }\n    - { table: users, where: '{\"active\": false}', limit: 3 }\n  \
                  foreign_keys:\n    - { table: orders, columns: [user_id], references: users }\n    \
                  - { table: orders, columns: [\"items[].product_id\"], references: products }\n";
    config(
        &ws,
        &source,
        &["users", "products", "orders", "countries"],
        &format!("tables:\n  users:\n    columns:\n      email: email\n{subset}"),
    );
    let plan = ws.ok(&["plan"]);
    assert!(plan.contains("44 of 300 rows kept (root 30; child of"), "{plan}");
    ws.ok(&["dump", "create", "--name", "a"]);
    ws.ok(&["dump", "create", "--name", "b"]);
    let target = MongoDb::create("shop_subset");
    ws.ok(&["dump", "restore", "a", "--to", &target.url()]);

    let orders = target.documents("orders");
    assert_eq!(
        orders.len(),
        44,
        "10% of the orders, and the orders of the 3 inactive root users"
    );
    let inactive: Vec<Bson> = target
        .documents("users")
        .iter()
        .filter(|u| !u.get_bool("active").unwrap())
        .map(|u| u.get("_id").unwrap().clone())
        .collect();
    let source_orders = source.documents("orders");
    for user in inactive.iter().take(3) {
        let all = source_orders.iter().filter(|o| o.get("user_id") == Some(user)).count();
        let kept = orders.iter().filter(|o| o.get("user_id") == Some(user)).count();
        assert!(kept == all || kept == 0, "a root user's orders come along as children");
    }
    let kept_users: Vec<Bson> = target
        .documents("users")
        .iter()
        .map(|u| u.get("_id").unwrap().clone())
        .collect();
    let kept_products: Vec<Bson> = target
        .documents("products")
        .iter()
        .map(|p| p.get("_id").unwrap().clone())
        .collect();
    for order in &orders {
        assert!(
            kept_users.contains(order.get("user_id").unwrap()),
            "order {order} lost its user"
        );
        for item in order.get_array("items").unwrap() {
            let product = item.as_document().unwrap().get("product_id").unwrap();
            assert!(kept_products.contains(product), "order {order} lost product {product}");
        }
    }
    assert!(
        kept_products.len() < 40,
        "products are a subset too: {}",
        kept_products.len()
    );
    let inactive_roots = target
        .documents("users")
        .iter()
        .filter(|u| !u.get_bool("active").unwrap())
        .count();
    assert!(inactive_roots >= 3, "the filtered root keeps its 3 inactive users");
    assert_eq!(
        target.documents("countries").len(),
        5,
        "a collection no root reaches is kept whole"
    );
    // References use the original keys; the rule on users.email does not change _id.
    assert_ne!(
        target.documents("users")[0].get_str("email").unwrap(),
        source.documents("users")[0].get_str("email").unwrap()
    );
    let manifest = |n: &str| std::fs::read_to_string(ws.dumps().join(n).join("manifest.json")).unwrap();
    let rows = |m: &str| -> Vec<u64> {
        let v: serde_json::Value = serde_json::from_str(m).unwrap();
        v["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["rows"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        rows(&manifest("a")),
        rows(&manifest("b")),
        "the same config keeps the same documents"
    );
}

#[test]
fn one_salt_gives_one_fake_email_in_postgres_mysql_and_mongodb() {
    let mongo = MongoDb::create("agree");
    mongo.insert(
        "people",
        vec![doc! { "_id": 1, "email": "same.person@example.org", "when": DateTime::from_millis(1_600_000_000_000) }],
    );
    let pg = common::TestDb::create("agree");
    pg.sql(
        "CREATE TABLE people (id int PRIMARY KEY, email text, \"when\" timestamptz); \
            INSERT INTO people VALUES (1, 'same.person@example.org', '2020-09-13 12:26:40+00')",
    );
    let my = common::mysql::MyDb::create("agree");
    my.sql("CREATE TABLE people (id int PRIMARY KEY, email varchar(200)); INSERT INTO people VALUES (1, 'same.person@example.org')");
    let rules = "tables:\n  people:\n    columns:\n      email: email\n";

    let ws_mongo = Workspace::new();
    config(
        &ws_mongo,
        &mongo,
        &["people"],
        &format!("{rules}      when: {{ transformer: noise-date, max_days: 10 }}\n"),
    );
    ws_mongo.ok(&["dump", "create", "--name", "m"]);
    let mongo_copy = MongoDb::create("agree_copy");
    ws_mongo.ok(&["dump", "restore", "m", "--to", &mongo_copy.url()]);
    let from_mongo = mongo_copy.documents("people")[0].clone();

    let ws_pg = Workspace::new();
    ws_pg.config(
        &pg.url(),
        &format!("{rules}      when: {{ transformer: noise-date, max_days: 10 }}\n"),
    );
    ws_pg.ok(&["dump", "create", "--name", "p"]);
    let pg_copy = common::TestDb::create("agree_copy");
    ws_pg.ok(&["dump", "restore", "p", "--to", &pg_copy.url()]);

    let ws_my = Workspace::new();
    ws_my.config(&my.url(), rules);
    ws_my.ok(&["dump", "create", "--name", "y"]);
    let my_copy = common::mysql::MyDb::create("agree_copy");
    ws_my.ok(&["dump", "restore", "y", "--to", &my_copy.url()]);

    let fake = from_mongo.get_str("email").unwrap();
    assert_ne!(fake, "same.person@example.org");
    assert_eq!(pg_copy.sql("SELECT email FROM people").trim(), fake);
    assert_eq!(my_copy.lines("SELECT email FROM people"), vec![fake.to_string()]);
    // A date shifts by the same amount too.
    let pg_when = pg_copy.sql("SELECT (extract(epoch FROM \"when\") * 1000)::bigint FROM people");
    assert_eq!(
        pg_when.trim(),
        from_mongo.get_datetime("when").unwrap().timestamp_millis().to_string()
    );
}

#[test]
fn config_and_server_problems_are_explained() {
    let source = MongoDb::create("errors");
    source.insert(
        "users",
        vec![doc! { "_id": 1, "email": "a@b.c", "pattern": Regex { pattern: "x".into(), options: String::new() } }],
    );
    let ws = Workspace::new();

    // jongodb cannot list collections: the error names the config key that fixes it.
    let text = format!(
        "source:\n  url: {}\ndatastore:\n  local:\n    path: {}\nsalt: s\n",
        source.url(),
        ws.dumps().display()
    );
    std::fs::write(ws.path().join("decoy.yaml"), text).unwrap();
    let err = ws.fails(&["dump", "create"], 1);
    assert!(
        err.contains("listCollections") && err.contains("source.collections"),
        "{err}"
    );

    config(
        &ws,
        &source,
        &["users"],
        "tables:\n  nosuch:\n    columns:\n      email: email\n",
    );
    let err = ws.fails(&["dump", "create"], 2);
    assert!(err.contains("nosuch"), "{err}");

    config(
        &ws,
        &source,
        &["users"],
        "tables:\n  users:\n    columns:\n      pattern: email\n",
    );
    let err = ws.fails(&["dump", "create", "--name", "bad"], 1);
    assert!(
        err.contains("pattern") && err.contains("regex") && err.contains("_id 1"),
        "{err}"
    );
    let list = ws.ok(&["dump", "list"]);
    assert!(!list.contains("bad"), "a failed dump is not listed: {list}");

    config(
        &ws,
        &source,
        &["users"],
        "subset:\n  roots:\n    - { table: users, where: \"email = 'x'\" }\n",
    );
    let err = ws.fails(&["dump", "create"], 1);
    assert!(err.contains("query document in JSON"), "{err}");

    config(&ws, &source, &["users"], "");
    ws.ok(&["dump", "create", "--name", "good"]);
    let err = ws.fails(&["dump", "restore", "good", "--to", "mongodb://127.0.0.1:27017/"], 2);
    assert!(err.contains("names no database"), "{err}");
}

/// A collection larger than `dump.split_table_bytes` is read as `_id` ranges on several cursors:
/// ObjectIds (whose first bytes are a timestamp) and integer ids, every document once, with the
/// same fakes as one cursor.
#[test]
fn large_collections_are_read_in_id_ranges_with_every_document_once() {
    let source = MongoDb::create("ranges");
    let oid = |i: u32| {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&(1_700_000_000 + i * 37).to_be_bytes());
        bytes[8..].copy_from_slice(&i.to_be_bytes());
        ObjectId::from_bytes(bytes)
    };
    source.insert(
        "events",
        (0..3000u32)
            .map(|i| doc! { "_id": oid(i), "email": format!("e{i}@corp.example"), "n": i as i64 })
            .collect(),
    );
    source.insert("people", people(2000));
    let rules = "tables:\n  events:\n    columns:\n      email: email\n  people:\n    columns:\n      email: email\n";
    let ws = Workspace::new();
    let run = |name: &str, split: &str| {
        config(
            &ws,
            &source,
            &["events", "people"],
            &format!("{rules}dump:\n  workers: 3\n  chunk_size: 16KiB\n  split_table_bytes: {split}\n"),
        );
        ws.ok_log(&["dump", "create", "--name", name])
            .matches("read in ranges")
            .count()
    };
    assert_eq!(run("ranges", "32KiB"), 2, "both collections split");
    assert_eq!(run("whole", "0"), 0);

    let mut restored = Vec::new();
    for dump in ["ranges", "whole"] {
        let target = MongoDb::create("ranges_copy");
        ws.ok(&["dump", "restore", dump, "--to", &target.url()]);
        let mut events = target.documents("events");
        let mut people = target.documents("people");
        assert_eq!((events.len(), people.len()), (3000, 2000), "{dump}");
        let key = |d: &Document| format!("{:?}", d.get("_id").unwrap());
        events.sort_by_key(key);
        people.sort_by_key(key);
        let ids: std::collections::BTreeSet<String> = events.iter().map(key).collect();
        assert_eq!(ids.len(), 3000, "no document twice");
        assert!(events
            .iter()
            .all(|d| !d.get_str("email").unwrap().ends_with("@corp.example")));
        restored.push((events, people));
    }
    assert_eq!(
        restored[0], restored[1],
        "ranges and one cursor give the same documents and fakes"
    );
}
