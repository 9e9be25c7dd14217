//! What people actually ask (issue 14, item 3): time grains, periods against
//! the data's latest date, rows with the names of the rows they reference,
//! and the answer saying what it assumed (period anchors, ties, readings
//! that may not be meant). The SQL is checked as text on the shop schema and
//! run against the demo database, whose tables the shop schema mirrors.

use super::*;

fn trust_of(q: &str) -> crate::engine::llm::trust::Trust {
    BuiltinGenerator::new()
        .generate_sync(&request(q))
        .trust
        .unwrap_or_else(|| panic!("{q:?}: no answer"))
}

fn codes(q: &str) -> Vec<String> {
    trust_of(q)
        .assumptions
        .into_iter()
        .map(|a| a.code)
        .collect()
}

#[test]
fn time_grains_group_and_read_in_time_order() {
    let month = "strftime('%Y-%m', order_date)";
    assert_eq!(
        sql("Show monthly revenue for 2025"),
        format!(
            "SELECT {month} AS month, SUM(total) AS total FROM orders \
             WHERE strftime('%Y', order_date) = '2025' GROUP BY {month} ORDER BY {month}"
        )
    );
    // The adjective groups wherever it stands, as "per month" does.
    assert_eq!(
        sql("Show monthly revenue for 2025"),
        sql("Revenue per month for 2025")
    );
    let quarter = "strftime('%Y', order_date) || '-Q' || ((CAST(strftime('%m', order_date) AS INTEGER) + 2) / 3)";
    assert_eq!(
        sql("Revenue by quarter"),
        format!(
            "SELECT {quarter} AS quarter, SUM(total) AS total FROM orders \
             GROUP BY {quarter} ORDER BY {quarter}"
        )
    );
    // Counts per grain read in time order, not by size.
    assert_eq!(
        sql("Weekly order count"),
        "SELECT strftime('%Y-W%W', order_date) AS week, COUNT(*) AS count FROM orders \
         GROUP BY strftime('%Y-W%W', order_date) ORDER BY strftime('%Y-W%W', order_date)"
    );
    assert!(sql("Yearly revenue").contains("GROUP BY strftime('%Y', order_date)"));
    assert!(sql("daily orders in December 2025").starts_with("SELECT date(order_date) AS day"));
    // A grain whose date is on another table joins it, and is refused
    // when that would count rows twice: never dropped silently.
    assert!(unanswerable("What is the yearly price of products?").contains("more than once"));
}

#[test]
fn periods_are_counted_from_the_latest_date_and_say_so() {
    let anchor = "(SELECT MAX(order_date) FROM orders)";
    assert_eq!(
        sql("How many orders last year?"),
        format!(
            "SELECT COUNT(*) FROM orders WHERE order_date >= date(date({anchor}, 'start of year'), '-1 years') \
             AND order_date < date({anchor}, 'start of year')"
        )
    );
    assert_eq!(
        sql("Revenue this month"),
        format!(
            "SELECT SUM(total) AS total FROM orders WHERE order_date >= date({anchor}, 'start of month')"
        )
    );
    assert!(
        sql("Orders in the last 30 days")
            .ends_with(&format!("WHERE order_date > date({anchor}, '-30 days')"))
    );
    // The anchor is an assumption, stated with its column: never high.
    let t = trust_of("How many orders last year?");
    assert_eq!(t.confidence, Confidence::Medium, "{t:?}");
    let note = &t
        .assumptions
        .iter()
        .find(|a| a.code == "period_anchor")
        .expect("anchor stated")
        .message;
    assert!(
        note.contains("'last year'") && note.contains("latest orders.order_date"),
        "{note}"
    );
    // An absolute month needs no anchor.
    assert_eq!(
        sql("Revenue in December 2025"),
        "SELECT SUM(total) AS total FROM orders WHERE strftime('%Y-%m', order_date) = '2025-12'"
    );
    assert_eq!(
        trust_of("Revenue in December 2025").confidence,
        Confidence::High
    );
    // The date column named in the question is the one filtered.
    assert!(
        sql("customers created in the last 3 months")
            .contains("created_at > date((SELECT MAX(created_at) FROM customers), '-3 months')")
    );
}

#[test]
fn dialects_write_their_own_date_arithmetic() {
    let mut pg = request("How many orders last year?");
    pg.dialect = Dialect::Postgres;
    let s = gen_req(&pg).0.unwrap();
    assert!(
        s.contains("order_date >= (date_trunc('year', (SELECT MAX(order_date) FROM orders)) - INTERVAL '1 years')"),
        "{s}"
    );
    let mut my = request("Revenue by quarter");
    my.dialect = Dialect::Mysql;
    let s = gen_req(&my).0.unwrap();
    assert!(
        s.starts_with("SELECT CONCAT(YEAR(order_date), '-Q', QUARTER(order_date)) AS quarter"),
        "{s}"
    );
}

#[test]
fn references_show_names_through_joins_and_self_joins() {
    let managers = "SELECT employees.first_name, employees.last_name, \
                    manager.first_name AS manager_first_name, manager.last_name AS manager_last_name \
                    FROM employees LEFT JOIN employees AS manager ON employees.manager_id = manager.id";
    assert_eq!(sql("Who is the manager of each sales rep?"), managers);
    assert_eq!(sql("List employees with their manager names"), managers);
    assert_eq!(sql("Show employees and their managers"), managers);
    assert_eq!(
        sql("Orders with customer names"),
        "SELECT orders.*, customers.name AS customer_name FROM orders \
         LEFT JOIN customers ON orders.customer_id = customers.id"
    );
    // A join is inferred: medium, and said.
    assert!(codes("Who is the manager of each sales rep?").contains(&"joined_tables".to_string()));
    // A key compared with a value is a filter, not a reference.
    assert!(!sql("Orders with customer id 5").contains("LEFT JOIN"));
    // Named columns of another table keep their own reading.
    assert!(!sql("What are the customer names and order dates?").contains("LEFT JOIN"));
}

