//! The PostgreSQL and MySQL/MariaDB connectors against real servers.
//!
//! Each test seeds its own uniquely named schema (PostgreSQL) or database
//! (MySQL) through a separate read-write admin connection and drops it at the
//! end, also when the test fails. Without `INSIGHT_TEST_POSTGRES_URL` /
//! `INSIGHT_TEST_MYSQL_URL` the tests skip locally and fail in CI; `./scripts/test`
//! starts the servers (see `scripts/services.sh`).

use std::time::{Duration, Instant};

use insight::connectors::mysql::MySqlConnector;
use insight::connectors::postgres::PostgresConnector;
use insight::connectors::{Connector, ConnectorError, ExecLimits};
use insight::domain::Dialect;
use insight::domain::{ForeignKey, SchemaInfo};
use insight::sql::{SqlPolicy, ValidatedSql, validate};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};

use crate::util::service_url as server_url;

fn unique_name() -> String {
    format!("it_{}", uuid::Uuid::new_v4().simple())
}

fn limits(max_rows: u64, ms: u64) -> ExecLimits {
    ExecLimits::new(Duration::from_millis(ms), max_rows)
}

/// Limits whose `EXPLAIN` budgets let anything run, to test the timeout.
fn unbudgeted(max_rows: u64, ms: u64) -> ExecLimits {
    let mut l = limits(max_rows, ms);
    l.budget.max_explain_cost = f64::INFINITY;
    l.budget.max_explain_rows = f64::INFINITY;
    l
}

fn check(sql: &str, dialect: Dialect, schema: &SchemaInfo) -> ValidatedSql {
    validate(sql, dialect, schema, &SqlPolicy::default())
        .unwrap_or_else(|e| panic!("validator rejected {sql:?}: {e}"))
}

fn fk(columns: &[&str], ref_table: &str, ref_columns: &[&str]) -> ForeignKey {
    ForeignKey {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        ref_table: ref_table.into(),
        ref_columns: ref_columns.iter().map(|c| c.to_string()).collect(),
    }
}

