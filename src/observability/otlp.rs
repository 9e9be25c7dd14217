//! OpenTelemetry traces, exported as OTLP/HTTP with the JSON encoding.
//!
//! Hand-written on purpose: the `opentelemetry` crates would pull a second
//! HTTP/TLS stack (tonic, hyper 0.x builds) into a service that already has
//! reqwest. What we need is small: record the spans our code already creates
//! (`request`, `ask`, `retrieve`, `generate`, `execute`), give them W3C ids,
//! and ship them to a collector in batches.
//!
//! What this module owns:
//! - [`OtlpConfig`]: the standard `OTEL_*` variables, read once at startup.
//!   No endpoint means no layer at all, so an unconfigured service pays
//!   nothing.
//! - [`OtlpLayer`]: a `tracing_subscriber::Layer` keeping a [`SpanState`] in
//!   each span's extensions (ids, start time, attributes, status). A root
//!   span may carry a `traceparent` field (the W3C header of the incoming
//!   request); its trace id is then reused so our spans join the caller's
//!   trace.
//! - The exporter: a worker thread with its own small tokio runtime, fed by
//!   a bounded channel. Closing a span only does a `try_send`; when the queue
//!   is full the span is dropped and counted. A request is never slowed down
//!   or blocked by a slow collector.
//! - [`Telemetry`]: the one entry point for logging init, combining this
//!   layer with the Sentry layer of [`super::sentry`].
//!
//! What it must not do: export anything unmasked (every string attribute and
//! status message goes through [`redact::mask`]), read the process
//! environment itself (the CLI passes the variables in), or log from the
//! exporter (its thread runs with a no-op subscriber so that exporting can
//! never produce more spans to export).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{Extensions, LookupSpan};

use super::redact;
use super::sentry::{Sentry, SentryConfig, SentryLayer};

/// Spans per export request (also the size that triggers an early export).
pub const MAX_BATCH: usize = 512;
/// How often queued spans are exported when the batch is not full.
pub const EXPORT_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_QUEUE_CAPACITY: usize = 4096;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds on what one span may hold, so a chatty span cannot grow memory.
const MAX_ATTRIBUTES: usize = 64;
const MAX_VALUE_CHARS: usize = 2048;
const WORKER_THREAD: &str = "insight-otlp";
const SCOPE_NAME: &str = "insight";

/// A telemetry setting that is present but unusable. Startup fails with it,
/// naming the variable (never echoing a value that may be a secret).
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid setting {setting}: {reason}")]
    Setting {
        setting: &'static str,
        reason: String,
    },
    #[error("cannot start the {what} exporter: {source}")]
    Start {
        what: &'static str,
        source: std::io::Error,
    },
}

impl TelemetryError {
    pub(crate) fn setting(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::Setting {
            setting,
            reason: reason.into(),
        }
    }
}

/// The last non-empty value of `key` (later entries win, like the process
/// environment would after an override).
pub(crate) fn env_var<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// Which traces are recorded and exported (`OTEL_TRACES_SAMPLER`). Ids are
/// assigned either way, so logs carry a trace id even for unsampled traces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio(f64),
}

impl Sampler {
    /// Decide for a new trace. `remote_sampled` is the sampled flag of an
    /// incoming `traceparent`; parent-based samplers follow it. Child spans
    /// inherit their parent's decision and never get here.
    pub fn should_sample(&self, trace_id: &[u8; 16], remote_sampled: Option<bool>) -> bool {
        use Sampler::*;
        match (self, remote_sampled) {
            (
                ParentBasedAlwaysOn | ParentBasedAlwaysOff | ParentBasedTraceIdRatio(_),
                Some(flag),
            ) => flag,
            (AlwaysOn | ParentBasedAlwaysOn, _) => true,
            (AlwaysOff | ParentBasedAlwaysOff, _) => false,
            (TraceIdRatio(ratio) | ParentBasedTraceIdRatio(ratio), _) => {
                ratio_sample(*ratio, trace_id)
            }
        }
    }

