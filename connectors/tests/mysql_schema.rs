//! Schema introspection and DDL scripts against a real MySQL/MariaDB server.
//!
//! The server comes from `DECOY_TEST_MYSQL` (default `mysql://root@127.0.0.1:3306`); every test works in
//! databases of its own, dropped again when the test ends, pass or fail.

use std::sync::atomic::{AtomicUsize, Ordering};

use connectors::mysql::ddl::{schema_scripts, split_foreign_keys};
use connectors::mysql::introspect::{introspect, views};
use connectors::{QualifiedName, Schema, Table};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use transformers::ColumnKind;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn server_url() -> String {
    std::env::var("DECOY_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string())
}

async fn connect(database: Option<&str>) -> Result<Conn, mysql_async::Error> {
    let opts = Opts::from_url(&server_url())?;
    let opts = OptsBuilder::from_opts(opts).db_name(database.map(str::to_string));
    Conn::new(opts).await
}

/// A database created for one test and dropped when the guard goes, even when the test panics.
struct TestDb {
    name: String,
}

impl TestDb {
    async fn create() -> Result<Self, mysql_async::Error> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "decoy_t_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = connect(None).await?;
        conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"))
            .await?;
        conn.disconnect().await?;
        Ok(TestDb { name })
    }

    async fn conn(&self) -> Result<Conn, mysql_async::Error> {
        connect(Some(&self.name)).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop cannot await, and the test's runtime cannot be blocked on from inside: a thread of its own runs it.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut conn = connect(None).await?;
                // Another test database's foreign keys may point here.
                conn.query_drop(format!("SET FOREIGN_KEY_CHECKS=0; DROP DATABASE IF EXISTS `{name}`"))
                    .await?;
                conn.disconnect().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("dropping test database {} failed: {e}", self.name);
        }
    }
}

/// Tables covering every type mapping, keys of each kind, a foreign key into `other`, mixed-case and
/// spaced names, and views of which the first (by name) reads the second.
fn fixture(other: &str) -> String {
    format!(
        r#"
CREATE TABLE `{other}`.`country` (`code` char(2) NOT NULL PRIMARY KEY);

CREATE TABLE `Parent Table` (
  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `code` varchar(40) NOT NULL,
  `region` char(2) NOT NULL,
  `parent_id` int(10) unsigned DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_code` (`code`),
  UNIQUE KEY `uq_pair` (`region`, `code`),
  CONSTRAINT `fk_self` FOREIGN KEY (`parent_id`) REFERENCES `Parent Table` (`id`) ON DELETE SET NULL,
  CONSTRAINT `fk_country` FOREIGN KEY (`region`) REFERENCES `{other}`.`country` (`code`)
) COMMENT 'not a FOREIGN KEY (`id`) REFERENCES `x` (`y`)';

CREATE TABLE `types` (
  `tiny` tinyint unsigned,
  `flag` tinyint(1),
  `small` smallint,
  `medium` mediumint unsigned,
  `num` int(10) unsigned NOT NULL,
  `big` bigint,
  `price` decimal(10,2),
  `name` varchar(40),
  `body` text,
  `mood` enum('ok','it''s','a\\b'),
  `tags` set('x','y'),
  `data` blob,
  `hash` binary(16),
  `born` date,
  `seen` datetime,
  `stamp` timestamp NULL DEFAULT NULL,
  `at` time,
  `doc` json,
  `ratio` double,
  `bits` bit(3),
  `yr` year,
  `Space Col` varchar(5) DEFAULT 'a, b' COMMENT 'CONSTRAINT `c` FOREIGN KEY (`x`)',
  `double num` bigint AS (`num` * 2) VIRTUAL,
  `num plus` bigint AS (`num` + 1) STORED,
  CHECK (`num` < 1000000)
);

CREATE TABLE `Child` (
  `id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `c` varchar(40) NOT NULL,
  `r` char(2) NOT NULL,
  `note` varchar(10),
  CONSTRAINT `fk_pair` FOREIGN KEY (`r`, `c`) REFERENCES `Parent Table` (`region`, `code`) ON UPDATE CASCADE,
  CONSTRAINT `positive` CHECK (`note` <> '')
);

INSERT INTO `{other}`.`country` VALUES ('de'), ('fr');
INSERT INTO `Parent Table` (`code`, `region`) VALUES ('a', 'de'), ('b', 'fr');
INSERT INTO `Child` (`c`, `r`) VALUES ('a', 'de');

CREATE VIEW `z_base` AS SELECT `id`, `code` FROM `Parent Table`;
CREATE VIEW `a_top` AS SELECT `z_base`.`code`, `Child`.`note` FROM `z_base` JOIN `Child` ON `Child`.`c` = `z_base`.`code`;
"#
    )
}

