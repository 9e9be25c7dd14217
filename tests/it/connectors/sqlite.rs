//! What only SQLite has: values read by their storage class (a `NUMERIC`
//! column holding 12.5 is a REAL), types named as sqlx reads the declared
//! ones. What every connector shares is in `conformance`.

use insight::connectors::Connector as _;
use insight::domain::Dialect;
use serde_json::{Value, json};

use super::fixture::{check, limits, lite};

#[tokio::test]
async fn values_map_to_exact_json() {
    let lite = lite().await;
    let sql = check(
        "SELECT * FROM kinds ORDER BY id",
        Dialect::Sqlite,
        &lite.schema,
    );
    let rs = lite.conn.execute(&sql, limits(10, 5000)).await.unwrap();
    assert_eq!(rs.rows.len(), 2);
    assert!(!rs.truncated);
    let expected = [
        ("id", "INTEGER", json!(1)),
        ("c_int", "INTEGER", json!(9007199254740993i64)),
        ("c_real", "REAL", json!(2.5)),
        ("c_numeric", "REAL", json!(12.5)),
        ("c_text", "TEXT", json!("héllo ✓")),
        ("c_blob", "BLOB", json!("AP8Q")),
        ("c_bool", "BOOLEAN", json!(1)),
        ("c_date", "DATE", json!("2024-02-29")),
    ];
    let columns: Vec<(&str, &str)> = rs
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str()))
        .collect();
    let want: Vec<(&str, &str)> = expected.iter().map(|(n, t, _)| (*n, *t)).collect();
    assert_eq!(columns, want, "names and types");
    for (i, (name, _, value)) in expected.iter().enumerate() {
        assert_eq!(&rs.rows[0][i], value, "value of {name}");
    }
    assert_eq!(rs.rows[1][0], json!(2));
    assert!(
        rs.rows[1][1..].iter().all(Value::is_null),
        "{:?}",
        rs.rows[1]
    );
}
