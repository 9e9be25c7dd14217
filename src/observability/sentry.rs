//! Error reporting to Sentry, hand-written: a DSN parser, an envelope
//! sender, a `tracing` layer that reports `error!` events, and a panic hook.
//!
//! Why not the `sentry` crate: it brings its own HTTP transport and TLS
//! stack; what we send is one small JSON envelope per error.
//!
//! What this module owns: [`SentryConfig`] (`SENTRY_DSN`,
//! `SENTRY_ENVIRONMENT`, `SENTRY_RELEASE`), the [`Sentry`] client, the
//! [`SentryLayer`] and [`install_panic_hook`]. Without `SENTRY_DSN` none of
//! it is created.
//!
//! What it must not do: block the caller (events go through a bounded queue
//! to a worker thread and are dropped, counted, when it is full or Sentry is
//! rate-limiting us), or send anything unmasked: every message, tag and
//! extra value passes through [`redact::mask`] before it leaves.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::otlp::{self, TelemetryError, env_var};
use super::redact;

const DEFAULT_QUEUE_CAPACITY: usize = 256;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a panic waits for its report before the process goes on to
/// unwind or abort.
const PANIC_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
const WORKER_THREAD: &str = "insight-sentry";
const CLIENT: &str = concat!("insight/", env!("CARGO_PKG_VERSION"));
/// Sentry's limit on tag values.
const MAX_TAG_CHARS: usize = 200;
const MAX_MESSAGE_CHARS: usize = 8192;
/// Span fields that become tags on events raised inside the span. A short
/// list on purpose: tags are indexed and searchable, so ids only.
const TAG_FIELDS: &[&str] = &[
    "correlation_id",
    "trace_id",
    "http.method",
    "http.route",
    "connection.id",
    "query.id",
    "llm.provider",
];

/// A parsed `SENTRY_DSN`: `{scheme}://{public_key}[:secret]@{host}[/path]/{project_id}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Dsn {
    scheme: String,
    public_key: String,
    /// Host with optional port.
    host: String,
    /// Path prefix before the project id (empty or `/prefix`).
    path: String,
    project_id: String,
}

impl fmt::Debug for Dsn {
    /// The key is a credential: leave it out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://***@{}{}/{}",
            self.scheme, self.host, self.path, self.project_id
        )
    }
}

impl Dsn {
    pub fn parse(dsn: &str) -> Result<Self, TelemetryError> {
        let bad = |reason: &str| TelemetryError::setting("SENTRY_DSN", reason);
        let (scheme, rest) = dsn
            .trim()
            .split_once("://")
            .ok_or_else(|| bad("expected https://<key>@<host>/<project>"))?;
        if scheme != "https" && scheme != "http" {
            return Err(bad("the scheme must be https or http"));
        }
        let (auth, location) = rest
            .rsplit_once('@')
            .ok_or_else(|| bad("the public key is missing"))?;
        let public_key = auth.split(':').next().unwrap_or_default();
        if public_key.is_empty() || !public_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad("the public key is missing or malformed"));
        }
        let (host, path) = match location.find('/') {
            Some(i) => location.split_at(i),
            None => return Err(bad("the project id is missing")),
        };
        let path = path.trim_end_matches('/');
        let (prefix, project_id) = path.rsplit_once('/').unwrap_or(("", path));
        if host.is_empty() || host.contains(['?', '#', ' ']) {
            return Err(bad("the host is missing or malformed"));
        }
        if project_id.is_empty() || !project_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad("the project id is missing or malformed"));
        }
        Ok(Self {
            scheme: scheme.to_string(),
            public_key: public_key.to_string(),
            host: host.to_string(),
            path: prefix.to_string(),
            project_id: project_id.to_string(),
        })
    }

    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// `{scheme}://{host}{path}/api/{project_id}/envelope/`
    pub fn envelope_url(&self) -> String {
        format!(
            "{}://{}{}/api/{}/envelope/",
            self.scheme, self.host, self.path, self.project_id
        )
    }

    /// The DSN without its secret part, as the envelope header carries it.
    fn public_dsn(&self) -> String {
        format!(
            "{}://{}@{}{}/{}",
            self.scheme, self.public_key, self.host, self.path, self.project_id
        )
    }

    fn auth_header(&self) -> String {
        format!(
            "Sentry sentry_version=7, sentry_client={CLIENT}, sentry_key={}",
            self.public_key
        )
    }
}

/// Sentry settings, from `SENTRY_*` variables.
#[derive(Debug, Clone)]
pub struct SentryConfig {
    pub dsn: Dsn,
    pub environment: Option<String>,
    /// `SENTRY_RELEASE`, default `insight@<crate version>`.
    pub release: String,
    pub timeout: Duration,
    pub queue_capacity: usize,
}

