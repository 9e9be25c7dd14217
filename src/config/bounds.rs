//! The documented range of every numeric setting, checked at startup (file
//! and env) and, for connection settings, by the admin API. A value outside
//! its range is refused with a message naming the setting, so no later
//! arithmetic on it (durations, instants, pool sizes) can overflow or panic.
//! `docs/CONFIGURATION.md` lists the ranges (`config::docs`).

use super::Config;
use super::connections::ConnectionConfig;

/// Longest timeout any setting may ask for, seconds.
pub const MAX_TIMEOUT_SECS: u64 = 3600;
/// Most rows any setting may ask for.
pub const MAX_ROWS: u64 = 1_000_000;
/// Largest pool of connections to one database.
pub const MAX_POOL_SIZE: u32 = 100;

/// `name (INSIGHT_NAME): must be between lo and hi (got v)` when out of range.
fn range(out: &mut Vec<String>, name: &str, v: u64, lo: u64, hi: u64) {
    if !(lo..=hi).contains(&v) {
        out.push(format!(
            "{name} ({}): must be between {lo} and {hi} (got {v})",
            env_name(name)
        ));
    }
}

/// The environment variable of a dotted setting name.
fn env_name(name: &str) -> String {
    format!("INSIGHT_{}", name.to_ascii_uppercase().replace('.', "__"))
}

/// Seconds in a day, for the TTL and window ranges.
const DAY: u64 = 24 * 3600;

/// Every numeric setting outside its range, one line each (grouped by
/// concern; the order of the lines is the order of the checks).
pub(crate) fn problems(c: &Config) -> Vec<String> {
    let mut out = Vec::new();
    server_and_auth(&mut out, c);
    llm(&mut out, c);
    query_retrieval_cache(&mut out, c);
    store_and_jobs(&mut out, c);
    for (name, conn) in &c.connections {
        out.extend(connection_problems(&format!("connections.{name}"), conn));
    }
    out
}

fn server_and_auth(o: &mut Vec<String>, c: &Config) {
    range(
        o,
        "server.request_timeout_secs",
        c.server.request_timeout_secs,
        1,
        MAX_TIMEOUT_SECS,
    );
    range(
        o,
        "server.body_limit_bytes",
        c.server.body_limit_bytes as u64,
        1024,
        64 << 20,
    );
    range(
        o,
        "uploads.max_bytes",
        c.uploads.max_bytes,
        1024,
        super::uploads::MAX_UPLOAD_BYTES,
    );
    range(
        o,
        "server.shutdown_grace_secs",
        c.server.shutdown_grace_secs,
        0,
        600,
    );
    range(
        o,
        "auth.refresh_token_ttl_secs",
        c.auth.refresh_token_ttl_secs,
        1,
        365 * DAY,
    );
    let r = &c.auth.rate_limit;
    for (name, v) in [
        ("auth.rate_limit.viewer_per_minute", r.viewer_per_minute),
        ("auth.rate_limit.analyst_per_minute", r.analyst_per_minute),
        ("auth.rate_limit.admin_per_minute", r.admin_per_minute),
        (
            "auth.rate_limit.anonymous_per_minute",
            r.anonymous_per_minute,
        ),
    ] {
        range(o, name, v.into(), 0, 1_000_000);
    }
    let l = &c.auth.login;
    range(
        o,
        "auth.login.max_failures_per_username",
        l.max_failures_per_username.into(),
        1,
        10_000,
    );
    range(
        o,
        "auth.login.max_failures_per_ip",
        l.max_failures_per_ip.into(),
        1,
        100_000,
    );
    range(o, "auth.login.window_secs", l.window_secs, 1, DAY);
}

fn llm(o: &mut Vec<String>, c: &Config) {
    range(o, "llm.timeout_secs", c.llm.timeout_secs, 1, 600);
    range(o, "llm.max_tokens", c.llm.max_tokens.into(), 1, 200_000);
    range(
        o,
        "llm.token_budget",
        c.llm.token_budget as u64,
        500,
        200_000,
    );
    range(
        o,
        "llm.max_correction_attempts",
        c.llm.max_correction_attempts.into(),
        0,
        5,
    );
    if !(0.0..=2.0).contains(&c.llm.temperature) {
        o.push("llm.temperature (INSIGHT_LLM__TEMPERATURE): must be between 0 and 2".into());
    }
}

