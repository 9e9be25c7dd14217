//! Pipeline overhead per question, without the LLM and the database: what
//! `Engine::ask` costs around the model call and the query. Budget: p50
//! under 2 ms (issue 6).
//!
//! Setup: the demo database (5 tables) with 200 trained question→SQL pairs,
//! an in-memory app store, SQL and result caches off, and a provider that
//! builds the real prompt (as the OpenAI and Anthropic providers do) and
//! answers at once. Measured:
//!
//! - the parts: retrieval (embed + search + load items + value hints; the
//!   index synced once from the store, as `serve`'s is), the
//!   prompt build (demo schema; a 200-table schema that must be linked into
//!   a 1,500-token budget), validation;
//! - a whole `Engine::ask` (retrieval, prompt, validation, execution,
//!   history write), and the execution of its SQL on its own;
//! - p50/p90 of one ask minus the p50 execution, printed at the end as
//!   "overhead per question".

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use insight::app::{App, AppOverrides};
use insight::config::Config;
use insight::domain::{ColumnInfo, ForeignKey, SchemaInfo, TableInfo};
use insight::domain::{ConnectionId, Dialect, Question, TrainingKind};
use insight::engine::llm::{
    Generation, GenerationOutcome, GenerationRequest, LlmError, LlmProvider, RetrievedContext,
    TextCompletion, TextRequest, TokenUsage,
};
use insight::engine::pipeline::RequestContext;
use insight::engine::prompt::build_prompt;
use insight::engine::training::TrainingInput;
use insight::store::{Store, TrainingSource, TrainingStatus};

const QUESTION: &str = "How many customers from Germany placed orders in 2024?";
const ANSWER: &str = "SELECT COUNT(DISTINCT c.id) FROM customers c JOIN orders o ON o.customer_id = c.id \
                      WHERE c.country = 'Germany' AND strftime('%Y', o.order_date) = '2024'";

/// Builds the prompt a remote provider would send, then answers at once.
struct InstantProvider;

#[async_trait]
impl LlmProvider for InstantProvider {
    fn name(&self) -> &str {
        "instant"
    }
    fn model(&self) -> &str {
        "none"
    }
    async fn generate(&self, req: &GenerationRequest) -> Result<Generation, LlmError> {
        let prompt = build_prompt(req);
        Ok(Generation {
            outcome: GenerationOutcome::Sql { sql: ANSWER.into() },
            usage: TokenUsage {
                prompt_tokens: prompt.estimated_tokens as u64,
                completion_tokens: 0,
            },
            strategy: None,
            trust: None,
        })
    }
    async fn complete_text(&self, _: &TextRequest) -> Result<Option<TextCompletion>, LlmError> {
        Ok(None)
    }
    async fn ping(&self) -> Result<(), LlmError> {
        Ok(())
    }
}

/// Question→SQL pair `i` of a deterministic mix over the demo schema.
fn pair(i: usize) -> (String, String) {
    const COUNTRIES: &[&str] = &["Germany", "France", "Japan", "Brazil", "Canada", "Spain"];
    const CATEGORIES: &[&str] = &["Books", "Garden", "Toys", "Electronics", "Sports"];
    let country = COUNTRIES[i % COUNTRIES.len()];
    let category = CATEGORIES[i % CATEGORIES.len()];
    let year = 2019 + i % 6;
    match i % 5 {
        0 => (
            format!("How many customers are there in {country}? ({i})"),
            format!("SELECT COUNT(*) FROM customers WHERE country = '{country}' AND id > {i}"),
        ),
        1 => (
            format!("Total revenue of {category} products in {year} ({i})"),
            format!(
                "SELECT SUM(oi.quantity * oi.unit_price) FROM order_items oi JOIN products p ON p.id = oi.product_id \
                 JOIN orders o ON o.id = oi.order_id WHERE p.category = '{category}' AND strftime('%Y', o.order_date) = '{year}'"
            ),
        ),
        2 => (
            format!("Top {} customers by number of orders ({i})", 3 + i % 7),
            format!(
                "SELECT c.name, COUNT(*) AS n FROM customers c JOIN orders o ON o.customer_id = c.id \
                 GROUP BY c.id ORDER BY n DESC LIMIT {}",
                3 + i % 7
            ),
        ),
        3 => (
            format!("Average order total per status in {year} ({i})"),
            format!(
                "SELECT status, AVG(total) FROM orders WHERE strftime('%Y', order_date) = '{year}' GROUP BY status"
            ),
        ),
        _ => (
            format!("Which employees were hired after {year}? ({i})"),
            format!("SELECT first_name, last_name FROM employees WHERE hire_date > '{year}-01-01'"),
        ),
    }
}

/// 200 tables: a sales core and 196 unrelated tables chained by foreign
/// keys (the same shape as the prompt module's large-schema tests).
fn big_schema() -> SchemaInfo {
    let col = |name: &str| ColumnInfo {
        name: name.into(),
        data_type: "TEXT".into(),
        nullable: true,
        ..ColumnInfo::default()
    };
    let table = |name: &str, cols: &[&str], fks: &[(&str, &str)]| TableInfo {
        name: name.into(),
        columns: std::iter::once("id")
            .chain(cols.iter().copied())
            .map(col)
            .collect(),
        primary_key: vec!["id".into()],
        foreign_keys: fks
            .iter()
            .map(|(c, t)| ForeignKey {
                columns: vec![(*c).into()],
                ref_table: (*t).into(),
                ref_columns: vec!["id".into()],
            })
            .collect(),
        ..TableInfo::default()
    };
    let mut tables = vec![
        table("customers", &["name", "country", "email", "segment"], &[]),
        table(
            "orders",
            &["customer_id", "order_date", "status", "total"],
            &[("customer_id", "customers")],
        ),
        table(
            "shipments",
            &["order_id", "carrier", "delivered_at"],
            &[("order_id", "orders")],
        ),
    ];
    for i in 0..197 {
        let name = format!("module_{i:03}_records");
        let prev = format!("module_{:03}_records", i.max(1) - 1);
        let mut fks: Vec<(&str, &str)> = Vec::new();
        if i > 0 {
            fks.push(("parent_id", &prev));
        }
        if i % 7 == 0 {
            fks.push(("customer_id", "customers"));
        }
        tables.push(table(
            &name,
            &[
                "code",
                "title",
                "description",
                "created_at",
                "amount",
                "region",
                "parent_id",
                "customer_id",
            ],
            &fks,
        ));
    }
    SchemaInfo { tables }
}

