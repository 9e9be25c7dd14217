//! The demo database: a small, deterministic shop (customers, products,
//! employees, orders, order items) generated on first start so a fresh install
//! has something to ask questions about.
//!
//! Generation is deterministic (a fixed-seed splitmix64, no clock, no `rand`) so
//! docs, tests and evaluation sets can quote exact answers. The file is built
//! next to its final place (`<path>.tmp`) in one transaction and renamed into
//! place, so a crash never leaves a half-built demo behind; `PRAGMA
//! user_version` records [`DEMO_SCHEMA_VERSION`] and a matching file is left
//! alone. This module only ever writes the demo file; the connection itself is
//! opened read-only by [`super::sqlite::SqliteConnector`] like any other.

use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use super::ConnectorError;

/// Bump when the demo's schema or data change; an older file is rebuilt.
pub const DEMO_SCHEMA_VERSION: u32 = 1;

const SEED: u64 = 0x1D5E_57A1_2024_0001;

const DDL: &str = "
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL,
    city TEXT NOT NULL,
    segment TEXT NOT NULL CHECK (segment IN ('Consumer', 'Corporate', 'Small Business')),
    created_at DATE NOT NULL
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    price REAL NOT NULL,
    cost REAL NOT NULL
);
CREATE TABLE employees (
    id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    title TEXT NOT NULL,
    region TEXT NOT NULL,
    hire_date DATE NOT NULL,
    manager_id INTEGER REFERENCES employees(id)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    employee_id INTEGER NOT NULL REFERENCES employees(id),
    order_date DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'shipped', 'delivered', 'cancelled')),
    total REAL NOT NULL
);
CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price REAL NOT NULL
);
CREATE INDEX orders_customer ON orders(customer_id);
CREATE INDEX orders_employee ON orders(employee_id);
CREATE INDEX order_items_order ON order_items(order_id);
CREATE INDEX order_items_product ON order_items(product_id);
";

/// Countries with a few cities each (≤ 30 cities in all, so introspection
/// offers them for value linking).
const PLACES: &[(&str, &[&str])] = &[
    ("United States", &["New York", "Chicago", "San Francisco"]),
    ("Germany", &["Berlin", "Munich", "Hamburg"]),
    ("France", &["Paris", "Lyon"]),
    ("United Kingdom", &["London", "Manchester"]),
    ("Canada", &["Toronto", "Vancouver"]),
    ("Spain", &["Madrid", "Barcelona"]),
    ("Italy", &["Rome", "Milan"]),
    ("Netherlands", &["Amsterdam", "Rotterdam"]),
    ("Brazil", &["Sao Paulo", "Rio de Janeiro"]),
    ("Japan", &["Tokyo", "Osaka"]),
    ("Australia", &["Sydney", "Melbourne"]),
    ("India", &["Mumbai", "Bangalore"]),
];

const FIRST_NAMES: &[&str] = &[
    "Alice", "Bruno", "Chloe", "Daniel", "Emma", "Farid", "Greta", "Henrik", "Isabel", "Jamal",
    "Keiko", "Liam", "Mei", "Noah", "Olivia", "Priya", "Rafael", "Sofia", "Tomas", "Yara",
];
const LAST_NAMES: &[&str] = &[
    "Anderson",
    "Becker",
    "Castillo",
    "Dupont",
    "Eriksen",
    "Fischer",
    "Gomez",
    "Hughes",
    "Ito",
    "Jovanovic",
    "Khan",
    "Lindqvist",
];

