//! The target databases every connector test runs on: one shop schema
//! (customers, products with a composite key, orders with two foreign keys,
//! a view, and a `kinds` table of the dialect's column types) seeded into a
//! fresh SQLite file, PostgreSQL schema or MySQL/MariaDB database per test,
//! dropped at the end also when the test fails.
//!
//! PostgreSQL and MySQL come from `INSIGHT_TEST_POSTGRES_URL` /
//! `INSIGHT_TEST_MYSQL_URL`: without them a test skips with a notice locally
//! and fails under `CI=true` (`util::service_url`); `./scripts/test` starts
//! the servers (see `scripts/services.sh`). SQLite needs nothing.

use std::time::Duration;

use insight::connectors::mysql::MySqlConnector;
use insight::connectors::postgres::PostgresConnector;
use insight::connectors::sqlite::SqliteConnector;
use insight::connectors::{Connector, ConnectorError, ExecLimits, ResultSet};
use insight::domain::{Dialect, ForeignKey, SchemaInfo};
use insight::sql::{SqlPolicy, ValidatedSql, validate};
use sqlx::{AssertSqlSafe, Connection};

use crate::util::service_url as server_url;

pub(crate) fn unique_name() -> String {
    format!("it_{}", uuid::Uuid::new_v4().simple())
}

pub(crate) fn limits(max_rows: u64, ms: u64) -> ExecLimits {
    ExecLimits::new(Duration::from_millis(ms), max_rows)
}

/// Limits whose work budgets (`EXPLAIN`, SQLite steps) let anything run, to
/// test the timeout.
pub(crate) fn unbudgeted(max_rows: u64, ms: u64) -> ExecLimits {
    let mut l = limits(max_rows, ms);
    l.budget.max_steps = u64::MAX;
    l.budget.max_explain_cost = f64::INFINITY;
    l.budget.max_explain_rows = f64::INFINITY;
    l
}

pub(crate) fn check(sql: &str, dialect: Dialect, schema: &SchemaInfo) -> ValidatedSql {
    validate(sql, dialect, schema, &SqlPolicy::default())
        .unwrap_or_else(|e| panic!("validator rejected {sql:?}: {e}"))
}

pub(crate) fn fk(columns: &[&str], ref_table: &str, ref_columns: &[&str]) -> ForeignKey {
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

// --- MySQL / MariaDB ------------------------------------------------------------

pub(crate) struct My {
    pub(crate) conn: MySqlConnector,
    pub(crate) schema: SchemaInfo,
    _cleanup: DropOnExit,
}

/// `url` with its database replaced by `db`.
pub(crate) fn with_database(url: &str, db: &str) -> String {
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

// --- SQLite ---------------------------------------------------------------------

pub(crate) struct Lite {
    pub(crate) conn: SqliteConnector,
    pub(crate) schema: SchemaInfo,
    _dir: tempfile::TempDir,
}

/// The shop seeded into a new SQLite file, opened read-only as targets are.
pub(crate) async fn lite() -> Lite {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shop.db");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let mut admin = sqlx::ConnectOptions::connect(&opts)
        .await
        .expect("create the SQLite file");
    let orders = order_rows(|g| format!("datetime('2024-01-01 00:00:00', '+{g} hours')"));
    let seed = format!(
        r#"
        CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            region TEXT NOT NULL,
            name VARCHAR(60) NOT NULL,
            segment TEXT
        );
        CREATE TABLE products (
            sku TEXT,
            variant INTEGER,
            title TEXT NOT NULL,
            price NUMERIC(10,2) NOT NULL,
            PRIMARY KEY (sku, variant)
        );
        CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL,
            sku TEXT NOT NULL,
            variant INTEGER NOT NULL,
            status TEXT NOT NULL,
            note TEXT,
            placed_at TIMESTAMP NOT NULL,
            CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id),
            CONSTRAINT orders_product FOREIGN KEY (sku, variant) REFERENCES products (sku, variant)
        );
        CREATE VIEW customer_orders AS
            SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id;
        INSERT INTO customers VALUES (1, 'north', 'Ada', 'retail'), (2, 'south', 'Bo', 'retail'),
            (3, 'north', 'Čeněk', NULL);
        INSERT INTO products VALUES ('A', 1, 'Apple', 1.50), ('B', 1, 'Banana', 0.25), ('A', 2, 'Apple XL', 2);
        INSERT INTO orders VALUES {orders};
        CREATE TABLE kinds (
            id INTEGER PRIMARY KEY, c_int INTEGER, c_real REAL, c_numeric NUMERIC, c_text TEXT,
            c_blob BLOB, c_bool BOOLEAN, c_date DATE
        );
        INSERT INTO kinds VALUES (1, 9007199254740993, 2.5, 12.5, 'héllo ✓', x'00ff10', TRUE,
            '2024-02-29');
        INSERT INTO kinds (id) VALUES (2);
        "#
    );
    sqlx::raw_sql(AssertSqlSafe(seed))
        .execute(&mut admin)
        .await
        .expect("seed the SQLite file");
    admin.close().await.ok();
    let conn = SqliteConnector::open(&path, true)
        .await
        .expect("open the SQLite connector");
    let schema = conn.introspect().await.expect("introspect SQLite");
    Lite {
        conn,
        schema,
        _dir: dir,
    }
}

