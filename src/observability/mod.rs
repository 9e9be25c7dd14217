//! Logs: structured (JSON in production, text in dev), filtered with
//! `RUST_LOG`, and masked: every line passes through [`redact::mask`] before
//! it is written, so e-mail addresses, phone numbers, card numbers, tokens,
//! API keys and DSN passwords never reach the log pipeline, whichever code
//! logged them. Two more guarantees hold for every line: SQL fields carry no
//! literal ([`sql_events`]), and no control character is written raw (a
//! newline, an ANSI escape or a NUL inside a field or message is escaped),
//! so a value from a request — a login username — cannot forge a log line
//! or drive the reader's terminal.

pub mod correlation;
pub mod metrics;
pub mod otlp;
pub mod redact;
pub mod sentry;
pub mod sql_events;
pub mod sql_text;

pub mod settings;
pub mod telemetry;

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Install the global subscriber: the masked fmt layer (JSON or text) plus
/// the OTLP and Sentry layers when they are configured. `default_filter`
/// applies when `RUST_LOG` is unset. Returns the guard that flushes the
/// exporters on shutdown. A second call installs nothing.
pub fn init_logging(
    format: LogFormat,
    default_filter: &str,
    telemetry: telemetry::Telemetry,
) -> telemetry::TelemetryGuard {
    use tracing_subscriber::{Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _};
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let fmt = tracing_subscriber::fmt::layer().with_writer(MaskingWriter::stderr());
    let fmt = match format {
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .map_event_format(sql_events::SqlSafe)
            .boxed(),
        LogFormat::Text => fmt
            .with_ansi(false)
            .map_event_format(sql_events::SqlSafe)
            .boxed(),
    };
    let telemetry::Telemetry {
        otlp,
        sentry: sentry_layer,
        guard,
    } = telemetry;
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otlp.map(otlp::OtlpTracer::layer))
        .with(sentry_layer)
        .try_init()
        .is_ok();
    if let Some(client) = guard.sentry().filter(|_| installed) {
        sentry::install_panic_hook(client.clone());
    }
    guard
}

/// A `MakeWriter` that masks sensitive data in each formatted line.
#[derive(Clone)]
pub struct MaskingWriter<W> {
    make: W,
}

impl MaskingWriter<fn() -> io::Stderr> {
    pub fn stderr() -> Self {
        Self { make: io::stderr }
    }
}

impl<W> MaskingWriter<W> {
    pub fn new(make: W) -> Self {
        Self { make }
    }
}

impl<'a, W> MakeWriter<'a> for MaskingWriter<W>
where
    W: MakeWriter<'a>,
{
    type Writer = MaskingLine<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskingLine {
            inner: self.make.make_writer(),
            buf: Vec::new(),
        }
    }
}

/// Buffers one event's output and writes it masked when dropped (the fmt
/// layer makes one writer per event).
pub struct MaskingLine<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Write for MaskingLine<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for MaskingLine<W> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let masked = escape_controls(&redact::mask(&text));
        let _ = self.inner.write_all(masked.as_bytes());
        let _ = self.inner.flush();
    }
}

/// `line` with every control character escaped (`\n`, `\r`, `\t`,
/// `\x1b`, `\u{85}`…), except the newline that ends it; Unicode line and
/// paragraph separators too. JSON lines never hold raw ones (serde escapes
/// them), so this only ever changes text lines.
pub fn escape_controls(line: &str) -> String {
    let (body, end) = match line.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (line, ""),
    };
    if !body.chars().any(needs_escape) {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len() + 16);
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 && needs_escape(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push_str(end);
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_lines_are_masked_before_output() {
        let capture = Capture::default();
        let c2 = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(MaskingWriter::new(move || c2.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                user.email = "ann.lee@example.com",
                dsn = "postgres://app:hunter2@db/sales",
                "login by ann.lee@example.com"
            );
        });
        let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        assert!(!out.contains("ann.lee@example.com"), "{out}");
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("postgres://app:***@db/sales"), "{out}");
        assert!(out.ends_with('\n'));
    }

    #[test]
    fn text_lines_cannot_be_forged_with_control_characters() {
        let capture = Capture::default();
        let c2 = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(MaskingWriter::new(move || c2.clone()))
            .finish();
        let name = "bob\n2026-12-07T00:00:00Z  INFO insight: login ok user.name=admin\u{1b}[2J\0";
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(user.name = %name, "login failed for {name}");
        });
        let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 1, "one event, one line: {out}");
        assert!(out.ends_with('\n'));
        assert!(!out.contains('\u{1b}') && !out.contains('\0'), "{out:?}");
        assert!(out.contains("bob\\n"), "{out}");
        assert!(out.contains("\\x1b[2J\\x00"), "{out}");
        assert_eq!(escape_controls("plain line\n"), "plain line\n");
        assert_eq!(escape_controls("a\tb\u{2028}c"), "a\\tb\\u{2028}c");
    }
}
