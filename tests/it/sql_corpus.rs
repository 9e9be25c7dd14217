//! The validator against two corpora: hostile statements (injection tricks,
//! comments, case games, nested and CTE-hidden writes, stacked queries,
//! dangerous functions, system catalogs) that must all be rejected, and real
//! analytic queries that must all pass with an enforced LIMIT.

use insight::domain::Dialect;
use insight::domain::{ColumnInfo, ForeignKey, SchemaInfo, TableInfo};
use insight::sql::{SqlPolicy, validate};

struct Entry {
    dialect: Dialect,
    expect: Option<String>,
    sql: String,
}

fn corpus(name: &str) -> Vec<Entry> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut entries = Vec::new();
    // The first chunk is the file's own header comment.
    for chunk in text.split("\n-- ----\n").skip(1) {
        let mut dialect = Dialect::Sqlite;
        let mut expect = None;
        let mut sql_lines = Vec::new();
        for line in chunk.lines() {
            if let Some(d) = line.strip_prefix("-- dialect: ") {
                dialect = match d.trim() {
                    "postgres" => Dialect::Postgres,
                    "mysql" => Dialect::Mysql,
                    _ => Dialect::Sqlite,
                };
            } else if let Some(e) = line.strip_prefix("-- expect: ") {
                expect = Some(e.trim().to_string());
            } else {
                sql_lines.push(line);
            }
        }
        entries.push(Entry {
            dialect,
            expect,
            sql: sql_lines.join("\n"),
        });
    }
    entries
}

fn col(name: &str, ty: &str) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        data_type: ty.into(),
        nullable: true,
        ..Default::default()
    }
}

fn table(name: &str, cols: &[(&str, &str)], fks: &[(&str, &str)]) -> TableInfo {
    TableInfo {
        name: name.into(),
        columns: cols.iter().map(|(n, t)| col(n, t)).collect(),
        primary_key: vec!["id".into()],
        foreign_keys: fks
            .iter()
            .map(|(c, t)| ForeignKey {
                columns: vec![(*c).into()],
                ref_table: (*t).into(),
                ref_columns: vec!["id".into()],
            })
            .collect(),
        ..Default::default()
    }
}

pub fn shop_schema() -> SchemaInfo {
    SchemaInfo {
        tables: vec![
            table(
                "customers",
                &[
                    ("id", "INTEGER"),
                    ("name", "TEXT"),
                    ("email", "TEXT"),
                    ("country", "TEXT"),
                    ("city", "TEXT"),
                    ("segment", "TEXT"),
                    ("created_at", "DATE"),
                ],
                &[],
            ),
            table(
                "products",
                &[
                    ("id", "INTEGER"),
                    ("name", "TEXT"),
                    ("category", "TEXT"),
                    ("price", "REAL"),
                    ("cost", "REAL"),
                ],
                &[],
            ),
            table(
                "orders",
                &[
                    ("id", "INTEGER"),
                    ("customer_id", "INTEGER"),
                    ("employee_id", "INTEGER"),
                    ("order_date", "DATE"),
                    ("status", "TEXT"),
                    ("total", "REAL"),
                ],
                &[("customer_id", "customers"), ("employee_id", "employees")],
            ),
            table(
                "order_items",
                &[
                    ("id", "INTEGER"),
                    ("order_id", "INTEGER"),
                    ("product_id", "INTEGER"),
                    ("quantity", "INTEGER"),
                    ("unit_price", "REAL"),
                ],
                &[("order_id", "orders"), ("product_id", "products")],
            ),
            table(
                "employees",
                &[
                    ("id", "INTEGER"),
                    ("first_name", "TEXT"),
                    ("last_name", "TEXT"),
                    ("title", "TEXT"),
                    ("region", "TEXT"),
                    ("hire_date", "DATE"),
                    ("manager_id", "INTEGER"),
                ],
                &[("manager_id", "employees")],
            ),
        ],
    }
}

#[test]
fn every_hostile_statement_is_rejected() {
    let schema = shop_schema();
    let policy = SqlPolicy::default();
    let mut entries = corpus("hostile.sql");
    entries.extend(corpus("hostile_more.sql"));
    assert!(
        entries.len() >= 300,
        "the hostile corpus has {} entries",
        entries.len()
    );
    let mut failures = Vec::new();
    for e in &entries {
        match validate(&e.sql, e.dialect, &schema, &policy) {
            Ok(v) => failures.push(format!(
                "ACCEPTED [{}] {}\n    → {}",
                e.dialect,
                e.sql,
                v.sql()
            )),
            Err(err) => {
                assert!(
                    !err.message.is_empty() && !err.message.contains("Error {"),
                    "unreadable message: {err:?}"
                );
                if let Some(code) = &e.expect
                    && err.code.as_str() != code
                {
                    failures.push(format!(
                        "WRONG CODE [{}] {}\n    expected {code}, got {} ({})",
                        e.dialect,
                        e.sql,
                        err.code.as_str(),
                        err.message
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile entries:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}

#[test]
fn every_legitimate_query_passes_with_a_limit() {
    let schema = shop_schema();
    let policy = SqlPolicy {
        max_rows: 500,
        allowed_tables: None,
    };
    let entries = corpus("legit.sql");
    assert!(
        entries.len() >= 40,
        "the legitimate corpus has {} entries",
        entries.len()
    );
    let mut failures = Vec::new();
    for e in &entries {
        match validate(&e.sql, e.dialect, &schema, &policy) {
            Ok(v) => {
                assert!(v.limit() <= 500, "{}", v.sql());
                assert!(
                    v.sql().contains(" LIMIT ") || v.sql().contains(" FETCH FIRST "),
                    "no row limit in {}",
                    v.sql()
                );
                // The output is itself valid: validating it again is a fixed point.
                let again = validate(v.sql(), e.dialect, &schema, &policy)
                    .unwrap_or_else(|err| panic!("re-validating {} failed: {err}", v.sql()));
                assert_eq!(again.sql(), v.sql());
            }
            Err(err) => failures.push(format!(
                "REJECTED [{}] {}\n    {} {}",
                e.dialect,
                e.sql,
                err.code.as_str(),
                err.message
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} legitimate entries:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}

#[test]
fn allowlists_hold_through_subqueries_ctes_joins_and_set_operations() {
    let schema = shop_schema();
    let policy = SqlPolicy {
        max_rows: 100,
        allowed_tables: Some(["orders".to_string(), "products".to_string()].into()),
    };
    for sql in [
        "SELECT * FROM customers",
        "SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers)",
        "WITH c AS (SELECT * FROM customers) SELECT * FROM c",
        "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id",
        "SELECT id FROM orders UNION SELECT id FROM customers",
        "SELECT (SELECT name FROM customers LIMIT 1)",
        "SELECT * FROM main.customers",
    ] {
        let err = validate(sql, Dialect::Sqlite, &schema, &policy).unwrap_err();
        // Worded like a missing table: hidden tables do not show.
        assert_eq!(err.code.as_str(), "unknown_table", "{sql}: {err:?}");
    }
    let ok = validate(
        "SELECT p.name FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id",
        Dialect::Sqlite,
        &schema,
        &SqlPolicy {
            allowed_tables: Some(["orders".into(), "products".into(), "order_items".into()].into()),
            ..policy
        },
    );
    assert!(ok.is_ok(), "{ok:?}");
}
