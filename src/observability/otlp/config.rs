//! OTLP exporter settings: the standard `OTEL_*` variables, read once at
//! startup from the pairs the CLI hands over, checked, and turned into what
//! the SDK takes (endpoint, protocol, headers, timeout, sampler).
//!
//! It must not read the process environment, and a bad value fails startup
//! with an error naming the variable, never echoing a value (header values
//! are usually credentials).

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::super::redact;
use super::super::settings::{TelemetryError, env_var};

/// Spans per export request.
pub const MAX_BATCH: usize = 512;
/// How often queued spans are exported when the batch is not full.
pub const EXPORT_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_QUEUE_CAPACITY: usize = 4096;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub(super) const SCOPE_NAME: &str = "insight";

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
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
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

impl Sampler {
    /// The SDK sampler for this setting. Child spans follow their parent's
    /// decision in every parent-based variant; ids are assigned either way.
    pub(super) fn to_sdk(self) -> opentelemetry_sdk::trace::Sampler {
        use opentelemetry_sdk::trace::Sampler as S;
        match self {
            Self::AlwaysOn => S::AlwaysOn,
            Self::AlwaysOff => S::AlwaysOff,
            Self::TraceIdRatio(r) => S::TraceIdRatioBased(r),
            Self::ParentBasedAlwaysOn => S::ParentBased(Box::new(S::AlwaysOn)),
            Self::ParentBasedAlwaysOff => S::ParentBased(Box::new(S::AlwaysOff)),
            Self::ParentBasedTraceIdRatio(r) => S::ParentBased(Box::new(S::TraceIdRatioBased(r))),
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
    fn samplers_map_onto_the_sdk() {
        use opentelemetry_sdk::trace::Sampler as S;
        let dbg = |s: Sampler| format!("{:?}", s.to_sdk());
        assert_eq!(dbg(Sampler::AlwaysOff), format!("{:?}", S::AlwaysOff));
        assert_eq!(
            dbg(Sampler::ParentBasedTraceIdRatio(0.25)),
            format!("{:?}", S::ParentBased(Box::new(S::TraceIdRatioBased(0.25))))
        );
    }
}
