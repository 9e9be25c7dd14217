//! Settings for running the service as an operator: the app-store pool,
//! background jobs and backups.

use std::path::PathBuf;

use serde::Deserialize;

/// The app-store connection pool (`[store]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Connections per process (SQLite is capped at 16).
    pub pool_size: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout_secs: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            pool_size: 10,
            acquire_timeout_secs: 5,
        }
    }
}

/// The durable job queue and its workers (`[jobs]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// `serve` runs an in-process worker; turn off when `insight worker`
    /// processes run the jobs.
    pub worker: bool,
    /// How often an idle worker looks for work.
    pub poll_interval_ms: u64,
    /// Attempts before a failing job is given up (`dead`).
    pub max_attempts: u32,
    /// A running job's lease; a worker that stops renewing it (killed) loses
    /// the job to another worker after this long.
    pub lease_secs: u64,
    /// Question history older than this is deleted by the daily cleanup job;
    /// 0 keeps history forever.
    pub history_retention_days: u32,
    /// This machine's name in worker ids: `HOSTNAME` (as container runtimes
    /// set it), `local` when unset. From the environment only, never the file.
    #[serde(skip, default = "default_host")]
    pub host: String,
}

fn default_host() -> String {
    "local".to_string()
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            worker: true,
            poll_interval_ms: 1000,
            max_attempts: 5,
            lease_secs: 60,
            history_retention_days: 0,
            host: default_host(),
        }
    }
}

/// Backups of the app store (`[backup]`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Where backups are written; default `<data_dir>/backups`.
    pub dir: Option<PathBuf>,
    /// Cron expression (5 fields, UTC) for scheduled backups, e.g.
    /// `"0 3 * * *"`; unset: on demand only.
    pub schedule: Option<String>,
    /// Backups to keep (the oldest are deleted); 0 keeps all.
    pub keep: u32,
    /// The `pg_dump` to run for a PostgreSQL app store; unset: `pg_dump`
    /// from `PATH`. Its major version must be at least the server's
    /// (checked before every backup).
    pub pg_dump: Option<PathBuf>,
}

/// What is wrong with the operator settings, one line per setting.
pub(crate) fn problems(config: &super::Config) -> Vec<String> {
    let mut problems = Vec::new();
    let url = config.store_url();
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        problems.push(
            "database_url (INSIGHT_DATABASE_URL): must start with sqlite:// or postgres://".into(),
        );
    }
    if config.retrieval.index == super::IndexKind::Postgres && !url.starts_with("postgres") {
        problems.push(
            "retrieval.index (INSIGHT_RETRIEVAL__INDEX): `postgres` keeps embeddings in the app store, so database_url (INSIGHT_DATABASE_URL) must be a postgres:// URL".into(),
        );
    }
    // Numeric ranges (pool size, timeouts, lease) are checked in `bounds`.
    if let Some(expr) = &config.backup.schedule
        && let Err(e) = crate::domain::cron::Schedule::parse(expr)
    {
        problems.push(format!("backup.schedule (INSIGHT_BACKUP__SCHEDULE): {e}"));
    }
    problems
}