#[test]
fn readings_that_may_not_be_meant_are_said() {
    // Two bounds that exclude each other: low, with the reason.
    let t = trust_of("Which products have a price above 100 and below 20?");
    assert_eq!(t.confidence, Confidence::Low, "{t:?}");
    assert_eq!(t.assumptions[0].code, "contradictory_filters");
    // "France and Germany" read as either: said, so not high.
    let t = trust_of("How many customers are in France and Germany?");
    assert_eq!(t.confidence, Confidence::Medium, "{t:?}");
    assert!(t.assumptions.iter().any(|a| a.code == "values_either"));
    // A ranking states its cut-off (ties) without doubting the answer.
    let t = trust_of("What are the 3 most expensive products?");
    assert!(t.assumptions.iter().any(|a| a.code == "ties"), "{t:?}");
    // A ranking that names nothing to show shows the measure it ranked by;
    // named columns are shown as asked.
    assert_eq!(
        sql("What is the most expensive product?"),
        "SELECT name, price FROM products ORDER BY price DESC, id DESC LIMIT 1"
    );
    assert_eq!(
        sql("What is the name of the cheapest product?"),
        "SELECT name FROM products ORDER BY price ASC, id ASC LIMIT 1"
    );
    // "ordered by ascending price" orders by the price.
    assert_eq!(
        sql("What are the names of products ordered by ascending price?"),
        "SELECT name FROM products ORDER BY price"
    );
}

#[test]
fn trained_periods_and_grains_answer_only_the_same_ones() {
    let last_year = sql("How many orders last year?");
    let mut req = request("How many orders this year?");
    req.context.examples = vec![example("How many orders last year?", &last_year, 0.95)];
    let (got, _) = gen_req(&req);
    assert_ne!(got.unwrap(), last_year, "'this year' is not 'last year'");
    let monthly = sql("Monthly revenue");
    let mut req = request("Yearly revenue");
    req.context.examples = vec![example("Monthly revenue", &monthly, 0.9)];
    let (got, _) = gen_req(&req);
    assert_ne!(got.unwrap(), monthly, "'yearly' is not 'monthly'");
}

/// The SQL runs on the real demo database and means what was asked.
#[tokio::test]
async fn answers_run_on_the_demo_database() {
    use sqlx::{ConnectOptions, Row, sqlite::SqliteConnectOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    crate::connectors::demo::ensure_demo_database(&path)
        .await
        .unwrap();
    let mut conn = SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await
        .unwrap();
    let rows = |q: &str| sqlx::query(sqlx::AssertSqlSafe(sql(q)));

    // Every employee once, with the manager's name where there is one.
    let managed = rows("Who is the manager of each sales rep?")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let employees: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM employees")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(managed.len() as i64, employees);
    let with_manager = managed
        .iter()
        .filter(|r| r.get::<Option<String>, _>("manager_first_name").is_some())
        .count() as i64;
    let expected: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM employees WHERE manager_id IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(expected > 0);
    assert_eq!(with_manager, expected);

    // "last year" is the calendar year before the latest order's year.
    let last_year: i64 = rows("How many orders last year?")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    let by_hand: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders WHERE CAST(strftime('%Y', order_date) AS INTEGER) = \
         (SELECT CAST(strftime('%Y', MAX(order_date)) AS INTEGER) - 1 FROM orders)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(by_hand > 0);
    assert_eq!(last_year, by_hand);

    // Monthly revenue: one row per month, adding up to the year.
    let latest_year: String =
        sqlx::query_scalar("SELECT strftime('%Y', MAX(order_date)) FROM orders")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let months = sqlx::query(sqlx::AssertSqlSafe(sql(&format!(
        "Show monthly revenue for {latest_year}"
    ))))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(months.len(), 12);
    let sum: f64 = months.iter().map(|r| r.get::<f64, _>("total")).sum();
    let year: f64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT SUM(total) FROM orders WHERE strftime('%Y', order_date) = '{latest_year}'"
    )))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!((sum - year).abs() < 0.01, "{sum} vs {year}");

    // The last 30 days end at the latest order, whatever today is.
    let recent = rows("Orders in the last 30 days")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert!(!recent.is_empty());
    for q in [
        "Revenue by quarter",
        "Weekly order count",
        "Orders with customer names",
    ] {
        rows(q).fetch_all(&mut conn).await.unwrap();
    }
}

#[test]
fn a_plain_year_is_read_as_a_year() {
    // After a grain, or before the noun at the head of what is asked for,
    // a year-like number is the year, as it is after "in" or "for".
    let in_2025 = "strftime('%Y', order_date) = '2025'";
    assert!(sql("Orders per month 2025").contains(in_2025));
    assert_eq!(
        sql("Orders per month 2025"),
        sql("Orders per month in 2025")
    );
    assert!(
        sql("Show 2025 revenue by category").contains("strftime('%Y', orders.order_date) = '2025'")
    );
    assert!(sql("2024 orders by country").contains("strftime('%Y', orders.order_date) = '2024'"));
    // A number that is not year-like is still refused where it means nothing.
    assert!(unanswerable("Orders per month 12345").contains("the number 12345"));
}
