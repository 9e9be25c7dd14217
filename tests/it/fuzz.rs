//! Property tests: the SQL validator never panics and never lets through
//! anything but one read-only query; JSON request parsing never panics and
//! answers malformed bodies with our error body.

use std::sync::OnceLock;

use insight::connectors::Connector as _;

use insight::domain::Dialect;
use insight::domain::SchemaInfo;
use insight::sql::{SqlPolicy, validate};
use proptest::prelude::*;
use sqlparser::ast::Statement;
use sqlparser::dialect::{GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

fn demo_schema() -> &'static SchemaInfo {
    static SCHEMA: OnceLock<SchemaInfo> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("demo.db");
            insight::connectors::demo::ensure_demo_database(&path)
                .await
                .unwrap();
            let c = insight::connectors::sqlite::SqliteConnector::open(&path, true)
                .await
                .unwrap();
            c.introspect().await.unwrap()
        })
    })
}

/// Fragments that make hostile and legitimate SQL likely.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("SELECT".to_string()),
        Just("*".to_string()),
        Just("FROM".to_string()),
        Just("customers".to_string()),
        Just("orders".to_string()),
        Just("WHERE".to_string()),
        Just("id = 1".to_string()),
        Just(";".to_string()),
        Just("DELETE".to_string()),
        Just("DROP TABLE customers".to_string()),
        Just("INSERT INTO customers VALUES (1)".to_string()),
        Just("UPDATE customers SET name = 'x'".to_string()),
        Just("ATTACH DATABASE 'x' AS y".to_string()),
        Just("PRAGMA writable_schema = 1".to_string()),
        Just("WITH x AS (".to_string()),
        Just(")".to_string()),
        Just("(".to_string()),
        Just("UNION".to_string()),
        Just("LIMIT 5".to_string()),
        Just("--".to_string()),
        Just("/*".to_string()),
        Just("*/".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("INTO".to_string()),
        Just("JOIN".to_string()),
        Just("ON".to_string()),
        Just("count(*)".to_string()),
        Just("sqlite_master".to_string()),
        Just("load_extension('x')".to_string()),
        "[a-z_]{1,8}",
        "[ -~]{0,6}",
    ]
}

fn sql_input() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(fragment(), 0..14).prop_map(|v| v.join(" ")),
        "\\PC{0,80}",
    ]
}

fn parses_to_one_read_only_query(sql: &str, dialect: Dialect) -> bool {
    let parsed = match dialect {
        Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, sql),
        Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, sql),
        Dialect::Mysql => Parser::parse_sql(&MySqlDialect {}, sql),
    }
    .or_else(|_| Parser::parse_sql(&GenericDialect {}, sql));
    match parsed {
        Ok(stmts) => stmts.len() == 1 && matches!(stmts[0], Statement::Query(_)),
        Err(_) => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn the_validator_never_panics_and_only_passes_single_reads(
        sql in sql_input(),
        dialect in prop_oneof![Just(Dialect::Sqlite), Just(Dialect::Postgres), Just(Dialect::Mysql)],
        allow in proptest::option::of(Just(vec!["customers".to_string()])),
    ) {
        let policy = SqlPolicy {
            max_rows: 100,
            allowed_tables: allow.clone().map(|v| v.into_iter().collect()),
        };
        if let Ok(v) = validate(&sql, dialect, demo_schema(), &policy) {
            prop_assert!(parses_to_one_read_only_query(v.sql(), dialect), "{sql} -> {}", v.sql());
            let upper = v.sql().to_ascii_uppercase();
            for word in ["DELETE ", "DROP ", "INSERT ", "UPDATE ", "ATTACH ", "PRAGMA "] {
                prop_assert!(!upper.starts_with(word), "{}", v.sql());
            }
            if allow.is_some() {
                for t in v.tables() {
                    prop_assert_eq!(t.to_lowercase(), "customers");
                }
            }
        }
    }

    #[test]
    fn json_request_parsing_never_panics(body in "\\PC{0,200}") {
        // The request types reject bad input with an error, never a panic.
        let _ = serde_json::from_str::<insight::api::ask::AskRequest>(&body);
        let _ = serde_json::from_str::<insight::api::sql::ExecuteRequest>(&body);
        let _ = serde_json::from_str::<insight::api::auth::CreateKeyRequest>(&body);
        let _ = serde_json::from_str::<insight::api::admin::UpdateUserRequest>(&body);
        let _ = serde_json::from_str::<Vec<insight::store::grants::Grant>>(&body);
    }
}

#[tokio::test]
async fn malformed_json_bodies_get_our_error_body() {
    let app = crate::util::TestApp::spawn().await;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    let strategy = prop_oneof![
        "\\PC{0,60}",
        Just("{\"question\": 5}".to_string()),
        Just("{\"question\": \"\\u0000\"}".to_string()),
        Just("[".repeat(200)),
        Just("{\"username\": null}".to_string()),
    ];
    let bodies = std::cell::RefCell::new(Vec::new());
    runner
        .run(&strategy, |b| {
            bodies.borrow_mut().push(b);
            Ok(())
        })
        .unwrap();
    for body in bodies.into_inner() {
        for path in ["/api/v1/ask", "/api/v1/sql/execute", "/api/v1/auth/login"] {
            let r = app.post_raw(path, "application/json", &body).await;
            let s = r.status.as_u16();
            assert!(s < 500, "{path} {body:?}: {s} {}", r.body);
            if s >= 400 {
                crate::util::error_code(&r.body);
            }
        }
    }
}
