//! OpenTelemetry traces, exported as OTLP/HTTP (protobuf by default, JSON on
//! request) through the `opentelemetry` crates.
//!
//! The SDK, the OTLP exporter and `tracing-opentelemetry` run on the same
//! reqwest/rustls stack as the rest of the service (no tonic, no second TLS
//! library), so only our policy is written here:
//!
//! - [`OtlpConfig`]: the standard `OTEL_*` variables, read once at startup
//!   from the pairs the CLI hands over. No endpoint means no layer at all, so
//!   an unconfigured service pays nothing.
//! - [`OtlpTracer`]: the tracer whose [`OtlpTracer::layer`] turns our
//!   `tracing` spans (`request`, `ask`, `retrieval`, `llm.generate`, …) into
//!   OpenTelemetry spans. A root span continues the caller's trace when the
//!   middleware hands its W3C `traceparent` to [`continue_trace`].
//! - [`MaskingProcessor`]: a span processor in front of the SDK's batch
//!   processor. Every string attribute, span name and status message goes
//!   through [`redact::mask`] before a span is queued; our `error` field
//!   becomes the span status; a root `request` span is a SERVER span.
//! - [`OtlpGuard`]: flushes and shuts the provider down on graceful exit.
//!
//! The batch processor exports on its own thread with the blocking reqwest
//! client (the async client's shutdown fails on that thread), every second
//! or every [`MAX_BATCH`] spans; a full queue drops spans rather than slow a
//! request down. Failed exports are counted and not retried.
//!
//! What it must not do: export anything unmasked, or read the process
//! environment itself. (The OTLP exporter crate also honours
//! `OTEL_EXPORTER_OTLP_*` for settings we leave unset; every one we read is
//! set explicitly, so both agree.)

mod config;

pub use config::{EXPORT_INTERVAL, MAX_BATCH, OtlpConfig, OtlpProtocol, Sampler};

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _, TracerProvider as _};
use opentelemetry::{Array, Context, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
    SpanProcessor,
};
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt as _};
use tracing_subscriber::registry::LookupSpan;

use super::redact;
use super::settings::{TelemetryError, install_crypto_provider};
use config::SCOPE_NAME;

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds on what one span may hold, so a chatty span cannot grow memory.
const MAX_ATTRIBUTES: u32 = 64;
const MAX_VALUE_CHARS: usize = 2048;

// ---------------------------------------------------------------------------
// Trace context
// ---------------------------------------------------------------------------

/// Make `span` (a root span not entered yet) continue the caller's trace
/// from a W3C `traceparent` header. Returns whether the header was valid and
/// the OTLP layer is installed; an invalid header is ignored, as the W3C
/// spec says, and the span starts a new trace.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) -> bool {
    use opentelemetry::propagation::TextMapPropagator as _;
    let carrier = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let remote = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier);
    remote.span().span_context().is_valid() && span.set_parent(remote).is_ok()
}

/// The trace id (32 hex chars) of the current span, when the OTLP layer is
/// installed in the current subscriber and a span is entered.
pub fn current_trace_id() -> Option<String> {
    trace_id_of(&tracing::Span::current())
}

/// The trace id of `span`. The middleware uses this to record the request
/// span's `trace_id` field, which puts the id on every log line of the
/// request and on its error reports.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

// ---------------------------------------------------------------------------
// The tracer and its guard
// ---------------------------------------------------------------------------

/// Counters shared by the processor, the exporter and the guard.
#[derive(Debug, Default)]
struct Stats {
    /// Spans handed to the batch processor.
    queued: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
    /// Spans queued but neither exported nor failed, as of the last flush.
    dropped: AtomicU64,
}

impl Stats {
    /// After a flush every queued span was either exported, failed, or
    /// dropped by the full queue: count the difference as dropped.
    fn settle(&self) {
        let settled = self.exported.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed);
        let lost = self.queued.load(Ordering::Relaxed).saturating_sub(settled);
        let before = self.dropped.swap(lost, Ordering::Relaxed);
        if lost > before {
            metrics::counter!("insight_telemetry_dropped_total", "exporter" => "otlp", "reason" => "queue_full")
                .increment(lost - before);
        }
    }
}

/// The tracer for the OTLP layer. Build it with [`OtlpTracer::new`] (or
/// [`super::telemetry::Telemetry::from_env_vars`]) and add
/// [`OtlpTracer::layer`] to the subscriber.
#[derive(Debug, Clone)]
pub struct OtlpTracer {
    tracer: SdkTracer,
}