impl SentryConfig {
    /// `Ok(None)` without `SENTRY_DSN`; an error naming the variable when it
    /// is set but not a DSN.
    pub fn from_env_vars(env: &[(String, String)]) -> Result<Option<Self>, TelemetryError> {
        let Some(dsn) = env_var(env, "SENTRY_DSN") else {
            return Ok(None);
        };
        Ok(Some(Self {
            dsn: Dsn::parse(dsn)?,
            environment: env_var(env, "SENTRY_ENVIRONMENT").map(str::to_string),
            release: env_var(env, "SENTRY_RELEASE")
                .map(str::to_string)
                .unwrap_or_else(|| concat!("insight@", env!("CARGO_PKG_VERSION")).to_string()),
            timeout: DEFAULT_TIMEOUT,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }))
    }
}

/// Sentry's event levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Fatal,
    Error,
    Warning,
    Info,
    Debug,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fatal => "fatal",
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
            Self::Debug => "debug",
        }
    }
}

/// An event as captured on the caller's thread; serialised and masked on
/// the worker.
#[derive(Debug)]
struct Report {
    event_id: uuid::Uuid,
    timestamp: chrono::DateTime<chrono::Utc>,
    level: Level,
    logger: String,
    message: String,
    tags: Vec<(String, String)>,
    extra: Vec<(String, String)>,
}

enum Ack {
    Async(oneshot::Sender<()>),
    Blocking(std::sync::mpsc::SyncSender<()>),
}

enum Msg {
    Report(Box<Report>),
    Flush(Ack),
}

struct Inner {
    tx: mpsc::Sender<Msg>,
    dropped: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
}

/// The Sentry client: cheap to clone, every method returns immediately.
#[derive(Clone)]
pub struct Sentry {
    inner: Arc<Inner>,
}

impl fmt::Debug for Sentry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sentry")
            .field("dropped", &self.dropped_events())
            .finish_non_exhaustive()
    }
}

