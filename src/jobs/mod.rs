//! Background jobs: what a job is ([`JobSpec`]), how to queue one, and the
//! worker that runs them (in `serve` unless `jobs.worker = false`, and in
//! `insight worker` processes).
//!
//! The queue is durable (the `jobs` table, see `store::jobs`). A worker takes
//! a lease on one job, renews it while the job runs, and records the outcome
//! only while it still holds the lease. A worker that is killed stops
//! renewing; after `jobs.lease_secs` another worker takes the job over. Jobs
//! are idempotent (re-introspecting, re-embedding, deleting old history and
//! writing a new backup file are all safe to repeat), so "at least once"
//! delivery is "exactly once" in effect. Failures are retried with
//! exponential backoff up to `jobs.max_attempts`, then the job is `dead`.
//!
//! The worker also schedules: scheduled backups (`backup.schedule`) and the
//! daily history cleanup are queued with `kind@time` dedupe keys, so however
//! many workers run, each run is queued once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::app::App;
use crate::domain::cron::Schedule;
use crate::store::StoreError;
use crate::store::jobs::{Job, JobStatus, NewJob};

/// What a job does. Stored as `kind` + the whole spec as `payload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobSpec {
    /// Re-read a connection's schema and re-train its DDL items.
    Introspect { connection: String },
    /// Recompute the embedding of every training item (after the embedder
    /// changed) and reload the vector index.
    Reembed,
    /// Delete question history and conversations older than the given
    /// number of days (questions with feedback are kept).
    HistoryCleanup { older_than_days: u32 },
    /// Back the app store (and the uploaded tables) up into the backup dir (and
    /// prune to `backup.keep`).
    Backup,
}

impl JobSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::Introspect { .. } => "introspect",
            JobSpec::Reembed => "reembed",
            JobSpec::HistoryCleanup { .. } => "history_cleanup",
            JobSpec::Backup => "backup",
        }
    }
}

