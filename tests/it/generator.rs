//! The builtin generator against the demo database: every question's SQL is
//! run next to a hand-written gold query and the result sets must agree.

use std::collections::BTreeMap;
use std::sync::Arc;

use insight::connectors::Connector;
use insight::connectors::demo::ensure_demo_database;
use insight::connectors::sqlite::SqliteConnector;
use insight::domain::SchemaInfo;
use insight::domain::{Dialect, TrainingKind};
use insight::engine::llm::builtin::BuiltinGenerator;
use insight::engine::llm::{
    ContextItem, FailedAttempt, GenerationOutcome, GenerationRequest, LlmProvider, RetrievedContext,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Row, SqliteConnection, ValueRef};

struct Demo {
    _dir: tempfile::TempDir,
    conn: SqliteConnection,
    schema: Arc<SchemaInfo>,
}

async fn demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    ensure_demo_database(&path).await.unwrap();
    let schema = SqliteConnector::open(&path, true)
        .await
        .unwrap()
        .introspect()
        .await
        .unwrap();
    let conn = SqliteConnectOptions::new()
        .filename(&path)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    Demo {
        _dir: dir,
        conn,
        schema: Arc::new(schema),
    }
}

fn request(schema: &Arc<SchemaInfo>, question: &str) -> GenerationRequest {
    GenerationRequest {
        question: question.into(),
        dialect: Dialect::Sqlite,
        schema: schema.clone(),
        context: RetrievedContext::default(),
        previous_attempts: vec![],
        correlation_id: None,
        token_budget: 0,
    }
}

/// A cell as comparable text: numbers rounded to cents so `SUM` order does not matter.
fn cell(row: &SqliteRow, i: usize) -> String {
    let raw = row.try_get_raw(i).unwrap();
    if raw.is_null() {
        return "NULL".into();
    }
    if let Ok(v) = row.try_get::<i64, _>(i) {
        return format!("{v}.00");
    }
    if let Ok(v) = row.try_get::<f64, _>(i) {
        return format!("{v:.2}");
    }
    row.try_get::<String, _>(i).unwrap_or_else(|_| "?".into())
}