impl Sentry {
    /// Start the sender thread.
    pub fn new(config: SentryConfig) -> Result<Self, TelemetryError> {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&config.dsn.auth_header()).map_err(|_| {
            TelemetryError::setting("SENTRY_DSN", "the public key is not a valid header value")
        })?;
        auth.set_sensitive(true);
        headers.insert("x-sentry-auth", auth);
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-sentry-envelope"),
        );
        let sender = Sender {
            client: otlp::http_client(config.timeout, headers)?,
            url: config.dsn.envelope_url(),
            dsn: config.dsn.public_dsn(),
            release: config.release,
            environment: config.environment,
            dropped: dropped.clone(),
            sent: sent.clone(),
            blocked_until: None,
        };
        otlp::spawn_worker(WORKER_THREAD, move || sender.run(rx)).map_err(|source| {
            TelemetryError::Start {
                what: "Sentry",
                source,
            }
        })?;
        Ok(Self {
            inner: Arc::new(Inner { tx, dropped, sent }),
        })
    }

    /// Report an error. Tags from the current span (`correlation_id`,
    /// `trace_id`, …; needs the [`SentryLayer`] in the subscriber) are added
    /// unless `tags` already has them. Returns the event id, or `None` when
    /// the queue was full and the event was dropped.
    pub fn capture_error(
        &self,
        level: Level,
        message: &str,
        tags: &[(&str, &str)],
    ) -> Option<uuid::Uuid> {
        let mut all: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        merge_tags(&mut all, current_span_tags());
        self.capture(Report::new(level, "insight", message, all, Vec::new()))
    }

    fn capture(&self, report: Report) -> Option<uuid::Uuid> {
        let id = report.event_id;
        match self.inner.tx.try_send(Msg::Report(Box::new(report))) {
            Ok(()) => Some(id),
            Err(_) => {
                count_drop(&self.inner.dropped, "queue_full");
                None
            }
        }
    }

    /// Wait until everything captured so far was sent (or given up on).
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = oneshot::channel();
        tokio::time::timeout(timeout, async {
            self.inner
                .tx
                .send(Msg::Flush(Ack::Async(ack)))
                .await
                .is_ok()
                && done.await.is_ok()
        })
        .await
        .unwrap_or(false)
    }

    /// [`Sentry::flush`] for synchronous code (the panic hook). Never call
    /// it on the sender thread itself.
    pub fn flush_blocking(&self, timeout: Duration) -> bool {
        let (ack, done) = std::sync::mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        let mut msg = Msg::Flush(Ack::Blocking(ack));
        // The queue may be momentarily full; retry until the deadline.
        loop {
            match self.inner.tx.try_send(msg) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Full(m)) if Instant::now() < deadline => {
                    msg = m;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
        done.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }

    /// Events dropped: queue full, rate-limited by Sentry, or failed to send.
    pub fn dropped_events(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Events Sentry accepted.
    pub fn sent_events(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }
}

fn count_drop(counter: &AtomicU64, reason: &'static str) {
    counter.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("insight_telemetry_dropped_total", "exporter" => "sentry", "reason" => reason).increment(1);
}

/// Add `extra` tags whose keys are not there yet.
fn merge_tags(tags: &mut Vec<(String, String)>, extra: Vec<(String, String)>) {
    for (k, v) in extra {
        if !tags.iter().any(|(have, _)| *have == k) {
            tags.push((k, v));
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

impl Report {
    fn new(
        level: Level,
        logger: &str,
        message: &str,
        tags: Vec<(String, String)>,
        extra: Vec<(String, String)>,
    ) -> Self {
        Self {
            event_id: uuid::Uuid::new_v4(),
            timestamp: chrono::Utc::now(),
            level,
            logger: logger.to_string(),
            message: truncate(message, MAX_MESSAGE_CHARS).to_string(),
            tags,
            extra,
        }
    }
}

/// The worker's half: builds envelopes and posts them, one at a time.
struct Sender {
    client: reqwest::Client,
    url: String,
    dsn: String,
    release: String,
    environment: Option<String>,
    dropped: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
    /// Set from a 429's `Retry-After`; events are dropped until then.
    blocked_until: Option<Instant>,
}

impl Sender {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Report(report) => self.send(&report).await,
                Msg::Flush(Ack::Async(ack)) => {
                    let _ = ack.send(());
                }
                Msg::Flush(Ack::Blocking(ack)) => {
                    let _ = ack.try_send(());
                }
            }
        }
    }

    async fn send(&mut self, report: &Report) {
        if self.blocked_until.is_some_and(|t| Instant::now() < t) {
            count_drop(&self.dropped, "rate_limited");
            return;
        }
        let body = self.envelope(report);
        match self.client.post(&self.url).body(body).send().await {
            Ok(r) if r.status().is_success() => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Ok(r) if r.status().as_u16() == 429 => {
                let secs = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(60);
                self.blocked_until = Some(Instant::now() + Duration::from_secs(secs.min(3600)));
                count_drop(&self.dropped, "rate_limited");
            }
            _ => count_drop(&self.dropped, "send_failed"),
        }
    }

    /// Three newline-separated JSON documents: envelope header, item header
    /// (with the payload's byte length), event payload.
    fn envelope(&self, r: &Report) -> Vec<u8> {
        let event_id = r.event_id.simple().to_string();
        let mut tags = Map::new();
        for (k, v) in &r.tags {
            tags.insert(
                truncate(k, 32).to_string(),
                Value::String(truncate(&redact::mask(v), MAX_TAG_CHARS).to_string()),
            );
        }
        let mut extra = Map::new();
        for (k, v) in &r.extra {
            extra.insert(k.clone(), Value::String(redact::mask(v)));
        }
        let mut event = json!({
            "event_id": event_id,
            "timestamp": r.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "platform": "rust",
            "level": r.level.as_str(),
            "logger": r.logger,
            "message": redact::mask(&r.message),
            "release": self.release,
            "tags": tags,
            "extra": extra,
            "sdk": { "name": "insight", "version": env!("CARGO_PKG_VERSION") },
        });
        if let Some(env) = &self.environment {
            event["environment"] = json!(env);
        }
        let payload = event.to_string();
        let header = json!({
            "event_id": event_id,
            "dsn": self.dsn,
            "sent_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        let item =
            json!({ "type": "event", "length": payload.len(), "content_type": "application/json" });
        format!("{header}\n{item}\n{payload}\n").into_bytes()
    }
}

// ---------------------------------------------------------------------------
// The tracing layer
// ---------------------------------------------------------------------------

/// The [`TAG_FIELDS`] a span was given, kept in its extensions.
#[derive(Debug, Default)]
struct SpanTags(Vec<(&'static str, String)>);

impl Visit for SpanTags {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field.name(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if TAG_FIELDS.contains(&field.name()) {
            self.put(field.name(), format!("{value:?}"));
        }
    }
}

impl SpanTags {
    fn put(&mut self, key: &'static str, value: String) {
        if !TAG_FIELDS.contains(&key) {
            return;
        }
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }
}

/// Tags from a span and its ancestors (innermost wins), plus the OTLP trace
/// id when that layer is installed.
fn scope_tags<'a, R: LookupSpan<'a>>(leaf: Option<SpanRef<'a, R>>) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = Vec::new();
    let Some(leaf) = leaf else { return tags };
    for span in leaf.scope() {
        let ext = span.extensions();
        let mut found: Vec<(String, String)> = Vec::new();
        if let Some(t) = ext.get::<SpanTags>() {
            found.extend(t.0.iter().map(|(k, v)| (k.to_string(), v.clone())));
        }
        if let Some(trace_id) = otlp::trace_id_in(&ext) {
            found.push(("trace_id".to_string(), trace_id));
        }
        merge_tags(&mut tags, found);
    }
    tags
}

fn current_span_tags() -> Vec<(String, String)> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
            Some(scope_tags(registry.span(id)))
        })
        .flatten()
        .unwrap_or_default()
}

/// Reports every `tracing::error!` event to Sentry: its message, its fields
/// as `extra`, and the ids of the spans it happened in as tags.
pub struct SentryLayer {
    sentry: Sentry,
}

impl fmt::Debug for SentryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryLayer")
            .field("sentry", &self.sentry)
            .finish()
    }
}

