//! The connector conformance suite: what every connector promises the
//! engine, each case written once against `Target` (a `Box<dyn Connector>`
//! on the seeded shop) and run on SQLite, PostgreSQL and MySQL/MariaDB as
//! one test per connector (`connectors::conformance::<case>::<connector>`).
//! Where the dialects rightly differ (type names, comments, the wording of
//! a refusal) the difference is data in `Kind` or `Shape`, not a second copy.

use std::time::{Duration, Instant};

use insight::connectors::{Budget, ConnectorError, ExecLimits};
use serde_json::json;

use super::fixture::{Kind, Target, fk, limits, unbudgeted};

/// Run each named case on every connector: a module per case with one test
/// per connector; a connector whose server is not configured skips.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            use super::super::fixture::{Kind, Target};

            async fn on(kind: Kind) {
                if let Some(target) = Target::open(kind).await {
                    super::$case(&target).await;
                }
            }

            #[tokio::test]
            async fn sqlite() {
                on(Kind::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                on(Kind::Postgres).await;
            }

            #[tokio::test]
            async fn mysql() {
                on(Kind::Mysql).await;
            }
        }
    )*};
}

conformance!(
    introspection_reads_tables_views_keys_and_values,
    row_cap_sets_truncated,
    writes_that_bypass_the_validator_are_refused_by_the_session,
    long_queries_time_out_and_the_connection_recovers,
    budgets_refuse_huge_values_and_expensive_plans,
);

/// How a connector's catalog describes the shop, where dialects differ.
struct Shape {
    name_type: &'static str,
    price_type: &'static str,
    placed_at_type: &'static str,
    /// Table and column comments are read (SQLite has none).
    comments: bool,
    /// What a view's `row_count` is.
    view_row_count: Option<u64>,
}

fn shape(kind: Kind) -> Shape {
    match kind {
        Kind::Sqlite => Shape {
            name_type: "VARCHAR(60)",
            price_type: "NUMERIC(10,2)",
            placed_at_type: "TIMESTAMP",
            comments: false,
            // SQLite counts a view's rows like a table's.
            view_row_count: Some(40),
        },
        Kind::Postgres => Shape {
            name_type: "character varying(60)",
            price_type: "numeric(10,2)",
            placed_at_type: "timestamp with time zone",
            comments: true,
            view_row_count: None,
        },
        Kind::Mysql => Shape {
            name_type: "varchar(60)",
            price_type: "decimal(10,2)",
            placed_at_type: "datetime",
            comments: true,
            view_row_count: None,
        },
    }
}

async fn introspection_reads_tables_views_keys_and_values(t: &Target) {
    let s = &t.schema;
    let want = shape(t.kind);
    let names: Vec<&str> = s.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "customer_orders",
            "customers",
            "kinds",
            "orders",
            "products"
        ]
    );

    let view = s.table("customer_orders").unwrap();
    assert!(view.is_view);
    assert!(view.primary_key.is_empty() && view.foreign_keys.is_empty());
    assert_eq!(view.row_count, want.view_row_count);

    let customers = s.table("customers").unwrap();
    assert!(!customers.is_view);
    assert_eq!(customers.primary_key, ["id"]);
    assert_eq!(customers.row_count, Some(3));
    let name = customers.column("name").unwrap();
    assert_eq!(name.data_type, want.name_type);
    assert!(!name.nullable);
    assert_eq!(name.sample_values, ["Ada", "Bo", "Čeněk"]);
    let segment = customers.column("segment").unwrap();
    assert!(segment.nullable);
    assert_eq!(segment.sample_values, ["retail"]);
    assert!(customers.column("id").unwrap().sample_values.is_empty());
    if want.comments {
        assert_eq!(customers.comment.as_deref(), Some("People who buy things"));
        assert_eq!(segment.comment.as_deref(), Some("Marketing segment"));
    } else {
        assert_eq!(customers.comment, None);
        assert!(customers.columns.iter().all(|c| c.comment.is_none()));
    }
    assert_eq!(customers.column("id").unwrap().comment, None);

    let products = s.table("products").unwrap();
    assert_eq!(products.primary_key, ["sku", "variant"]);
    assert_eq!(products.column("price").unwrap().data_type, want.price_type);

    let orders = s.table("orders").unwrap();
    assert_eq!(orders.row_count, Some(40));
    // In no promised order: SQLite lists foreign keys last declared first.
    let mut keys = orders.foreign_keys.clone();
    keys.sort_by(|a, b| a.columns.cmp(&b.columns));
    assert_eq!(
        keys,
        [
            fk(&["customer_id"], "customers", &["id"]),
            fk(&["sku", "variant"], "products", &["sku", "variant"]),
        ]
    );
    assert_eq!(
        orders.column("status").unwrap().sample_values,
        ["cancelled", "shipped"]
    );
    assert!(
        orders.column("note").unwrap().sample_values.is_empty(),
        "40 distinct values are too many to sample"
    );
    assert_eq!(
        orders.column("placed_at").unwrap().data_type,
        want.placed_at_type
    );
}