/// Re-embed the items a change of embedder left stale (the `reembed` job's
/// work, limited to them), retrying with backoff while the embedder or the
/// index fails; `App::reembed_left` counts down for readiness.
async fn reembed_until_done(app: &App) {
    let mut wait = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        match app.engine.reembed_stale(Some(&app.reembed_left)).await {
            Ok(n) => {
                tracing::info!(
                    training.items = n,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "training items re-embedded with the new embedder"
                );
                app.reembed_left
                    .store(0, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "re-embedding failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// Queue `spec` to run now (or at `run_at`). With a dedupe key that already
/// has a job, that job is returned instead.
pub async fn enqueue(
    app: &App,
    spec: &JobSpec,
    dedupe_key: Option<String>,
    run_at: Option<DateTime<Utc>>,
) -> Result<(Job, bool), StoreError> {
    let payload = serde_json::to_value(spec).unwrap_or_default();
    app.engine
        .store
        .enqueue_job(&NewJob {
            kind: spec.kind().into(),
            payload,
            dedupe_key,
            run_at: run_at.unwrap_or_else(Utc::now),
            max_attempts: app.config.jobs.max_attempts,
        })
        .await
}

/// Run one job's work. The result is recorded with the job.
pub async fn execute(app: &App, spec: &JobSpec) -> Result<serde_json::Value, String> {
    let engine = &app.engine;
    match spec {
        JobSpec::Introspect { connection } => {
            let conn = crate::domain::ConnectionId::parse(connection)
                .ok()
                .and_then(|id| engine.connections.get(&id))
                .ok_or_else(|| format!("unknown connection `{connection}`"))?;
            let (added, removed) = engine.sync_schema(&conn).await.map_err(|e| e.to_string())?;
            Ok(serde_json::json!({ "ddl_added": added, "ddl_removed": removed }))
        }
        JobSpec::Reembed => {
            let n = engine.reembed_all().await.map_err(|e| e.to_string())?;
            Ok(serde_json::json!({ "items": n }))
        }
        JobSpec::HistoryCleanup { older_than_days } => {
            let before = (Utc::now() - chrono::Duration::days(i64::from(*older_than_days)))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let deleted = engine
                .store
                .delete_queries_before(&before)
                .await
                .map_err(|e| e.to_string())?;
            Ok(serde_json::json!({ "deleted": deleted, "before": before }))
        }
        JobSpec::Backup => {
            let target = crate::backup::BackupTarget::from_config(&app.config);
            let info = crate::backup::create(&engine.store, &target)
                .await
                .map_err(|e| e.to_string())?;
            Ok(serde_json::to_value(info).unwrap_or_default())
        }
    }
}

/// Seconds before retry `attempt` (1-based): 5 s, 10 s, 20 s, … up to 10 min.
pub fn backoff(attempt: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
    Duration::from_secs(secs.min(600))
}

/// A job worker: claims and runs jobs until `shutdown` fires.
pub struct Worker {
    app: Arc<App>,
    id: String,
    schedule: Option<Schedule>,
}

impl Worker {
    pub fn new(app: Arc<App>) -> Self {
        let host = &app.config.jobs.host;
        let id = format!(
            "{host}:{}:{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let schedule = app
            .config
            .backup
            .schedule
            .as_deref()
            .and_then(|s| Schedule::parse(s).ok());
        Self { app, id, schedule }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Poll for work until `shutdown` resolves. A job that is running when
    /// shutdown comes is finished first (its lease keeps others off it).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let cfg = &self.app.config.jobs;
        let poll = Duration::from_millis(cfg.poll_interval_ms);
        tracing::info!(worker.id = %self.id, "job worker started");
        let mut last_tick = Utc::now();
        let mut cleaned = None;
        tokio::pin!(shutdown);
        loop {
            let now = Utc::now();
            self.schedule_due(last_tick, now, &mut cleaned).await;
            last_tick = now;
            let worked = match self.run_next().await {
                Ok(worked) => worked,
                Err(e) => {
                    tracing::warn!(worker.id = %self.id, error = %e, "job queue unavailable");
                    false
                }
            };
            if worked {
                // Drain the queue before sleeping, but let shutdown in.
                tokio::select! {
                    biased;
                    _ = &mut shutdown => break,
                    _ = tokio::task::yield_now() => continue,
                }
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(poll) => {}
            }
        }
        tracing::info!(worker.id = %self.id, "job worker stopped");
    }

    /// Queue scheduled runs: a backup whose time fell in `(from, to]`, and
    /// the day's history cleanup once per day (`cleaned` remembers the day).
    /// Called by [`Worker::run`] on every tick.
    pub async fn schedule_due(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cleaned: &mut Option<chrono::NaiveDate>,
    ) {
        if let Some(t) = self.schedule.as_ref().and_then(|s| s.next_after(from))
            && t <= to
        {
            let key = format!("backup@{}", t.format("%Y-%m-%dT%H:%MZ"));
            self.enqueue_scheduled(&JobSpec::Backup, key).await;
        }
        let days = self.app.config.jobs.history_retention_days;
        let today = to.date_naive();
        if days > 0 && *cleaned != Some(today) {
            let key = format!("history_cleanup@{today}");
            let spec = JobSpec::HistoryCleanup {
                older_than_days: days,
            };
            self.enqueue_scheduled(&spec, key).await;
            *cleaned = Some(today);
        }
    }

    async fn enqueue_scheduled(&self, spec: &JobSpec, key: String) {
        match enqueue(&self.app, spec, Some(key.clone()), None).await {
            Ok((job, true)) => {
                tracing::info!(job.id = %job.id, job.kind = spec.kind(), job.key = %key, "scheduled job queued")
            }
            Ok((_, false)) => {}
            Err(e) => {
                tracing::warn!(job.kind = spec.kind(), error = %e, "scheduled job not queued")
            }
        }
    }

    /// Claim and run one job; `Ok(false)` when none was due.
    pub async fn run_next(&self) -> Result<bool, StoreError> {
        let store = &self.app.engine.store;
        let lease = Duration::from_secs(self.app.config.jobs.lease_secs);
        let Some(job) = store.claim_job(&self.id, lease).await? else {
            self.record_depth().await;
            return Ok(false);
        };
        let started = Instant::now();
        let span = tracing::info_span!("job", job.id = %job.id, job.kind = %job.kind, job.attempt = job.attempts);
        let outcome = if job.attempts > job.max_attempts {
            // Its workers kept dying mid-run (the lease ran out each time).
            Err(format!(
                "gave up after {} attempts whose workers stopped mid-run",
                job.max_attempts
            ))
        } else {
            match serde_json::from_value::<JobSpec>(job.payload.clone()) {
                Ok(spec) => {
                    let renew = self.keep_lease(&job.id, lease);
                    let result = execute(&self.app, &spec).instrument(span).await;
                    renew.abort();
                    result
                }
                Err(e) => Err(format!("unreadable job payload: {e}")),
            }
        };
        let elapsed = started.elapsed();
        let (label, held) = match &outcome {
            Ok(result) => (
                "succeeded",
                store.complete_job(&job.id, &self.id, result).await?,
            ),
            Err(error) => {
                let retry = (job.attempts < job.max_attempts).then(|| {
                    Utc::now()
                        + chrono::Duration::from_std(backoff(job.attempts)).unwrap_or_default()
                });
                let held = store.fail_job(&job.id, &self.id, error, retry).await?;
                (if retry.is_some() { "retried" } else { "dead" }, held)
            }
        };
        let label = if held { label } else { "lost" };
        match &outcome {
            Ok(_) if held => tracing::info!(
                job.id = %job.id, job.kind = %job.kind, duration_ms = elapsed.as_millis() as u64,
                "job succeeded"
            ),
            Ok(_) => {
                tracing::warn!(job.id = %job.id, job.kind = %job.kind, "job finished after its lease was taken over; outcome not recorded")
            }
            Err(e) => tracing::warn!(
                job.id = %job.id, job.kind = %job.kind, job.attempt = job.attempts, outcome = label, error = %e,
                "job failed"
            ),
        }
        crate::observability::metrics::job_finished(&job.kind, label, elapsed);
        self.record_depth().await;
        Ok(true)
    }

    /// Renew the lease at a third of its length until aborted.
    fn keep_lease(&self, job_id: &str, lease: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.app.engine.store.clone();
        let (id, worker) = (job_id.to_string(), self.id.clone());
        tokio::spawn(async move {
            let every = (lease / 3).max(Duration::from_millis(500));
            loop {
                tokio::time::sleep(every).await;
                match store.renew_job_lease(&id, &worker, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job.id = %id, "job lease lost to another worker");
                        return;
                    }
                    Err(e) => tracing::warn!(job.id = %id, error = %e, "job lease not renewed"),
                }
            }
        })
    }

    async fn record_depth(&self) {
        if let Ok(counts) = self.app.engine.store.job_counts().await {
            for (status, n) in counts {
                if matches!(status, JobStatus::Queued | JobStatus::Running) {
                    crate::observability::metrics::job_queue_depth(status.as_str(), n);
                }
            }
        }
    }
}

/// The background tasks of a `serve` or `worker` process: the job worker
/// (optional) and, with the `postgres` vector index, the index sync.
pub struct Background {
    worker: Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::oneshot::Sender<()>,
    )>,
    others: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    pub fn start(state: &crate::app::AppState, worker: bool) -> Self {
        let worker = worker.then(|| {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let w = Worker::new(state.0.clone());
            let handle = tokio::spawn(w.run(async move {
                let _ = rx.await;
            }));
            (handle, tx)
        });
        let mut others = Vec::new();
        if !state
            .index_loaded
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            let app = state.0.clone();
            others.push(tokio::spawn(async move {
                app.engine.reload_index_until_done().await;
                app.index_loaded
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }));
        }
        if state
            .reembed_left
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
        {
            let app = state.0.clone();
            others.push(tokio::spawn(async move { reembed_until_done(&app).await }));
        }
        if let Some(every) = state.index_sync_interval() {
            let app = state.0.clone();
            others.push(tokio::spawn(
                async move { app.engine.follow_store(every).await },
            ));
        }
        Self { worker, others }
    }

    /// Let a running job finish (up to `grace`), then stop everything.
    pub async fn stop(self, grace: Duration) {
        if let Some((handle, tx)) = self.worker {
            let _ = tx.send(());
            if tokio::time::timeout(grace, handle).await.is_err() {
                tracing::warn!("a job was still running at shutdown; another worker will retry it");
            }
        }
        for h in self.others {
            h.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(30), Duration::from_secs(600));
    }

    #[test]
    fn specs_serialise_with_their_kind() {
        let spec = JobSpec::Introspect {
            connection: "demo".into(),
        };
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"kind": "introspect", "connection": "demo"})
        );
        assert_eq!(serde_json::from_value::<JobSpec>(v).unwrap(), spec);
        assert!(serde_json::from_value::<JobSpec>(serde_json::json!({"kind": "rm -rf"})).is_err());
    }
}
