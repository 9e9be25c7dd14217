//! The app store: history, feedback, training items, connections, users and
//! audit events. One module per aggregate, each returning domain types; all
//! SQL for the app database lives under this folder.
//!
//! Two backends run the same SQL through sqlx's `Any` driver: SQLite (a file
//! in the data dir, WAL mode; the default) and PostgreSQL
//! (`INSIGHT_DATABASE_URL=postgres://…`, for several replicas). The SQL is
//! written once in the subset both speak: `$n` placeholders, text timestamps
//! (RFC 3339, UTC, so they sort as text), integers for booleans, JSON as text,
//! `ON CONFLICT` upserts. Migrations are per backend under
//! `migrations/<backend>/` with the same versions, forward-only; `insight
//! migrate` runs them and `serve` runs them in dev.
//!
//! The writes every request makes (history, audit events, feedback) go
//! through one group-commit writer per store (`writer.rs`), so concurrent
//! requests share a transaction instead of queueing on SQLite's write lock.
//! The reads every question makes for its retrieved training items are
//! served from an in-memory copy per connection and training version
//! (`training_cache.rs`).
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod connections;
pub mod conversations;
pub mod dashboards;
pub mod feedback;
pub mod grants;
pub mod jobs;
pub mod portable;
pub mod queries;
pub mod saved;
pub mod settings;
pub mod stats;
pub mod tokens;
pub mod training;
pub mod training_cache;
pub mod users;
mod writer;

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{ConnectOptions as _, Executor as _};

pub use audit::AuditEvent;
pub use feedback::{FeedbackRecord, FeedbackStatus, NewFeedback};
pub use queries::{NewQuery, QueryRecord, QueryStatus};
pub use training::{NewTrainingItem, TrainingItem, TrainingSource, TrainingStatus};
pub use users::User;
pub use writer::GroupCommitStats;

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
    /// The database refused a value as text it cannot hold (PostgreSQL and a
    /// NUL character, SQLSTATE 22021 / 22P05): the caller's input, not a fault.
    #[error("text the app store cannot hold: {0}")]
    Unstorable(String),
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
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021") | Some("22P05")) =>
            {
                StoreError::Unstorable(db.message().to_string())
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

/// Which database the app store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Pool settings for the app store.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The app database handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// For `pg_dump`/`pg_restore`; holds a password, never logged.
    url: std::sync::Arc<str>,
    /// Group commit for the request path's writes.
    writer: writer::Writer,
    /// Training items retrieval read, per connection and version.
    training_cache: std::sync::Arc<training_cache::TrainingCache>,
}

impl std::fmt::Debug for Store {
    // Never the URL: it may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/postgres");

/// SQLite settings for every app-store connection: WAL so readers do not
/// block the writer, foreign keys on, and a busy timeout so concurrent
/// writers wait instead of failing. The page cache is 1 MiB per connection
/// instead of SQLite's 2 MiB: the store's hot pages (users, keys, index
/// roots, the end of the history table) fit many times over, colder pages
/// come from the OS's file cache, and a full pool of 16 caches 16 MiB at
/// most instead of 32 (issue 16).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
    PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -1024;";

/// An app-store SQLite connection idle this long is closed (sqlx's default
/// is 10 minutes). Each one holds a thread, its page cache and its prepared
/// statements; reopening costs well under a millisecond, so after a burst
/// the pool shrinks back within a minute instead of ten.
const SQLITE_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether the pool pings a connection before handing it out.
///
/// PostgreSQL: yes. A server restart (or a proxy's idle cut) kills
/// connections while they sit idle in the pool, and only a ping finds out
/// before a request's query fails on one; the round trip is a network one
/// and buys the reconnect that `postgres_store_reconnects_after_its_connections_are_dropped`
/// tests.
///
/// SQLite: no. A connection is a thread in this process over a local file:
/// there is no server to lose, and the ping only asks the worker thread to
/// answer, a cross-thread round trip per store query (`get_user`,
/// `get_training_many`, …) for nothing (issue 16). The one way such a
/// connection dies is its worker thread panicking inside a query, and
/// sqlx pings every connection when it goes back to the pool and closes
/// one that does not answer, so a dead worker is never handed out again.
fn ping_before_acquire(backend: Backend) -> bool {
    match backend {
        Backend::Postgres => true,
        Backend::Sqlite => false,
    }
}

impl Store {
    /// Open with default pool settings, without migrating.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PoolSettings::default()).await
    }

