//! Error reports to Sentry through the `sentry` crate: its client, envelope
//! format, rate limiting and transport (reqwest with rustls, the stack the
//! service already has), driven by our settings and our masking.
//!
//! What this module owns: [`SentryConfig`] (`SENTRY_DSN`,
//! `SENTRY_ENVIRONMENT`, `SENTRY_RELEASE`), the [`Sentry`] handle (a client
//! bound to its own hub, so two handles never share state), the
//! [`SentryLayer`] that reports `tracing::error!` events tagged with the ids
//! of the spans they happened in, and [`install_panic_hook`]. Without
//! `SENTRY_DSN` none of it is created.
//!
//! The layer is ours rather than `sentry-tracing`'s because that one reports
//! through the thread's current hub; ours reports to the handle it was given
//! and turns a short list of span fields ([`TAG_FIELDS`]) into tags.
//!
//! What it must not do: block the caller (the crate's transport queues
//! envelopes for its own thread and drops them when the queue is full or
//! Sentry is rate-limiting us), or send anything unmasked: `before_send`
//! passes every message, exception, tag and extra value through
//! [`redact::mask`] before an event leaves.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sentry::protocol::{Event, Value as SentryValue};
use sentry::types::Dsn;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event as TracingEvent, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::redact;
use super::settings::{TelemetryError, env_var, install_crypto_provider};

const DEFAULT_QUEUE_CAPACITY: usize = 256;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a panic waits for its report before the process goes on to
/// unwind or abort.
const PANIC_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// Sentry's limit on tag values.
const MAX_TAG_CHARS: usize = 200;
const MAX_TAG_KEY_CHARS: usize = 32;
const MAX_MESSAGE_CHARS: usize = 8192;
/// Span fields that become tags on events raised inside the span. A short
/// list on purpose: tags are indexed and searchable, so ids only.
pub const TAG_FIELDS: &[&str] = &[
    "correlation_id",
    "trace_id",
    "http.method",
    "http.route",
    "connection.id",
    "query.id",
    "llm.provider",
];

/// Sentry settings, from `SENTRY_*` variables.
#[derive(Clone)]
pub struct SentryConfig {
    pub dsn: Dsn,
    pub environment: Option<String>,
    /// `SENTRY_RELEASE`, default `insight@<crate version>`.
    pub release: String,
    pub timeout: Duration,
    /// Envelopes waiting for the transport; beyond this they are dropped.
    pub queue_capacity: usize,
}

impl fmt::Debug for SentryConfig {
    /// The DSN's key is a credential: show where it points, not the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryConfig")
            .field("host", &self.dsn.host())
            .field("project_id", &self.dsn.project_id().value())
            .field("environment", &self.environment)
            .field("release", &self.release)
            .field("timeout", &self.timeout)
            .field("queue_capacity", &self.queue_capacity)
            .finish()
    }
}

impl SentryConfig {
    /// `Ok(None)` without `SENTRY_DSN`; an error naming the variable when it
    /// is set but not a DSN.
    pub fn from_env_vars(env: &[(String, String)]) -> Result<Option<Self>, TelemetryError> {
        let Some(dsn) = env_var(env, "SENTRY_DSN") else {
            return Ok(None);
        };
        Ok(Some(Self {
            dsn: parse_dsn(dsn)?,
            environment: env_var(env, "SENTRY_ENVIRONMENT").map(str::to_string),
            release: env_var(env, "SENTRY_RELEASE")
                .map(str::to_string)
                .unwrap_or_else(|| concat!("insight@", env!("CARGO_PKG_VERSION")).to_string()),
            timeout: DEFAULT_TIMEOUT,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }))
    }
}

/// `{scheme}://{public_key}[:secret]@{host}[/path]/{project_id}`, parsed by
/// the crate; the error names the variable and never echoes the value.
pub fn parse_dsn(dsn: &str) -> Result<Dsn, TelemetryError> {
    let bad = |reason: &str| TelemetryError::setting("SENTRY_DSN", reason);
    let parsed: Dsn = dsn
        .trim()
        .parse()
        .map_err(|_| bad("expected https://<key>@<host>/<project>"))?;
    if parsed.public_key().is_empty() {
        return Err(bad("the public key is missing"));
    }
    if parsed.host().is_empty() {
        return Err(bad("the host is missing"));
    }
    Ok(parsed)
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

impl From<Level> for sentry::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::Fatal => Self::Fatal,
            Level::Error => Self::Error,
            Level::Warning => Self::Warning,
            Level::Info => Self::Info,
            Level::Debug => Self::Debug,
        }
    }
}

