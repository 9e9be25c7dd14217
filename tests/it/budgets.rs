//! Resource budgets and bounded settings (issue 13, findings 3, 4 and 7):
//! byte caps while rows stream, the SQLite step budget, per-user admission,
//! settings refused outside their range, and the whole hostile corpus run
//! against the service. Each connector's own budgets (byte caps, `EXPLAIN`
//! budgets on real PostgreSQL and MariaDB, SQLite steps) are a case of the
//! connector conformance suite (`connectors::conformance`).

use std::time::{Duration, Instant};

use insight::connectors::ExecLimits;
use insight::domain::Role;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::util::{TestApp, TestUser, error_code};

async fn execute(user: &TestUser, sql: &str) -> (u16, Value, Duration) {
    let t = Instant::now();
    let r = user
        .post("/api/v1/sql/execute", json!({ "sql": sql }))
        .await;
    (r.status.as_u16(), r.body, t.elapsed())
}

/// Refused with a 4xx, or answered without data because SQLite's length
/// limit turned an oversized value into NULL (`printf` over the limit).
fn stopped(status: u16, body: &Value) -> bool {
    if (400..500).contains(&status) {
        error_code(body);
        return true;
    }
    status == 200
        && body["rows"].as_array().is_some_and(|rows| {
            rows.iter()
                .all(|r| r.as_array().is_some_and(|r| r.iter().all(Value::is_null)))
        })
}

// --- finding 3: one request exhausts memory ------------------------------------