/// 40 orders over 3 customers and 2 products; `status` has 2 distinct values,
/// `note` 40 (too many for `sample_values`).
fn order_rows(timestamp: impl Fn(u32) -> String) -> String {
    (1..=40u32)
        .map(|g| {
            format!(
                "({g}, {}, '{}', 1, '{}', 'note {g}', {})",
                1 + g % 3,
                if g % 2 == 0 { "A" } else { "B" },
                if g % 5 == 0 { "cancelled" } else { "shipped" },
                timestamp(g)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Drops the test's schema or database when the test ends, passed or not. A
/// fresh runtime on its own thread, because `Drop` cannot await.
struct DropOnExit {
    url: String,
    statement: String,
    mysql: bool,
}

impl Drop for DropOnExit {
    fn drop(&mut self) {
        let (url, stmt, mysql) = (self.url.clone(), self.statement.clone(), self.mysql);
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            rt.block_on(async move {
                if mysql {
                    let mut c = sqlx::MySqlConnection::connect(&url).await?;
                    sqlx::raw_sql(AssertSqlSafe(stmt)).execute(&mut c).await?;
                } else {
                    let mut c = sqlx::PgConnection::connect(&url).await?;
                    sqlx::raw_sql(AssertSqlSafe(stmt)).execute(&mut c).await?;
                }
                Ok::<_, sqlx::Error>(())
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("cleanup failed: {e}");
        }
    }
}

// --- PostgreSQL ---------------------------------------------------------------

pub(crate) struct Pg {
    pub(crate) conn: PostgresConnector,
    pub(crate) schema: SchemaInfo,
    _cleanup: DropOnExit,
}

pub(crate) async fn pg() -> Option<Pg> {
    let url = server_url("INSIGHT_TEST_POSTGRES_URL", "PostgreSQL")?;
    let name = unique_name();
    let mut admin = sqlx::PgConnection::connect(&url)
        .await
        .expect("connect to PostgreSQL as admin");
    let cleanup = DropOnExit {
        url: url.clone(),
        statement: format!("DROP SCHEMA IF EXISTS {name} CASCADE"),
        mysql: false,
    };
    let orders =
        order_rows(|g| format!("timestamptz '2024-01-01 00:00:00+00' + interval '{g} hours'"));
    let seed = format!(
        r#"
        CREATE SCHEMA {name};
        SET search_path TO {name};
        CREATE TYPE mood AS ENUM ('happy', 'sad');
        CREATE TABLE customers (
            id int PRIMARY KEY,
            region text NOT NULL,
            name varchar(60) NOT NULL,
            segment text
        );
        COMMENT ON TABLE customers IS 'People who buy things';
        COMMENT ON COLUMN customers.segment IS 'Marketing segment';
        CREATE TABLE products (
            sku text,
            variant int,
            title text NOT NULL,
            price numeric(10, 2) NOT NULL,
            PRIMARY KEY (sku, variant)
        );
        CREATE TABLE orders (
            id bigint PRIMARY KEY,
            customer_id int NOT NULL,
            sku text NOT NULL,
            variant int NOT NULL,
            status text NOT NULL,
            note text,
            placed_at timestamptz NOT NULL,
            CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id),
            CONSTRAINT orders_product FOREIGN KEY (sku, variant) REFERENCES products (sku, variant)
        );
        CREATE VIEW customer_orders AS
            SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id;
        COMMENT ON VIEW customer_orders IS 'Orders with customer names';
        INSERT INTO customers VALUES (1, 'north', 'Ada', 'retail'), (2, 'south', 'Bo', 'retail'),
            (3, 'north', 'Čeněk', NULL);
        INSERT INTO products VALUES ('A', 1, 'Apple', 1.50), ('B', 1, 'Banana', 0.25), ('A', 2, 'Apple XL', 2);
        INSERT INTO orders VALUES {orders};
        CREATE TABLE kinds (
            id int PRIMARY KEY,
            c_bool bool, c_int2 int2, c_int4 int4, c_int8 int8, c_float4 float4, c_float8 float8,
            c_numeric numeric, c_text text, c_varchar varchar(10), c_char char(3), c_uuid uuid,
            c_json json, c_jsonb jsonb, c_date date, c_time time, c_timestamp timestamp,
            c_timestamptz timestamptz, c_interval interval, c_bytea bytea, c_int_array int4[],
            c_text_array text[], c_inet inet, c_cidr cidr, c_mood mood, c_point point
        );
        INSERT INTO kinds VALUES (1, true, -2, 40000, 9007199254740993, 0.1, 2.5,
            12345678901234567890.123456789, 'héllo ✓', 'ab', 'x',
            'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{"a": [1, 2]}}', '{{"b": null}}',
            '2024-02-29', '13:45:30.5', '2024-02-29 13:45:30', '2024-02-29 13:45:30+02',
            '1 year 2 mons 3 days 04:05:06', '\x00ff10', '{{1,NULL,3}}', '{{"x","y z"}}',
            '192.168.0.1', '10.0.0.0/8', 'sad', '(1,2)');
        INSERT INTO kinds (id) VALUES (2);
        "#
    );
    sqlx::raw_sql(AssertSqlSafe(seed))
        .execute(&mut admin)
        .await
        .expect("seed the PostgreSQL schema");
    admin.close().await.ok();

    let sep = if url.contains('?') { '&' } else { '?' };
    let conn = PostgresConnector::connect(&format!("{url}{sep}options=-csearch_path%3D{name}"), 2)
        .await
        .expect("connect the PostgreSQL connector");
    let schema = conn.introspect().await.expect("introspect PostgreSQL");
    Some(Pg {
        conn,
        schema,
        _cleanup: cleanup,
    })
}

#[tokio::test]
async fn postgres_introspection_reads_tables_views_keys_comments_and_values() {
    let Some(pg) = pg().await else { return };
    let s = &pg.schema;
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
    assert_eq!(view.comment.as_deref(), Some("Orders with customer names"));
    assert!(view.primary_key.is_empty() && view.row_count.is_none());

    let customers = s.table("customers").unwrap();
    assert!(!customers.is_view);
    assert_eq!(customers.comment.as_deref(), Some("People who buy things"));
    assert_eq!(customers.primary_key, ["id"]);
    assert_eq!(customers.row_count, Some(3));
    let name = customers.column("name").unwrap();
    assert_eq!(name.data_type, "character varying(60)");
    assert!(!name.nullable);
    assert_eq!(name.sample_values, ["Ada", "Bo", "Čeněk"]);
    let segment = customers.column("segment").unwrap();
    assert!(segment.nullable);
    assert_eq!(segment.comment.as_deref(), Some("Marketing segment"));
    assert_eq!(segment.sample_values, ["retail"]);
    assert!(customers.column("id").unwrap().sample_values.is_empty());

    let products = s.table("products").unwrap();
    assert_eq!(products.primary_key, ["sku", "variant"]);
    assert_eq!(products.column("price").unwrap().data_type, "numeric(10,2)");

    let orders = s.table("orders").unwrap();
    assert_eq!(orders.row_count, Some(40));
    assert_eq!(
        orders.foreign_keys,
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
        "timestamp with time zone"
    );

    let kinds = s.table("kinds").unwrap();
    let types: Vec<&str> = ["c_int_array", "c_mood", "c_char", "c_bytea"]
        .iter()
        .map(|c| kinds.column(c).unwrap().data_type.as_str())
        .collect();
    assert_eq!(types, ["integer[]", "mood", "character(3)", "bytea"]);
    assert_eq!(kinds.column("c_mood").unwrap().sample_values, ["sad"]);
}

#[tokio::test]
async fn postgres_values_map_to_exact_json() {
    let Some(pg) = pg().await else { return };
    let sql = check(
        "SELECT * FROM kinds ORDER BY id",
        Dialect::Postgres,
        &pg.schema,
    );
    let rs = pg.conn.execute(&sql, limits(10, 5000)).await.unwrap();
    let types: Vec<&str> = rs.columns.iter().map(|c| c.data_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "int4",
            "bool",
            "int2",
            "int4",
            "int8",
            "float4",
            "float8",
            "numeric",
            "text",
            "varchar",
            "bpchar",
            "uuid",
            "json",
            "jsonb",
            "date",
            "time",
            "timestamp",
            "timestamptz",
            "interval",
            "bytea",
            "int4[]",
            "text[]",
            "inet",
            "cidr",
            "mood",
            "point"
        ]
    );
    assert_eq!(rs.columns[1].name, "c_bool");
    assert_eq!(rs.rows.len(), 2);
    assert!(!rs.truncated);
    let expected = [
        json!(1),
        json!(true),
        json!(-2),
        json!(40000),
        json!(9007199254740993i64),
        json!(0.1),
        json!(2.5),
        json!("12345678901234567890.123456789"),
        json!("héllo ✓"),
        json!("ab"),
        json!("x  "),
        json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        json!({"a": [1, 2]}),
        json!({"b": null}),
        json!("2024-02-29"),
        json!("13:45:30.500"),
        json!("2024-02-29T13:45:30"),
        json!("2024-02-29T11:45:30Z"),
        json!("P1Y2M3DT4H5M6S"),
        json!("AP8Q"),
        json!([1, null, 3]),
        json!(["x", "y z"]),
        json!("192.168.0.1"),
        json!("10.0.0.0/8"),
        json!("sad"),
        // No binary decoder for `point`: read again through a text cast.
        json!("(1,2)"),
    ];
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(&rs.rows[0][i], want, "column {}", rs.columns[i].name);
    }
    assert_eq!(rs.rows[1][0], json!(2));
    assert!(
        rs.rows[1][1..].iter().all(Value::is_null),
        "{:?}",
        rs.rows[1]
    );
}

#[tokio::test]
async fn postgres_row_cap_sets_truncated() {
    let Some(pg) = pg().await else { return };
    let sql = check(
        "SELECT id FROM orders ORDER BY id",
        Dialect::Postgres,
        &pg.schema,
    );
    let rs = pg.conn.execute(&sql, limits(5, 5000)).await.unwrap();
    assert_eq!(rs.rows, (1..=5).map(|i| vec![json!(i)]).collect::<Vec<_>>());
    assert!(rs.truncated);
    let rs = pg.conn.execute(&sql, limits(40, 5000)).await.unwrap();
    assert_eq!(rs.rows.len(), 40);
    assert!(!rs.truncated);
}

#[tokio::test]
async fn postgres_sessions_are_read_only() {
    let Some(pg) = pg().await else { return };
    let ro: String = sqlx::query_scalar("SHOW default_transaction_read_only")
        .fetch_one(pg.conn.pool())
        .await
        .unwrap();
    assert_eq!(ro, "on");
    // Defense in depth: SQL that bypassed the validator still cannot write.
    let err = sqlx::query("INSERT INTO customers VALUES (9, 'west', 'Eve', NULL)")
        .execute(pg.conn.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    // The same write handed to the connector as if it had passed the
    // validator (a test-only bypass) is refused by the session itself.
    for write in [
        "INSERT INTO customers VALUES (9, 'west', 'Eve', NULL)",
        "UPDATE customers SET name = 'x'",
        "CREATE TABLE pwned (x int)",
    ] {
        let bypass = ValidatedSql::bypass_for_tests(write, Dialect::Postgres);
        let err = pg
            .conn
            .execute(&bypass, limits(10, 5000))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("read-only"), "{write}: {err}");
    }
    let sql = check(
        "SELECT count(*) AS n FROM customers",
        Dialect::Postgres,
        &pg.schema,
    );
    let rs = pg.conn.execute(&sql, limits(10, 5000)).await.unwrap();
    assert_eq!(rs.rows, [[json!(3)]]);
}

#[tokio::test]
async fn postgres_long_queries_time_out_and_the_pool_recovers() {
    let Some(pg) = pg().await else { return };
    // 40^6 ≈ 4·10^9 rows: far more than 300 ms of work.
    let heavy = check(
        "SELECT count(*) FROM orders a, orders b, orders c, orders d, orders e, orders f",
        Dialect::Postgres,
        &pg.schema,
    );
    let started = Instant::now();
    let err = pg
        .conn
        .execute(&heavy, unbudgeted(10, 300))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The pool's connection is usable afterwards, without the old limit.
    let ok = check("SELECT count(*) FROM orders", Dialect::Postgres, &pg.schema);
    for _ in 0..3 {
        let rs = pg.conn.execute(&ok, limits(10, 5000)).await.unwrap();
        assert_eq!(rs.rows, [[json!(40)]]);
    }
    pg.conn.ping().await.unwrap();
    pg.conn.introspect().await.unwrap();
}

#[tokio::test]
async fn postgres_unreachable_servers_are_unavailable() {
    // Port 1 on localhost refuses connections; no server is needed.
    let err = PostgresConnector::connect("postgres://postgres@127.0.0.1:1/test", 1)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ConnectorError::Unavailable(_)), "{err:?}");
    let err = PostgresConnector::connect("not a url", 1)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
}

