//! What only PostgreSQL has: its catalog's type names and comments on
//! views, every column type mapped to exact JSON, the session variable that
//! makes it read-only. What every connector shares is in `conformance`.

use insight::connectors::Connector as _;
use insight::connectors::ConnectorError;
use insight::connectors::postgres::PostgresConnector;
use insight::domain::Dialect;
use serde_json::{Value, json};

use super::fixture::{check, limits, pg};

#[tokio::test]
async fn introspection_reads_view_comments_and_postgres_types() {
    let Some(pg) = pg().await else { return };
    let view = pg.schema.table("customer_orders").unwrap();
    assert_eq!(view.comment.as_deref(), Some("Orders with customer names"));
    let kinds = pg.schema.table("kinds").unwrap();
    let types: Vec<&str> = ["c_int_array", "c_mood", "c_char", "c_bytea"]
        .iter()
        .map(|c| kinds.column(c).unwrap().data_type.as_str())
        .collect();
    assert_eq!(types, ["integer[]", "mood", "character(3)", "bytea"]);
    assert_eq!(kinds.column("c_mood").unwrap().sample_values, ["sad"]);
}

#[tokio::test]
async fn values_map_to_exact_json() {
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
async fn sessions_are_read_only_by_default() {
    let Some(pg) = pg().await else { return };
    let ro: String = sqlx::query_scalar("SHOW default_transaction_read_only")
        .fetch_one(pg.conn.pool())
        .await
        .unwrap();
    assert_eq!(ro, "on");
    // Even SQL sent on the pool, past the connector, cannot write.
    let err = sqlx::query("INSERT INTO customers VALUES (9, 'west', 'Eve', NULL)")
        .execute(pg.conn.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[tokio::test]
async fn a_malformed_url_is_a_config_error() {
    let err = PostgresConnector::connect("not a url", 1)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
}
