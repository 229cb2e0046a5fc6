//! Throughput of the per-row hot path: each transformer on its own (values/s on one core), the
//! deterministic engine against random mode, and rewriting COPY text rows with two transformed
//! columns out of eight. `cargo bench --bench hot_paths`; the end-to-end comparison with
//! pg_dump/pg_restore is `benches/e2e.sh`.

use std::hint::black_box;
use std::sync::Arc;

use connectors::postgres::copy_text::RowRewriter;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use transformers::{ColumnKind, ColumnSpec, Engine, Mode, Row, Transformer, Value};

const INPUTS: usize = 10_000;

fn inputs(kind: &str) -> Vec<String> {
    (0..INPUTS)
        .map(|i| match kind {
            "email" => format!("user{i}.name@corp{}.example", i % 97),
            "phone" => format!("+1 (555) {:03}-{:04}", i % 1000, i),
            "card" => format!("4111 1111 {:04} {:04}", i % 10_000, (i * 7) % 10_000),
            "int" => (i as i64 * 7919).to_string(),
            "ip" => format!("10.{}.{}.{}", i / 65536, i / 256 % 256, i % 256),
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

/// Two fixed columns for row-aware rules (templates); other rules ignore the row.
struct BenchRow;

impl Row for BenchRow {
    fn original(&self, column: &str) -> Option<Value<'_>> {
        self.current(column)
    }
    fn current(&self, column: &str) -> Option<Value<'_>> {
        match column {
            "a" => Some(Value::text("Jeanne")),
            "b" => Some(Value::text("Dupont")),
            _ => None,
        }
    }
}

fn transformers(c: &mut Criterion) {
    use serde_json::json;
    let int4 = ColumnSpec {
        kind: ColumnKind::Int {
            bits: 32,
            unsigned: false,
        },
        ..text(false)
    };
    let unique_int4 = ColumnSpec {
        unique: true,
        ..int4.clone()
    };
    // (label, transformer, options, column, mode, inputs)
    let table: Vec<(&str, &str, serde_json::Value, ColumnSpec, Mode, &str)> = vec![
        (
            "first-name",
            "first-name",
            json!(null),
            text(false),
            Mode::Deterministic,
            "name",
        ),
        (
            "last-name",
            "last-name",
            json!(null),
            text(false),
            Mode::Deterministic,
            "name",
        ),
        (
            "full-name",
            "full-name",
            json!(null),
            text(false),
            Mode::Deterministic,
            "name",
        ),
        ("email", "email", json!(null), text(false), Mode::Deterministic, "email"),
        (
            "email/random-mode",
            "email",
            json!(null),
            text(false),
            Mode::Random,
            "email",
        ),
        (
            "email/unique",
            "email",
            json!(null),
            text(true),
            Mode::Deterministic,
            "email",
        ),
        (
            "username",
            "username",
            json!(null),
            text(false),
            Mode::Deterministic,
            "name",
        ),
        (
            "username/unique",
            "username",
            json!(null),
            text(true),
            Mode::Deterministic,
            "name",
        ),
        (
            "phone-number/country",
            "phone-number",
            json!({"country": "FR"}),
            text(false),
            Mode::Deterministic,
            "phone",
        ),
        (
            "phone-number/keep_format",
            "phone-number",
            json!({"keep_format": true}),
            text(false),
            Mode::Deterministic,
            "phone",
        ),
        (
            "street-address",
            "street-address",
            json!(null),
            text(false),
            Mode::Deterministic,
            "name",
        ),
        ("city", "city", json!(null), text(false), Mode::Deterministic, "name"),
        (
            "postcode",
            "postcode",
            json!(null),
            text(false),
            Mode::Deterministic,
            "name",
        ),
        (
            "company",
            "company",
            json!(null),
            text(false),
            Mode::Deterministic,
            "name",
        ),
        (
            "credit-card",
            "credit-card",
            json!(null),
            text(false),
            Mode::Deterministic,
            "card",
        ),
        ("iban", "iban", json!(null), text(false), Mode::Deterministic, "name"),
        ("ssn", "ssn", json!(null), text(false), Mode::Deterministic, "name"),
        ("ipv4", "ipv4", json!(null), text(false), Mode::Deterministic, "ip"),
        (
            "ipv4/unique",
            "ipv4",
            json!(null),
            text(true),
            Mode::Deterministic,
            "ip",
        ),
        ("hash", "hash", json!(null), text(false), Mode::Deterministic, "name"),
        ("random/int4", "random", json!(null), int4, Mode::Deterministic, "int"),
        (
            "random/int4-unique",
            "random",
            json!(null),
            unique_int4,
            Mode::Deterministic,
            "int",
        ),
        (
            "redacted",
            "redacted",
            json!(null),
            text(false),
            Mode::Deterministic,
            "name",
        ),
        (
            "template",
            "template",
            json!({"template": "{{a}}.{{b}}"}),
            text(false),
            Mode::Deterministic,
            "name",
        ),
    ];
    let cases: Vec<(&str, Arc<dyn Transformer>, &str)> = table
        .into_iter()
        .map(|(label, name, options, column, mode, kind)| (label, rule(name, options, column, mode), kind))
        .collect();
    let mut group = c.benchmark_group("transformer");
    group.throughput(Throughput::Elements(INPUTS as u64));
    for (name, transformer, kind) in cases {
        let values = inputs(kind);
        group.bench_function(name, |b| {
            b.iter(|| {
                for v in &values {
                    black_box(
                        transformer
                            .transform_in_row(Value::text(v.as_str()), &BenchRow)
                            .expect("transforms"),
                    );
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

/// A MongoDB document through the rules: decoded, two paths rewritten (one inside an array),
/// re-encoded. Untouched collections skip this and copy the bytes.
fn bson_documents(c: &mut Criterion) {
    use connectors::mongodb::document::DocumentRewriter;
    use connectors::mongodb::paths::FieldPath;
    let email = rule("email", serde_json::Value::Null, text(false), Mode::Deterministic);
    let street = rule(
        "street-address",
        serde_json::Value::Null,
        text(false),
        Mode::Deterministic,
    );
    let mut docs: Vec<u8> = Vec::new();
    let mut ends = Vec::new();
    for i in 0..INPUTS {
        bson::doc! {
            "_id": i as i64,
            "email": format!("user{i}@corp.example"),
            "address": { "street": format!("{i} Main Street"), "city": "Paris" },
            "contacts": [ { "email": format!("work{i}@corp.example") }, { "phone": "+33 1 23 45 67 89" } ],
            "score": i as f64 * 0.5,
        }
        .to_writer(&mut docs)
        .unwrap();
        ends.push(docs.len());
    }
    let rewriter = DocumentRewriter::new(vec![
        (FieldPath::parse("contacts[].email").unwrap(), email),
        (FieldPath::parse("address.street").unwrap(), street),
    ]);
    let mut group = c.benchmark_group("bson");
    group.throughput(Throughput::Bytes(docs.len() as u64));
    group.bench_function("rewrite/2-paths", |b| {
        b.iter_batched_ref(
            || Vec::with_capacity(docs.len() * 2),
            |out| {
                let mut start = 0;
                for &end in &ends {
                    rewriter.rewrite(&docs[start..end], out).expect("rewrites");
                    start = end;
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Compressing a chunk at level 1, as a streaming encoder (one frame, through zstd's ring buffer)
/// against one-shot 1 MiB frames (what `ChunkWriter` writes), on 8 MiB of COPY-like rows.
fn chunk_compression(c: &mut Criterion) {
    use std::io::Write;
    let rows: Vec<u8> = (0..80_000u64)
        .flat_map(|i| {
            format!(
                "{i}\tuser{}@corp.example\tName{}\t{} Main Street\t2024-01-{:02} 10:00:00+00\t{}.{:02}\tt\n",
                i * 7919 % 100_003,
                i % 997,
                i % 4001,
                i % 28 + 1,
                i * 13 % 10_007,
                i % 100
            )
            .into_bytes()
        })
        .collect();
    let mut group = c.benchmark_group("chunk");
    group.throughput(Throughput::Bytes(rows.len() as u64));
    group.bench_function("zstd-1/streaming", |b| {
        b.iter(|| {
            let mut encoder = zstd::stream::write::Encoder::new(Vec::with_capacity(rows.len() / 3), 1).unwrap();
            for batch in rows.chunks(1 << 20) {
                encoder.write_all(batch).unwrap();
            }
            encoder.finish().unwrap().len()
        })
    });
    group.bench_function("zstd-1/1MiB-frames", |b| {
        let mut compressor = zstd::bulk::Compressor::new(1).unwrap();
        let mut frame = Vec::with_capacity(zstd::zstd_safe::compress_bound(1 << 20));
        b.iter(|| {
            let mut out = Vec::with_capacity(rows.len() / 3);
            for batch in rows.chunks(1 << 20) {
                frame.clear();
                compressor.compress_to_buffer(batch, &mut frame).unwrap();
                out.extend_from_slice(&frame);
            }
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, transformers, copy_rows, bson_documents, chunk_compression);
criterion_main!(benches);