// --- MySQL / MariaDB ------------------------------------------------------------

pub(crate) struct My {
    pub(crate) conn: MySqlConnector,
    pub(crate) schema: SchemaInfo,
    _cleanup: DropOnExit,
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}/{db}{query}", &base[..authority_end])
}

pub(crate) async fn my() -> Option<My> {
    let url = server_url("INSIGHT_TEST_MYSQL_URL", "MariaDB")?;
    let name = unique_name();
    let mut admin = sqlx::MySqlConnection::connect(&url)
        .await
        .expect("connect to MySQL as admin");
    let cleanup = DropOnExit {
        url: url.clone(),
        statement: format!("DROP DATABASE IF EXISTS {name}"),
        mysql: true,
    };
    let orders = order_rows(|g| format!("TIMESTAMP '2024-01-01 00:00:00' + INTERVAL {g} HOUR"));
    let seed = [
        format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"),
        format!("USE {name}"),
        "CREATE TABLE customers (
            id INT PRIMARY KEY,
            region VARCHAR(20) NOT NULL,
            name VARCHAR(60) NOT NULL COMMENT 'Full name',
            segment VARCHAR(20) NULL COMMENT 'Marketing segment'
        ) COMMENT 'People who buy things'"
            .into(),
        "CREATE TABLE products (
            sku VARCHAR(10), variant INT, title VARCHAR(60) NOT NULL, price DECIMAL(10, 2) NOT NULL,
            PRIMARY KEY (sku, variant)
        )"
        .into(),
        "CREATE TABLE orders (
            id BIGINT PRIMARY KEY, customer_id INT NOT NULL, sku VARCHAR(10) NOT NULL,
            variant INT NOT NULL, status VARCHAR(20) NOT NULL, note VARCHAR(40),
            placed_at DATETIME NOT NULL,
            CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id),
            CONSTRAINT orders_product FOREIGN KEY (sku, variant) REFERENCES products (sku, variant)
        )"
        .into(),
        "CREATE VIEW customer_orders AS
            SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id"
            .into(),
        "INSERT INTO customers VALUES (1, 'north', 'Ada', 'retail'), (2, 'south', 'Bo', 'retail'),
            (3, 'north', 'Čeněk', NULL)"
            .into(),
        "INSERT INTO products VALUES ('A', 1, 'Apple', 1.50), ('B', 1, 'Banana', 0.25), ('A', 2, 'Apple XL', 2)"
            .into(),
        format!("INSERT INTO orders VALUES {orders}"),
        "CREATE TABLE kinds (
            id INT PRIMARY KEY, c_tinyint TINYINT, c_smallint SMALLINT, c_int INT, c_bigint BIGINT,
            c_bigint_unsigned BIGINT UNSIGNED, c_int_unsigned INT UNSIGNED, c_decimal DECIMAL(30, 9),
            c_float FLOAT, c_double DOUBLE, c_char CHAR(3), c_varchar VARCHAR(20), c_text TEXT,
            c_enum ENUM('small', 'large'), c_set SET('a', 'b', 'c'), c_date DATE,
            c_datetime DATETIME(6), c_timestamp TIMESTAMP(3) NULL, c_time TIME, c_year YEAR,
            c_json JSON, c_varbinary VARBINARY(8), c_blob BLOB, c_bit BIT(12), c_bool BOOLEAN
        )"
        .into(),
        "INSERT INTO kinds VALUES (1, -5, -300, 70000, -9000000000, 18446744073709551615, 4294967295,
            12345678901234567890.123456789, 0.1, 2.5, 'x', 'héllo ✓', 'long text', 'large', 'a,c',
            '2024-02-29', '2024-02-29 13:45:30.250000', '2024-02-29 13:45:30.500', '-01:02:03', 2024,
            '{\"a\": [1, 2]}', x'00ff10', x'cafe', b'101000000001', TRUE)"
            .into(),
        "INSERT INTO kinds (id) VALUES (2)".into(),
    ];
    for stmt in seed {
        sqlx::raw_sql(AssertSqlSafe(stmt.clone()))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("seed MySQL: {e}\n{stmt}"));
    }
    admin.close().await.ok();

    let conn = MySqlConnector::connect(&with_database(&url, &name), 2)
        .await
        .expect("connect the MySQL connector");
    let schema = conn.introspect().await.expect("introspect MySQL");
    Some(My {
        conn,
        schema,
        _cleanup: cleanup,
    })
}

