//! The log formatter's guard against SQL literals: an event carrying a SQL
//! field (sqlx's `db.statement` and `summary`, any `sql`/`*.sql`/`*_sql`
//! field) is formatted with [`super::sql_text::without_literals`] applied to those
//! fields, every other field, the span context and the output format
//! (text or JSON) untouched.
//!
//! Events cannot be edited, so the event is rebuilt: same metadata (same
//! callsite, same field names), same parent, new values. Other events go
//! straight to the wrapped formatter, so the cost is one scan of the field
//! names per event.

use std::fmt;

use tracing::field::{Field, Value, Visit, display};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::sql_text::{is_sql_field, without_literals};

/// Wraps an event formatter (see the module docs).
pub struct SqlSafe<E>(pub E);

impl<S, N, E> FormatEvent<S, N> for SqlSafe<E>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    E: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let target = meta.target();
        if !meta.fields().iter().any(|f| is_sql_field(target, f.name())) {
            return self.0.format_event(ctx, writer, event);
        }
        let mut recorded = Recorded {
            target,
            values: (0..meta.fields().len()).map(|_| None).collect(),
        };
        event.record(&mut recorded);
        let displays: Vec<Option<RecordedValue<'_>>> = recorded
            .values
            .iter()
            .map(|v| v.as_ref().map(RecordedValue::of))
            .collect();
        let values: Vec<Option<&dyn Value>> = displays
            .iter()
            .map(|v| v.as_ref().map(RecordedValue::as_value))
            .collect();
        let value_set = meta.fields().value_set_all(&values);
        let rebuilt = if event.is_contextual() {
            Event::new(meta, &value_set)
        } else {
            Event::new_child_of(event.parent().cloned(), meta, &value_set)
        };
        self.0.format_event(ctx, writer, &rebuilt)
    }
}

/// One field's value as the event recorded it (SQL already scrubbed).
enum Val {
    Str(String),
    /// Recorded through `Debug`/`Display` (messages, `%x`, `?x`).
    Shown(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

/// The values by field index.
struct Recorded {
    target: &'static str,
    values: Vec<Option<Val>>,
}

impl Recorded {
    fn put(&mut self, field: &Field, value: Val) {
        let value = match value {
            Val::Str(s) if is_sql_field(self.target, field.name()) => {
                Val::Str(without_literals(&s))
            }
            Val::Shown(s) if is_sql_field(self.target, field.name()) => {
                Val::Shown(without_literals(&s))
            }
            other => other,
        };
        if let Some(slot) = self.values.get_mut(field.index()) {
            *slot = Some(value);
        }
    }
}

impl Visit for Recorded {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Val::Str(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Val::Shown(format!("{value:?}")));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Val::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Val::U64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Val::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Val::Bool(value));
    }
}

/// A recorded value handed back to the formatter with its original kind.
enum RecordedValue<'a> {
    Str(&'a str),
    Shown(tracing::field::DisplayValue<&'a str>),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl<'a> RecordedValue<'a> {
    fn of(v: &'a Val) -> Self {
        match v {
            Val::Str(s) => Self::Str(s),
            Val::Shown(s) => Self::Shown(display(s.as_str())),
            Val::I64(n) => Self::I64(*n),
            Val::U64(n) => Self::U64(*n),
            Val::F64(n) => Self::F64(*n),
            Val::Bool(b) => Self::Bool(*b),
        }
    }

    fn as_value(&self) -> &dyn Value {
        match self {
            Self::Str(s) => s,
            Self::Shown(d) => d,
            Self::I64(n) => n,
            Self::U64(n) => n,
            Self::F64(n) => n,
            Self::Bool(b) => b,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn slow_statement() {
        // What sqlx logs for a statement over its slow threshold.
        tracing::warn!(
            target: "sqlx::query",
            summary = "SELECT name FROM customers WHERE email = 'ann.secret@example.com' …",
            db.statement = "\n\nSELECT name FROM customers WHERE email = 'ann.secret@example.com' AND id = 4242\n",
            rows_returned = 1u64,
            elapsed_secs = 1.5f64,
            "slow statement: execution time exceeded alert threshold"
        );
    }

    #[test]
    fn text_and_json_logs_carry_no_sql_literal() {
        for json in [false, true] {
            let capture = Capture::default();
            let c2 = capture.clone();
            let layer = tracing_subscriber::fmt::layer().with_writer(move || c2.clone());
            let dispatch = if json {
                let layer = layer.json().flatten_event(true).map_event_format(SqlSafe);
                tracing::Dispatch::new(tracing_subscriber::layer::SubscriberExt::with(
                    tracing_subscriber::registry(),
                    layer,
                ))
            } else {
                let layer = layer.with_ansi(false).map_event_format(SqlSafe);
                tracing::Dispatch::new(tracing_subscriber::layer::SubscriberExt::with(
                    tracing_subscriber::registry(),
                    layer,
                ))
            };
            tracing::dispatcher::with_default(&dispatch, || {
                let span = tracing::info_span!("request", correlation_id = "c-123");
                let _g = span.enter();
                slow_statement();
                tracing::info!(user.name = "ann", "not about SQL: 4242 stays");
            });
            let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
            assert!(!out.contains("ann.secret"), "{out}");
            assert!(!out.contains("= 4242"), "{out}");
            assert!(
                out.contains("SELECT name FROM customers WHERE email = ?"),
                "{out}"
            );
            assert!(out.contains("slow statement"), "{out}");
            assert!(out.contains("c-123"), "span context kept: {out}");
            assert!(out.contains("not about SQL: 4242 stays"), "{out}");
            if json {
                let first: serde_json::Value =
                    serde_json::from_str(out.lines().next().unwrap()).unwrap();
                assert_eq!(first["rows_returned"], 1, "kinds kept: {first}");
            }
        }
    }
}
