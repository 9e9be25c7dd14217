//! The app store: history, feedback, training items, connections, users and
//! audit events. One module per aggregate, each returning domain types; all
//! SQL for the app database lives under this folder.
//!
//! Today the store runs on SQLite (a file in the data dir, WAL mode). The
//! modules use plain SQL with `?` placeholders and text timestamps so a
//! PostgreSQL implementation can mirror them. Migrations are SQL files under
//! `migrations/<backend>/`, forward-only; `insight migrate` runs them and
//! `serve` runs them in dev.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod connections;
pub mod feedback;
pub mod grants;
pub mod queries;
pub mod settings;
pub mod stats;
pub mod tokens;
pub mod training;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use audit::AuditEvent;
pub use feedback::{FeedbackRecord, FeedbackStatus, NewFeedback};
pub use queries::{NewQuery, QueryRecord, QueryStatus};
pub use training::{NewTrainingItem, TrainingItem, TrainingSource, TrainingStatus};
pub use users::User;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("app store unavailable: {0}")]
    Unavailable(String),
    #[error("app store error: {0}")]
    Database(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// Page request shared by list endpoints: `limit` in 1..=100, `offset` ≥ 0.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: 20,
            offset: 0,
        }
    }
}

/// The app database handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

impl Store {
    /// Open (creating the file if needed) without migrating.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Unavailable(
                "only sqlite:// app stores are supported by this build".into(),
            ));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .map(|p| p.split('?').next().unwrap_or(p))
        {
            if let Some(parent) = std::path::Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Unavailable(format!("{}: {e}", parent.display()))
                    })?;
                }
            }
        }
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self { pool })
    }

    /// An in-memory store for tests and one-shot CLI runs.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .foreign_keys(true);
        // One connection: every in-memory connection is its own database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Apply pending migrations; returns how many ran.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let before: i64 = self.applied_migrations().await.unwrap_or(0);
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let after = self.applied_migrations().await.unwrap_or(before);
        Ok((after - before).max(0) as usize)
    }

    /// Migrations known to this binary that the database has not applied.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let applied = self.applied_migrations().await.unwrap_or(0);
        Ok((MIGRATOR.iter().count() as i64 - applied).max(0) as usize)
    }

    async fn applied_migrations(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar::<_, i64>("SELECT 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A transaction that writes: `BEGIN IMMEDIATE` takes SQLite's write lock
    /// up front, so two concurrent writers wait (busy timeout) instead of one
    /// failing with "database is locked" when it upgrades a read lock.
    pub(crate) async fn write_tx(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
