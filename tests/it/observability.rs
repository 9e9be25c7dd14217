//! Metrics and readiness as an operator sees them.

use std::time::Duration;

use serde_json::json;

use crate::util::TestApp;
use crate::util::mock_llm::{MockLlm, Step, ok, status};

/// Value of one series in Prometheus text, 0 when absent.
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name_and_labels)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let resp = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    resp.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let app = TestApp::spawn().await;
    // A dead LLM endpoint for the failing-LLM part.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let failing = TestApp::builder()
        .config(move |c| {
            c.llm.provider = insight::config::ProviderKind::Openai;
            c.llm.base_url = Some(dead_url);
            c.llm.model = Some("gone-1".into());
            c.llm.timeout_secs = 2;
        })
        .spawn()
        .await;

    let before = scrape(&app).await;
    app.ask("How many customers are there?").await.expect(200);
    app.ask("How many orders are there?").await.expect(200);
    let r = app
        .post(
            "/api/v1/sql/execute",
            json!({ "sql": "DELETE FROM customers" }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);
    let r = app.ask("what is the meaning of life").await;
    assert_eq!(r.status.as_u16(), 422);
    let r = failing.ask("How many customers are there?").await;
    assert_eq!(r.status.as_u16(), 503, "{}", r.body);
    let after = scrape(&app).await;

    let delta = |s: &str| series(&after, s) - series(&before, s);
    assert_eq!(
        delta(r#"insight_asks_total{outcome="answered"}"#),
        2.0,
        "{after}"
    );
    assert_eq!(delta(r#"insight_asks_total{outcome="unanswerable"}"#), 1.0);
    assert!(delta(r#"insight_asks_total{outcome="failed"}"#) >= 1.0);
    assert_eq!(
        delta(r#"insight_sql_rejections_total{code="data_modifying"}"#),
        1.0,
        "{after}"
    );
    assert!(
        delta(r#"insight_llm_requests_total{provider="builtin",model="offline-v1",outcome="ok"}"#)
            >= 3.0,
        "{after}"
    );
    assert!(
        delta(r#"insight_llm_errors_total{provider="openai",model="gone-1",kind="unavailable"}"#)
            >= 1.0,
        "{after}"
    );
    assert_eq!(
        delta(
            r#"insight_http_requests_total{method="POST",route="/api/v1/sql/execute",status="422"}"#
        ),
        1.0,
        "{after}"
    );
    assert!(
        after.contains("insight_http_request_duration_seconds_bucket{"),
        "histograms rendered"
    );
    assert!(after.contains("insight_sql_execution_duration_seconds_bucket{connection=\"demo\""));
    assert!(after.contains("insight_retrieval_duration_seconds_count"));
    assert!(after.contains("insight_build_info{version=\""));

    let json = app.get("/metrics/json").await.expect(200);
    assert!(
        json["insight_asks_total"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{json}"
    );
}

#[tokio::test]
async fn readiness_names_a_failing_llm_and_service_keeps_answering_sql() {
    // An LLM endpoint that accepts connections but never answers.
    let silent = MockLlm::start(vec![Step::Delay(
        Duration::from_secs(3600),
        Box::new(ok(json!({}))),
    )])
    .await;
    let url = format!("{}/v1", silent.base);
    let app = TestApp::builder()
        .config(move |c| {
            c.llm.provider = insight::config::ProviderKind::Openai;
            c.llm.base_url = Some(url);
            c.llm.timeout_secs = 1;
        })
        .spawn()
        .await;
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(
        ready["checks"]["llm:openai"]["status"], "degraded",
        "{ready}"
    );
    assert!(ready["checks"]["llm:openai"]["error"].as_str().is_some());
    assert_eq!(ready["checks"]["connection:demo"]["status"], "ok");
    // SQL that needs no generation still runs.
    app.post(
        "/api/v1/sql/execute",
        json!({ "sql": "SELECT COUNT(*) FROM customers" }),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn metrics_can_move_to_their_own_listener() {
    let metrics_port = crate::util::free_port();
    let dir = tempfile::tempdir().unwrap();
    let server = crate::util::Running::serve(
        crate::util::insight_cmd(dir.path())
            .args(["serve", "--port", "0"])
            .env("INSIGHT_ADMIN_PASSWORD", "metrics-listener-test-pw")
            .env(
                "INSIGHT_SERVER__METRICS_ADDR",
                format!("127.0.0.1:{metrics_port}"),
            ),
    );
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let main = client.get(format!("{base}/metrics")).send().await.unwrap();
    let separate = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    let json = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics/json"))
        .send()
        .await
        .unwrap();
    drop(server);
    assert_eq!(main.status().as_u16(), 404, "not on the API port");
    assert_eq!(separate.status().as_u16(), 200);
    assert!(
        separate
            .text()
            .await
            .unwrap()
            .contains("insight_build_info")
    );
    assert_eq!(json.status().as_u16(), 200);
}

/// A server error during a streamed ask is logged like one of `/ask`: once,
/// at error level, with its internal detail, in the request's span (so the
/// line carries the correlation id the client got in the `error` event).
#[tokio::test]
async fn a_server_error_in_a_streamed_ask_is_logged_with_its_correlation_id() {
    // Current-thread runtime: the server's tasks log on this thread.
    let (capture, _guard) = crate::util::LogCapture::install(tracing::Level::INFO);
    let failing = MockLlm::answering(|_| status(500, json!({"error": {"message": "down"}}))).await;
    let url = format!("{}/v1", failing.base);
    let app = TestApp::builder()
        .config(move |c| {
            c.llm.provider = insight::config::ProviderKind::Openai;
            c.llm.base_url = Some(url);
        })
        .spawn()
        .await;
    let resp = app
        .client
        .post(format!("{}/api/v1/ask/stream", app.base))
        .json(&json!({ "question": "How many products are there?" }))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    let error = crate::util::sse_event(&text, "error");
    assert_eq!(error["error"]["code"], "upstream_unavailable", "{text}");
    let id = error["error"]["correlation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let logs = capture.text();
    let line = logs
        .lines()
        .find(|l| l.contains("ask failed"))
        .unwrap_or_else(|| panic!("no 'ask failed' line in the logs: {logs}"));
    assert!(line.contains("ERROR") && line.contains(&id), "{line}");
}
