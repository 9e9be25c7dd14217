//! What the telemetry exporters share: the error a bad `OTEL_*`/`SENTRY_*`
//! setting produces, and how a variable is looked up in the environment the
//! CLI hands over. Kept apart so [`super::otlp`] and [`super::sentry`] do not
//! depend on each other or on [`super::telemetry`], which combines them.
//!
//! It must not read the process environment: the CLI reads it once and
//! passes the pairs in.

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

    pub(crate) fn start(what: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Start {
            what,
            source: std::io::Error::other(error.to_string()),
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

/// The exporters' HTTP clients use rustls with the ring provider; install it
/// once for the process (a no-op when something else already did).
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