    /// Open `sqlite://…` (creating the file and its folder if needed) or
    /// `postgres://…`, without migrating.
    pub async fn connect_with(url: &str, pool: PoolSettings) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let opts = AnyConnectOptions::from_url(
            &url.parse()
                .map_err(|e| StoreError::Unavailable(format!("database_url: {e}")))?,
        )
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
        .disable_statement_logging();
        let max = match backend {
            Backend::Sqlite => pool.max_connections.clamp(1, 16),
            Backend::Postgres => pool.max_connections.max(1),
        };
        let idle_timeout = match backend {
            Backend::Sqlite => SQLITE_IDLE_TIMEOUT,
            Backend::Postgres => Duration::from_secs(600),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(pool.acquire_timeout)
            .idle_timeout(idle_timeout)
            .test_before_acquire(ping_before_acquire(backend))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(SQLITE_PRAGMAS).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self::with_pool(pool, backend, url.into()))
    }

    /// An in-memory SQLite store for tests and one-shot CLI runs.
    pub async fn in_memory() -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        // One connection that never expires: every in-memory connection is its own database.
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA foreign_keys = ON;").await?;
                    Ok(())
                })
            })
            .connect("sqlite::memory:")
            .await?;
        let store = Self::with_pool(pool, Backend::Sqlite, "sqlite::memory:".into());
        store.migrate().await?;
        Ok(store)
    }

    /// Starts the store's writer task: call inside a Tokio runtime.
    fn with_pool(pool: AnyPool, backend: Backend, url: std::sync::Arc<str>) -> Self {
        let writer = writer::Writer::start(pool.clone(), backend);
        Self {
            pool,
            backend,
            url,
            writer,
            training_cache: Default::default(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection URL, for the backup tools; it may hold a password.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// Apply pending migrations; returns how many ran.
    ///
    /// A store already migrated by a newer release (it has applied
    /// migrations this binary does not know) is left alone: migrations are
    /// compatible with the previous release, so rolling back to this binary
    /// must not fail in `insight migrate` (an init container on Kubernetes).
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let newer = self.unknown_applied_migrations().await?;
        if newer > 0 {
            tracing::warn!(
                migrations.unknown = newer,
                "the app store was migrated by a newer release; this one applies nothing"
            );
            return Ok(0);
        }
        let before: i64 = self.applied_migrations().await.unwrap_or(0);
        self.migrator()
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let after = self.applied_migrations().await.unwrap_or(before);
        Ok((after - before).max(0) as usize)
    }

    /// Migrations known to this binary that the database has not applied.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let applied = self.applied_migrations().await.unwrap_or(0);
        Ok((self.migrator().iter().count() as i64 - applied).max(0) as usize)
    }

    /// Applied migrations this binary does not know (a newer release ran
    /// them); 0 for a store that was never migrated.
    async fn unknown_applied_migrations(&self) -> Result<usize, StoreError> {
        let applied: Vec<i64> =
            match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_all(&self.pool)
                .await
            {
                Ok(v) => v,
                // No migrations table yet: a fresh store.
                Err(_) => return Ok(0),
            };
        let known: std::collections::HashSet<i64> =
            self.migrator().iter().map(|m| m.version).collect();
        Ok(applied.iter().filter(|v| !known.contains(v)).count())
    }

    async fn applied_migrations(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar::<_, i64>("SELECT CAST(1 AS BIGINT)")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }

    /// Drain the writer (every write queued before returns committed; later
    /// ones fail as unavailable), then close the pool.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    /// Writes (and a close request) queued for the group-commit writer, not
    /// yet taken into a batch.
    pub fn queued_writes(&self) -> usize {
        self.writer.queued()
    }

    /// What the group-commit writer has done since the store opened.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.writer.stats()
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that writes. On SQLite `BEGIN IMMEDIATE` takes the write
    /// lock up front, so two concurrent writers wait (busy timeout) instead of
    /// one failing with "database is locked" when it upgrades a read lock.
    pub(crate) async fn write_tx(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(begin_write(&self.pool, self.backend).await?)
    }
}

/// `BEGIN IMMEDIATE` on SQLite (see [`Store::write_tx`]), `BEGIN` on PostgreSQL.
pub(crate) async fn begin_write(
    pool: &AnyPool,
    backend: Backend,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    }
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::Unavailable(
            "database_url must start with sqlite:// or postgres://".into(),
        ))
    }
}

/// A `sqlite://` URL that creates the file (and its folder) when missing.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:"
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", parent.display())))?;
    }
    let query = if query.split('&').any(|kv| kv.starts_with("mode=")) {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// `$first, $first+1, …` for `n` values, e.g. an `IN (…)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pooled SQLite connection gets the smaller page cache, and the
    /// pool closes idle connections after a minute.
    #[tokio::test]
    async fn sqlite_connections_get_the_bounded_cache_and_idle_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::connect(&url).await.unwrap();
        let mut a = store.pool.acquire().await.unwrap();
        let mut b = store.pool.acquire().await.unwrap();
        for conn in [&mut a, &mut b] {
            let (kib,): (i64,) = sqlx::query_as("PRAGMA cache_size")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(kib, -1024);
        }
        assert_eq!(
            store.pool.options().get_idle_timeout(),
            Some(SQLITE_IDLE_TIMEOUT)
        );
    }

    /// A SQLite store's pool hands connections out without pinging them
    /// first (no server to lose); a PostgreSQL one keeps the ping.
    #[tokio::test]
    async fn only_postgres_connections_are_pinged_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::connect(&url).await.unwrap();
        assert!(!store.pool.options().get_test_before_acquire());
        assert!(ping_before_acquire(Backend::Postgres));
        // Queries still work, one after another on the same connections.
        store.migrate().await.unwrap();
        for _ in 0..3 {
            store.ping().await.unwrap();
        }
    }
}