/// (category, product names, price range in whole units).
const CATALOG: &[(&str, &[&str], (u64, u64))] = &[
    (
        "Electronics",
        &[
            "Wireless Mouse",
            "Mechanical Keyboard",
            "USB-C Hub",
            "Noise-Cancelling Headphones",
            "27-inch Monitor",
            "Webcam HD",
            "Portable SSD",
            "Bluetooth Speaker",
            "Laptop Stand",
        ],
        (20, 450),
    ),
    (
        "Furniture",
        &[
            "Ergonomic Chair",
            "Standing Desk",
            "Bookshelf",
            "Filing Cabinet",
            "Desk Lamp",
            "Conference Table",
            "Footrest",
            "Whiteboard",
        ],
        (30, 900),
    ),
    (
        "Office Supplies",
        &[
            "Ballpoint Pens",
            "Sticky Notes",
            "Stapler",
            "Paper Ream",
            "Binder Clips",
            "Notebook",
            "Highlighters",
            "Envelopes",
            "Tape Dispenser",
        ],
        (2, 40),
    ),
    (
        "Books",
        &[
            "SQL for Analysts",
            "Data Storytelling",
            "The Lean Office",
            "Negotiation Basics",
            "Leading Teams",
            "Statistics in Practice",
            "Modern Marketing",
            "Rust in Action",
        ],
        (12, 60),
    ),
    (
        "Clothing",
        &[
            "Logo T-Shirt",
            "Fleece Jacket",
            "Rain Coat",
            "Running Cap",
            "Wool Socks",
            "Canvas Tote",
            "Hoodie",
            "Polo Shirt",
        ],
        (8, 120),
    ),
    (
        "Sports",
        &[
            "Yoga Mat",
            "Dumbbell Set",
            "Water Bottle",
            "Tennis Racket",
            "Bike Helmet",
            "Jump Rope",
            "Resistance Bands",
            "Foam Roller",
        ],
        (5, 200),
    ),
];

/// Employees: (first, last, title, region). The first is the CEO, the next four
/// manage a region each, the rest sell.
const STAFF: &[(&str, &str, &str, &str)] = &[
    ("Anna", "Schmidt", "CEO", "North"),
    ("Brian", "Dubois", "Sales Manager", "North"),
    ("Carla", "Rossi", "Sales Manager", "South"),
    ("David", "Garcia", "Sales Manager", "East"),
    ("Elena", "Tanaka", "Sales Manager", "West"),
    ("Felix", "Novak", "Sales Representative", "North"),
    ("Grace", "Silva", "Sales Representative", "North"),
    ("Hugo", "Jensen", "Sales Representative", "North"),
    ("Irene", "Kowalski", "Sales Representative", "North"),
    ("Jonas", "Murphy", "Sales Representative", "South"),
    ("Karin", "Larsen", "Sales Representative", "South"),
    ("Lucas", "Costa", "Sales Representative", "South"),
    ("Maria", "Weber", "Sales Representative", "South"),
    ("Nils", "Moreau", "Sales Representative", "East"),
    ("Olga", "Bianchi", "Sales Representative", "East"),
    ("Pablo", "Lopez", "Sales Representative", "East"),
    ("Quinn", "Sato", "Sales Representative", "West"),
    ("Rosa", "Horvat", "Sales Representative", "West"),
    ("Stefan", "Berg", "Sales Representative", "West"),
    ("Tara", "Walsh", "Sales Representative", "West"),
];

const CUSTOMERS: usize = 200;
const ORDERS: usize = 1500;

/// splitmix64: tiny, fast and good enough for fake data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as u64 - 1) as usize]
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

fn day_in(rng: &mut SplitMix64, from: NaiveDate, to: NaiveDate) -> String {
    let span = (to - from).num_days().max(0) as u64;
    let d = from + Days::new(rng.range(0, span));
    d.format("%Y-%m-%d").to_string()
}

fn money(cents: u64) -> f64 {
    cents as f64 / 100.0
}