impl OtlpTracer {
    /// Build the provider (exporter, masking and batch processors) and its
    /// guard.
    pub fn new(config: OtlpConfig) -> Result<(Self, OtlpGuard), TelemetryError> {
        install_crypto_provider();
        let stats = Arc::new(Stats::default());
        let exporter = CountingExporter {
            inner: build_exporter(&config)?,
            stats: stats.clone(),
        };
        let batch = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(config.queue_capacity.max(1))
                    .with_max_export_batch_size(MAX_BATCH)
                    .with_scheduled_delay(config.export_interval)
                    .build(),
            )
            .build();
        let resource = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", config.service_name.clone()),
                KeyValue::new("service.version", config.service_version.clone()),
                KeyValue::new("telemetry.sdk.name", "opentelemetry"),
                KeyValue::new("telemetry.sdk.language", "rust"),
            ])
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(MaskingProcessor {
                inner: batch,
                stats: stats.clone(),
            })
            .with_sampler(config.sampler.to_sdk())
            .with_max_attributes_per_span(MAX_ATTRIBUTES)
            .with_resource(resource)
            .build();
        let scope = InstrumentationScope::builder(SCOPE_NAME)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let tracer = provider.tracer_with_scope(scope);
        Ok((Self { tracer }, OtlpGuard { provider, stats }))
    }

    /// The `tracing` layer. Span events (our log lines) stay in the logs:
    /// only spans, their fields and their status are exported.
    pub fn layer<S>(self) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.tracer)
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_error_events_to_status(false)
            .with_error_events_to_exceptions(false)
            .with_error_fields_to_exceptions(false)
    }
}

fn build_exporter(config: &OtlpConfig) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    // The exporter url-decodes header values; ours are decoded already.
    let headers: HashMap<String, String> = config
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.replace('%', "%25"))))
        .collect();
    // The blocking client starts its own runtime and refuses to do so on an
    // async worker, where startup runs: build it on a thread of its own.
    let timeout = config.timeout;
    let client = std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
    })
    .join()
    .map_err(|_| TelemetryError::start("OTLP", "the HTTP client could not start"))?
    .map_err(|e| TelemetryError::start("OTLP", e))?;
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(config.traces_url.clone())
        .with_protocol(match config.protocol {
            OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
            OtlpProtocol::HttpJson => Protocol::HttpJson,
        })
        .with_timeout(config.timeout)
        .with_headers(headers)
        .build()
        .map_err(|e| TelemetryError::start("OTLP", e))
}

/// Flushes queued spans on shutdown. Dropping it without calling
/// [`OtlpGuard::shutdown`] leaves the flush to the provider's own drop.
#[must_use = "call shutdown() on graceful exit to flush queued spans"]
pub struct OtlpGuard {
    provider: SdkTracerProvider,
    stats: Arc<Stats>,
}

impl fmt::Debug for OtlpGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpGuard")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl OtlpGuard {
    /// Export everything queued so far; `false` if that failed or did not
    /// finish within `timeout`.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let provider = self.provider.clone();
        let done = run_blocking(timeout, move || provider.force_flush().is_ok()).await;
        self.stats.settle();
        done
    }

    /// Flush what is queued and stop the exporter. Waits a few seconds at
    /// most.
    pub async fn shutdown(self) -> bool {
        let provider = self.provider.clone();
        let done = run_blocking(SHUTDOWN_TIMEOUT, move || {
            provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT).is_ok()
        })
        .await;
        self.stats.settle();
        done
    }

    /// (dropped because the queue was full, exported, failed to export).
    /// The dropped count is exact after [`OtlpGuard::flush`].
    pub fn span_counts(&self) -> (u64, u64, u64) {
        (
            self.stats.dropped.load(Ordering::Relaxed),
            self.stats.exported.load(Ordering::Relaxed),
            self.stats.failed.load(Ordering::Relaxed),
        )
    }
}

/// The SDK's flush and shutdown block until the export thread answers: run
/// them off the async workers, bounded by `timeout`.
async fn run_blocking(timeout: Duration, f: impl FnOnce() -> bool + Send + 'static) -> bool {
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(done)) => done,
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Masking and counting
// ---------------------------------------------------------------------------

/// Masks a finished span and hands it to the batch processor: what leaves
/// the process has been through [`redact::mask`].
#[derive(Debug)]
pub struct MaskingProcessor<P> {
    inner: P,
    stats: Arc<Stats>,
}