#[test]
fn database_urls_are_rewritten() {
    assert_eq!(
        with_database("mysql://root@127.0.0.1:3306/test", "x"),
        "mysql://root@127.0.0.1:3306/x"
    );
    assert_eq!(
        with_database("mysql://root@h?ssl-mode=disabled", "x"),
        "mysql://root@h/x?ssl-mode=disabled"
    );
}

#[tokio::test]
async fn mysql_introspection_reads_tables_views_keys_comments_and_values() {
    let Some(my) = my().await else { return };
    let s = &my.schema;
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
    assert_eq!(view.comment, None);
    assert!(view.primary_key.is_empty() && view.row_count.is_none());

    let customers = s.table("customers").unwrap();
    assert!(!customers.is_view);
    assert_eq!(customers.comment.as_deref(), Some("People who buy things"));
    assert_eq!(customers.primary_key, ["id"]);
    assert_eq!(customers.row_count, Some(3));
    let name = customers.column("name").unwrap();
    assert_eq!(name.data_type, "varchar(60)");
    assert!(!name.nullable);
    assert_eq!(name.comment.as_deref(), Some("Full name"));
    assert_eq!(name.sample_values, ["Ada", "Bo", "Čeněk"]);
    let segment = customers.column("segment").unwrap();
    assert!(segment.nullable);
    assert_eq!(segment.comment.as_deref(), Some("Marketing segment"));
    assert_eq!(segment.sample_values, ["retail"]);
    assert_eq!(customers.column("id").unwrap().comment, None);

    let products = s.table("products").unwrap();
    assert_eq!(products.primary_key, ["sku", "variant"]);
    assert_eq!(products.column("price").unwrap().data_type, "decimal(10,2)");

    let orders = s.table("orders").unwrap();
    assert_eq!(orders.row_count, Some(40));
    assert_eq!(
        orders.foreign_keys,
        [
            fk(&["customer_id"], "customers", &["id"]),
            fk(&["sku", "variant"], "products", &["sku", "variant"]),
        ]
    );
    assert_eq!(
        orders.column("status").unwrap().sample_values,
        ["cancelled", "shipped"]
    );
    assert!(orders.column("note").unwrap().sample_values.is_empty());

    let kinds = s.table("kinds").unwrap();
    assert_eq!(
        kinds.column("c_bigint_unsigned").unwrap().data_type,
        "bigint(20) unsigned"
    );
    assert_eq!(
        kinds.column("c_enum").unwrap().data_type,
        "enum('small','large')"
    );
    assert_eq!(kinds.column("c_enum").unwrap().sample_values, ["large"]);
}

