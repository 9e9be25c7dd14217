//! Prometheus metrics: one process-wide recorder, rendered as text at
//! `/metrics` and as JSON at `/metrics/json` (the same figures).
//!
//! Names follow Prometheus conventions: `insight_` prefix, `_total` for
//! counters, `_seconds` for latency histograms. Recording goes through the
//! small functions below so label sets stay consistent.
//!
//! Histograms buffer every raw sample until the recorder's upkeep folds them
//! into their buckets; without upkeep the buffers grow by a few samples per
//! request for as long as nobody scrapes `/metrics` (issue 16 measured about
//! 70 bytes per request, linear over 8 minutes). [`install`] therefore starts
//! one thread that runs the upkeep every [`UPKEEP_EVERY`].

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often buffered histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Install the recorder (once per process) and return its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (e.g. by an embedding
            // program); then ours only renders what it was given.
            let _ = metrics::set_global_recorder(recorder);
            metrics::gauge!("insight_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            let upkeep = handle.clone();
            // A plain thread: `install` may run before (or without) a runtime.
            let started = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .stack_size(64 * 1024)
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = started {
                tracing::warn!(error = %e, "metrics upkeep thread not started; histograms drain only when scraped");
            }
            handle
        })
        .clone()
}

/// Prometheus text exposition format.
pub fn render() -> String {
    install().render()
}

/// The same figures as JSON: `{"metric_name": [{"labels": {…}, "value": n}, …]}`
/// (histogram series keep their `_bucket`/`_sum`/`_count` names).
pub fn render_json() -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for line in render().lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, parse_labels(rest.trim_end_matches('}'))),
            None => (series, serde_json::Map::new()),
        };
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        };
        let entry = out
            .entry(name.to_string())
            .or_insert_with(|| serde_json::Value::Array(vec![]));
        if let Some(arr) = entry.as_array_mut() {
            arr.push(serde_json::json!({ "labels": labels, "value": serde_json::Number::from_f64(value) }));
        }
    }
    serde_json::Value::Object(out)
}

fn parse_labels(s: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    let mut rest = s;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].trim_start_matches(',').trim().to_string();
        let after = &rest[eq + 2..];
        // Values escape `"` as `\"`.
        let mut end = 0;
        let bytes = after.as_bytes();
        while end < bytes.len() && !(bytes[end] == b'"' && (end == 0 || bytes[end - 1] != b'\\')) {
            end += 1;
        }
        out.insert(
            key,
            serde_json::Value::String(after[..end].replace("\\\"", "\"")),
        );
        rest = after.get(end + 1..).unwrap_or("");
    }
    out
}

pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method.to_string()),
        ("route", route.to_string()),
        ("status", status.to_string()),
    ];
    metrics::counter!("insight_http_requests_total", &labels).increment(1);
    metrics::histogram!("insight_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
}

/// `outcome`: answered, rejected, failed, unanswerable.
pub fn ask(outcome: &'static str) {
    metrics::counter!("insight_asks_total", "outcome" => outcome).increment(1);
}

pub fn llm_call(
    provider: &str,
    model: &str,
    elapsed: Duration,
    prompt_tokens: u64,
    completion_tokens: u64,
    error: Option<&'static str>,
) {
    let (p, m) = (provider.to_string(), model.to_string());
    let outcome = if error.is_some() { "error" } else { "ok" };
    metrics::counter!("insight_llm_requests_total", "provider" => p.clone(), "model" => m.clone(), "outcome" => outcome).increment(1);
    metrics::histogram!("insight_llm_request_duration_seconds", "provider" => p.clone(), "model" => m.clone()).record(elapsed.as_secs_f64());
    metrics::counter!("insight_llm_tokens_total", "provider" => p.clone(), "model" => m.clone(), "kind" => "prompt").increment(prompt_tokens);
    metrics::counter!("insight_llm_tokens_total", "provider" => p.clone(), "model" => m.clone(), "kind" => "completion").increment(completion_tokens);
    if let Some(kind) = error {
        metrics::counter!("insight_llm_errors_total", "provider" => p, "model" => m, "kind" => kind).increment(1);
    }
}

pub fn sql_rejected(code: &'static str) {
    metrics::counter!("insight_sql_rejections_total", "code" => code).increment(1);
}

pub fn sql_execution(
    connection: &str,
    elapsed: Duration,
    rows: Option<usize>,
    error: Option<&'static str>,
) {
    let c = connection.to_string();
    metrics::histogram!("insight_sql_execution_duration_seconds", "connection" => c.clone())
        .record(elapsed.as_secs_f64());
    match (rows, error) {
        (Some(n), _) => metrics::counter!("insight_sql_rows_total", "connection" => c).increment(n as u64),
        (None, Some(kind)) => metrics::counter!("insight_sql_execution_errors_total", "connection" => c, "kind" => kind).increment(1),
        (None, None) => {}
    }
}

pub fn retrieval(elapsed: Duration) {
    metrics::histogram!("insight_retrieval_duration_seconds").record(elapsed.as_secs_f64());
}

/// A job attempt ended: `succeeded`, `retried`, `dead`, or `lost` (its lease
/// had been taken over).
pub fn job_finished(kind: &str, outcome: &'static str, elapsed: Duration) {
    let kind = kind.to_string();
    metrics::counter!("insight_jobs_total", "kind" => kind.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("insight_job_duration_seconds", "kind" => kind)
        .record(elapsed.as_secs_f64());
}

/// A backup attempt ended: `succeeded`, `failed`, or `tool_too_old` (the
/// `pg_dump` is older than the server).
pub fn backup_finished(outcome: &'static str) {
    metrics::counter!("insight_backups_total", "outcome" => outcome).increment(1);
    if outcome == "succeeded" {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        metrics::gauge!("insight_backup_last_success_timestamp_seconds").set(now);
    }
}

/// The `pg_dump` and server major versions last compared, and whether the
/// pair works (1) or backups will fail (0).
pub fn pg_dump_versions(client: u32, server: u32) {
    metrics::gauge!("insight_backup_pg_dump_major_version").set(f64::from(client));
    metrics::gauge!("insight_backup_server_major_version").set(f64::from(server));
    let ok = if client >= server { 1.0 } else { 0.0 };
    metrics::gauge!("insight_backup_pg_dump_compatible").set(ok);
}

/// Jobs waiting (`queued`) or being run (`running`).
pub fn job_queue_depth(status: &'static str, n: u64) {
    metrics::gauge!("insight_jobs_queue_depth", "status" => status).set(n as f64);
}

pub fn cache_lookup(cache: &str, hit: bool) {
    if hit {
        metrics::counter!("insight_cache_hits_total", "cache" => cache.to_string()).increment(1);
    } else {
        metrics::counter!("insight_cache_misses_total", "cache" => cache.to_string()).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_mirrors_the_text_format() {
        install();
        sql_rejected("data_modifying");
        let text = render();
        assert!(
            text.contains("insight_sql_rejections_total{code=\"data_modifying\"}"),
            "{text}"
        );
        assert!(text.contains("insight_build_info{version="), "{text}");
        let json = render_json();
        let series = json["insight_sql_rejections_total"].as_array().unwrap();
        let s = series
            .iter()
            .find(|s| s["labels"]["code"] == "data_modifying")
            .unwrap();
        assert!(s["value"].as_f64().unwrap() >= 1.0);
    }

    #[test]
    fn labels_parse_with_escapes() {
        let l = parse_labels(r#"a="x",b="say \"hi\"""#);
        assert_eq!(l["a"], "x");
        assert_eq!(l["b"], "say \"hi\"");
    }
}