async fn row_cap_sets_truncated(t: &Target) {
    let sql = "SELECT id FROM orders ORDER BY id";
    let rs = t.run(sql, limits(5, 5000)).await.unwrap();
    assert_eq!(rs.rows, (1..=5).map(|i| vec![json!(i)]).collect::<Vec<_>>());
    assert!(rs.truncated);
    let rs = t.run(sql, limits(40, 5000)).await.unwrap();
    assert_eq!(rs.rows.len(), 40);
    assert!(!rs.truncated);
}

async fn writes_that_bypass_the_validator_are_refused_by_the_session(t: &Target) {
    // Defense in depth: writes handed to the connector as if they had passed
    // the validator (a test-only bypass) are refused by the session itself.
    for write in [
        "INSERT INTO customers VALUES (9, 'west', 'Eve', NULL)",
        "UPDATE customers SET name = 'x'",
        "DELETE FROM customers",
        "CREATE TABLE pwned (x int)",
    ] {
        let bypass = insight::sql::ValidatedSql::bypass_for_tests(write, t.kind.dialect());
        let err = t.conn.execute(&bypass, limits(10, 5000)).await.unwrap_err();
        assert!(
            err.to_string().contains(t.kind.read_only_error()),
            "{write}: {err}"
        );
    }
    let rs = t
        .run("SELECT count(*) AS n FROM customers", limits(10, 5000))
        .await
        .unwrap();
    assert_eq!(rs.rows, [[json!(3)]]);
    assert_eq!(
        t.conn.introspect().await.unwrap(),
        t.schema,
        "nothing changed"
    );
}

async fn long_queries_time_out_and_the_connection_recovers(t: &Target) {
    // 40^6 ≈ 4·10^9 rows: far more than 300 ms of work.
    let heavy = "SELECT count(*) FROM orders a, orders b, orders c, orders d, orders e, orders f";
    let started = Instant::now();
    let err = t.run(heavy, unbudgeted(10, 300)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The connection is usable afterwards, without the old limit:
    // introspection (which scans) and later queries run normally.
    for _ in 0..3 {
        let rs = t
            .run("SELECT count(*) FROM orders", limits(10, 5000))
            .await
            .unwrap();
        assert_eq!(rs.rows, [[json!(40)]]);
    }
    t.conn.ping().await.unwrap();
    assert_eq!(t.conn.introspect().await.unwrap(), t.schema);
}

fn budgeted(budget: Budget) -> ExecLimits {
    let mut l = ExecLimits::new(Duration::from_secs(10), 100);
    l.budget = budget;
    l
}

async fn budgets_refuse_huge_values_and_expensive_plans(t: &Target) {
    // One value over the cell cap.
    let small = Budget {
        max_cell_bytes: 1024 * 1024,
        ..Budget::default()
    };
    let big = format!("SELECT {} AS big", t.kind.repeat_x(2_000_000));
    let err = t.run(&big, budgeted(small)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::TooLarge(_)), "{err:?}");
    // Small values adding up over the result cap (40 rows of 1000 bytes).
    let tight = Budget {
        max_result_bytes: 20_000,
        ..Budget::default()
    };
    let many = format!("SELECT {} AS v FROM orders", t.kind.repeat_x(1000));
    let err = t.run(&many, budgeted(tight)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::TooLarge(_)), "{err:?}");
    // A cross join (40^6 rows) is refused before it runs (PostgreSQL, MySQL:
    // the plan) or once its step budget is spent (SQLite; 2 M steps, as the
    // debug build is slow).
    let expensive = Budget {
        max_steps: 2_000_000,
        ..Budget::default()
    };
    let started = Instant::now();
    let err = t
        .run(
            "SELECT count(*) AS n FROM orders a, orders b, orders c, orders d, orders e, orders f",
            budgeted(expensive),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::TooExpensive(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Ordinary statements still run, and the session is usable afterwards.
    let rs = t
        .run(
            "SELECT count(*) AS n FROM orders",
            budgeted(Budget::default()),
        )
        .await
        .unwrap();
    assert_eq!(rs.rows, [[json!(40)]]);
}

#[tokio::test]
async fn unreachable_targets_are_unavailable() {
    for kind in Kind::ALL {
        let err = kind.open_unreachable().await;
        assert!(
            matches!(err, ConnectorError::Unavailable(_)),
            "{kind:?}: {err:?}"
        );
    }
}