#[tokio::test]
async fn mysql_values_map_to_exact_json() {
    let Some(my) = my().await else { return };
    let sql = check(
        "SELECT * FROM kinds ORDER BY id",
        Dialect::Mysql,
        &my.schema,
    );
    let rs = my.conn.execute(&sql, limits(10, 5000)).await.unwrap();
    assert_eq!(rs.rows.len(), 2);
    assert!(!rs.truncated);
    // MariaDB stores JSON as LONGTEXT, so it arrives as its text.
    let json_value = if my.conn.is_mariadb() {
        json!("{\"a\": [1, 2]}")
    } else {
        json!({"a": [1, 2]})
    };
    let expected = [
        ("id", "INT", json!(1)),
        ("c_tinyint", "TINYINT", json!(-5)),
        ("c_smallint", "SMALLINT", json!(-300)),
        ("c_int", "INT", json!(70000)),
        ("c_bigint", "BIGINT", json!(-9000000000i64)),
        (
            "c_bigint_unsigned",
            "BIGINT UNSIGNED",
            json!(18446744073709551615u64),
        ),
        ("c_int_unsigned", "INT UNSIGNED", json!(4294967295u64)),
        (
            "c_decimal",
            "DECIMAL",
            json!("12345678901234567890.123456789"),
        ),
        ("c_float", "FLOAT", json!(0.1)),
        ("c_double", "DOUBLE", json!(2.5)),
        ("c_char", "CHAR", json!("x")),
        ("c_varchar", "VARCHAR", json!("héllo ✓")),
        ("c_text", "TEXT", json!("long text")),
        ("c_enum", "", json!("large")),
        ("c_set", "", json!("a,c")),
        ("c_date", "DATE", json!("2024-02-29")),
        ("c_datetime", "DATETIME", json!("2024-02-29T13:45:30.250")),
        (
            "c_timestamp",
            "TIMESTAMP",
            json!("2024-02-29T13:45:30.500Z"),
        ),
        ("c_time", "TIME", json!("-01:02:03")),
        ("c_year", "YEAR", json!(2024)),
        ("c_json", "", json_value),
        ("c_varbinary", "VARBINARY", json!("AP8Q")),
        ("c_blob", "BLOB", json!("yv4=")),
        ("c_bit", "BIT", json!(2561)),
        ("c_bool", "BOOLEAN", json!(1)),
    ];
    for (i, (name, ty, value)) in expected.iter().enumerate() {
        assert_eq!(rs.columns[i].name, *name);
        // ENUM, SET and JSON are reported differently by MySQL and MariaDB.
        if !ty.is_empty() {
            assert_eq!(rs.columns[i].data_type, *ty, "type of {name}");
        }
        assert_eq!(&rs.rows[0][i], value, "value of {name}");
    }
    assert_eq!(rs.rows[1][0], json!(2));
    assert!(
        rs.rows[1][1..].iter().all(Value::is_null),
        "{:?}",
        rs.rows[1]
    );
}