impl SentryLayer {
    pub fn new(sentry: Sentry) -> Self {
        Self { sentry }
    }
}

#[derive(Default)]
struct EventFields {
    message: Option<String>,
    extra: Vec<(String, String)>,
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_string());
        } else {
            self.extra
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.extra.push((field.name().to_string(), text));
        }
    }
}

impl<S> Layer<S> for SentryLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut tags = SpanTags::default();
        attrs.record(&mut tags);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(tags);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(tags) = ext.get_mut::<SpanTags>() {
            values.record(tags);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() != tracing::Level::ERROR {
            return;
        }
        let mut fields = EventFields::default();
        event.record(&mut fields);
        // SQL leaves with its shape, never its literals (as in the logs).
        for (name, value) in &mut fields.extra {
            if super::sql_text::is_sql_field(meta.target(), name) {
                *value = super::sql_text::without_literals(value);
            }
        }
        if let (Some(file), Some(line)) = (meta.file(), meta.line()) {
            fields
                .extra
                .push(("location".to_string(), format!("{file}:{line}")));
        }
        let message = fields.message.unwrap_or_else(|| meta.name().to_string());
        let tags = scope_tags(ctx.event_span(event));
        self.sentry.capture(Report::new(
            Level::Error,
            meta.target(),
            &message,
            tags,
            fields.extra,
        ));
    }
}

/// Report panics (message and location, at level `fatal`), wait up to two
/// seconds for the report to leave, then run the previous hook (which
/// prints the panic as usual).
pub fn install_panic_hook(sentry: Sentry) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        // The sender thread cannot wait for itself.
        if thread.name() != Some(WORKER_THREAD) {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("Box<dyn Any>");
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            let mut extra = vec![(
                "thread".to_string(),
                thread.name().unwrap_or("unnamed").to_string(),
            )];
            if let Some(loc) = &location {
                extra.push(("location".to_string(), loc.clone()));
            }
            let mut tags = vec![("panic".to_string(), "true".to_string())];
            merge_tags(&mut tags, current_span_tags());
            let text = match &location {
                Some(loc) => format!("panic at {loc}: {message}"),
                None => format!("panic: {message}"),
            };
            if sentry
                .capture(Report::new(Level::Fatal, "panic", &text, tags, extra))
                .is_some()
            {
                sentry.flush_blocking(PANIC_FLUSH_TIMEOUT);
            }
        }
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_parts_and_urls() {
        let d = Dsn::parse("https://abc123@o1.ingest.sentry.io/4505").unwrap();
        assert_eq!(d.public_key(), "abc123");
        assert_eq!(d.project_id(), "4505");
        assert_eq!(
            d.envelope_url(),
            "https://o1.ingest.sentry.io/api/4505/envelope/"
        );
        assert!(!format!("{d:?}").contains("abc123"));
        let d = Dsn::parse("http://key:secret@127.0.0.1:9000/sub/path/7/").unwrap();
        assert_eq!(
            d.envelope_url(),
            "http://127.0.0.1:9000/sub/path/api/7/envelope/"
        );
        assert_eq!(d.public_dsn(), "http://key@127.0.0.1:9000/sub/path/7");
        assert!(d.auth_header().ends_with("sentry_key=key"));
        for bad in [
            "",
            "abc",
            "ftp://k@h/1",
            "https://h/1",
            "https://k@h",
            "https://k@h/",
            "https://@h/1",
            "https://k@/1",
        ] {
            let err = Dsn::parse(bad).unwrap_err().to_string();
            assert!(err.contains("SENTRY_DSN"), "{bad}: {err}");
        }
    }

    #[test]
    fn config_defaults_release_to_the_crate_version() {
        assert!(SentryConfig::from_env_vars(&[]).unwrap().is_none());
        let env = vec![("SENTRY_DSN".to_string(), "https://k@h/1".to_string())];
        let c = SentryConfig::from_env_vars(&env).unwrap().unwrap();
        assert_eq!(c.release, format!("insight@{}", env!("CARGO_PKG_VERSION")));
        assert_eq!(c.environment, None);
    }
}
