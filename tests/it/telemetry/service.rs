//! Telemetry through the running service: the real binary's request spans
//! down to the LLM call, Sentry reports with the correlation id, and the
//! middleware continuing a caller's trace.

use super::*;

/// Through the real binary (its own process, so its global subscriber is
/// the one configured from the standard env vars): one ask produces a
/// request span with the pipeline's spans nested under it, down to the LLM
/// call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_exports_nested_spans_down_to_the_llm_call() {
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = crate::util::Running::serve(
        crate::util::insight_cmd(dir.path())
            .args(["serve", "--port", "0"])
            .env("INSIGHT_ADMIN_PASSWORD", "otlp-e2e-test-password")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.base)
            .env("OTEL_TRACES_SAMPLER", "always_on"),
    );
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let token = crate::util::login(&client, &base, "admin", "otlp-e2e-test-password").await;
    let resp = client
        .post(format!("{base}/api/v1/ask"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"question": "How many customers are there?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    // Spans are exported in batches about every second.
    let is_ask_request = |s: &Value| {
        s["name"] == "request"
            && s["attributes"].as_array().is_some_and(|a| {
                a.iter().any(|kv| {
                    kv["key"] == "http.route" && kv["value"]["stringValue"] == "/api/v1/ask"
                })
            })
    };
    let mut spans: Vec<Value> = Vec::new();
    for _ in 0..100 {
        spans = collector
            .received()
            .iter()
            .filter(|r| r.path == "/v1/traces")
            .flat_map(|r| spans_of(&r.json()))
            .collect();
        if spans.iter().any(&is_ask_request) && spans.iter().any(|s| s["name"] == "llm.generate") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    let request = spans
        .iter()
        .find(|s| is_ask_request(s))
        .unwrap_or_else(|| panic!("no request span for /api/v1/ask in {spans:?}"));
    let child_of = |parent: &Value, name: &str| -> Value {
        spans
            .iter()
            .find(|s| {
                s["name"] == name
                    && s["parentSpanId"] == parent["spanId"]
                    && s["traceId"] == parent["traceId"]
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {name} span under {}: {spans:?}", parent["name"]))
    };
    assert!(
        collector
            .received()
            .iter()
            .filter(|r| r.path == "/v1/traces")
            .all(|r| r.header("content-type") == "application/x-protobuf"),
        "http/protobuf is the default protocol"
    );
    let ask = child_of(request, "ask");
    let llm = child_of(&ask, "llm.generate");
    assert_eq!(
        attribute(&llm["attributes"], "llm.provider")["stringValue"],
        "builtin"
    );
    child_of(&ask, "retrieval");
    child_of(&ask, "sql.validate");
    child_of(&ask, "sql.execute");
    assert!(
        !spans
            .iter()
            .any(|s| s.to_string().contains("otlp-e2e-test-password"))
    );
}

/// Through the real service: an induced 500 reaches Sentry as an envelope
/// tagged with the request's correlation id, with no personal data.
#[tokio::test]
async fn an_internal_error_is_reported_to_sentry_with_the_correlation_id() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let collector = Collector::start().await;
    let telemetry =
        Telemetry::from_env_vars(&env(&[("SENTRY_DSN", &collector.dsn("pubkey123"))])).unwrap();
    let Telemetry { sentry, guard, .. } = telemetry;
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(sentry));
    let app = crate::util::TestApp::spawn().await;
    // Induce a failure the service cannot hide: its app store goes away.
    app.state.engine.store.close().await;
    let resp = app
        .client
        .post(format!("{}/api/v1/ask", app.base))
        .header("x-correlation-id", "corr-500-test")
        .json(&serde_json::json!({"question": "orders of ann.lee@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "internal");
    assert!(
        !body.to_string().contains("pool"),
        "5xx bodies carry no internals: {body}"
    );
    assert!(guard.sentry().unwrap().flush(Duration::from_secs(5)).await);
    let r = collector.wait_for(|r| r.path == "/api/42/envelope/").await;
    assert!(r.header("x-sentry-auth").contains("sentry_key=pubkey123"));
    let (_, _, event, raw) = envelope(&r);
    assert!(is_error_level(&event), "{event}");
    assert_eq!(event["tags"]["correlation_id"], "corr-500-test", "{event}");
    assert!(
        !raw.contains("ann.lee@example.com") && !raw.contains("@example.com"),
        "{raw}"
    );
    guard.shutdown().await;
}

/// Through the real middleware: a request carrying a W3C `traceparent`
/// becomes a SERVER span of the caller's trace, child of the caller's span.
#[tokio::test]
async fn the_middleware_continues_the_callers_trace() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let collector = Collector::start().await;
    let Telemetry { otlp, guard, .. } = Telemetry::from_env_vars(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.base),
        ("OTEL_TRACES_SAMPLER", "parentbased_always_off"),
    ]))
    .unwrap();
    let _default = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(otlp.map(OtlpTracer::layer)),
    );
    let app = crate::util::TestApp::spawn().await;
    let resp = app
        .client
        .get(format!("{}/health", app.base))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert!(guard.otlp().unwrap().flush(FLUSH).await);
    let traces = collector.wait_for(|r| r.path == "/v1/traces").await;
    let spans = spans_of(&traces.json());
    let request = span_named(&spans, "request");
    assert_eq!(request["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(request["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(request["kind"], 2, "SERVER");
    guard.shutdown().await;
}