    fn from_env(name: Option<&str>, arg: Option<&str>) -> Result<Self, TelemetryError> {
        let ratio = || -> Result<f64, TelemetryError> {
            match arg {
                None => Ok(1.0),
                Some(a) => a
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| {
                        TelemetryError::setting(
                            "OTEL_TRACES_SAMPLER_ARG",
                            "expected a ratio between 0 and 1",
                        )
                    }),
            }
        };
        // The spec's default is parent-based always-on.
        Ok(match name.map(str::to_ascii_lowercase).as_deref() {
            None | Some("parentbased_always_on") => Self::ParentBasedAlwaysOn,
            Some("always_on") => Self::AlwaysOn,
            Some("always_off") => Self::AlwaysOff,
            Some("parentbased_always_off") => Self::ParentBasedAlwaysOff,
            Some("traceidratio") => Self::TraceIdRatio(ratio()?),
            Some("parentbased_traceidratio") => Self::ParentBasedTraceIdRatio(ratio()?),
            Some(other) => {
                return Err(TelemetryError::setting(
                    "OTEL_TRACES_SAMPLER",
                    format!(
                        "unsupported sampler {other:?} (use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio)"
                    ),
                ));
            }
        })
    }
}

/// The spec's ratio sampler: compare the trace id's random low 63 bits with
/// `ratio * 2^63`, so every service makes the same decision for a trace.
fn ratio_sample(ratio: f64, trace_id: &[u8; 16]) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    let x = u64::from_be_bytes(low) >> 1;
    let bound = (ratio * (1u64 << 63) as f64) as u64;
    x < bound
}

/// How spans travel to the collector (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`, the OTel default.
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
}

/// OTLP exporter settings, from the standard `OTEL_*` variables.
#[derive(Clone)]
pub struct OtlpConfig {
    /// Full URL of the traces endpoint (`…/v1/traces`).
    pub traces_url: String,
    pub protocol: OtlpProtocol,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`), e.g. an API key.
    pub headers: HeaderMap,
    pub service_name: String,
    pub service_version: String,
    pub sampler: Sampler,
    /// Per export request.
    pub timeout: Duration,
    /// Spans waiting for export; beyond this they are dropped and counted.
    pub queue_capacity: usize,
    pub export_interval: Duration,
}

impl fmt::Debug for OtlpConfig {
    /// Header values are usually credentials: show only their names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("OtlpConfig")
            .field("traces_url", &redact::mask(&self.traces_url))
            .field("protocol", &self.protocol)
            .field("headers", &names)
            .field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("sampler", &self.sampler)
            .field("timeout", &self.timeout)
            .field("queue_capacity", &self.queue_capacity)
            .finish()
    }
}

impl OtlpConfig {
    /// Read the `OTEL_*` variables from `env` (the CLI passes the process
    /// environment). `Ok(None)` when no endpoint is set, or when
    /// `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
    ///
    /// Honoured: `OTEL_EXPORTER_OTLP_ENDPOINT` (base URL; `/v1/traces` is
    /// appended), `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (full URL, wins),
    /// `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, percent-decoded),
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` (ms), `OTEL_EXPORTER_OTLP_PROTOCOL`
    /// (`http/protobuf`, the default, or `http/json`), `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`,
    /// `OTEL_TRACES_SAMPLER_ARG`.
    pub fn from_env_vars(env: &[(String, String)]) -> Result<Option<Self>, TelemetryError> {
        if env_var(env, "OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        if env_var(env, "OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none")) {
            return Ok(None);
        }
        let traces_url = match (
            env_var(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            env_var(env, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(full), _) => check_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", full)?.to_string(),
            (None, Some(base)) => format!(
                "{}/v1/traces",
                check_url("OTEL_EXPORTER_OTLP_ENDPOINT", base)?.trim_end_matches('/')
            ),
            (None, None) => return Ok(None),
        };
        let mut protocol = OtlpProtocol::HttpProtobuf;
        for key in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(p) = env_var(env, key) {
                protocol = match p {
                    "http/protobuf" => OtlpProtocol::HttpProtobuf,
                    "http/json" => OtlpProtocol::HttpJson,
                    other => {
                        return Err(TelemetryError::setting(
                            key,
                            format!(
                                "{other:?} is not supported; use http/protobuf (the default) or http/json"
                            ),
                        ));
                    }
                };
                break;
            }
        }
        let headers = match env_var(env, "OTEL_EXPORTER_OTLP_HEADERS") {
            Some(h) => parse_headers(h)?,
            None => HeaderMap::new(),
        };
        let timeout = match env_var(env, "OTEL_EXPORTER_OTLP_TIMEOUT") {
            Some(ms) => ms
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    TelemetryError::setting(
                        "OTEL_EXPORTER_OTLP_TIMEOUT",
                        "expected milliseconds > 0",
                    )
                })?,
            None => DEFAULT_TIMEOUT,
        };
        let sampler = Sampler::from_env(
            env_var(env, "OTEL_TRACES_SAMPLER"),
            env_var(env, "OTEL_TRACES_SAMPLER_ARG"),
        )?;
        Ok(Some(Self {
            traces_url,
            protocol,
            headers,
            service_name: env_var(env, "OTEL_SERVICE_NAME")
                .unwrap_or(SCOPE_NAME)
                .to_string(),
            service_version: env!("CARGO_PKG_VERSION").to_string(),
            sampler,
            timeout,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            export_interval: EXPORT_INTERVAL,
        }))
    }
}

fn check_url<'a>(setting: &'static str, url: &'a str) -> Result<&'a str, TelemetryError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') => Ok(url),
        _ => Err(TelemetryError::setting(
            setting,
            "expected an http:// or https:// URL",
        )),
    }
}

/// `k=v,k2=v2` with percent-encoded values (W3C baggage style, as the spec
/// says). Values are marked sensitive so `HeaderMap`'s `Debug` hides them.
fn parse_headers(raw: &str) -> Result<HeaderMap, TelemetryError> {
    const SETTING: &str = "OTEL_EXPORTER_OTLP_HEADERS";
    let mut map = HeaderMap::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            TelemetryError::setting(SETTING, "expected key=value pairs separated by commas")
        })?;
        let key = percent_decode(k.trim());
        let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| {
            TelemetryError::setting(SETTING, format!("{key:?} is not a valid header name"))
        })?;
        let mut value = HeaderValue::from_str(&percent_decode(v.trim())).map_err(|_| {
            TelemetryError::setting(
                SETTING,
                format!("the value of {key:?} is not a valid header value"),
            )
        })?;
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Ids and W3C trace context
// ---------------------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Lower-case hex only, as W3C trace context requires.
fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N * 2 || b.iter().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(b, &mut out).ok()?;
    Some(out)
}

fn new_trace_id() -> [u8; 16] {
    loop {
        let id: [u8; 16] = rand::random();
        if id != [0; 16] {
            return id;
        }
    }
}

fn new_span_id() -> [u8; 8] {
    loop {
        let id: [u8; 8] = rand::random();
        if id != [0; 8] {
            return id;
        }
    }
}

fn parse_traceparent_bytes(header: &str) -> Option<([u8; 16], [u8; 8], bool)> {
    let mut parts = header.trim().split('-');
    let version = parse_hex::<1>(parts.next()?)?[0];
    let trace_id = parse_hex::<16>(parts.next()?)?;
    let span_id = parse_hex::<8>(parts.next()?)?;
    let flags = parse_hex::<1>(parts.next()?)?[0];
    // Version 00 has exactly four fields; later versions may append more.
    if version == 0xff || (version == 0 && parts.next().is_some()) {
        return None;
    }
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some((trace_id, span_id, flags & 1 == 1))
}

/// Parse a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`) into
/// (trace id, parent span id, sampled), ids as lower-case hex. `None` for
/// anything the spec says to ignore (bad lengths, upper case, all-zero ids,
/// version `ff`).
pub fn parse_traceparent(header: &str) -> Option<(String, String, bool)> {
    parse_traceparent_bytes(header).map(|(t, s, sampled)| (hex(&t), hex(&s), sampled))
}