fn query_retrieval_cache(o: &mut Vec<String>, c: &Config) {
    range(o, "query.max_rows", c.query.max_rows, 1, MAX_ROWS);
    range(
        o,
        "query.timeout_secs",
        c.query.timeout_secs,
        1,
        MAX_TIMEOUT_SECS,
    );
    range(
        o,
        "retrieval.top_k_ddl",
        c.retrieval.top_k_ddl as u64,
        0,
        50,
    );
    range(
        o,
        "retrieval.top_k_documentation",
        c.retrieval.top_k_documentation as u64,
        0,
        50,
    );
    range(
        o,
        "retrieval.top_k_examples",
        c.retrieval.top_k_examples as u64,
        0,
        50,
    );
    range(o, "cache.max_entries", c.cache.max_entries, 0, 100_000_000);
    range(o, "cache.sql_ttl_secs", c.cache.sql_ttl_secs, 0, 30 * DAY);
    range(
        o,
        "cache.result_ttl_secs",
        c.cache.result_ttl_secs,
        0,
        30 * DAY,
    );
}

fn store_and_jobs(o: &mut Vec<String>, c: &Config) {
    range(
        o,
        "store.pool_size",
        c.store.pool_size.into(),
        1,
        MAX_POOL_SIZE.into(),
    );
    range(
        o,
        "store.acquire_timeout_secs",
        c.store.acquire_timeout_secs,
        1,
        300,
    );
    range(
        o,
        "jobs.poll_interval_ms",
        c.jobs.poll_interval_ms,
        10,
        3_600_000,
    );
    range(o, "jobs.max_attempts", c.jobs.max_attempts.into(), 1, 100);
    range(o, "jobs.lease_secs", c.jobs.lease_secs, 2, DAY);
    range(
        o,
        "jobs.history_retention_days",
        c.jobs.history_retention_days.into(),
        0,
        36_500,
    );
    range(o, "backup.keep", c.backup.keep.into(), 0, 10_000);
}

/// A connection's numeric settings outside their range, named
/// `{prefix}.{field}` (`connections.NAME` in the config file; the bare field
/// name for the admin API, whose `prefix` is empty).
pub fn connection_problems(prefix: &str, c: &ConnectionConfig) -> Vec<String> {
    let mut out = Vec::new();
    let named = |field: &str| {
        if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        }
    };
    let mut check = |field: &str, v: u64, lo: u64, hi: u64| {
        if !(lo..=hi).contains(&v) {
            out.push(format!(
                "{}: must be between {lo} and {hi} (got {v})",
                named(field)
            ));
        }
    };
    if let Some(v) = c.max_rows {
        check("max_rows", v, 1, MAX_ROWS);
    }
    if let Some(v) = c.timeout_secs {
        check("timeout_secs", v, 1, MAX_TIMEOUT_SECS);
    }
    check("pool_size", c.pool_size.into(), 1, MAX_POOL_SIZE.into());
    out.extend(c.budgets.problems(&named("budgets")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_in_range() {
        assert_eq!(problems(&Config::default()), Vec::<String>::new());
    }

    #[test]
    fn out_of_range_values_name_the_setting_and_its_env_var() {
        let mut c = Config::default();
        c.query.timeout_secs = u64::MAX;
        c.jobs.lease_secs = 0;
        let p = problems(&c).join("\n");
        assert!(
            p.contains(
                "query.timeout_secs (INSIGHT_QUERY__TIMEOUT_SECS): must be between 1 and 3600"
            ),
            "{p}"
        );
        assert!(
            p.contains("jobs.lease_secs (INSIGHT_JOBS__LEASE_SECS)"),
            "{p}"
        );
    }
}