/// Make sure a current demo database exists at `path`; build it if it is
/// missing or was made by another [`DEMO_SCHEMA_VERSION`].
pub async fn ensure_demo_database(path: &Path) -> Result<(), ConnectorError> {
    if path.exists() && current_version(path).await == Some(DEMO_SCHEMA_VERSION) {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(|e| {
            ConnectorError::Config(format!("cannot create directory {}: {e}", parent.display()))
        })?;
    }
    let tmp = tmp_path(path);
    remove_if_exists(&tmp).await?;
    build(&tmp).await?;
    tokio::fs::rename(&tmp, path).await.map_err(|e| {
        ConnectorError::Config(format!(
            "cannot move the demo database into {}: {e}",
            path.display()
        ))
    })?;
    Ok(())
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

async fn remove_if_exists(path: &Path) -> Result<(), ConnectorError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ConnectorError::Config(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
    }
}

/// `PRAGMA user_version` of an existing file, `None` when it cannot be read
/// (not a database, locked, corrupt: all mean "rebuild").
async fn current_version(path: &Path) -> Option<u32> {
    let opts = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = opts.connect().await.ok()?;
    let v: Option<i64> = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut conn)
        .await
        .ok();
    let _ = conn.close().await;
    v.and_then(|v| u32::try_from(v).ok())
}

fn db_err(e: sqlx::Error) -> ConnectorError {
    ConnectorError::Execution(format!("building the demo database: {e}"))
}

async fn build(path: &Path) -> Result<(), ConnectorError> {
    // Rollback journal, not WAL: the finished file must be self-contained
    // before it is renamed.
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Delete)
        .foreign_keys(true);
    let mut conn = opts
        .connect()
        .await
        .map_err(|e| ConnectorError::Unavailable(e.to_string()))?;
    let result = fill(&mut conn).await;
    conn.close().await.map_err(db_err)?;
    result
}

/// Creates the tables and fills them in one transaction. The tables are
/// filled in a fixed order from one seeded generator, so the data (and
/// every eval answer over it) is the same on every build.
async fn fill(conn: &mut SqliteConnection) -> Result<(), ConnectorError> {
    let mut rng = SplitMix64(SEED);
    let mut tx = conn.begin().await.map_err(db_err)?;
    sqlx::raw_sql(DDL).execute(&mut *tx).await.map_err(db_err)?;
    fill_customers(&mut tx, &mut rng).await?;
    let prices = fill_products(&mut tx, &mut rng).await?;
    fill_employees(&mut tx, &mut rng).await?;
    fill_orders(&mut tx, &mut rng, &prices).await?;

    // Inside the transaction: the version only ever marks a complete build.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "PRAGMA user_version = {DEMO_SCHEMA_VERSION}"
    )))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