/// The trace id (32 hex chars) of the current span, when the OTLP layer is
/// installed in the current subscriber and a span is entered.
pub fn current_trace_id() -> Option<String> {
    trace_id_of(&tracing::Span::current())
}

/// The trace id of `span`. The middleware uses this to record the request
/// span's `trace_id` field, which puts the id on every log line of the
/// request.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(id)?;
        trace_id_in(&span.extensions())
    })
    .flatten()
}

/// For the Sentry layer: the trace id stored in one span's extensions.
pub(crate) fn trace_id_in(ext: &Extensions<'_>) -> Option<String> {
    ext.get::<SpanState>().map(|s| hex(&s.trace_id))
}

// ---------------------------------------------------------------------------
// The layer
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpanKind {
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

#[derive(Debug, Clone, PartialEq)]
enum AttrValue {
    Str(String),
    Int(i64),
    Bool(bool),
    Double(f64),
}

impl AttrValue {
    fn text(s: &str) -> Self {
        match s.char_indices().nth(MAX_VALUE_CHARS) {
            Some((cut, _)) => Self::Str(format!("{}…", &s[..cut])),
            None => Self::Str(s.to_string()),
        }
    }

    fn as_text(&self) -> String {
        match self {
            Self::Str(s) => s.clone(),
            Self::Int(i) => i.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Double(d) => d.to_string(),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Self::Str(s) => json!({ "stringValue": redact::mask(s) }),
            // int64 is a decimal string in the protobuf JSON mapping.
            Self::Int(i) => json!({ "intValue": i.to_string() }),
            Self::Bool(b) => json!({ "boolValue": b }),
            Self::Double(d) if d.is_finite() => json!({ "doubleValue": d }),
            Self::Double(d) => json!({ "stringValue": d.to_string() }),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Unset,
    Ok,
    Error(Option<String>),
}

/// What the layer keeps in a span's extensions while it is open.
#[derive(Debug)]
pub(crate) struct SpanState {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_span_id: Option<[u8; 8]>,
    sampled: bool,
    name: Cow<'static, str>,
    kind: Option<SpanKind>,
    start_unix_nanos: u64,
    attributes: Vec<(&'static str, AttrValue)>,
    status: Status,
}

impl SpanState {
    fn set(&mut self, key: &'static str, value: AttrValue) {
        match key {
            // Read at creation only, and already visible as the trace id.
            "traceparent" | "trace_id" => {}
            "error" => {
                if value != AttrValue::Bool(false) {
                    let message = match value {
                        AttrValue::Bool(true) => None,
                        other => Some(other.as_text()),
                    };
                    self.status = Status::Error(message);
                }
            }
            "otel.status_code" => match value.as_text().to_ascii_uppercase().as_str() {
                "ERROR" if !matches!(self.status, Status::Error(_)) => {
                    self.status = Status::Error(None);
                }
                "OK" => self.status = Status::Ok,
                _ => {}
            },
            "otel.status_message" => self.status = Status::Error(Some(value.as_text())),
            "otel.name" => self.name = Cow::Owned(value.as_text()),
            "otel.kind" => {
                self.kind = match value.as_text().to_ascii_lowercase().as_str() {
                    "server" => Some(SpanKind::Server),
                    "client" => Some(SpanKind::Client),
                    "producer" => Some(SpanKind::Producer),
                    "consumer" => Some(SpanKind::Consumer),
                    "internal" => Some(SpanKind::Internal),
                    _ => self.kind,
                }
            }
            _ => {
                if let Some(slot) = self.attributes.iter_mut().find(|(k, _)| *k == key) {
                    slot.1 = value;
                } else if self.attributes.len() < MAX_ATTRIBUTES {
                    self.attributes.push((key, value));
                }
            }
        }
    }
}

struct FieldVisitor<'a> {
    state: &'a mut SpanState,
    traceparent: Option<String>,
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "traceparent" {
            self.traceparent = Some(value.to_string());
        }
        self.state
            .set(field.name(), AttrValue::text(&sql_safe(field, value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.state.set(field.name(), AttrValue::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let v = i64::try_from(value)
            .map(AttrValue::Int)
            .unwrap_or_else(|_| AttrValue::Str(value.to_string()));
        self.state.set(field.name(), v);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.state.set(field.name(), AttrValue::Bool(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.state.set(field.name(), AttrValue::Double(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.state
            .set(field.name(), AttrValue::text(&value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "traceparent" {
            self.traceparent = Some(text.clone());
        }
        self.state
            .set(field.name(), AttrValue::text(&sql_safe(field, &text)));
    }
}

/// A SQL attribute leaves with its shape, never its literals (as in the logs).
fn sql_safe<'a>(field: &Field, value: &'a str) -> std::borrow::Cow<'a, str> {
    if super::sql_text::is_sql_field("", field.name()) {
        super::sql_text::without_literals(value).into()
    } else {
        value.into()
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A closed, sampled span on its way to the exporter.
#[derive(Debug)]
struct FinishedSpan {
    state: SpanState,
    end_unix_nanos: u64,
}

enum Msg {
    Span(FinishedSpan),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// Counters shared by the layer, the exporter and the guard.
#[derive(Debug, Default)]
struct Stats {
    dropped: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
}

/// Records spans and hands closed, sampled ones to the exporter. Build it
/// with [`OtlpLayer::new`] (or [`Telemetry::from_env_vars`]).
pub struct OtlpLayer {
    sampler: Sampler,
    tx: mpsc::Sender<Msg>,
    stats: Arc<Stats>,
}

impl fmt::Debug for OtlpLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpLayer")
            .field("sampler", &self.sampler)
            .finish_non_exhaustive()
    }
}

impl OtlpLayer {
    /// Build the layer and start the exporter thread. The guard flushes on
    /// [`OtlpGuard::shutdown`].
    pub fn new(config: OtlpConfig) -> Result<(Self, OtlpGuard), TelemetryError> {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let stats = Arc::new(Stats::default());
        let exporter = Exporter::new(config.clone(), stats.clone())?;
        spawn_worker(WORKER_THREAD, move || {
            run_exporter(exporter, rx, config.export_interval)
        })
        .map_err(|source| TelemetryError::Start {
            what: "OTLP",
            source,
        })?;
        let layer = Self {
            sampler: config.sampler,
            tx: tx.clone(),
            stats: stats.clone(),
        };
        Ok((layer, OtlpGuard { tx, stats }))
    }

    fn enqueue(&self, span: FinishedSpan) {
        if self.tx.try_send(Msg::Span(span)).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("insight_telemetry_dropped_total", "exporter" => "otlp", "reason" => "queue_full").increment(1);
        }
    }

    /// Spans dropped because the export queue was full (or closed).
    pub fn dropped_spans(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut state = SpanState {
            trace_id: [0; 16],
            span_id: new_span_id(),
            parent_span_id: None,
            sampled: false,
            name: Cow::Borrowed(attrs.metadata().name()),
            kind: None,
            start_unix_nanos: unix_nanos(),
            attributes: Vec::new(),
            status: Status::Unset,
        };
        let mut visitor = FieldVisitor {
            state: &mut state,
            traceparent: None,
        };
        attrs.record(&mut visitor);
        let traceparent = visitor.traceparent;
        let parent = span.parent().and_then(|p| {
            p.extensions()
                .get::<SpanState>()
                .map(|s| (s.trace_id, s.span_id, s.sampled))
        });
        match parent {
            Some((trace_id, parent_id, sampled)) => {
                state.trace_id = trace_id;
                state.parent_span_id = Some(parent_id);
                state.sampled = sampled;
            }
            None => {
                match traceparent.as_deref().and_then(parse_traceparent_bytes) {
                    Some((trace_id, remote_parent, flag)) => {
                        state.trace_id = trace_id;
                        state.parent_span_id = Some(remote_parent);
                        state.sampled = self.sampler.should_sample(&trace_id, Some(flag));
                    }
                    None => {
                        state.trace_id = new_trace_id();
                        state.sampled = self.sampler.should_sample(&state.trace_id, None);
                    }
                }
                if state.kind.is_none() && state.name == "request" {
                    state.kind = Some(SpanKind::Server);
                }
            }
        }
        span.extensions_mut().insert(state);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(state) = ext.get_mut::<SpanState>() {
            values.record(&mut FieldVisitor {
                state,
                traceparent: None,
            });
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(state) = span.extensions_mut().remove::<SpanState>() else {
            return;
        };
        if state.sampled {
            self.enqueue(FinishedSpan {
                state,
                end_unix_nanos: unix_nanos(),
            });
        }
    }
}

/// Flushes queued spans on shutdown. Dropping it without calling
/// [`OtlpGuard::shutdown`] loses what is still queued.
#[must_use = "call shutdown() on graceful exit to flush queued spans"]
pub struct OtlpGuard {
    tx: mpsc::Sender<Msg>,
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
    /// Export everything queued so far; `false` if that did not finish
    /// within `timeout`.
    pub async fn flush(&self, timeout: Duration) -> bool {
        request(&self.tx, Msg::Flush, timeout).await
    }

    /// Flush what is queued and stop the exporter (spans closed afterwards
    /// are dropped and counted). Waits at most a few seconds; the thread is
    /// not joined, since its runtime may still be finishing a DNS lookup.
    pub async fn shutdown(self) -> bool {
        request(&self.tx, Msg::Shutdown, SHUTDOWN_TIMEOUT).await
    }

    /// (dropped because the queue was full, exported, failed to export).
    pub fn span_counts(&self) -> (u64, u64, u64) {
        (
            self.stats.dropped.load(Ordering::Relaxed),
            self.stats.exported.load(Ordering::Relaxed),
            self.stats.failed.load(Ordering::Relaxed),
        )
    }
}

/// Send a control message and wait for its acknowledgement.
async fn request(
    tx: &mpsc::Sender<Msg>,
    msg: fn(oneshot::Sender<()>) -> Msg,
    timeout: Duration,
) -> bool {
    let (ack, done) = oneshot::channel();
    tokio::time::timeout(timeout, async {
        tx.send(msg(ack)).await.is_ok() && done.await.is_ok()
    })
    .await
    .unwrap_or(false)
}

// ---------------------------------------------------------------------------
// The exporter
// ---------------------------------------------------------------------------

/// A thread with a current-thread runtime and a no-op subscriber: exporting
/// must neither compete with request handling for runtime workers nor feed
/// its own HTTP spans back into the layer.
pub(crate) fn spawn_worker<F, Fut>(name: &str, task: F) -> std::io::Result<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _quiet =
                tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(task());
            // Do not wait for a DNS lookup still running on the blocking pool.
            runtime.shutdown_background();
        })
        .map(drop)
}

/// A reqwest client for the exporters (rustls with the ring provider).
pub(crate) fn http_client(
    timeout: Duration,
    headers: HeaderMap,
) -> Result<reqwest::Client, TelemetryError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .default_headers(headers)
        .build()
        .map_err(|e| TelemetryError::Start {
            what: "HTTP",
            source: std::io::Error::other(e),
        })
}

struct Exporter {
    client: reqwest::Client,
    url: String,
    protocol: OtlpProtocol,
    resource: Value,
    stats: Arc<Stats>,
}

impl Exporter {
    fn new(config: OtlpConfig, stats: Arc<Stats>) -> Result<Self, TelemetryError> {
        let client = http_client(config.timeout, config.headers)?;
        let resource = json!({
            "attributes": [
                { "key": "service.name", "value": { "stringValue": config.service_name } },
                { "key": "service.version", "value": { "stringValue": config.service_version } },
                { "key": "telemetry.sdk.name", "value": { "stringValue": "insight" } },
                { "key": "telemetry.sdk.language", "value": { "stringValue": "rust" } },
            ]
        });
        Ok(Self {
            client,
            url: config.traces_url,
            protocol: config.protocol,
            resource,
            stats,
        })
    }

    /// Export and empty `batch`, in requests of at most [`MAX_BATCH`] spans.
    /// Failed batches are counted and dropped: retrying would only make a
    /// struggling collector's queue (and ours) longer.
    async fn export(&self, batch: &mut Vec<FinishedSpan>) {
        while !batch.is_empty() {
            let n = batch.len().min(MAX_BATCH);
            let chunk: Vec<FinishedSpan> = batch.drain(..n).collect();
            let body = export_body(&self.resource, &chunk);
            let (content_type, bytes) = match self.protocol {
                OtlpProtocol::HttpProtobuf => (
                    "application/x-protobuf",
                    super::otlp_proto::encode_export(&body),
                ),
                OtlpProtocol::HttpJson => ("application/json", body.to_string().into_bytes()),
            };
            let sent = self
                .client
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes)
                .send()
                .await;
            let counter = match sent {
                Ok(r) if r.status().is_success() => &self.stats.exported,
                _ => {
                    metrics::counter!("insight_telemetry_dropped_total", "exporter" => "otlp", "reason" => "export_failed")
                        .increment(n as u64);
                    &self.stats.failed
                }
            };
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

async fn run_exporter(exporter: Exporter, mut rx: mpsc::Receiver<Msg>, interval: Duration) {
    let mut batch: Vec<FinishedSpan> = Vec::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Span(span)) => {
                    batch.push(span);
                    if batch.len() >= MAX_BATCH {
                        exporter.export(&mut batch).await;
                    }
                }
                Some(Msg::Flush(ack)) => {
                    exporter.export(&mut batch).await;
                    let _ = ack.send(());
                }
                Some(Msg::Shutdown(ack)) => {
                    exporter.export(&mut batch).await;
                    let _ = ack.send(());
                    return;
                }
                None => {
                    exporter.export(&mut batch).await;
                    return;
                }
            },
            _ = tick.tick() => {
                if !batch.is_empty() {
                    exporter.export(&mut batch).await;
                }
            }
        }
    }
}

/// The `ExportTraceServiceRequest` in OTLP's JSON mapping: hex ids, 64-bit
/// integers as decimal strings, enums as integers.
fn export_body(resource: &Value, spans: &[FinishedSpan]) -> Value {
    json!({
        "resourceSpans": [{
            "resource": resource,
            "scopeSpans": [{
                "scope": { "name": SCOPE_NAME, "version": env!("CARGO_PKG_VERSION") },
                "spans": spans.iter().map(span_json).collect::<Vec<_>>(),
            }],
        }],
    })
}

fn span_json(span: &FinishedSpan) -> Value {
    let s = &span.state;
    let attributes: Vec<Value> = s
        .attributes
        .iter()
        .map(|(k, v)| json!({ "key": k, "value": v.to_json() }))
        .collect();
    let mut out = json!({
        "traceId": hex(&s.trace_id),
        "spanId": hex(&s.span_id),
        "name": redact::mask(&s.name),
        "kind": s.kind.unwrap_or(SpanKind::Internal) as u8,
        "startTimeUnixNano": s.start_unix_nanos.to_string(),
        "endTimeUnixNano": span.end_unix_nanos.max(s.start_unix_nanos).to_string(),
        "attributes": attributes,
    });
    if let Some(parent) = s.parent_span_id {
        out["parentSpanId"] = json!(hex(&parent));
    }
    match &s.status {
        Status::Unset => {}
        Status::Ok => out["status"] = json!({ "code": 1 }),
        Status::Error(None) => out["status"] = json!({ "code": 2 }),
        Status::Error(Some(m)) => out["status"] = json!({ "code": 2, "message": redact::mask(m) }),
    }
    out
}

// ---------------------------------------------------------------------------
// Both exporters together
// ---------------------------------------------------------------------------

/// Everything logging init needs from the telemetry side. Each layer is
/// `None` when its variables are unset, and `Option<Layer>` is itself a
/// no-op layer, so the subscriber stack is the same either way.
///
/// How `observability::init_logging` composes it (the global filter first,
/// so both exporters only see what `RUST_LOG` lets through):
///
/// ```no_run
/// use insight::config::LogFormat;
/// use insight::observability::MaskingWriter;
/// use insight::observability::otlp::{Telemetry, TelemetryGuard};
/// use insight::observability::sentry;
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
/// use tracing_subscriber::{EnvFilter, Layer};
///
/// pub fn init_logging(format: LogFormat, default_filter: &str, telemetry: Telemetry) -> TelemetryGuard {
///     let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
///     let fmt = tracing_subscriber::fmt::layer().with_writer(MaskingWriter::stderr());
///     let fmt = match format {
///         LogFormat::Json => fmt.json().flatten_event(true).with_current_span(true).with_span_list(false).boxed(),
///         LogFormat::Text => fmt.with_ansi(false).boxed(),
///     };
///     let Telemetry { otlp, sentry: sentry_layer, guard } = telemetry;
///     let installed = tracing_subscriber::registry()
///         .with(filter)
///         .with(fmt)
///         .with(otlp)
///         .with(sentry_layer)
///         .try_init()
///         .is_ok();
///     if let Some(client) = guard.sentry().filter(|_| installed) {
///         sentry::install_panic_hook(client.clone());
///     }
///     guard
/// }
/// ```
#[derive(Debug)]
pub struct Telemetry {
    pub otlp: Option<OtlpLayer>,
    pub sentry: Option<SentryLayer>,
    pub guard: TelemetryGuard,
}

impl Telemetry {
    /// Read `OTEL_*` and `SENTRY_*` from `env` and start what is configured.
    pub fn from_env_vars(env: &[(String, String)]) -> Result<Self, TelemetryError> {
        let (otlp, otlp_guard) = match OtlpConfig::from_env_vars(env)? {
            Some(config) => {
                let (layer, guard) = OtlpLayer::new(config)?;
                (Some(layer), Some(guard))
            }
            None => (None, None),
        };
        let sentry = match SentryConfig::from_env_vars(env)? {
            Some(config) => Some(Sentry::new(config)?),
            None => None,
        };
        Ok(Self {
            otlp,
            sentry: sentry.clone().map(SentryLayer::new),
            guard: TelemetryGuard {
                otlp: otlp_guard,
                sentry,
            },
        })
    }

    /// Nothing configured (what `from_env_vars` returns for an empty env).
    pub fn disabled() -> Self {
        Self {
            otlp: None,
            sentry: None,
            guard: TelemetryGuard {
                otlp: None,
                sentry: None,
            },
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.otlp.is_some() || self.sentry.is_some()
    }
}

/// Keeps the exporters' handles; call [`TelemetryGuard::shutdown`] on
/// graceful exit.
#[derive(Debug)]
#[must_use = "call shutdown() on graceful exit to flush telemetry"]
pub struct TelemetryGuard {
    otlp: Option<OtlpGuard>,
    sentry: Option<Sentry>,
}

impl TelemetryGuard {
    /// The Sentry client, for the panic hook and explicit captures.
    pub fn sentry(&self) -> Option<&Sentry> {
        self.sentry.as_ref()
    }

    pub fn otlp(&self) -> Option<&OtlpGuard> {
        self.otlp.as_ref()
    }

    /// Flush queued spans and events (a few seconds at most each).
    pub async fn shutdown(self) {
        if let Some(otlp) = self.otlp {
            otlp.shutdown().await;
        }
        if let Some(sentry) = self.sentry {
            sentry.flush(SHUTDOWN_TIMEOUT).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn traceparent_follows_the_w3c_rules() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            parse_traceparent(tp),
            Some((
                "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                "00f067aa0ba902b7".into(),
                true
            ))
        );
        assert_eq!(
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
                .map(|t| t.2),
            Some(false)
        );
        // A future version may append fields; version 00 may not.
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")
                .is_some()
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn config_reads_the_standard_variables() {
        assert!(OtlpConfig::from_env_vars(&[]).unwrap().is_none());
        let c = OtlpConfig::from_env_vars(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=s%3Dcret, x-tenant = acme",
            ),
            ("OTEL_SERVICE_NAME", "insight-eu"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.traces_url, "http://collector:4318/v1/traces");
        assert_eq!(c.headers["x-api-key"], "s=cret");
        assert_eq!(c.headers["x-tenant"], "acme");
        assert_eq!(c.service_name, "insight-eu");
        assert_eq!(c.sampler, Sampler::ParentBasedTraceIdRatio(0.25));
        assert!(!format!("{c:?}").contains("s=cret"), "{c:?}");

        let c = OtlpConfig::from_env_vars(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://otlp.example/custom/traces",
            ),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.traces_url, "https://otlp.example/custom/traces");
        assert_eq!(c.sampler, Sampler::ParentBasedAlwaysOn);

        let off = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ]);
        assert!(OtlpConfig::from_env_vars(&off).unwrap().is_none());
    }

    #[test]
    fn protobuf_is_the_default_protocol_and_json_can_be_chosen() {
        let base = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")];
        let c = OtlpConfig::from_env_vars(&env(&base)).unwrap().unwrap();
        assert_eq!(c.protocol, OtlpProtocol::HttpProtobuf);
        let mut e = env(&base);
        e.push(("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/json".into()));
        let c = OtlpConfig::from_env_vars(&e).unwrap().unwrap();
        assert_eq!(c.protocol, OtlpProtocol::HttpJson);
    }

    #[test]
    fn bad_settings_name_the_variable() {
        for (key, value) in [
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
        ] {
            let mut e = env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ]);
            e.push((key.to_string(), value.to_string()));
            let err = OtlpConfig::from_env_vars(&e).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        let err =
            OtlpConfig::from_env_vars(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]))
                .unwrap_err();
        assert!(
            err.to_string().contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
            "{err}"
        );
    }

    #[test]
    fn ratio_sampler_is_deterministic_per_trace() {
        let low = [0u8; 16];
        let mut high = [0u8; 16];
        high[8] = 0xff;
        assert!(ratio_sample(0.5, &low));
        assert!(!ratio_sample(0.5, &high));
        assert!(ratio_sample(1.0, &high));
        assert!(!ratio_sample(0.0, &low));
        let sampled = (0..2000)
            .filter(|_| ratio_sample(0.25, &new_trace_id()))
            .count();
        assert!((350..650).contains(&sampled), "{sampled}");
        // Parent-based samplers follow the caller; plain ones do not.
        assert!(Sampler::ParentBasedTraceIdRatio(0.0).should_sample(&low, Some(true)));
        assert!(!Sampler::ParentBasedAlwaysOn.should_sample(&low, Some(false)));
        assert!(!Sampler::TraceIdRatio(0.0).should_sample(&low, Some(true)));
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        use tracing_subscriber::layer::SubscriberExt;
        // No exporter drains this channel.
        let (tx, _rx) = mpsc::channel(2);
        let stats = Arc::new(Stats::default());
        let layer = OtlpLayer {
            sampler: Sampler::AlwaysOn,
            tx,
            stats: stats.clone(),
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..5 {
                let _s = tracing::info_span!("work").entered();
            }
        });
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn attributes_are_masked_and_typed_on_export() {
        let mut state = SpanState {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: Some([3; 8]),
            sampled: true,
            name: Cow::Borrowed("ask"),
            kind: None,
            start_unix_nanos: 10,
            attributes: Vec::new(),
            status: Status::Unset,
        };
        state.set("user.email", AttrValue::text("ann.lee@example.com"));
        state.set("rows", AttrValue::Int(-3));
        state.set("rows", AttrValue::Int(4));
        state.set("error", AttrValue::text("token=abc123 leaked"));
        let json = span_json(&FinishedSpan {
            state,
            end_unix_nanos: 20,
        });
        assert_eq!(json["traceId"], "01010101010101010101010101010101");
        assert_eq!(json["parentSpanId"], "0303030303030303");
        assert_eq!(json["kind"], 1);
        assert_eq!(json["endTimeUnixNano"], "20");
        assert_eq!(json["attributes"][0]["value"]["stringValue"], "[email]");
        assert_eq!(
            json["attributes"][1],
            json!({ "key": "rows", "value": { "intValue": "4" } })
        );
        assert_eq!(json["attributes"].as_array().unwrap().len(), 2);
        assert_eq!(json["status"]["code"], 2);
        assert!(
            !json["status"]["message"]
                .as_str()
                .unwrap()
                .contains("abc123")
        );
    }
}
