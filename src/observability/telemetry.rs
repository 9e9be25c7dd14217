//! The one entry point for telemetry at startup: read the `OTEL_*` and
//! `SENTRY_*` settings, start what is configured, and hand logging init the
//! pieces ([`Telemetry`]) and the CLI the handle that flushes them on exit
//! ([`TelemetryGuard`]).
//!
//! It combines [`super::otlp`] and [`super::sentry`], which know nothing of
//! each other; it must not read the process environment (the CLI passes the
//! variables in).

use std::time::Duration;

use super::otlp::{OtlpConfig, OtlpGuard, OtlpTracer};
use super::sentry::{Sentry, SentryConfig, SentryLayer};
pub use super::settings::TelemetryError;

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything logging init needs from the telemetry side. Each part is
/// `None` when its variables are unset, and `Option<Layer>` is itself a
/// no-op layer, so the subscriber stack is the same either way.
///
/// How `observability::init_logging` composes it (the global filter first,
/// so both exporters only see what `RUST_LOG` lets through):
///
/// ```no_run
/// use insight::observability::telemetry::Telemetry;
/// use insight::observability::otlp::OtlpTracer;
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
///
/// fn init(telemetry: Telemetry) {
///     let Telemetry { otlp, sentry, guard } = telemetry;
///     let _ = tracing_subscriber::registry()
///         .with(tracing_subscriber::EnvFilter::new("info"))
///         .with(otlp.map(OtlpTracer::layer))
///         .with(sentry)
///         .try_init();
///     drop(guard); // the CLI keeps it and calls `shutdown().await` on exit
/// }
/// ```
#[derive(Debug)]
pub struct Telemetry {
    pub otlp: Option<OtlpTracer>,
    pub sentry: Option<SentryLayer>,
    pub guard: TelemetryGuard,
}

impl Telemetry {
    /// Read `OTEL_*` and `SENTRY_*` from `env` and start what is configured.
    pub fn from_env_vars(env: &[(String, String)]) -> Result<Self, TelemetryError> {
        let (otlp, otlp_guard) = match OtlpConfig::from_env_vars(env)? {
            Some(config) => {
                let (tracer, guard) = OtlpTracer::new(config)?;
                (Some(tracer), Some(guard))
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
