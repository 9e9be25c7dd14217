//! What only MySQL/MariaDB has: column comments and `SHOW`-style type names,
//! every column type mapped to exact JSON (MySQL and MariaDB differ on JSON),
//! the session variable that makes it read-only, and the URL rewrite the
//! fixture relies on. What every connector shares is in `conformance`.

use insight::connectors::Connector as _;
use insight::domain::Dialect;
use serde_json::{Value, json};

use super::fixture::{check, limits, my, with_database};

#[tokio::test]
async fn introspection_reads_column_comments_and_mysql_types() {
    let Some(my) = my().await else { return };
    let s = &my.schema;
    assert_eq!(s.table("customer_orders").unwrap().comment, None);
    let name = s.table("customers").unwrap().column("name").unwrap();
    assert_eq!(name.comment.as_deref(), Some("Full name"));
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
async fn values_map_to_exact_json() {
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
async fn sessions_are_read_only_by_default() {
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
    // Even SQL sent on the pool, past the connector, cannot write.
    let err = sqlx::query("INSERT INTO customers VALUES (9, 'west', 'Eve', NULL)")
        .execute(my.conn.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("READ ONLY"), "{err}");
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
