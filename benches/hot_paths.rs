//! Throughput of the per-row hot path: each transformer on its own (values/s on one core), the
//! deterministic engine against random mode, and rewriting COPY text rows with two transformed
//! columns out of eight. `cargo bench --bench hot_paths`; the end-to-end comparison with
//! pg_dump/pg_restore is `benches/e2e.sh`.

use std::hint::black_box;
use std::sync::Arc;

use connectors::postgres::copy_text::RowRewriter;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use transformers::{ColumnKind, ColumnSpec, Engine, Mode, Transformer, Value};

const INPUTS: usize = 10_000;

fn inputs(kind: &str) -> Vec<String> {
    (0..INPUTS)
        .map(|i| match kind {
            "email" => format!("user{i}.name@corp{}.example", i % 97),
            "phone" => format!("+1 (555) {:03}-{:04}", i % 1000, i),
            "card" => format!("4111 1111 {:04} {:04}", i % 10_000, (i * 7) % 10_000),
            "int" => (i as i64 * 7919).to_string(),
            _ => format!("Name Number {i}"),
        })
        .collect()
}

fn rule(name: &str, options: serde_json::Value, column: ColumnSpec, mode: Mode) -> Arc<dyn Transformer> {
    transformers::build(name, &options, &column, &Engine::new(b"bench-salt", mode)).expect("a valid rule")
}

fn text(unique: bool) -> ColumnSpec {
    ColumnSpec {
        unique,
        ..ColumnSpec::text("bench.t.c")
    }
}

fn transformers(c: &mut Criterion) {
    let int4 = ColumnSpec {
        kind: ColumnKind::Int {
            bits: 32,
            unsigned: false,
        },
        ..text(false)
    };
    let cases: Vec<(&str, Arc<dyn Transformer>, &str)> = vec![
        (
            "first-name",
            rule("first-name", serde_json::Value::Null, text(false), Mode::Deterministic),
            "name",
        ),
        (
            "last-name",
            rule("last-name", serde_json::Value::Null, text(false), Mode::Deterministic),
            "name",
        ),
        (
            "full-name",
            rule("full-name", serde_json::Value::Null, text(false), Mode::Deterministic),
            "name",
        ),
        (
            "email",
            rule("email", serde_json::Value::Null, text(false), Mode::Deterministic),
            "email",
        ),
        (
            "email/random-mode",
            rule("email", serde_json::Value::Null, text(false), Mode::Random),
            "email",
        ),
        (
            "email/unique",
            rule("email", serde_json::Value::Null, text(true), Mode::Deterministic),
            "email",
        ),
        (
            "phone-number/keep_format",
            rule(
                "phone-number",
                serde_json::json!({"keep_format": true}),
                text(false),
                Mode::Deterministic,
            ),
            "phone",
        ),
        (
            "credit-card",
            rule("credit-card", serde_json::Value::Null, text(false), Mode::Deterministic),
            "card",
        ),
        (
            "hash",
            rule("hash", serde_json::Value::Null, text(false), Mode::Deterministic),
            "name",
        ),
        (
            "random/int4",
            rule("random", serde_json::Value::Null, int4.clone(), Mode::Deterministic),
            "int",
        ),
        (
            "random/int4-unique",
            rule(
                "random",
                serde_json::Value::Null,
                ColumnSpec { unique: true, ..int4 },
                Mode::Deterministic,
            ),
            "int",
        ),
        (
            "redacted",
            rule("redacted", serde_json::Value::Null, text(false), Mode::Deterministic),
            "name",
        ),
    ];
    let mut group = c.benchmark_group("transformer");
    group.throughput(Throughput::Elements(INPUTS as u64));
    for (name, transformer, kind) in cases {
        let values = inputs(kind);
        group.bench_function(name, |b| {
            b.iter(|| {
                for v in &values {
                    black_box(transformer.transform(Value::text(v.as_str())).expect("transforms"));
                }
            })
        });
    }
    group.finish();
}

fn copy_rows(c: &mut Criterion) {
    let email = rule("email", serde_json::Value::Null, text(true), Mode::Deterministic);
    let first = rule("first-name", serde_json::Value::Null, text(false), Mode::Deterministic);
    let columns = ["id", "email", "first_name", "a", "b", "c", "d", "e"];
    let rows: Vec<u8> = (0..INPUTS)
        .flat_map(|i| {
            format!(
                "{i}\tuser{i}@corp.example\tName{i}\tsome\\ttext {i}\t\\N\t2024-01-01 10:00:00+00\t{}\tt\n",
                i * 3
            )
            .into_bytes()
        })
        .collect();
    let mut group = c.benchmark_group("copy_text");
    group.throughput(Throughput::Bytes(rows.len() as u64));
    let rewrite = |rules: Vec<Option<Arc<dyn Transformer>>>| {
        RowRewriter::new(columns.iter().map(|c| c.to_string()).zip(rules).collect())
    };
    let none = rewrite(vec![None; 8]);
    let two = rewrite(vec![None, Some(email), Some(first), None, None, None, None, None]);
    for (name, rewriter) in [("rewrite/no-rules", none), ("rewrite/2-of-8-columns", two)] {
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || Vec::with_capacity(rows.len() * 2),
                |out| {
                    for line in rows[..rows.len() - 1].split(|&b| b == b'\n') {
                        rewriter.rewrite(line, out).expect("rewrites");
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, transformers, copy_rows);
criterion_main!(benches);