/// The Sentry handle: cheap to clone; capturing returns immediately.
#[derive(Clone)]
pub struct Sentry {
    hub: Arc<sentry::Hub>,
}

impl fmt::Debug for Sentry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sentry").finish_non_exhaustive()
    }
}

impl Sentry {
    /// Build the client (and its transport thread) for `config`.
    pub fn new(config: SentryConfig) -> Result<Self, TelemetryError> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| TelemetryError::start("Sentry", e))?;
        let mut options = sentry::ClientOptions::new()
            .transport(ReqwestTransport(http))
            .before_send(|event| Some(mask_event(event)))
            // The defaults would read `SENTRY_*` themselves and install a
            // panic hook on the process hub; we configure both explicitly.
            .default_integrations(false)
            .add_integration(sentry::integrations::contexts::ContextIntegration::new())
            .add_integration(sentry::integrations::backtrace::ProcessStacktraceIntegration::new())
            .shutdown_timeout(config.timeout)
            .transport_channel_capacity(config.queue_capacity.max(1));
        options.dsn = Some(config.dsn);
        options.release = Some(config.release.into());
        options.environment = config.environment.map(Cow::Owned);
        let client = Arc::new(sentry::Client::from(options));
        let hub = sentry::Hub::new(Some(client), Arc::new(sentry::Scope::default()));
        Ok(Self { hub: Arc::new(hub) })
    }

    /// Report an error. Tags from the current span (`correlation_id`,
    /// `trace_id`, …; needs the [`SentryLayer`] in the subscriber) are added
    /// unless `tags` already has them. Returns the event id, or `None` when
    /// the event was not accepted.
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
        self.capture(new_event(level, "insight", message, all, Vec::new()))
    }

    fn capture(&self, event: Event<'static>) -> Option<uuid::Uuid> {
        let id = self.hub.capture_event(event);
        (!id.is_nil()).then_some(id)
    }

    /// Wait until everything captured so far was sent (or given up on).
    pub async fn flush(&self, timeout: Duration) -> bool {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.flush_blocking(timeout))
            .await
            .unwrap_or(false)
    }

    /// [`Sentry::flush`] for synchronous code (the panic hook).
    pub fn flush_blocking(&self, timeout: Duration) -> bool {
        self.hub
            .client()
            .is_some_and(|client| client.flush(Some(timeout)))
    }
}

/// The crate's reqwest transport on our client (rustls, our timeout).
struct ReqwestTransport(reqwest::Client);

impl sentry::TransportFactory for ReqwestTransport {
    fn create_transport_with_options(
        &self,
        options: sentry::TransportOptions,
    ) -> Arc<dyn sentry::Transport> {
        Arc::new(
            sentry::transports::ReqwestHttpTransportOptions::from(options)
                .with_client(self.0.clone())
                .build(),
        )
    }
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

fn new_event(
    level: Level,
    logger: &str,
    message: &str,
    tags: Vec<(String, String)>,
    extra: Vec<(String, String)>,
) -> Event<'static> {
    Event {
        level: level.into(),
        logger: Some(logger.to_string()),
        message: Some(message.to_string()),
        platform: "rust".into(),
        tags: tags.into_iter().collect(),
        extra: extra
            .into_iter()
            .map(|(k, v)| (k, SentryValue::String(v)))
            .collect(),
        ..Default::default()
    }
}