async fn rows(conn: &mut SqliteConnection, sql: &str) -> Result<Vec<Vec<String>>, String> {
    let rs = sqlx::query(AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(rs
        .iter()
        .map(|r| (0..r.len()).map(|i| cell(r, i)).collect())
        .collect())
}

/// Does `got` answer like `gold`? Every gold column must appear in `got` (extra
/// columns such as labels are fine); rows compare as multisets, or in order
/// when the gold query has ORDER BY.
fn same_answer(gold: &[Vec<String>], got: &[Vec<String>], ordered: bool) -> bool {
    if gold.len() != got.len() {
        return false;
    }
    if gold.is_empty() {
        return true;
    }
    let gcols = gold[0].len();
    let ocols = got[0].len();
    let column = |rows: &[Vec<String>], c: usize| {
        let mut v: Vec<String> = rows.iter().map(|r| r[c].clone()).collect();
        if !ordered {
            v.sort();
        }
        v
    };
    let mut mapping = Vec::new();
    for g in 0..gcols {
        let want = column(gold, g);
        let Some(o) = (0..ocols).find(|o| !mapping.contains(o) && column(got, *o) == want) else {
            return false;
        };
        mapping.push(o);
    }
    let project = |rows: &[Vec<String>], cols: &[usize]| {
        let mut v: Vec<Vec<String>> = rows
            .iter()
            .map(|r| cols.iter().map(|&c| r[c].clone()).collect())
            .collect();
        if !ordered {
            v.sort();
        }
        v
    };
    project(gold, &(0..gcols).collect::<Vec<_>>()) == project(got, &mapping)
}

const CASES: &[(&str, &str)] = &[
    (
        "How many customers are there?",
        "SELECT COUNT(*) FROM customers",
    ),
    (
        "How many customers are in Germany?",
        "SELECT COUNT(*) FROM customers WHERE country = 'Germany'",
    ),
    (
        "Number of orders in 2024",
        "SELECT COUNT(*) FROM orders WHERE order_date LIKE '2024-%'",
    ),
    (
        "How many cancelled orders are there?",
        "SELECT COUNT(*) FROM orders WHERE status = 'cancelled'",
    ),
    (
        "How many delivered orders were placed in 2023?",
        "SELECT COUNT(*) FROM orders WHERE status = 'delivered' AND order_date BETWEEN '2023-01-01' AND '2023-12-31'",
    ),
    (
        "List all products in the Electronics category",
        "SELECT * FROM products WHERE category = 'Electronics'",
    ),
    (
        "Show customers from France",
        "SELECT * FROM customers WHERE country = 'France'",
    ),
    (
        "Corporate customers in Spain",
        "SELECT * FROM customers WHERE segment = 'Corporate' AND country = 'Spain'",
    ),
    (
        "What is the average price of products?",
        "SELECT AVG(price) FROM products",
    ),
    (
        "What is the total revenue?",
        "SELECT SUM(total) FROM orders",
    ),
    (
        "What is the highest order total?",
        "SELECT MAX(total) FROM orders",
    ),
    (
        "Total revenue by country",
        "SELECT c.country, SUM(o.total) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.country",
    ),
    (
        "Number of orders per status",
        "SELECT status, COUNT(*) FROM orders GROUP BY status",
    ),
    (
        "How many customers per segment?",
        "SELECT segment, COUNT(*) FROM customers GROUP BY segment",
    ),
    (
        "Average price per category",
        "SELECT category, AVG(price) FROM products GROUP BY category",
    ),
    (
        "Number of products in each category",
        "SELECT category, COUNT(*) FROM products GROUP BY category",
    ),
    (
        "Revenue per product category",
        "SELECT p.category, SUM(i.quantity * i.unit_price) FROM order_items i JOIN products p ON p.id = i.product_id GROUP BY p.category",
    ),
    (
        "Total quantity sold per category",
        "SELECT p.category, SUM(i.quantity) FROM order_items i JOIN products p ON p.id = i.product_id GROUP BY p.category",
    ),
    (
        "Total sales per employee region",
        "SELECT e.region, SUM(o.total) FROM orders o JOIN employees e ON e.id = o.employee_id GROUP BY e.region",
    ),
    (
        "Average order total per year",
        "SELECT substr(order_date, 1, 4), AVG(total) FROM orders GROUP BY 1",
    ),
    (
        "Top 5 customers by total",
        "SELECT c.name, SUM(o.total) AS t FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.id ORDER BY t DESC LIMIT 5",
    ),
    (
        "Top 3 products by revenue",
        "SELECT p.name, SUM(i.quantity * i.unit_price) AS r FROM order_items i JOIN products p ON p.id = i.product_id GROUP BY p.id ORDER BY r DESC LIMIT 3",
    ),
    (
        "What is the most expensive product?",
        "SELECT name FROM products ORDER BY price DESC LIMIT 1",
    ),
    (
        "Cheapest product",
        "SELECT * FROM products ORDER BY price ASC LIMIT 1",
    ),
    (
        "Which employee has the most orders?",
        "SELECT e.first_name, e.last_name FROM orders o JOIN employees e ON e.id = o.employee_id GROUP BY e.id ORDER BY COUNT(*) DESC, e.id LIMIT 1",
    ),
    (
        "Which employee has the most orders, and how many?",
        "SELECT e.first_name, e.last_name, COUNT(*) AS n FROM orders o JOIN employees e ON e.id = o.employee_id GROUP BY e.id ORDER BY n DESC, e.id LIMIT 1",
    ),
    (
        "Latest 10 orders",
        "SELECT * FROM orders ORDER BY order_date DESC, id DESC LIMIT 10",
    ),
    (
        "Which countries do we have customers in?",
        "SELECT DISTINCT country FROM customers",
    ),
    (
        "List distinct product categories",
        "SELECT DISTINCT category FROM products",
    ),
    (
        "Products with price over 100",
        "SELECT * FROM products WHERE price > 100",
    ),
    (
        "Orders with a total of more than 1000",
        "SELECT * FROM orders WHERE total > 1000",
    ),
    (
        "Employees sorted by hire date",
        "SELECT * FROM employees ORDER BY hire_date, id",
    ),
    (
        "How many orders from customers in Germany?",
        "SELECT COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.country = 'Germany'",
    ),
    (
        "How many employees work in the West region?",
        "SELECT COUNT(*) FROM employees WHERE region = 'West'",
    ),
    (
        "Orders handled by Felix",
        "SELECT o.* FROM orders o JOIN employees e ON e.id = o.employee_id WHERE e.first_name = 'Felix'",
    ),
    (
        "How many customers have more than 10 orders?",
        "SELECT COUNT(*) FROM (SELECT customer_id FROM orders GROUP BY customer_id HAVING COUNT(*) > 10)",
    ),
    (
        "How many clients are in Small Business segment?",
        "SELECT COUNT(*) FROM customers WHERE segment = 'Small Business'",
    ),
    (
        "Customers created in 2023",
        "SELECT * FROM customers WHERE created_at LIKE '2023%'",
    ),
    (
        "How many Electronics products were sold in 2025?",
        "SELECT COUNT(DISTINCT p.id) FROM products p JOIN order_items i ON i.product_id = p.id JOIN orders o ON o.id = i.order_id WHERE p.category = 'Electronics' AND o.order_date LIKE '2025%'",
    ),
];

#[tokio::test]
async fn answers_questions_about_the_demo_database() {
    let mut d = demo().await;
    let generator = BuiltinGenerator::new();
    let mut failures = Vec::new();
    let mut strategies: BTreeMap<String, usize> = BTreeMap::new();
    for (question, gold) in CASES {
        let generation = generator
            .generate(&request(&d.schema, question))
            .await
            .unwrap();
        let sql = match generation.outcome {
            GenerationOutcome::Sql { sql } => sql,
            GenerationOutcome::Unanswerable { reason } => {
                failures.push(format!("{question}\n    unanswerable: {reason}"));
                continue;
            }
        };
        *strategies
            .entry(generation.strategy.unwrap_or_default())
            .or_default() += 1;
        let want = rows(&mut d.conn, gold).await.expect("gold SQL runs");
        assert!(
            !want.is_empty(),
            "gold for {question:?} returns no rows: a useless case"
        );
        match rows(&mut d.conn, &sql).await {
            Ok(got) if same_answer(&want, &got, gold.contains("ORDER BY")) => {}
            Ok(got) => failures.push(format!(
                "{question}\n    generated: {sql}\n    got {} rows, first {:?}; want {} rows, first {:?}",
                got.len(),
                got.first(),
                want.len(),
                want.first()
            )),
            Err(e) => failures.push(format!("{question}\n    generated: {sql}\n    error: {e}")),
        }
    }
    assert!(CASES.len() >= 25);
    assert!(
        failures.is_empty(),
        "{} of {} questions failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    assert!(strategies.len() >= 5, "shapes used: {strategies:?}");
}

#[tokio::test]
async fn nonsense_is_unanswerable() {
    let d = demo().await;
    let generator = BuiltinGenerator::new();
    for question in [
        "what is the meaning of life",
        "how many unicorns are there",
        "How many customers are happy?",
        "hello",
    ] {
        let g = generator
            .generate(&request(&d.schema, question))
            .await
            .unwrap();
        match g.outcome {
            GenerationOutcome::Unanswerable { reason } => {
                assert!(
                    reason.contains("customers") || reason.contains("happy"),
                    "{question}: {reason}"
                );
            }
            GenerationOutcome::Sql { sql } => {
                panic!("{question:?} should be unanswerable, got {sql}")
            }
        }
    }
    let g = generator
        .generate(&request(&d.schema, "how many unicorns are there"))
        .await
        .unwrap();
    let GenerationOutcome::Unanswerable { reason } = g.outcome else {
        unreachable!()
    };
    assert!(
        reason.contains("unicorns") && reason.contains("order_items"),
        "{reason}"
    );
}

#[tokio::test]
async fn trained_examples_are_reused_and_failed_sql_is_not_repeated() {
    let mut d = demo().await;
    let generator = BuiltinGenerator::new();
    let trained =
        "SELECT COUNT(*) FROM customers WHERE country = 'Germany' AND segment <> 'Corporate'";
    let example = |question: &str, score: f32| ContextItem {
        id: "ex-1".into(),
        kind: TrainingKind::QuestionSql,
        score,
        content: question.into(),
        sql: Some(trained.into()),
    };

    // A paraphrase with a low retrieval score still matches by content words.
    let mut req = request(&d.schema, "how many customers do we have in germany");
    req.context.examples = vec![example("How many customers are in Germany?", 0.41)];
    let g = generator.generate(&req).await.unwrap();
    assert_eq!(g.strategy.as_deref(), Some("trained_example"));
    assert_eq!(
        g.outcome,
        GenerationOutcome::Sql {
            sql: trained.into()
        }
    );

    // A close vector about another table is not reused.
    let mut req = request(&d.schema, "How many orders are there?");
    req.context.examples = vec![example("How many customers are there?", 0.93)];
    let g = generator.generate(&req).await.unwrap();
    assert_eq!(g.strategy.as_deref(), Some("count"));
    let GenerationOutcome::Sql { sql } = g.outcome else {
        panic!("expected SQL")
    };
    assert_eq!(
        rows(&mut d.conn, &sql).await.unwrap(),
        vec![vec!["1500.00".to_string()]]
    );

    // Once the trained SQL failed, the generator maps the question itself.
    let mut req = request(&d.schema, "How many customers are in Germany?");
    req.context.examples = vec![example("How many customers are in Germany?", 0.99)];
    req.previous_attempts = vec![FailedAttempt {
        sql: trained.into(),
        error: "boom".into(),
    }];
    let g = generator.generate(&req).await.unwrap();
    assert_eq!(g.strategy.as_deref(), Some("count"));
    let GenerationOutcome::Sql { sql } = g.outcome.clone() else {
        panic!("expected SQL")
    };
    assert_ne!(sql, trained);

    // And when that failed too, it gives up rather than repeat itself.
    req.previous_attempts.push(FailedAttempt {
        sql,
        error: "boom".into(),
    });
    let g = generator.generate(&req).await.unwrap();
    assert!(
        matches!(g.outcome, GenerationOutcome::Unanswerable { .. }),
        "{:?}",
        g.outcome
    );
}

#[tokio::test]
async fn close_trained_examples_are_adapted_to_the_question_values() {
    let mut d = demo().await;
    let generator = BuiltinGenerator::new();
    let trained =
        "SELECT COUNT(*) FROM customers WHERE country = 'Germany' AND segment <> 'Corporate'";
    let mut req = request(&d.schema, "How many customers are in France?");
    req.context.examples = vec![ContextItem {
        id: "ex-1".into(),
        kind: TrainingKind::QuestionSql,
        score: 0.7,
        content: "How many customers are in Germany?".into(),
        sql: Some(trained.into()),
    }];
    let g = generator.generate(&req).await.unwrap();
    assert_eq!(g.strategy.as_deref(), Some("adapted_example"));
    let GenerationOutcome::Sql { sql } = g.outcome else {
        panic!("expected SQL")
    };
    assert_eq!(sql, trained.replace("Germany", "France"));
    let gold = "SELECT COUNT(*) FROM customers WHERE country = 'France' AND segment <> 'Corporate'";
    assert_eq!(
        rows(&mut d.conn, &sql).await.unwrap(),
        rows(&mut d.conn, gold).await.unwrap()
    );

    // A question about another table never takes the example, however close.
    let mut req = request(&d.schema, "How many orders are in France?");
    req.context.examples = vec![ContextItem {
        id: "ex-1".into(),
        kind: TrainingKind::QuestionSql,
        score: 0.95,
        content: "How many customers are in Germany?".into(),
        sql: Some(trained.into()),
    }];
    let g = generator.generate(&req).await.unwrap();
    assert_ne!(g.strategy.as_deref(), Some("adapted_example"));
    assert_ne!(g.strategy.as_deref(), Some("trained_example"));
}
