//! Traces (OTLP/HTTP, protobuf or JSON) and error reports (Sentry envelopes)
//! as a collector receives them. A small axum server on port 0 plays both the
//! OTLP collector and Sentry's ingest; each test builds its own subscriber
//! and installs it for the current thread only, so the global one is never
//! touched.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use insight::observability::MaskingWriter;
use insight::observability::otlp::{OtlpTracer, continue_trace, current_trace_id, trace_id_of};
use insight::observability::sentry::{
    Level, Sentry, SentryConfig, SentryLayer, install_panic_hook,
};
use insight::observability::telemetry::Telemetry;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

const FLUSH: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as JSON; an OTLP protobuf body is decoded into OTLP's JSON
    /// mapping first (the same shape `http/json` sends).
    fn json(&self) -> Value {
        if self.header("content-type") == "application/x-protobuf" {
            use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
            use prost::Message as _;
            let request = ExportTraceServiceRequest::decode(self.body.as_slice())
                .expect("OTLP protobuf body");
            serde_json::to_value(request).expect("OTLP JSON mapping")
        } else {
            serde_json::from_slice(&self.body).expect("JSON body")
        }
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
}

/// Records every request it gets and answers 200.
struct Collector {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let sink = sink.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 10 << 20)
                    .await
                    .unwrap_or_default();
                sink.lock().unwrap().push(Received {
                    path: parts.uri.path().to_string(),
                    headers: parts.headers,
                    body: body.to_vec(),
                });
                "{}"
            }
        });
        let base = format!("http://{}", crate::util::serve_router(app).await);
        Self { base, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Wait (bounded) until a request matching `pred` arrived.
    async fn wait_for(&self, pred: impl Fn(&Received) -> bool) -> Received {
        for _ in 0..100 {
            if let Some(r) = self.received().into_iter().find(|r| pred(r)) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no matching request arrived; got {:?}", self.received());
    }

    /// A DSN for this server, project 42.
    fn dsn(&self, key: &str) -> String {
        self.base.replacen("http://", &format!("http://{key}@"), 1) + "/42"
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// All spans of an OTLP export body, checking the envelope on the way.
fn spans_of(body: &Value) -> Vec<Value> {
    let rs = &body["resourceSpans"];
    assert_eq!(rs.as_array().map(Vec::len), Some(1), "{body}");
    let scope_spans = &rs[0]["scopeSpans"];
    assert_eq!(scope_spans[0]["scope"]["name"], "insight");
    scope_spans[0]["spans"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn span_named<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:?}"))
}

fn attribute<'a>(attrs: &'a Value, key: &str) -> &'a Value {
    attrs
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map(|kv| &kv["value"])
        .unwrap_or_else(|| panic!("no attribute {key} in {attrs}"))
}

/// No parent: the JSON mapping may leave the field out or send it empty.
fn has_no_parent(span: &Value) -> bool {
    span.get("parentSpanId")
        .is_none_or(|p| p.as_str() == Some(""))
}

/// Status UNSET: left out, or code 0.
fn status_is_unset(span: &Value) -> bool {
    span.get("status")
        .is_none_or(|s| s["code"].as_i64().unwrap_or(0) == 0)
}

fn is_hex(s: &Value, len: usize) -> bool {
    s.as_str().is_some_and(|s| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Sentry's default level is `error`, and the crate leaves it out.
fn is_error_level(event: &Value) -> bool {
    event.get("level").is_none_or(|l| l == "error")
}

/// The three envelope parts: header, item header, event.
fn envelope(r: &Received) -> (Value, Value, Value, String) {
    let text = r.text();
    let lines: Vec<&str> = text.trim_end_matches('\n').split('\n').collect();
    assert_eq!(lines.len(), 3, "{text}");
    let parse = |l: &str| serde_json::from_str::<Value>(l).unwrap();
    (
        parse(lines[0]),
        parse(lines[1]),
        parse(lines[2]),
        lines[2].to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_as_otlp_json() {
    let collector = Collector::start().await;
    let telemetry = Telemetry::from_env_vars(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.base),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k1"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_SERVICE_NAME", "insight-test"),
        ("OTEL_TRACES_SAMPLER", "always_on"),
    ]))
    .unwrap();
    assert!(telemetry.otlp.is_some() && telemetry.sentry.is_none());
    let subscriber = tracing_subscriber::registry().with(telemetry.otlp.map(OtlpTracer::layer));
    let trace_id = tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!(
            "request",
            correlation_id = "c-1",
            http.method = "POST",
            http.route = "/api/v1/ask"
        );
        let _r = request.enter();
        let ask = tracing::info_span!(
            "ask",
            connection.id = tracing::field::Empty,
            query.id = 42_i64,
            cached = false,
            score = 0.5,
            note = "asked by ann.lee@example.com"
        );
        let _a = ask.enter();
        ask.record("connection.id", "main");
        let execute = tracing::info_span!("execute", error = tracing::field::Empty);
        execute.record("error", "connection refused");
        current_trace_id()
    });
    let trace_id = trace_id.expect("a trace id inside the request span");
    telemetry.guard.shutdown().await;

    // Usually one batch; a busy machine may let the export interval split
    // the spans over two, and every batch must carry the same envelope.
    let received = collector.received();
    assert!(!received.is_empty(), "nothing was exported");
    let mut spans = Vec::new();
    for r in &received {
        assert_eq!(r.path, "/v1/traces");
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(r.header("x-api-key"), "k1");
        let body = r.json();
        let resource = &body["resourceSpans"][0]["resource"]["attributes"];
        assert_eq!(
            attribute(resource, "service.name")["stringValue"],
            "insight-test"
        );
        assert_eq!(
            attribute(resource, "service.version")["stringValue"],
            env!("CARGO_PKG_VERSION")
        );
        spans.extend(spans_of(&body));
    }
    assert_eq!(spans.len(), 3, "{spans:?}");
    for s in &spans {
        assert!(is_hex(&s["traceId"], 32) && is_hex(&s["spanId"], 16), "{s}");
        assert_eq!(s["traceId"], trace_id.as_str());
        let start: u64 = s["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
        let end: u64 = s["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
        assert!(start > 1_600_000_000_000_000_000 && end >= start, "{s}");
    }
    let (request, ask, execute) = (
        span_named(&spans, "request"),
        span_named(&spans, "ask"),
        span_named(&spans, "execute"),
    );
    assert!(has_no_parent(request), "{request}");
    assert_eq!(ask["parentSpanId"], request["spanId"]);
    assert_eq!(execute["parentSpanId"], ask["spanId"]);
    assert_eq!(request["kind"], 2, "SERVER");
    assert_eq!(ask["kind"], 1, "INTERNAL");
    assert_eq!(
        attribute(&request["attributes"], "http.route")["stringValue"],
        "/api/v1/ask"
    );
    assert_eq!(
        attribute(&request["attributes"], "correlation_id")["stringValue"],
        "c-1"
    );
    assert_eq!(
        attribute(&ask["attributes"], "connection.id")["stringValue"],
        "main"
    );
    assert_eq!(attribute(&ask["attributes"], "query.id")["intValue"], "42");
    assert_eq!(attribute(&ask["attributes"], "cached")["boolValue"], false);
    assert_eq!(attribute(&ask["attributes"], "score")["doubleValue"], 0.5);
    assert_eq!(
        attribute(&ask["attributes"], "note")["stringValue"],
        "asked by [email]"
    );
    assert!(status_is_unset(ask), "{ask}");
    assert_eq!(execute["status"]["code"], 2);
    assert_eq!(execute["status"]["message"], "connection refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_off_sends_nothing_but_still_assigns_trace_ids() {
    let collector = Collector::start().await;
    let telemetry = Telemetry::from_env_vars(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.base),
        ("OTEL_TRACES_SAMPLER", "always_off"),
    ]))
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.otlp.map(OtlpTracer::layer));
    let trace_id = tracing::subscriber::with_default(subscriber, || {
        let _r = tracing::info_span!("request").entered();
        let _a = tracing::info_span!("ask").entered();
        current_trace_id()
    });
    assert!(
        trace_id.is_some_and(|t| t.len() == 32),
        "logs still get a trace id"
    );
    let otlp = telemetry.guard.otlp().unwrap();
    assert!(otlp.flush(FLUSH).await);
    assert_eq!(otlp.span_counts(), (0, 0, 0));
    telemetry.guard.shutdown().await;
    assert!(
        collector.received().is_empty(),
        "{:?}",
        collector.received()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_traceparent_is_continued() {
    let collector = Collector::start().await;
    // Parent-based ratio 0: only the caller's sampled flag lets a trace through.
    let telemetry = Telemetry::from_env_vars(&env(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{}/custom/traces", collector.base),
        ),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
    ]))
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.otlp.map(OtlpTracer::layer));
    let recorded = tracing::subscriber::with_default(subscriber, || {
        // What the correlation middleware does with the header.
        let request = tracing::info_span!("request", trace_id = tracing::field::Empty);
        assert!(continue_trace(
            &request,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        let id = trace_id_of(&request);
        if let Some(t) = &id {
            request.record("trace_id", t.as_str());
        }
        request.in_scope(|| tracing::info_span!("ask").in_scope(|| ()));
        drop(request);

        let unsampled = tracing::info_span!("request");
        assert!(continue_trace(
            &unsampled,
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
        ));
        // Headers the W3C spec says to ignore start a new trace.
        let ignored = tracing::info_span!("request");
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert!(!continue_trace(&ignored, bad), "{bad}");
        }
        drop(ignored);
        let _u = tracing::info_span!(parent: &unsampled, "ask").entered();
        id
    });
    assert_eq!(
        recorded.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    telemetry.guard.shutdown().await;

    // The exporter may split the spans over several batches on a busy
    // machine: every batch goes to the configured path, and together they
    // hold the sampled trace only.
    let received = collector.received();
    assert!(!received.is_empty(), "nothing was exported");
    assert!(
        received.iter().all(|r| r.path == "/custom/traces"),
        "{received:?}"
    );
    let spans: Vec<Value> = received.iter().flat_map(|r| spans_of(&r.json())).collect();
    assert_eq!(spans.len(), 2, "only the sampled trace: {spans:?}");
    let (request, ask) = (span_named(&spans, "request"), span_named(&spans, "ask"));
    assert_eq!(request["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(ask["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        request["parentSpanId"], "00f067aa0ba902b7",
        "the caller's span is the parent"
    );
    assert_eq!(request["kind"], 2);
    assert_eq!(ask["parentSpanId"], request["spanId"]);
    let attrs = request["attributes"].as_array().unwrap();
    assert!(
        !attrs
            .iter()
            .any(|kv| kv["key"] == "traceparent" || kv["key"] == "trace_id"),
        "{attrs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentry_events_are_envelopes_with_masked_text() {
    let collector = Collector::start().await;
    let config = SentryConfig::from_env_vars(&env(&[
        ("SENTRY_DSN", &collector.dsn("pub123")),
        ("SENTRY_ENVIRONMENT", "staging"),
    ]))
    .unwrap()
    .unwrap();
    let sentry = Sentry::new(config).unwrap();
    let id = sentry
        .capture_error(
            Level::Warning,
            "export failed for ann.lee@example.com",
            &[("correlation_id", "c-9"), ("job", "train")],
        )
        .expect("queued");
    assert!(sentry.flush(FLUSH).await);

    let received = collector.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let r = &received[0];
    assert_eq!(r.path, "/api/42/envelope/");
    let auth = r.header("x-sentry-auth");
    assert!(
        auth.starts_with("Sentry ")
            && auth.contains("sentry_version=7")
            && auth.contains("sentry_key=pub123"),
        "{auth}"
    );
    let (header, item, event, raw_event) = envelope(r);
    let uuid_of = |v: &Value| v.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok());
    assert_eq!(uuid_of(&header["event_id"]), Some(id));
    assert_eq!(item["type"], "event");
    assert_eq!(item["length"], raw_event.len());
    assert_eq!(uuid_of(&event["event_id"]), Some(id));
    assert_eq!(event["platform"], "rust");
    assert_eq!(event["level"], "warning");
    assert_eq!(
        event["release"],
        format!("insight@{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(event["environment"], "staging");
    // Seconds since the epoch, as the Sentry event protocol allows.
    assert!(
        event["timestamp"].as_f64().is_some_and(|t| t > 1.6e9),
        "{event}"
    );
    assert_eq!(event["tags"]["correlation_id"], "c-9");
    assert_eq!(event["tags"]["job"], "train");
    assert_eq!(event["message"], "export failed for [email]");
    assert!(!r.text().contains("ann.lee@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_events_become_sentry_events_tagged_with_the_request() {
    let collector = Collector::start().await;
    let config = SentryConfig::from_env_vars(&env(&[("SENTRY_DSN", &collector.dsn("k"))]))
        .unwrap()
        .unwrap();
    let sentry = Sentry::new(config).unwrap();
    let subscriber = tracing_subscriber::registry().with(SentryLayer::new(sentry.clone()));
    tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!(
            "request",
            correlation_id = "c-42",
            trace_id = tracing::field::Empty
        );
        let _r = request.enter();
        let _a = tracing::info_span!("ask", query.id = 7_i64).entered();
        tracing::info!("routine, not reported");
        tracing::warn!("not reported either");
        tracing::error!(
            user.email = "bob@example.com",
            rows = 3,
            "query failed: {}",
            "timeout"
        );
    });
    assert!(sentry.flush(FLUSH).await);

    let received = collector.received();
    assert_eq!(
        received.len(),
        1,
        "only the error is reported: {received:?}"
    );
    let (_, _, event, _) = envelope(&received[0]);
    assert!(is_error_level(&event), "{event}");
    assert_eq!(event["message"], "query failed: timeout");
    assert_eq!(event["logger"], module_path!());
    assert_eq!(event["tags"]["correlation_id"], "c-42");
    assert_eq!(event["tags"]["query.id"], "7");
    assert_eq!(event["extra"]["user.email"], "[email]");
    assert_eq!(event["extra"]["rows"], "3");
    assert!(
        event["extra"]["location"]
            .as_str()
            .unwrap()
            .contains("telemetry/mod.rs")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_are_reported_then_passed_on() {
    let collector = Collector::start().await;
    let config = SentryConfig::from_env_vars(&env(&[("SENTRY_DSN", &collector.dsn("k"))]))
        .unwrap()
        .unwrap();
    install_panic_hook(Sentry::new(config).unwrap());
    let caught = tokio::task::spawn_blocking(|| {
        std::thread::spawn(|| {
            std::panic::catch_unwind(|| panic!("kaboom for ann.lee@example.com")).is_err()
        })
        .join()
        .unwrap()
    })
    .await
    .unwrap();
    assert!(caught, "the panic still unwinds after the hook");

    // Other tests' panics may land here too (the hook is process-wide).
    let r = collector.wait_for(|r| r.text().contains("kaboom")).await;
    let (_, _, event, _) = envelope(&r);
    assert_eq!(event["level"], "fatal");
    assert_eq!(event["tags"]["panic"], "true");
    let message = event["message"].as_str().unwrap();
    assert!(
        message.contains("telemetry/mod.rs") && message.ends_with("kaboom for [email]"),
        "{message}"
    );
    assert!(
        event["extra"]["location"]
            .as_str()
            .unwrap()
            .contains("telemetry/mod.rs")
    );
}

/// The stack `observability::init_logging` builds, with a JSON log writer we
/// can read: trace ids reach the log lines and the error report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_error_reports_carry_the_trace_id() {
    use tracing_subscriber::Layer;

    let collector = Collector::start().await;
    let telemetry = Telemetry::from_env_vars(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.base),
        ("SENTRY_DSN", &collector.dsn("k")),
    ]))
    .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = lines.clone();
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(MaskingWriter::new(move || Sink(sink.clone())))
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .boxed();
    let Telemetry {
        otlp,
        sentry,
        guard,
    } = telemetry;
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(fmt)
        .with(otlp.map(OtlpTracer::layer))
        .with(sentry);
    let trace_id = tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!(
            "request",
            correlation_id = "c-7",
            trace_id = tracing::field::Empty
        );
        let trace_id = trace_id_of(&request).expect("trace id");
        request.record("trace_id", trace_id.as_str());
        let _r = request.enter();
        tracing::error!("upstream unavailable");
        trace_id
    });
    guard.otlp().unwrap().flush(FLUSH).await;
    assert!(guard.sentry().unwrap().flush(FLUSH).await);
    guard.shutdown().await;

    let log = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains(&format!("\"trace_id\":\"{trace_id}\"")),
        "{log}"
    );
    let report = collector.wait_for(|r| r.path.ends_with("/envelope/")).await;
    let (_, _, event, _) = envelope(&report);
    assert_eq!(event["tags"]["trace_id"], trace_id.as_str());
    assert_eq!(event["tags"]["correlation_id"], "c-7");
    let traces = collector.wait_for(|r| r.path == "/v1/traces").await;
    assert_eq!(
        span_named(&spans_of(&traces.json()), "request")["traceId"],
        trace_id.as_str()
    );
}

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn nothing_is_installed_without_configuration() {
    for vars in [
        env(&[]),
        env(&[
            ("PATH", "/usr/bin"),
            ("OTEL_SERVICE_NAME", "insight"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ]),
        env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SDK_DISABLED", "true"),
            ("SENTRY_DSN", ""),
        ]),
    ] {
        let telemetry = Telemetry::from_env_vars(&vars).unwrap();
        assert!(!telemetry.is_enabled(), "{vars:?}");
        assert!(telemetry.otlp.is_none() && telemetry.sentry.is_none());
        assert!(telemetry.guard.sentry().is_none() && telemetry.guard.otlp().is_none());
        // Without the layer there is no trace id to find.
        let subscriber = tracing_subscriber::registry().with(telemetry.otlp.map(OtlpTracer::layer));
        let id = tracing::subscriber::with_default(subscriber, || {
            let _r = tracing::info_span!("request").entered();
            current_trace_id()
        });
        assert_eq!(id, None);
        telemetry.guard.shutdown().await;
    }
    // A set but broken variable fails startup, naming it.
    let err = Telemetry::from_env_vars(&env(&[("SENTRY_DSN", "not a dsn")])).unwrap_err();
    assert!(err.to_string().contains("SENTRY_DSN"), "{err}");
}

mod service;