/// `before_send`: bound and mask everything an event carries as text.
pub(crate) fn mask_event(mut event: Event<'static>) -> Event<'static> {
    let text = |s: &str| redact::mask(truncate(s, MAX_MESSAGE_CHARS));
    event.message = event.message.as_deref().map(text);
    if let Some(entry) = &mut event.logentry {
        entry.message = text(&entry.message);
        entry.params.iter_mut().for_each(mask_json);
    }
    event.culprit = event.culprit.as_deref().map(text);
    event.transaction = event.transaction.as_deref().map(text);
    event.tags = std::mem::take(&mut event.tags)
        .into_iter()
        .map(|(k, v)| {
            let value = truncate(&redact::mask(&v), MAX_TAG_CHARS).to_string();
            (truncate(&k, MAX_TAG_KEY_CHARS).to_string(), value)
        })
        .collect::<BTreeMap<_, _>>();
    event.extra.values_mut().for_each(mask_json);
    for exception in event.exception.values.iter_mut() {
        exception.value = exception.value.as_deref().map(text);
    }
    for crumb in event.breadcrumbs.values.iter_mut() {
        crumb.message = crumb.message.as_deref().map(text);
        crumb.data.values_mut().for_each(mask_json);
    }
    // Requests and users are personal data; we never attach them.
    event.request = None;
    event.user = None;
    event
}

fn mask_json(value: &mut SentryValue) {
    match value {
        SentryValue::String(s) => *s = redact::mask(s),
        SentryValue::Array(items) => items.iter_mut().for_each(mask_json),
        SentryValue::Object(map) => map.values_mut().for_each(mask_json),
        _ => {}
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

/// Tags from a span and its ancestors (innermost wins). The trace id comes
/// from the request span's `trace_id` field, which the middleware records.
fn scope_tags<'a, R: LookupSpan<'a>>(leaf: Option<SpanRef<'a, R>>) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = Vec::new();
    let Some(leaf) = leaf else { return tags };
    for span in leaf.scope() {
        let ext = span.extensions();
        let mut found: Vec<(String, String)> = Vec::new();
        if let Some(t) = ext.get::<SpanTags>() {
            found.extend(t.0.iter().map(|(k, v)| (k.to_string(), v.clone())));
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

    fn on_event(&self, event: &TracingEvent<'_>, ctx: Context<'_, S>) {
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
        self.sentry.capture(new_event(
            Level::Error,
            meta.target(),
            &message,
            tags,
            fields.extra,
        ));
    }
}

/// Report panics (message and location, at level `fatal`, with the crate's
/// exception and stack trace), wait up to two seconds for the report to
/// leave, then run the previous hook (which prints the panic as usual).
pub fn install_panic_hook(sentry: Sentry) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        // The transport thread cannot wait for itself.
        if !thread.name().is_some_and(|n| n.starts_with("sentry")) {
            let message = sentry::integrations::panic::message_from_panic_info(info);
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
            let crate_event =
                sentry::integrations::panic::PanicIntegration::new().event_from_panic_info(info);
            let event = Event {
                exception: crate_event.exception,
                ..new_event(Level::Fatal, "panic", &text, tags, extra)
            };
            if sentry.capture(event).is_some() {
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
    fn dsn_parts_and_errors() {
        let d = parse_dsn("https://abc123@o1.ingest.sentry.io/4505").unwrap();
        assert_eq!(d.public_key(), "abc123");
        assert_eq!(d.project_id().value(), "4505");
        assert_eq!(
            d.envelope_api_url().as_str(),
            "https://o1.ingest.sentry.io/api/4505/envelope/"
        );
        let d = parse_dsn("http://key:secret@127.0.0.1:9000/sub/path/7").unwrap();
        assert_eq!(
            d.envelope_api_url().as_str(),
            "http://127.0.0.1:9000/sub/path/api/7/envelope/"
        );
        for bad in [
            "",
            "abc",
            "ftp://k@h/1",
            "https://h/1",
            "https://k@h",
            "https://k@h/",
            "https://@h/1",
        ] {
            let err = parse_dsn(bad).unwrap_err().to_string();
            assert!(err.contains("SENTRY_DSN"), "{bad}: {err}");
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
    }

    #[test]
    fn config_defaults_release_to_the_crate_version() {
        assert!(SentryConfig::from_env_vars(&[]).unwrap().is_none());
        let env = vec![("SENTRY_DSN".to_string(), "https://k3y@h/1".to_string())];
        let c = SentryConfig::from_env_vars(&env).unwrap().unwrap();
        assert_eq!(c.release, format!("insight@{}", env!("CARGO_PKG_VERSION")));
        assert_eq!(c.environment, None);
        assert!(!format!("{c:?}").contains("k3y"), "{c:?}");
    }

    #[test]
    fn before_send_masks_and_bounds_every_text() {
        let mut event = new_event(
            Level::Error,
            "t",
            "failed for ann.lee@example.com",
            vec![("user".into(), "bob@example.com".into())],
            vec![("dsn".into(), "postgres://app:hunter2@db/sales".into())],
        );
        event.exception.values.push(sentry::protocol::Exception {
            ty: "panic".into(),
            value: Some("kaboom token=abc123secret".into()),
            ..Default::default()
        });
        event.tags.insert("long".into(), "x".repeat(500));
        let event = mask_event(event);
        assert_eq!(event.message.as_deref(), Some("failed for [email]"));
        assert_eq!(event.tags["user"], "[email]");
        assert_eq!(event.tags["long"].chars().count(), MAX_TAG_CHARS);
        assert_eq!(
            event.extra["dsn"],
            SentryValue::String("postgres://app:***@db/sales".into())
        );
        let value = event.exception.values[0].value.as_deref().unwrap();
        assert!(!value.contains("abc123secret"), "{value}");
    }
}