// --- Any connector ----------------------------------------------------------------

/// The connectors the conformance suite runs every case on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sqlite,
    Postgres,
    Mysql,
}

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [Kind::Sqlite, Kind::Postgres, Kind::Mysql];

    pub(crate) fn dialect(self) -> Dialect {
        match self {
            Kind::Sqlite => Dialect::Sqlite,
            Kind::Postgres => Dialect::Postgres,
            Kind::Mysql => Dialect::Mysql,
        }
    }

    /// An expression for a string of `n` times 'x' in this dialect.
    pub(crate) fn repeat_x(self, n: u64) -> String {
        match self {
            Kind::Sqlite => format!("printf('%.*c', {n}, 'x')"),
            Kind::Postgres => format!("repeat('x', {n})"),
            Kind::Mysql => format!("REPEAT('x', {n})"),
        }
    }

    /// What the session's refusal of a write says.
    pub(crate) fn read_only_error(self) -> &'static str {
        match self {
            Kind::Sqlite => "readonly",
            Kind::Postgres => "read-only",
            Kind::Mysql => "READ ONLY",
        }
    }

    /// Open a target nothing serves: a missing file, a closed port.
    pub(crate) async fn open_unreachable(self) -> ConnectorError {
        match self {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                SqliteConnector::open(&dir.path().join("missing.db"), true)
                    .await
                    .err()
            }
            // Port 1 on localhost refuses connections; no server is needed.
            Kind::Postgres => PostgresConnector::connect("postgres://postgres@127.0.0.1:1/test", 1)
                .await
                .err(),
            Kind::Mysql => MySqlConnector::connect("mysql://root@127.0.0.1:1/test", 1)
                .await
                .err(),
        }
        .unwrap_or_else(|| panic!("{self:?}: an unreachable target opened"))
    }
}

/// One seeded shop behind the `Connector` trait, as the engine sees it.
pub(crate) struct Target {
    pub(crate) kind: Kind,
    pub(crate) conn: Box<dyn Connector>,
    pub(crate) schema: SchemaInfo,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl Target {
    /// The shop on `kind`, or `None` (with a notice) when its server is not
    /// configured outside CI.
    pub(crate) async fn open(kind: Kind) -> Option<Target> {
        Some(match kind {
            Kind::Sqlite => {
                let t = lite().await;
                Target {
                    kind,
                    conn: Box::new(t.conn),
                    schema: t.schema,
                    _keep: Box::new(t._dir),
                }
            }
            Kind::Postgres => {
                let t = pg().await?;
                Target {
                    kind,
                    conn: Box::new(t.conn),
                    schema: t.schema,
                    _keep: Box::new(t._cleanup),
                }
            }
            Kind::Mysql => {
                let t = my().await?;
                Target {
                    kind,
                    conn: Box::new(t.conn),
                    schema: t.schema,
                    _keep: Box::new(t._cleanup),
                }
            }
        })
    }

    /// `sql` through the validator for this target's dialect and schema.
    pub(crate) fn check(&self, sql: &str) -> ValidatedSql {
        check(sql, self.kind.dialect(), &self.schema)
    }

    /// Validate and run `sql` under `limits`.
    pub(crate) async fn run(
        &self,
        sql: &str,
        limits: ExecLimits,
    ) -> Result<ResultSet, ConnectorError> {
        self.conn.execute(&self.check(sql), limits).await
    }
}