impl<P: SpanProcessor> SpanProcessor for MaskingProcessor<P> {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        mask_span(&mut span);
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Our conventions on top of the SDK's span:
/// - `traceparent` and `trace_id` fields are plumbing, not attributes;
/// - an `error` field (text, or `true`) makes the status ERROR, its text the
///   status message;
/// - a root `request` span (or one continuing a remote parent) is SERVER;
/// - span events are dropped: they are our log lines, which the logs carry;
/// - strings are cut to [`MAX_VALUE_CHARS`] and masked.
pub(crate) fn mask_span(span: &mut SpanData) {
    let mut error: Option<Option<String>> = None;
    span.attributes.retain(|kv| match kv.key.as_str() {
        "traceparent" | "trace_id" => false,
        "error" => {
            match &kv.value {
                Value::Bool(false) => {}
                Value::Bool(true) => error = Some(None),
                other => error = Some(Some(other.as_str().into_owned())),
            }
            false
        }
        _ => true,
    });
    if let Some(message) = error {
        span.status = Status::Error {
            description: message.unwrap_or_default().into(),
        };
    }
    if let Status::Error { description } = &mut span.status {
        *description = redact::mask(&truncate(description)).into();
    }
    for kv in &mut span.attributes {
        // A SQL attribute leaves with its shape, never its literals (as in the logs).
        if let Value::String(text) = &kv.value
            && super::sql_text::is_sql_field("", kv.key.as_str())
        {
            kv.value = Value::String(super::sql_text::without_literals(text.as_str()).into());
        }
        mask_value(&mut kv.value);
    }
    let is_root =
        span.parent_span_id == opentelemetry::trace::SpanId::INVALID || span.parent_span_is_remote;
    if is_root && span.span_kind == SpanKind::Internal && span.name == "request" {
        span.span_kind = SpanKind::Server;
    }
    span.name = redact::mask(&span.name).into();
    span.events = Default::default();
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

fn mask_value(value: &mut Value) {
    let mask = |s: &StringValue| StringValue::from(redact::mask(&truncate(s.as_str())));
    match value {
        Value::String(s) => *s = mask(s),
        Value::Array(Array::String(items)) => {
            for s in items.iter_mut() {
                *s = mask(s);
            }
        }
        _ => {}
    }
}

/// Counts what the OTLP exporter sends and what fails (and is not retried:
/// that would only lengthen a struggling collector's queue, and ours).
#[derive(Debug)]
struct CountingExporter<E> {
    inner: E,
    stats: Arc<Stats>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.inner.export(batch).await;
        if result.is_ok() {
            self.stats.exported.fetch_add(n, Ordering::Relaxed);
        } else {
            self.stats.failed.fetch_add(n, Ordering::Relaxed);
            metrics::counter!("insight_telemetry_dropped_total", "exporter" => "otlp", "reason" => "export_failed")
                .increment(n);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span_data(name: &'static str, parent: Option<(u64, bool)>) -> SpanData {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(1u128),
                SpanId::from(2u64),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: parent.map_or(SpanId::INVALID, |(id, _)| SpanId::from(id)),
            parent_span_is_remote: parent.is_some_and(|(_, remote)| remote),
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder(SCOPE_NAME).build(),
        }
    }

    #[test]
    fn spans_are_masked_and_follow_our_conventions() {
        let mut span = span_data("ask", Some((3, false)));
        span.attributes = vec![
            KeyValue::new("user.email", "ann.lee@example.com"),
            KeyValue::new("rows", 4_i64),
            KeyValue::new("trace_id", "0af7651916cd43dd8448eb211c80319c"),
            KeyValue::new("traceparent", "00-…"),
            KeyValue::new(
                "err.chain",
                Value::Array(vec![StringValue::from("token=abc123 leaked")].into()),
            ),
            KeyValue::new("note", "x".repeat(MAX_VALUE_CHARS + 10)),
            KeyValue::new(
                "query.sql",
                "SELECT * FROM t WHERE name = 'Ann Lee' AND n = 42",
            ),
            KeyValue::new("error", "login failed for bob@example.com"),
        ];
        mask_span(&mut span);
        let attr = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(attr("user.email"), Some(Value::from("[email]")));
        assert_eq!(attr("rows"), Some(Value::I64(4)));
        for gone in ["trace_id", "traceparent", "error"] {
            assert_eq!(attr(gone), None, "{gone}");
        }
        let chain = attr("err.chain").unwrap().as_str().into_owned();
        assert!(!chain.contains("abc123"), "{chain}");
        let note = attr("note").unwrap().as_str().into_owned();
        assert_eq!(note.chars().count(), MAX_VALUE_CHARS + 1);
        let sql = attr("query.sql").unwrap().as_str().into_owned();
        assert!(!sql.contains("Ann Lee") && !sql.contains("42"), "{sql}");
        assert!(sql.contains("FROM t WHERE name"), "{sql}");
        assert_eq!(
            span.status,
            Status::error("login failed for [email]"),
            "the error field becomes the masked status"
        );
        assert_eq!(span.span_kind, SpanKind::Internal, "a child stays internal");

        for parent in [None, Some((9, true))] {
            let mut root = span_data("request", parent);
            root.attributes = vec![KeyValue::new("error", false)];
            mask_span(&mut root);
            assert_eq!(root.span_kind, SpanKind::Server, "{parent:?}");
            assert_eq!(root.status, Status::Unset);
        }
        let mut flagged = span_data("execute", None);
        flagged.attributes = vec![KeyValue::new("error", true)];
        mask_span(&mut flagged);
        assert_eq!(flagged.status, Status::error(""));
        assert_eq!(flagged.span_kind, SpanKind::Internal);
    }

    #[test]
    fn continue_trace_needs_the_layer_and_a_valid_header() {
        let span = tracing::info_span!("request");
        assert!(!continue_trace(
            &span,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert_eq!(trace_id_of(&span), None);
    }
}
