//! Retrieval latency: the built-in embedder plus the embedded index over
//! 10,000 training items in one (connection, kind) partition, which is more
//! than a real connection holds. Budget: under 5 ms per question.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use insight::domain::TrainingKind;
use insight::engine::retrieval::{
    EmbeddedIndex, Embedder, HashingEmbedder, IndexEntry, VectorIndex,
};

const ITEMS: usize = 10_000;
const TOP_K: usize = 5;

const ENTITIES: &[&str] = &[
    "customers",
    "orders",
    "order_items",
    "products",
    "invoices",
    "payments",
    "shipments",
    "employees",
    "suppliers",
    "categories",
    "refunds",
    "subscriptions",
    "sessions",
    "tickets",
    "warehouses",
    "campaigns",
];
const MEASURES: &[&str] = &[
    "total revenue",
    "number of",
    "average unit price",
    "median delivery time",
    "sum of discounts",
    "count of distinct",
    "maximum quantity",
    "share of returns",
    "growth rate of",
    "churn of",
];
const DIMENSIONS: &[&str] = &[
    "per country",
    "by month",
    "per product category",
    "by sales rep",
    "per region",
    "by payment method",
    "per warehouse",
    "by signup week",
    "per channel",
    "by customer segment",
];
const FILTERS: &[&str] = &[
    "in Germany",
    "last quarter",
    "since 2023",
    "for premium customers",
    "this year",
    "excluding cancelled orders",
    "in the EU",
    "over 100 euros",
    "on weekends",
    "for new users",
];
const COLUMNS: &[&str] = &[
    "id INTEGER PRIMARY KEY",
    "customer_id INTEGER",
    "created_at TIMESTAMP",
    "unit_price REAL",
    "quantity INTEGER",
    "country TEXT",
    "status TEXT",
    "total_amount NUMERIC",
    "category_id INTEGER",
    "shipped_at TIMESTAMP",
    "email TEXT",
    "discount REAL",
    "region_code TEXT",
    "updatedBy TEXT",
];

/// Item `i` of a deterministic mix of questions (with their SQL) and DDL.
fn item(i: usize) -> String {
    let pick = |list: &[&'static str], salt: usize| list[(i / salt + i * 7 + salt) % list.len()];
    let entity = pick(ENTITIES, 1);
    if i.is_multiple_of(3) {
        let columns: Vec<&str> = (0..4).map(|c| pick(COLUMNS, 3 + c * 5)).collect();
        format!("CREATE TABLE {entity}_{i} ({})", columns.join(", "))
    } else {
        format!(
            "{} {entity} {} {}?\nSELECT COUNT(*) FROM {entity} WHERE batch = {i}",
            pick(MEASURES, 2),
            pick(DIMENSIONS, 11),
            pick(FILTERS, 13),
        )
    }
}

fn bench_retrieval(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let embedder = HashingEmbedder::default();
    let index = EmbeddedIndex::new(embedder.dim());
    runtime.block_on(async {
        for i in 0..ITEMS {
            let entry = IndexEntry {
                id: format!("item-{i:05}"),
                connection: "demo".into(),
                kind: TrainingKind::QuestionSql,
                vector: embedder.embed(&item(i)),
            };
            index.upsert(entry).await.expect("upsert");
        }
        assert_eq!(index.len().await.expect("len"), ITEMS);
    });

    let question =
        "What was the average unit price of order items per country in Germany last quarter?";
    let query = embedder.embed(question);

    let mut group = c.benchmark_group("retrieval_10k");
    group.bench_function("embed + search top-5", |b| {
        b.iter(|| {
            let vector = embedder.embed(black_box(question));
            let hits = runtime
                .block_on(index.search("demo", TrainingKind::QuestionSql, &vector, TOP_K))
                .expect("search");
            black_box(hits)
        })
    });
    group.bench_function("search only top-5", |b| {
        b.iter(|| {
            let hits = runtime
                .block_on(index.search("demo", TrainingKind::QuestionSql, black_box(&query), TOP_K))
                .expect("search");
            black_box(hits)
        })
    });
    group.bench_function("embed only", |b| {
        b.iter(|| black_box(embedder.embed(black_box(question))))
    });
    group.finish();
}

criterion_group!(benches, bench_retrieval);
criterion_main!(benches);