async fn setup() -> Result<(TestDb, TestDb, Conn), Box<dyn std::error::Error>> {
    let other = TestDb::create().await?;
    let db = TestDb::create().await?;
    let mut conn = db.conn().await?;
    conn.query_drop(fixture(&other.name)).await?;
    Ok((db, other, conn))
}

fn table<'a>(schema: &'a Schema, database: &str, name: &str) -> &'a Table {
    schema
        .table(&QualifiedName::new(database, name))
        .unwrap_or_else(|| panic!("table {name} not found in {:?}", schema.tables))
}

#[tokio::test]
async fn columns_map_to_kinds() -> TestResult {
    let (db, _other, mut conn) = setup().await?;
    let schema = introspect(&mut conn, &db.name).await?;
    assert_eq!(schema.default_schema, db.name);
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.name.as_str()).collect();
    // Base tables only, in byte order of their names.
    assert_eq!(names, vec!["Child", "Parent Table", "types"]);

    let types = table(&schema, &db.name, "types");
    let int = |bits, unsigned| ColumnKind::Int { bits, unsigned };
    let expected: Vec<(&str, &str, ColumnKind)> = vec![
        ("tiny", "tinyint(3) unsigned", int(8, true)),
        ("flag", "tinyint(1)", int(8, false)),
        ("small", "smallint(6)", int(16, false)),
        ("medium", "mediumint(8) unsigned", int(24, true)),
        ("num", "int(10) unsigned", int(32, true)),
        ("big", "bigint(20)", int(64, false)),
        (
            "price",
            "decimal(10,2)",
            ColumnKind::Numeric {
                precision: Some(10),
                scale: Some(2),
            },
        ),
        ("name", "varchar(40)", ColumnKind::Text { max_chars: Some(40) }),
        ("body", "text", ColumnKind::Text { max_chars: None }),
        (
            "mood",
            "enum('ok','it''s','a\\\\b')",
            ColumnKind::Enum {
                values: vec!["ok".into(), "it's".into(), "a\\b".into()],
            },
        ),
        ("tags", "set('x','y')", ColumnKind::Other("set".into())),
        ("data", "blob", ColumnKind::Bytes),
        ("hash", "binary(16)", ColumnKind::Bytes),
        ("born", "date", ColumnKind::Date),
        ("seen", "datetime", ColumnKind::Timestamp { with_tz: false }),
        ("stamp", "timestamp", ColumnKind::Timestamp { with_tz: false }),
        ("at", "time", ColumnKind::Time),
        ("doc", "longtext", ColumnKind::Json),
        ("ratio", "double", ColumnKind::Float),
        ("bits", "bit(3)", ColumnKind::Other("bit".into())),
        ("yr", "year(4)", ColumnKind::Other("year".into())),
        ("Space Col", "varchar(5)", ColumnKind::Text { max_chars: Some(5) }),
        ("double num", "bigint(20)", int(64, false)),
        ("num plus", "bigint(20)", int(64, false)),
    ];
    let actual: Vec<(&str, &str, ColumnKind)> = types
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.type_name.as_str(), c.kind.clone()))
        .collect();
    // MySQL 8 prints no display widths and has a real json type: only MariaDB's spelling is expected here.
    assert_eq!(actual, expected);

    let generated: Vec<&str> = types
        .columns
        .iter()
        .filter(|c| c.generated)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(generated, vec!["double num", "num plus"]);
    assert!(!types.column("num").unwrap().nullable);
    assert!(types.column("tiny").unwrap().nullable);
    assert!(types.primary_key.is_empty() && types.unique.is_empty() && types.foreign_keys.is_empty());
    Ok(())
}