/// p-th percentile (nearest rank) of sorted durations.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn bench_pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let app = runtime.block_on(async {
        let mut config = Config::load_from(None, &[]).expect("default config");
        config.data_dir = dir.path().to_path_buf();
        config.cache.sql_ttl_secs = 0;
        config.cache.result_ttl_secs = 0;
        config.redis_url = None;
        insight::config::secrets::ensure_dev_secrets(&mut config).expect("secrets");
        let store = Store::in_memory().await.expect("store");
        App::build(
            config,
            AppOverrides {
                llm: Some(Arc::new(InstantProvider)),
                store: Some(store),
            },
        )
        .await
        .expect("app")
    });
    let engine = &app.engine;
    let demo = ConnectionId::parse("demo").expect("id");
    let rc = RequestContext::default();
    runtime.block_on(async {
        for i in 0..200 {
            let (question, sql) = pair(i);
            let input = TrainingInput {
                kind: TrainingKind::QuestionSql,
                content: question,
                sql: Some(sql),
            };
            engine
                .add_training(
                    Some(&demo),
                    input,
                    TrainingSource::User,
                    TrainingStatus::Active,
                    &rc,
                )
                .await
                .expect("training");
        }
    });
    // As under `serve`, whose index follows the store: one sync step, so
    // the engine knows the training version its index holds (retrieval
    // then reads items from the store's in-memory copy for that version).
    runtime
        .block_on(engine.sync_index_from_store(&mut Default::default()))
        .expect("index sync");
    let conn = engine.connections.get(&demo).expect("demo connection");
    let schema = conn.schema();
    let question = Question::parse(QUESTION).expect("question");
    let context = runtime
        .block_on(engine.retrieve(&conn, QUESTION, &Default::default()))
        .expect("retrieve");
    assert!(!context.examples.is_empty() && !context.ddl.is_empty());
    let request = GenerationRequest {
        question: QUESTION.into(),
        dialect: Dialect::Sqlite,
        schema: schema.clone(),
        context,
        previous_attempts: vec![],
        correlation_id: None,
        token_budget: engine.settings().token_budget,
    };
    let big = Arc::new(big_schema());
    let big_request = GenerationRequest {
        question: "Which carrier delivered the orders of customers from Japan?".into(),
        dialect: Dialect::Sqlite,
        schema: big,
        context: RetrievedContext::default(),
        previous_attempts: vec![],
        correlation_id: None,
        token_budget: 1500,
    };
    assert!(build_prompt(&big_request).estimated_tokens <= 1500);
    let validated =
        insight::sql::validate(ANSWER, Dialect::Sqlite, &schema, &conn.policy()).expect("valid");

    let mut group = c.benchmark_group("pipeline");
    group.bench_function("retrieve (embed, search, load, hints)", |b| {
        b.iter(|| {
            runtime
                .block_on(engine.retrieve(&conn, black_box(QUESTION), &Default::default()))
                .expect("retrieve")
        })
    });
    group.bench_function("prompt: demo schema, 5 examples", |b| {
        b.iter(|| build_prompt(black_box(&request)))
    });
    group.bench_function("prompt: 200 tables linked into 1,500 tokens", |b| {
        b.iter(|| build_prompt(black_box(&big_request)))
    });
    group.bench_function("validate", |b| {
        b.iter(|| {
            insight::sql::validate(black_box(ANSWER), Dialect::Sqlite, &schema, &conn.policy())
                .expect("valid")
        })
    });
    group.bench_function("execute on the demo database", |b| {
        b.iter(|| {
            runtime
                .block_on(conn.connector.execute(&validated, conn.limits))
                .expect("rows")
        })
    });
    group.bench_function("ask (instant provider)", |b| {
        b.iter(|| {
            runtime
                .block_on(engine.ask(&question, Some(&demo), &rc, None))
                .expect("answer")
        })
    });
    group.finish();

    // Percentiles of one whole ask, and of the execution it contains.
    let n = 2000;
    let mut asks = Vec::with_capacity(n);
    let mut execs = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        runtime
            .block_on(conn.connector.execute(&validated, conn.limits))
            .expect("rows");
        execs.push(t.elapsed());
        let t = Instant::now();
        runtime
            .block_on(engine.ask(&question, Some(&demo), &rc, None))
            .expect("answer");
        asks.push(t.elapsed());
    }
    asks.sort_unstable();
    execs.sort_unstable();
    let exec = pct(&execs, 50.0);
    println!(
        "\nask with an instant provider, {n} runs: p50 {:?}, p90 {:?}, p99 {:?}; execution alone p50 {exec:?}",
        pct(&asks, 50.0),
        pct(&asks, 90.0),
        pct(&asks, 99.0)
    );
    println!(
        "overhead per question (ask minus execution): p50 {:?}, p90 {:?}",
        pct(&asks, 50.0).saturating_sub(exec),
        pct(&asks, 90.0).saturating_sub(exec)
    );
}

criterion_group!(benches, bench_pipeline);
criterion_main!(benches);