#[tokio::test]
async fn huge_values_and_results_are_refused_while_rows_stream() {
    let app = TestApp::builder()
        .config(|c| {
            c.budgets.defaults.max_cell_bytes = 64 * 1024;
            c.budgets.defaults.max_result_bytes = 256 * 1024;
        })
        .spawn()
        .await;
    // The finding's own statement: 10 rows of 100 MB each. SQLite's length
    // limit (32 MiB, `.cargo/config.toml`) makes `printf` give NULL instead
    // of building the value: no memory is taken and nothing large returns.
    let (status, body, took) = execute(
        &app.admin,
        "SELECT printf('%.*c',100000000,'x') FROM orders LIMIT 10",
    )
    .await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(stopped(status, &body), "{status} {body}");
    // 10 MB values: built by SQLite, refused before they are kept.
    let (status, body, _) = execute(
        &app.admin,
        "SELECT printf('%.*c', 10000000, 'x') FROM orders LIMIT 10",
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "result_too_large")
    );
    // One value over the per-value cap.
    let (status, body, _) = execute(&app.admin, "SELECT printf('%.*c', 70000, 'x')").await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "result_too_large")
    );
    // Small values, but too many of them for the per-result cap.
    let (status, body, _) = execute(
        &app.admin,
        "SELECT printf('%.*c', 1000, 'x') FROM orders LIMIT 1000",
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "result_too_large")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("byte limit"),
        "{body}"
    );
    // Within the caps, the same shapes run.
    let (status, body, _) = execute(
        &app.admin,
        "SELECT printf('%.*c', 100, 'x') FROM orders LIMIT 100",
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

// --- finding 4: one viewer holds the whole SQLite pool --------------------------

#[tokio::test]
async fn one_viewer_cannot_hold_the_pool_and_runaway_statements_stop_early() {
    let app = TestApp::spawn().await;
    let viewer = std::sync::Arc::new(app.login_as(Role::Viewer).await);
    let forever =
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) SELECT count(*) FROM r";
    let started = Instant::now();
    let mut runaway = Vec::new();
    for _ in 0..4 {
        let v = viewer.clone();
        runaway.push(tokio::spawn(async move { execute(&v, forever).await }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The admin is served at once, not after the viewer's statements.
    let (status, body, took) = execute(&app.admin, "SELECT count(*) FROM orders").await;
    assert_eq!(status, 200, "{body}");
    assert!(took < Duration::from_secs(2), "admin waited {took:?}");
    for task in runaway {
        let (status, body, _) = task.await.unwrap();
        let code = error_code(&body);
        assert!(
            (status == 422 && code == "query_too_expensive")
                || (status == 429 && code == "rate_limited"),
            "{status} {body}"
        );
    }
    // Stopped by the work budget, not by the 30 s timeout.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_users_extra_queries_get_429_with_retry_after() {
    let app = TestApp::builder()
        .config(|c| {
            c.budgets.defaults.max_concurrent_per_user = 1;
            // No wait: the second query is refused at once, whatever the
            // machine's speed (the bounded wait has its own unit test).
            c.budgets.defaults.queue_wait_ms = 0;
            // The first query must still run when the second comes: a step
            // budget large enough for seconds of work, small enough to end it.
            c.budgets.defaults.max_steps = 150_000_000;
        })
        .spawn()
        .await;
    let viewer = std::sync::Arc::new(app.login_as(Role::Viewer).await);
    let slow =
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) SELECT count(*) FROM r";
    let v = viewer.clone();
    let first = tokio::spawn(async move { execute(&v, slow).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let r = viewer
        .post("/api/v1/sql/execute", json!({ "sql": "SELECT 1" }))
        .await;
    r.expect_error(429, "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
    let (status, body, _) = first.await.unwrap();
    assert_eq!(status, 422, "{body}");
    // The slot is free again.
    let (status, body, _) = execute(&viewer, "SELECT 1").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn role_budgets_tighten_a_connections_budget() {
    let app = TestApp::builder()
        .config(|c| c.budgets.roles.viewer.max_cell_bytes = Some(1000))
        .spawn()
        .await;
    let viewer = app.login_as(Role::Viewer).await;
    let analyst = app.login_as(Role::Analyst).await;
    let sql = "SELECT printf('%.*c', 5000, 'x')";
    let (status, body, _) = execute(&viewer, sql).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "result_too_large")
    );
    let (status, body, _) = execute(&analyst, sql).await;
    assert_eq!(status, 200, "{body}");
}

// --- finding 7: unbounded settings panic -----------------------------------------

#[tokio::test]
async fn connection_settings_outside_their_range_are_refused() {
    let app = TestApp::spawn().await;
    let create = |id: &str, extra: Value| {
        let mut body = json!({
            "id": id,
            "dialect": "postgres",
            "dsn": "postgres://reader@127.0.0.1:1/none",
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (extra, named) in [
        (json!({ "timeout_secs": u64::MAX }), "timeout_secs"),
        (json!({ "timeout_secs": 0 }), "timeout_secs"),
        (json!({ "max_rows": 0 }), "max_rows"),
        (
            json!({ "budgets": { "max_result_bytes": 1 } }),
            "budgets.max_result_bytes",
        ),
        (
            json!({ "budgets": { "max_concurrent_per_user": 0 } }),
            "budgets.max_concurrent_per_user",
        ),
    ] {
        let r = app
            .post(
                "/api/v1/admin/connections",
                create("bounded", extra.clone()),
            )
            .await;
        assert_eq!(r.status.as_u16(), 400, "{extra}: {}", r.body);
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{extra}: {message}");
    }
    // Nothing was stored; a valid one is, and cannot be patched out of range.
    app.post(
        "/api/v1/admin/connections",
        create("bounded", json!({ "timeout_secs": 5 })),
    )
    .await
    .expect(201);
    let r = app
        .patch(
            "/api/v1/admin/connections/bounded",
            json!({ "timeout_secs": u64::MAX }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timeout_secs")
    );
}

#[test]
fn limits_from_huge_settings_never_panic() {
    // A stored value from before the bounds existed is clamped, and the
    // deadline arithmetic saturates.
    let l = insight::connectors::registry::limits(1000, 30, Some(u64::MAX), Some(u64::MAX));
    assert_eq!(l.timeout, Duration::from_secs(3600));
    let huge = ExecLimits::new(Duration::MAX, 10);
    assert!(huge.deadline() > Instant::now());
}

#[test]
fn config_settings_outside_their_range_name_the_setting() {
    for (var, value, named) in [
        (
            "INSIGHT_QUERY__TIMEOUT_SECS",
            "18446744073709551615",
            "query.timeout_secs",
        ),
        ("INSIGHT_QUERY__MAX_ROWS", "0", "query.max_rows"),
        (
            "INSIGHT_SERVER__REQUEST_TIMEOUT_SECS",
            "0",
            "server.request_timeout_secs",
        ),
        (
            "INSIGHT_BUDGETS__DEFAULTS__MAX_STEPS",
            "1",
            "budgets.defaults.max_steps",
        ),
        (
            "INSIGHT_BUDGETS__DEFAULTS__MAX_CELL_BYTES",
            "0",
            "budgets.defaults.max_cell_bytes",
        ),
        (
            "INSIGHT_CONNECTIONS__X__TIMEOUT_SECS",
            "99999999",
            "connections.x.timeout_secs",
        ),
    ] {
        let mut env = vec![(var.to_string(), value.to_string())];
        if var.contains("CONNECTIONS__X") {
            env.push(("INSIGHT_CONNECTIONS__X__DIALECT".into(), "sqlite".into()));
            env.push(("INSIGHT_CONNECTIONS__X__PATH".into(), "/tmp/x.db".into()));
        }
        let err = insight::config::Config::load_from(None, &env)
            .err()
            .unwrap_or_else(|| panic!("{var}={value} was accepted"))
            .to_string();
        assert!(err.contains(named), "{var}: {err}");
    }
}

// --- the hostile corpus against the running service ------------------------------

/// The SQLite entries of a corpus file (the demo database is SQLite; the
/// other dialects' entries are checked by the validator corpus test).
fn corpus(name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    text.split("\n-- ----\n")
        .skip(1)
        .filter(|chunk| {
            !chunk
                .lines()
                .any(|l| l.starts_with("-- dialect: ") && !l.contains("sqlite"))
        })
        .map(|chunk| {
            chunk
                .lines()
                .filter(|l| !l.starts_with("-- dialect: ") && !l.starts_with("-- expect: "))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

fn file_hash(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).expect("read the database file");
    format!("{:x}", Sha256::digest(bytes))
}

#[tokio::test]
async fn every_hostile_statement_is_refused_or_stopped_within_two_seconds() {
    // A strict step budget: tests run an unoptimised SQLite on a shared,
    // loaded machine, where the default (20M steps) of a sorter-heavy cross
    // join takes longer than the 2 s this test allows.
    let app = TestApp::builder()
        .config(|c| c.budgets.defaults.max_steps = 2_000_000)
        .spawn()
        .await;
    let demo = app.dir.path().join("demo.db");
    let before = file_hash(&demo);
    let mut entries = corpus("hostile.sql");
    entries.extend(corpus("hostile_more.sql"));
    entries.extend(corpus("resource.sql"));
    assert!(
        entries.len() >= 300,
        "the corpus has {} entries",
        entries.len()
    );
    let mut failures = Vec::new();
    for sql in &entries {
        let (status, body, took) = execute(&app.admin, sql).await;
        let shown: String = sql.chars().take(100).collect();
        if !stopped(status, &body) {
            failures.push(format!("{status} for {shown}: {body}"));
        } else if took > Duration::from_secs(2) {
            failures.push(format!("{took:?} for {shown}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} entries:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
    // Still healthy and answering.
    app.get("/health/ready").await.expect(200);
    let (status, body, _) = execute(&app.admin, "SELECT count(*) AS n FROM orders").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(file_hash(&demo), before, "the demo database file changed");
}