async fn fill_customers(
    tx: &mut SqliteConnection,
    rng: &mut SplitMix64,
) -> Result<(), ConnectorError> {
    for i in 1..=CUSTOMERS {
        let first = *rng.pick(FIRST_NAMES);
        let last = *rng.pick(LAST_NAMES);
        let (country, cities) = *rng.pick(PLACES);
        let city = *rng.pick(cities);
        let segment = match rng.range(0, 9) {
            0..=4 => "Consumer",
            5..=7 => "Corporate",
            _ => "Small Business",
        };
        let email = format!(
            "{}.{}{i}@example.com",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase()
        );
        let created = day_in(rng, date(2022, 1, 1), date(2024, 12, 31));
        sqlx::query(
            "INSERT INTO customers (id, name, email, country, city, segment, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(i as i64)
        .bind(format!("{first} {last}"))
        .bind(email)
        .bind(country)
        .bind(city)
        .bind(segment)
        .bind(created)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// The catalogue; returns each product's price in cents, indexed by id - 1
/// (prices are kept in cents so order totals add up exactly).
async fn fill_products(
    tx: &mut SqliteConnection,
    rng: &mut SplitMix64,
) -> Result<Vec<u64>, ConnectorError> {
    let mut prices: Vec<u64> = Vec::new();
    for (category, names, (lo, hi)) in CATALOG {
        for name in *names {
            let price = rng.range(*lo, *hi) * 100 - 1;
            let cost = price * rng.range(40, 70) / 100;
            prices.push(price);
            sqlx::query(
                "INSERT INTO products (id, name, category, price, cost) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(prices.len() as i64)
            .bind(*name)
            .bind(*category)
            .bind(money(price))
            .bind(money(cost))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
    }
    Ok(prices)
}

async fn fill_employees(
    tx: &mut SqliteConnection,
    rng: &mut SplitMix64,
) -> Result<(), ConnectorError> {
    for (i, (first, last, title, region)) in STAFF.iter().enumerate() {
        let id = i as i64 + 1;
        let manager: Option<i64> = match *title {
            "CEO" => None,
            "Sales Manager" => Some(1),
            _ => Some(2 + STAFF[1..5].iter().position(|s| s.3 == *region).unwrap_or(0) as i64),
        };
        let hired = day_in(rng, date(2015, 1, 1), date(2022, 12, 31));
        sqlx::query(
            "INSERT INTO employees (id, first_name, last_name, title, region, hire_date, manager_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(*first)
        .bind(*last)
        .bind(*title)
        .bind(*region)
        .bind(hired)
        .bind(manager)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// Orders and their lines; `prices` (cents, by product id - 1) comes from
/// [`fill_products`].
async fn fill_orders(
    tx: &mut SqliteConnection,
    rng: &mut SplitMix64,
    prices: &[u64],
) -> Result<(), ConnectorError> {
    // Order ids follow order dates, so "latest orders" reads naturally.
    let mut dates: Vec<String> = (0..ORDERS)
        .map(|_| day_in(rng, date(2023, 1, 1), date(2025, 12, 31)))
        .collect();
    dates.sort();
    let sellers = (2..=STAFF.len() as u64).collect::<Vec<_>>();
    let mut item_id: i64 = 0;
    for (i, order_date) in dates.iter().enumerate() {
        let order_id = i as i64 + 1;
        let customer = rng.range(1, CUSTOMERS as u64) as i64;
        let employee = *rng.pick(&sellers) as i64;
        let status = if order_date.as_str() >= "2025-12-01" {
            match rng.range(0, 9) {
                0..=4 => "pending",
                5..=8 => "shipped",
                _ => "cancelled",
            }
        } else {
            match rng.range(0, 19) {
                0 => "pending",
                1..=2 => "shipped",
                3..=17 => "delivered",
                _ => "cancelled",
            }
        };
        let n_items = match rng.range(0, 9) {
            0..=2 => 1,
            3..=5 => 2,
            6..=7 => 3,
            8 => 4,
            _ => 5,
        };
        let mut lines: Vec<(i64, i64, u64)> = Vec::with_capacity(n_items);
        let mut total_cents = 0u64;
        for _ in 0..n_items {
            let product = rng.range(1, prices.len() as u64) as usize;
            if lines.iter().any(|l| l.0 == product as i64) {
                continue;
            }
            let quantity = match rng.range(0, 9) {
                0..=5 => 1,
                6..=7 => 2,
                8 => 3,
                _ => rng.range(4, 10),
            };
            // One line in ten gets a 10 % discount.
            let unit = if rng.range(0, 9) == 0 {
                prices[product - 1] * 9 / 10
            } else {
                prices[product - 1]
            };
            total_cents += unit * quantity;
            lines.push((product as i64, quantity as i64, unit));
        }
        sqlx::query(
            "INSERT INTO orders (id, customer_id, employee_id, order_date, status, total) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(order_id)
        .bind(customer)
        .bind(employee)
        .bind(order_date)
        .bind(status)
        .bind(money(total_cents))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for (product, quantity, unit) in lines {
            item_id += 1;
            sqlx::query(
                "INSERT INTO order_items (id, order_id, product_id, quantity, unit_price) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(item_id)
            .bind(order_id)
            .bind(product)
            .bind(quantity)
            .bind(money(unit))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row counts and a few aggregates, rendered as text so floats compare exactly.
    async fn fingerprint(path: &Path) -> Vec<String> {
        let mut conn = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .connect()
            .await
            .unwrap();
        let mut out = Vec::new();
        for sql in [
            "SELECT CAST(COUNT(*) AS TEXT) FROM customers",
            "SELECT CAST(COUNT(*) AS TEXT) FROM products",
            "SELECT CAST(COUNT(*) AS TEXT) FROM employees",
            "SELECT CAST(COUNT(*) AS TEXT) FROM orders",
            "SELECT CAST(COUNT(*) AS TEXT) FROM order_items",
            "SELECT printf('%.2f', SUM(total)) FROM orders",
            "SELECT CAST(SUM(quantity) AS TEXT) FROM order_items",
            "SELECT group_concat(country || ':' || n) FROM \
             (SELECT country, COUNT(*) n FROM customers GROUP BY country ORDER BY country)",
            "SELECT group_concat(status || ':' || n) FROM \
             (SELECT status, COUNT(*) n FROM orders GROUP BY status ORDER BY status)",
            "SELECT MIN(order_date) || '/' || MAX(order_date) FROM orders",
            "SELECT CAST(SUM(id * length(name)) AS TEXT) FROM products",
        ] {
            let v: String = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
            out.push(v);
        }
        out
    }

    async fn scalar(path: &Path, sql: &'static str) -> i64 {
        let mut conn = SqliteConnectOptions::new()
            .filename(path)
            .connect()
            .await
            .unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }

    #[tokio::test]
    async fn builds_are_deterministic_and_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a/demo.db");
        let b = dir.path().join("b/nested/demo.db");
        ensure_demo_database(&a).await.unwrap();
        ensure_demo_database(&b).await.unwrap();
        let fa = fingerprint(&a).await;
        assert_eq!(fa, fingerprint(&b).await);
        assert_eq!(&fa[..4], ["200", "50", "20", "1500"]);
        let items: i64 = fa[4].parse().unwrap();
        assert!((3000..5000).contains(&items), "{items} order items");
        assert!(!tmp_path(&a).exists());

        // Every order's total is the sum of its items, and keys hold.
        let off = scalar(
            &a,
            "SELECT COUNT(*) FROM orders o WHERE abs(o.total - \
             (SELECT SUM(quantity * unit_price) FROM order_items i WHERE i.order_id = o.id)) > 0.005",
        )
        .await;
        assert_eq!(off, 0);
        assert_eq!(
            scalar(&a, "SELECT COUNT(*) FROM pragma_foreign_key_check").await,
            0
        );
        assert_eq!(
            scalar(&a, "SELECT COUNT(DISTINCT country) FROM customers").await,
            12
        );
    }

    #[tokio::test]
    async fn current_file_is_kept_and_stale_file_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.db");
        ensure_demo_database(&path).await.unwrap();
        // A marker survives a second call: the file was not rebuilt.
        {
            let mut conn = SqliteConnectOptions::new()
                .filename(&path)
                .connect()
                .await
                .unwrap();
            sqlx::query("CREATE TABLE marker (x INTEGER)")
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
        ensure_demo_database(&path).await.unwrap();
        let marker = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'marker'";
        assert_eq!(scalar(&path, marker).await, 1);

        // An older version is replaced by a fresh build.
        {
            let mut conn = SqliteConnectOptions::new()
                .filename(&path)
                .connect()
                .await
                .unwrap();
            sqlx::query("PRAGMA user_version = 0")
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
        ensure_demo_database(&path).await.unwrap();
        assert_eq!(scalar(&path, marker).await, 0);
        assert_eq!(current_version(&path).await, Some(DEMO_SCHEMA_VERSION));

        // Garbage in place of the file is replaced too.
        std::fs::write(&path, b"not a database").unwrap();
        ensure_demo_database(&path).await.unwrap();
        assert_eq!(scalar(&path, "SELECT COUNT(*) FROM orders").await, 1500);
    }
}
