//! The durable job queue: enqueue, claim with a lease, renew, finish, retry.
//!
//! A claim is one `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`: on
//! PostgreSQL the sub-select takes `FOR UPDATE SKIP LOCKED`, so concurrent
//! workers never take the same job; on SQLite the statement runs in a
//! `BEGIN IMMEDIATE` transaction, which serialises workers. Finishing is
//! fenced by `locked_by`: a worker whose lease ran out (it was stopped, or
//! stalled) cannot overwrite the outcome of the worker that took over.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Page, Store, StoreError, new_id, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for `run_at` (new, or a retry after a failure).
    Queued,
    /// Leased by a worker.
    Running,
    Succeeded,
    /// Failed `max_attempts` times; not retried.
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Dead => "dead",
        }
    }

    pub const ALL: [JobStatus; 4] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Dead,
    ];

    fn parse(s: &str) -> Self {
        match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "succeeded" => JobStatus::Succeeded,
            _ => JobStatus::Dead,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// At most one job ever exists per key.
    pub dedupe_key: Option<String>,
    pub run_at: DateTime<Utc>,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    pub attempts: u32,
    pub max_attempts: u32,
    pub run_at: String,
    pub locked_by: Option<String>,
    pub locked_until: Option<String>,
    pub last_error: Option<String>,
    pub result: Option<serde_json::Value>,
    pub dedupe_key: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

const COLUMNS: &str = "id, kind, payload, status, attempts, max_attempts, run_at, locked_by, \
    locked_until, last_error, result, dedupe_key, created_at, updated_at, finished_at";

fn from_row(r: &AnyRow) -> Result<Job, sqlx::Error> {
    let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    Ok(Job {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        payload: json(r.try_get("payload")?).unwrap_or(serde_json::Value::Null),
        status: JobStatus::parse(&r.try_get::<String, _>("status")?),
        attempts: r.try_get::<i64, _>("attempts")?.max(0) as u32,
        max_attempts: r.try_get::<i64, _>("max_attempts")?.max(0) as u32,
        run_at: r.try_get("run_at")?,
        locked_by: r.try_get("locked_by")?,
        locked_until: r.try_get("locked_until")?,
        last_error: r.try_get("last_error")?,
        result: json(r.try_get("result")?),
        dedupe_key: r.try_get("dedupe_key")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Queue a job. With a `dedupe_key` that already has a job, nothing is
    /// created and that job is returned with `false`.
    pub async fn enqueue_job(&self, job: &NewJob) -> Result<(Job, bool), StoreError> {
        let id = new_id();
        let at = now();
        let done = sqlx::query(
            "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, \
             dedupe_key, created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(job.max_attempts.max(1) as i64)
        .bind(ts(job.run_at))
        .bind(&job.dedupe_key)
        .bind(&at)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 1 {
            return Ok((self.get_job(&id).await?, true));
        }
        let key = job
            .dedupe_key
            .as_deref()
            .ok_or_else(|| StoreError::Conflict(format!("job {id} could not be queued")))?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE dedupe_key = $1"
        )))
        .bind(key)
        .fetch_one(self.pool())
        .await?;
        Ok((from_row(&row)?, false))
    }

    /// Lease the next due job (or one whose lease ran out) to `worker`.
    pub async fn claim_job(
        &self,
        worker: &str,
        lease: std::time::Duration,
    ) -> Result<Option<Job>, StoreError> {
        let now_t = Utc::now();
        let until = now_t + chrono::Duration::from_std(lease).unwrap_or_default();
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs \
                WHERE (status = 'queued' AND run_at <= $3) OR (status = 'running' AND locked_until < $3) \
                ORDER BY run_at, id LIMIT 1{lock}) \
             RETURNING {COLUMNS}"
        )))
        .bind(worker)
        .bind(ts(until))
        .bind(ts(now_t))
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Extend a running job's lease; `false` when `worker` no longer holds it.
    pub async fn renew_job_lease(
        &self,
        id: &str,
        worker: &str,
        lease: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
        let done = sqlx::query(
            "UPDATE jobs SET locked_until = $1, updated_at = $2 \
             WHERE id = $3 AND locked_by = $4 AND status = 'running'",
        )
        .bind(ts(until))
        .bind(now())
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Record success; `false` when `worker` had lost the job.
    pub async fn complete_job(
        &self,
        id: &str,
        worker: &str,
        result: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let at = now();
        let done = sqlx::query(
            "UPDATE jobs SET status = 'succeeded', result = $1, last_error = NULL, \
             locked_until = NULL, updated_at = $2, finished_at = $2 \
             WHERE id = $3 AND locked_by = $4 AND status = 'running'",
        )
        .bind(result.to_string())
        .bind(&at)
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Record a failed attempt: queued again at `retry_at`, or `dead` when
    /// `retry_at` is `None`. `false` when `worker` had lost the job.
    pub async fn fail_job(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let at = now();
        let (status, run_at, finished) = match retry_at {
            Some(t) => ("queued", Some(ts(t)), None),
            None => ("dead", None, Some(at.clone())),
        };
        let done = sqlx::query(
            "UPDATE jobs SET status = $1, run_at = COALESCE($2, run_at), last_error = $3, \
             locked_by = NULL, locked_until = NULL, updated_at = $4, finished_at = $5 \
             WHERE id = $6 AND locked_by = $7 AND status = 'running'",
        )
        .bind(status)
        .bind(run_at)
        .bind(error)
        .bind(&at)
        .bind(finished)
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn get_job(&self, id: &str) -> Result<Job, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(from_row(&row)?)
    }

    /// Newest first, optionally one status only.
    pub async fn list_jobs(
        &self,
        status: Option<JobStatus>,
        page: Page,
    ) -> Result<(Vec<Job>, u64), StoreError> {
        let status = status.map(|s| s.as_str());
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE ($1 IS NULL OR status = $1) \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(status)
        .bind(page.limit as i64)
        .bind(page.offset as i64)
        .fetch_all(self.pool())
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE ($1 IS NULL OR status = $1)")
                .bind(status)
                .fetch_one(self.pool())
                .await?;
        let jobs = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((jobs, total.max(0) as u64))
    }

    /// Jobs per status, every status present (for the queue-depth gauge).
    pub async fn job_counts(&self) -> Result<Vec<(JobStatus, u64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status")
                .fetch_all(self.pool())
                .await?;
        Ok(JobStatus::ALL
            .iter()
            .map(|s| {
                let n = rows
                    .iter()
                    .find(|(name, _)| name == s.as_str())
                    .map_or(0, |(_, n)| *n);
                (*s, n.max(0) as u64)
            })
            .collect())
    }

    /// Delete question history older than `before` (RFC 3339), and the
    /// conversations untouched since then (their turns go with them).
    /// Questions with feedback are kept: the feedback and the training items
    /// made from it point at them. Returns the questions deleted.
    pub async fn delete_queries_before(&self, before: &str) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "DELETE FROM queries WHERE created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.query_id = queries.id)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM conversation_turns WHERE conversation_id IN \
             (SELECT id FROM conversations WHERE updated_at < $1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM conversations WHERE updated_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