#[tokio::test]
async fn mysql_row_cap_sets_truncated() {
    let Some(my) = my().await else { return };
    let sql = check(
        "SELECT id FROM orders ORDER BY id",
        Dialect::Mysql,
        &my.schema,
    );
    let rs = my.conn.execute(&sql, limits(5, 5000)).await.unwrap();
    assert_eq!(rs.rows, (1..=5).map(|i| vec![json!(i)]).collect::<Vec<_>>());
    assert!(rs.truncated);
    let rs = my.conn.execute(&sql, limits(40, 5000)).await.unwrap();
    assert_eq!(rs.rows.len(), 40);
    assert!(!rs.truncated);
}

#[tokio::test]
async fn mysql_sessions_are_read_only() {
    let Some(my) = my().await else { return };
    // MariaDB before 11.1 names the variable `tx_read_only`.
    let var = if my.conn.is_mariadb() {
        "SELECT @@SESSION.tx_read_only"
    } else {
        "SELECT @@SESSION.transaction_read_only"
    };
    let ro: i64 = sqlx::query_scalar(var)
        .fetch_one(my.conn.pool())
        .await
        .unwrap();
    assert_eq!(ro, 1);
    // Defense in depth: SQL that bypassed the validator still cannot write.
    let err = sqlx::query("INSERT INTO customers VALUES (9, 'west', 'Eve', NULL)")
        .execute(my.conn.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("READ ONLY"), "{err}");
    // The same write through a test-only `ValidatedSql` bypass is refused by
    // the session itself.
    for write in [
        "INSERT INTO customers VALUES (9, 'west', 'Eve', NULL)",
        "UPDATE customers SET name = 'x'",
        "DELETE FROM customers",
    ] {
        let bypass = ValidatedSql::bypass_for_tests(write, Dialect::Mysql);
        let err = my
            .conn
            .execute(&bypass, limits(10, 5000))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("READ ONLY"), "{write}: {err}");
    }
    let sql = check(
        "SELECT count(*) AS n FROM customers",
        Dialect::Mysql,
        &my.schema,
    );
    let rs = my.conn.execute(&sql, limits(10, 5000)).await.unwrap();
    assert_eq!(rs.rows, [[json!(3)]]);
}