#[tokio::test]
async fn keys_and_estimates() -> TestResult {
    let (db, other, mut conn) = setup().await?;
    let schema = introspect(&mut conn, &db.name).await?;

    let parent = table(&schema, &db.name, "Parent Table");
    assert_eq!(parent.primary_key, vec!["id"]);
    assert_eq!(
        parent.unique,
        vec![
            vec!["id".to_string()],
            vec!["code".into()],
            vec!["region".into(), "code".into()]
        ]
    );
    assert!(parent.is_unique_column("code") && !parent.is_unique_column("region"));
    let keys: Vec<(&str, &[String], String, &[String])> = parent
        .foreign_keys
        .iter()
        .map(|k| {
            (
                k.name.as_str(),
                k.columns.as_slice(),
                k.referenced_table.to_string(),
                k.referenced_columns.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            (
                "fk_country",
                &["region".to_string()][..],
                format!("{}.country", other.name),
                &["code".to_string()][..]
            ),
            (
                "fk_self",
                &["parent_id".to_string()][..],
                format!("{}.Parent Table", db.name),
                &["id".to_string()][..]
            ),
        ]
    );
    assert!(parent.estimated_bytes > 0 && parent.estimated_rows >= 0 && parent.partition_root.is_none());

    let child = table(&schema, &db.name, "Child");
    assert_eq!(child.primary_key, vec!["id"]);
    assert_eq!(child.unique, vec![vec!["id".to_string()]]);
    assert_eq!(child.foreign_keys.len(), 1);
    let pair = &child.foreign_keys[0];
    // In the constraint's order, not the table's.
    assert_eq!(pair.name, "fk_pair");
    assert_eq!(pair.columns, vec!["r", "c"]);
    assert_eq!(pair.referenced_table, QualifiedName::new(&db.name, "Parent Table"));
    assert_eq!(pair.referenced_columns, vec!["region", "code"]);
    assert!(schema.partitioned.is_empty());
    Ok(())
}

#[tokio::test]
async fn views_come_after_the_views_they_read() -> TestResult {
    let (db, _other, mut conn) = setup().await?;
    assert_eq!(views(&mut conn, &db.name).await?, vec!["z_base", "a_top"]);
    let empty = TestDb::create().await?;
    assert!(views(&mut conn, &empty.name).await?.is_empty());
    assert!(introspect(&mut conn, &empty.name).await?.tables.is_empty());
    Ok(())
}

#[tokio::test]
async fn scripts_recreate_the_schema_and_clean_drops_it() -> TestResult {
    let (db, other, mut conn) = setup().await?;
    let source = introspect(&mut conn, &db.name).await?;
    let tables: Vec<String> = source.tables.iter().map(|t| t.name.name.clone()).collect();
    let view_names = views(&mut conn, &db.name).await?;
    let scripts = schema_scripts(&mut conn, &db.name, &tables, &view_names).await?;

    assert!(scripts.pre_data.starts_with("SET FOREIGN_KEY_CHECKS=0;"));
    assert!(!scripts.pre_data.contains("CONSTRAINT `fk_"), "{}", scripts.pre_data);
    assert!(!scripts.pre_data.contains(&db.name), "{}", scripts.pre_data);
    // The counter carries over; the comment that mentions FOREIGN KEY stays with its table.
    assert!(scripts.pre_data.contains("AUTO_INCREMENT=3"), "{}", scripts.pre_data);
    assert!(
        scripts.pre_data.contains("COMMENT='not a FOREIGN KEY"),
        "{}",
        scripts.pre_data
    );
    assert!(scripts
        .post_data
        .contains(&format!("REFERENCES `{}`.`country` (`code`)", other.name)));
    assert!(!scripts.post_data.contains("DEFINER"), "{}", scripts.post_data);
    assert!(scripts
        .post_data
        .contains("CREATE OR REPLACE ALGORITHM=UNDEFINED VIEW `a_top` AS"));
    assert!(
        !scripts.post_data.contains(&format!("`{}`", db.name)),
        "{}",
        scripts.post_data
    );

    let target = TestDb::create().await?;
    let mut restore = target.conn().await?;
    restore.query_drop(&scripts.pre_data).await?;
    // Data goes in before the keys exist, as a restore loads it.
    restore
        .query_drop("INSERT INTO `Child` (`c`, `r`) VALUES ('a', 'de'); INSERT INTO `Parent Table` (`code`, `region`) VALUES ('a', 'de')")
        .await?;
    restore.query_drop(&scripts.post_data).await?;

    // The restored tables introspect as the source's did, keys, types and generated columns included.
    let restored = introspect(&mut restore, &target.name).await?;
    assert_eq!(restored.tables.len(), source.tables.len());
    for (copy, original) in restored.tables.iter().zip(&source.tables) {
        assert_eq!(copy.name.name, original.name.name);
        assert_eq!(copy.columns, original.columns);
        assert_eq!(copy.primary_key, original.primary_key);
        assert_eq!(copy.unique, original.unique);
        let keys = |t: &Table, own: &str| {
            t.foreign_keys
                .iter()
                .map(|k| {
                    let schema = if k.referenced_table.schema == own {
                        "SAME"
                    } else {
                        k.referenced_table.schema.as_str()
                    };
                    format!(
                        "{} {:?} {schema}.{} {:?}",
                        k.name, k.columns, k.referenced_table.name, k.referenced_columns
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(copy, &target.name), keys(original, &db.name));
    }
    assert_eq!(restored.tables[0].foreign_keys[0].name, "fk_pair");

    let rules: Vec<(String, String, String, String)> = restore
        .exec(
            "SELECT CONSTRAINT_NAME, REFERENCED_TABLE_NAME, DELETE_RULE, UPDATE_RULE \
             FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? ORDER BY CONSTRAINT_NAME",
            (&target.name,),
        )
        .await?;
    assert_eq!(
        rules,
        vec![
            (
                "fk_country".into(),
                "country".into(),
                "RESTRICT".into(),
                "RESTRICT".into()
            ),
            (
                "fk_pair".into(),
                "Parent Table".into(),
                "RESTRICT".into(),
                "CASCADE".into()
            ),
            (
                "fk_self".into(),
                "Parent Table".into(),
                "SET NULL".into(),
                "RESTRICT".into()
            ),
        ]
    );
    let checks: Vec<String> = restore
        .exec(
            "SELECT CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? ORDER BY 1",
            (&target.name,),
        )
        .await?;
    assert!(checks.contains(&"positive".to_string()), "{checks:?}");
    let next_id: Option<u64> = restore
        .exec_first(
            "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'Parent Table'",
            (&target.name,),
        )
        .await?;
    // The carried counter (3) went to the row inserted above.
    assert_eq!(next_id, Some(4));

    assert_eq!(views(&mut restore, &target.name).await?, vec!["z_base", "a_top"]);
    let rows: Vec<(String, Option<String>)> = restore.query("SELECT `code`, `note` FROM `a_top`").await?;
    assert_eq!(rows, vec![("a".to_string(), None)]);

    restore.query_drop(&scripts.clean).await?;
    let left: Vec<String> = restore
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
            (&target.name,),
        )
        .await?;
    assert!(left.is_empty(), "{left:?}");
    // Clean runs again without failing (IF EXISTS) and leaves foreign key checks on.
    restore.query_drop(&scripts.clean).await?;
    let checks_on: Option<i64> = restore.query_first("SELECT @@foreign_key_checks").await?;
    assert_eq!(checks_on, Some(1));
    Ok(())
}

#[tokio::test]
async fn real_create_statements_split() -> TestResult {
    let (_db, _other, mut conn) = setup().await?;
    let create: Option<(String, String)> = conn.query_first("SHOW CREATE TABLE `Child`").await?;
    let (_, create) = create.unwrap();
    let (table, keys) = split_foreign_keys("Child", &create);
    assert!(table.contains("CONSTRAINT `positive` CHECK"), "{table}");
    assert!(!table.contains("CONSTRAINT `fk_pair`"), "{table}");
    assert!(!table.contains(",\n)"), "{table}");
    assert_eq!(
        keys,
        vec!["ALTER TABLE `Child` ADD CONSTRAINT `fk_pair` FOREIGN KEY (`r`, `c`) REFERENCES `Parent Table` (`region`, `code`) ON UPDATE CASCADE"]
    );
    Ok(())
}

#[tokio::test]
async fn missing_objects_are_errors_with_the_server_message() -> TestResult {
    let (db, _other, mut conn) = setup().await?;
    let err = schema_scripts(&mut conn, &db.name, &["no such table".to_string()], &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such table") && err.contains("doesn't exist"), "{err}");
    Ok(())
}