#[tokio::test]
async fn mysql_long_queries_time_out_and_the_pool_recovers() {
    let Some(my) = my().await else { return };
    // 40^6 ≈ 4·10^9 rows: far more than 300 ms of work.
    let heavy = check(
        "SELECT count(*) FROM orders a, orders b, orders c, orders d, orders e, orders f",
        Dialect::Mysql,
        &my.schema,
    );
    let started = Instant::now();
    let err = my
        .conn
        .execute(&heavy, unbudgeted(10, 300))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The session's limit is cleared afterwards, so introspection (which
    // scans) and later queries run normally on the same pool.
    let ok = check("SELECT count(*) FROM orders", Dialect::Mysql, &my.schema);
    for _ in 0..3 {
        let rs = my.conn.execute(&ok, limits(10, 5000)).await.unwrap();
        assert_eq!(rs.rows, [[json!(40)]]);
    }
    my.conn.ping().await.unwrap();
    assert_eq!(my.conn.introspect().await.unwrap(), my.schema);
}

#[tokio::test]
async fn mysql_unreachable_servers_are_unavailable() {
    let err = MySqlConnector::connect("mysql://root@127.0.0.1:1/test", 1)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ConnectorError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn sqlite_connections_are_read_only_even_for_bypassed_writes() {
    use insight::connectors::sqlite::SqliteConnector;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    insight::connectors::demo::ensure_demo_database(&path)
        .await
        .unwrap();
    let conn = SqliteConnector::open(&path, true).await.unwrap();
    for write in [
        "INSERT INTO customers (id, name) VALUES (9999, 'Eve')",
        "DELETE FROM customers",
        "CREATE TABLE pwned (x)",
    ] {
        let bypass = ValidatedSql::bypass_for_tests(write, Dialect::Sqlite);
        let err = conn.execute(&bypass, limits(10, 5000)).await.unwrap_err();
        assert!(err.to_string().contains("readonly"), "{write}: {err}");
    }
}
