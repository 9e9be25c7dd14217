//! Backups and portable exports of the app store.
//!
//! A backup is a file in the backup dir named
//! `insight-<backend>-<UTC time>.<ext>`: for SQLite a consistent online copy
//! of the database (`VACUUM INTO`, `.sqlite`), for PostgreSQL a `pg_dump` in
//! custom format (`.pgdump`) of the store's schema. When uploads are on and
//! the uploads database holds tables, the same run also writes
//! `insight-uploads-<same UTC time>.sqlite` (`VACUUM INTO` of `uploads.db`),
//! listed with its store backup and pruned with it. Files are written under a
//! `.partial` name and renamed when complete (the uploads copy first), so a
//! backup that was killed leaves no file that looks finished; a later backup
//! removes leftovers once they have been idle for 15 minutes. Backups of one
//! process run one at a time.
//! `keep` prunes the oldest. `restore` loads a backup into an *empty* store,
//! and its uploads copy into an uploads database without tables (it refuses
//! to overwrite data). The JSON export carries training items,
//! feedback and the questions it is about, conversations with their turns
//! (since format version 2), saved questions and dashboards (since 3), and
//! imports into either backend; an older export (without those) still
//! imports.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::store::portable::{ExportRows, ImportCounts};
use crate::store::{Backend, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
    #[error("{tool} failed: {message}")]
    Tool { tool: &'static str, message: String },
    #[error("{0}")]
    Refused(String),
    /// `pg_dump` refuses to dump a server of a newer major version; caught
    /// before it runs so the message says what to install.
    #[error(
        "pg_dump {client} cannot back up this PostgreSQL {server} server (pg_dump must be at \
         least the server's major version): install the PostgreSQL {server} (or newer) client \
         tools, or point backup.pg_dump (INSIGHT_BACKUP__PG_DUMP) at one"
    )]
    ToolTooOld { client: u32, server: u32 },
}

fn io(context: &str, e: std::io::Error) -> BackupError {
    BackupError::Io(format!("{context}: {e}"))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BackupInfo {
    /// File name inside the backup dir.
    pub name: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub size_bytes: u64,
    /// When the backup was taken (UTC, from the name).
    pub created_at: String,
    /// The uploaded tables of the same run (`insight-uploads-<time>.sqlite`
    /// in the backup dir), if uploads were on and held tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploads: Option<String>,
}

const PREFIX: &str = "insight-";

fn extension(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "pgdump",
    }
}

/// Parse `insight-<backend>-<YYYYMMDDTHHMMSSmmmZ>.<ext>`.
fn parse_name(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix(PREFIX)?;
    let (stem, ext) = rest.rsplit_once('.')?;
    let (backend, stamp) = stem.split_once('-')?;
    let ok = matches!(
        (backend, ext),
        ("sqlite", "sqlite") | ("postgres", "pgdump")
    );
    let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%3fZ").ok()?;
    ok.then(|| {
        (
            backend.to_string(),
            t.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )
    })
}

/// The uploads backup that belongs to the store backup `name` (same time).
fn uploads_name(name: &str) -> Option<String> {
    let stem = name.strip_prefix(PREFIX)?.rsplit_once('.')?.0;
    let stamp = stem.split_once('-')?.1;
    Some(format!("{PREFIX}uploads-{stamp}.sqlite"))
}

/// The uploads backup taken with the store backup `file`, if there is one.
pub fn uploads_backup_of(file: &Path) -> Option<PathBuf> {
    let name = uploads_name(&file.file_name()?.to_string_lossy())?;
    Some(file.with_file_name(name)).filter(|p| p.is_file())
}

/// Finished backups in `dir`, newest first.
pub fn list(dir: &Path) -> Result<Vec<BackupInfo>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir.display().to_string(), e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((backend, created_at)) = parse_name(&name) {
            let size_bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            let uploads = uploads_name(&name).filter(|u| dir.join(u).is_file());
            out.push(BackupInfo {
                name,
                backend,
                size_bytes,
                created_at,
                uploads,
            });
        }
    }
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.name.cmp(&a.name)));
    Ok(out)
}

/// Backups of one process run one at a time: a second request waits for
/// the first instead of racing it for file names, leftovers and pruning.
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A `.partial` file untouched for this long belongs to no running backup
/// (one being written is written continuously), so it is a leftover. Younger
/// ones may be another replica's backup in progress in a shared directory.
const STALE_PARTIAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Where and how backups are written (from `[backup]`).
#[derive(Debug, Clone)]
pub struct BackupTarget {
    pub dir: PathBuf,
    /// Backups to keep (0: all).
    pub keep: u32,
    /// The `pg_dump` to run for a PostgreSQL store.
    pub pg_dump: PathBuf,
    /// The uploads database to back up with the store (`None`: uploads are
    /// off).
    pub uploads: Option<PathBuf>,
}

impl BackupTarget {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            dir: config.backup_dir(),
            keep: config.backup.keep,
            pg_dump: config
                .backup
                .pg_dump
                .clone()
                .unwrap_or_else(|| PathBuf::from("pg_dump")),
            uploads: config.uploads_db(),
        }
    }
}

/// Take a backup now into `target.dir`, then keep only the `keep` newest.
/// Every attempt is counted (`insight_backups_total`); a success sets
/// `insight_backup_last_success_timestamp_seconds`.
pub async fn create(store: &Store, target: &BackupTarget) -> Result<BackupInfo, BackupError> {
    let result = create_inner(store, target).await;
    crate::observability::metrics::backup_finished(match &result {
        Ok(_) => "succeeded",
        Err(BackupError::ToolTooOld { .. }) => "tool_too_old",
        Err(_) => "failed",
    });
    result
}

async fn create_inner(store: &Store, target: &BackupTarget) -> Result<BackupInfo, BackupError> {
    let (dir, keep) = (target.dir.as_path(), target.keep);
    let _one_at_a_time = RUNNING.lock().await;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io(&dir.display().to_string(), e))?;
    remove_stale_partials(dir).await;
    let backend = store.backend();
    // A fresh name: two backups within one millisecond (several replicas
    // sharing the directory) must not write the same file.
    let name = loop {
        let stamp = Utc::now().format("%Y%m%dT%H%M%S%3fZ");
        let name = format!(
            "{PREFIX}{}-{stamp}.{}",
            backend.as_str(),
            extension(backend)
        );
        let taken = |n: &str| dir.join(n).exists() || dir.join(format!("{n}.partial")).exists();
        if !taken(&name) && !uploads_name(&name).is_some_and(|u| taken(&u)) {
            break name;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    };
    let uploads = match &target.uploads {
        Some(db) if sqlite_table_count(db).await? > 0 => uploads_name(&name),
        _ => None,
    };
    // The uploads copy is renamed first: a finished store backup always has
    // its uploads beside it.
    let mut files = Vec::new();
    if let (Some(db), Some(u)) = (&target.uploads, &uploads) {
        files.push((dir.join(format!("{u}.partial")), dir.join(u)));
        if let Err(e) = sqlite_vacuum_into(db, &files[0].0).await {
            let _ = tokio::fs::remove_file(&files[0].0).await;
            return Err(e);
        }
    }
    let path = dir.join(&name);
    let partial = dir.join(format!("{name}.partial"));
    files.push((partial.clone(), path.clone()));
    let result = match backend {
        Backend::Sqlite => store.sqlite_snapshot(&partial).await.map_err(Into::into),
        Backend::Postgres => pg_dump(store, &target.pg_dump, &partial).await,
    };
    if let Err(e) = result {
        for (partial, _) in &files {
            let _ = tokio::fs::remove_file(partial).await;
        }
        return Err(e);
    }
    for (partial, done) in &files {
        tokio::fs::rename(partial, done)
            .await
            .map_err(|e| io(&done.display().to_string(), e))?;
    }
    if keep > 0 {
        prune(dir, keep as usize)?;
    }
    let size_bytes = tokio::fs::metadata(&path)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let (backend, created_at) = parse_name(&name).unwrap_or_default();
    Ok(BackupInfo {
        name,
        backend,
        size_bytes,
        created_at,
        uploads,
    })
}

/// A read-only connection to the SQLite file at `path` (it must exist).
async fn sqlite_file(path: &Path) -> Result<sqlx::SqliteConnection, BackupError> {
    use sqlx::ConnectOptions as _;
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(10))
        .disable_statement_logging()
        .connect()
        .await
        .map_err(|e| BackupError::Io(format!("{}: {e}", path.display())))
}

/// Tables in the SQLite file at `path` (0 when there is no such file).
async fn sqlite_table_count(path: &Path) -> Result<i64, BackupError> {
    use sqlx::Connection as _;
    if !path.exists() {
        return Ok(0);
    }
    let mut conn = sqlite_file(path).await?;
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| BackupError::Io(format!("{}: {e}", path.display())));
    let _ = conn.close().await;
    n
}

/// A consistent online copy of the SQLite file `db` (`VACUUM INTO`).
async fn sqlite_vacuum_into(db: &Path, out: &Path) -> Result<(), BackupError> {
    use sqlx::Connection as _;
    let mut conn = sqlite_file(db).await?;
    let done = sqlx::query("VACUUM INTO $1")
        .bind(out.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .map_err(|e| BackupError::Io(format!("{}: {e}", db.display())));
    let _ = conn.close().await;
    done.map(|_| ())
}

/// Remove `.partial` leftovers of backups that were killed.
async fn remove_stale_partials(dir: &Path) {
    if let Ok(mut entries) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(e)) = entries.next_entry().await {
            if !e.file_name().to_string_lossy().ends_with(".partial") {
                continue;
            }
            let idle = e
                .metadata()
                .await
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if idle.is_some_and(|idle| idle >= STALE_PARTIAL) {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
    }
}

/// Keep the `keep` newest backups (each with its uploads backup). A file
/// already gone (pruned by another replica sharing the directory) is not an
/// error.
fn prune(dir: &Path, keep: usize) -> Result<(), BackupError> {
    for old in list(dir)?.into_iter().skip(keep) {
        for name in uploads_name(&old.name).into_iter().chain([old.name]) {
            let path = dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path.display().to_string(), e)),
            }
        }
    }
    Ok(())
}

/// The major versions of `pg_dump` and of the server it would dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgDumpVersions {
    pub client: u32,
    pub server: u32,
}

/// Check that `pg_dump` can dump the store's server: its major version must
/// be at least the server's (pg_dump refuses newer servers, and managed
/// PostgreSQL is often newer than a distribution's client). The result is
/// also published as metrics (`insight_backup_pg_dump_compatible`), so an
/// alert fires before the nightly backup fails.
pub async fn check_pg_dump(store: &Store, pg_dump: &Path) -> Result<PgDumpVersions, BackupError> {
    let server = store.server_version_num().await?;
    let server = u32::try_from(server / 10_000).unwrap_or(0);
    let out = run_tool(
        "pg_dump",
        tokio::process::Command::new(pg_dump).arg("--version"),
    )
    .await?;
    let text = String::from_utf8_lossy(&out);
    let client = parse_pg_dump_major(&text).ok_or_else(|| BackupError::Tool {
        tool: "pg_dump",
        message: format!("cannot read its version from `{}`", text.trim()),
    })?;
    let versions = PgDumpVersions { client, server };
    crate::observability::metrics::pg_dump_versions(client, server);
    if client < server {
        return Err(BackupError::ToolTooOld { client, server });
    }
    Ok(versions)
}

/// The major version in `pg_dump (PostgreSQL) 17.2 (Debian 17.2-1)`.
fn parse_pg_dump_major(text: &str) -> Option<u32> {
    let rest = text.split("(PostgreSQL)").nth(1)?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

async fn pg_dump(store: &Store, tool: &Path, out: &Path) -> Result<(), BackupError> {
    check_pg_dump(store, tool).await?;
    let schema = store.current_schema().await?;
    run_tool(
        "pg_dump",
        tokio::process::Command::new(tool)
            .arg("--format=custom")
            .arg("--no-owner")
            .arg("--no-privileges")
            .arg(format!("--schema={schema}"))
            .arg(format!("--file={}", out.display()))
            .arg(format!("--dbname={}", store.url())),
    )
    .await
    .map(|_| ())
}

/// Run an external tool; its stderr becomes the error (the URL is passed as
/// an argument, never echoed by these tools).
async fn run_tool(
    tool: &'static str,
    cmd: &mut tokio::process::Command,
) -> Result<Vec<u8>, BackupError> {
    let output = cmd
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| BackupError::Tool {
            tool,
            message: format!("cannot run it ({e}); install the PostgreSQL client tools"),
        })?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(BackupError::Tool { tool, message });
    }
    Ok(output.stdout)
}

/// Restore `file` into the store at `url`, which must be empty (no tables).
/// Afterwards pending migrations are applied, so an older backup comes back
/// at the current schema version. With `uploads` (the uploads database, when
/// uploads are on), the uploads backup of the same run, if any, is put there
/// too; an uploads database that holds tables is not overwritten.
pub async fn restore(url: &str, file: &Path, uploads: Option<&Path>) -> Result<Store, BackupError> {
    if !file.is_file() {
        return Err(BackupError::Refused(format!(
            "{} is not a backup file",
            file.display()
        )));
    }
    let target = Store::connect(url).await?;
    if !target.has_no_tables().await? {
        return Err(BackupError::Refused(
            "the app store is not empty: restore only into an empty store (a new database, or a \
             dropped and re-created schema)"
                .into(),
        ));
    }
    let uploads = match (uploads_backup_of(file), uploads) {
        (Some(from), Some(to)) => Some((from, to)),
        _ => None,
    };
    if let Some((_, to)) = &uploads {
        if sqlite_table_count(to).await? > 0 {
            return Err(BackupError::Refused(format!(
                "the uploads database {} is not empty: move it aside to restore uploaded tables",
                to.display()
            )));
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(&parent.display().to_string(), e))?;
        }
    }
    if let Some((from, to)) = &uploads {
        replace_sqlite_file(from, to)?;
    }
    if let Err(e) = restore_store(target, url, file).await {
        if let Some((_, to)) = &uploads {
            let _ = std::fs::remove_file(to);
        }
        return Err(e);
    }
    let store = Store::connect(url).await?;
    store.migrate().await?;
    Ok(store)
}

/// Put the SQLite file `from` at `to` (its old journal files removed).
fn replace_sqlite_file(from: &Path, to: &Path) -> Result<(), BackupError> {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| io(&to.display().to_string(), e))
}

/// Load `file` into the empty store `target` (at `url`).
async fn restore_store(target: Store, url: &str, file: &Path) -> Result<(), BackupError> {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    match target.backend() {
        Backend::Sqlite => {
            if !name.ends_with(".sqlite") || name.starts_with(&format!("{PREFIX}uploads-")) {
                return Err(BackupError::Refused(format!(
                    "{name} is not a SQLite backup; this store is SQLite"
                )));
            }
            target.close().await;
            replace_sqlite_file(file, &sqlite_path(url)?)?;
        }
        Backend::Postgres => {
            if !name.ends_with(".pgdump") {
                return Err(BackupError::Refused(format!(
                    "{name} is not a PostgreSQL backup; this store is PostgreSQL"
                )));
            }
            pg_restore(&target, file).await?;
            target.close().await;
        }
    }
    Ok(())
}

/// `pg_restore` of everything but the `CREATE SCHEMA` itself: the target
/// schema exists already (empty), with the name it had when dumped.
async fn pg_restore(target: &Store, file: &Path) -> Result<(), BackupError> {
    let listing = run_tool(
        "pg_restore",
        tokio::process::Command::new("pg_restore")
            .arg("--list")
            .arg(file),
    )
    .await?;
    let listing = String::from_utf8_lossy(&listing);
    let wanted: String = listing
        .lines()
        .filter(|l| !l.contains(" SCHEMA - "))
        .map(|l| format!("{l}\n"))
        .collect();
    let list_file = tempfile_path("pg_restore_list");
    std::fs::write(&list_file, wanted).map_err(|e| io("pg_restore list", e))?;
    let result = run_tool(
        "pg_restore",
        tokio::process::Command::new("pg_restore")
            .arg("--no-owner")
            .arg("--no-privileges")
            .arg("--exit-on-error")
            .arg("--single-transaction")
            .arg(format!("--use-list={}", list_file.display()))
            .arg(format!("--dbname={}", target.url()))
            .arg(file),
    )
    .await;
    let _ = std::fs::remove_file(&list_file);
    result.map(|_| ())
}

fn tempfile_path(stem: &str) -> PathBuf {
    std::env::temp_dir().join(format!("insight-{stem}-{}", uuid::Uuid::new_v4().simple()))
}

fn sqlite_path(url: &str) -> Result<PathBuf, BackupError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        return Err(BackupError::Refused(
            "an in-memory store cannot be restored into".into(),
        ));
    }
    Ok(PathBuf::from(path))
}

/// The portable export document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Export {
    pub format: String,
    pub version: u32,
    pub exported_at: String,
    #[serde(flatten)]
    pub rows: ExportRows,
}

const EXPORT_FORMAT: &str = "insight-export";
/// The version this build writes: 2 added `conversations` and
/// `conversation_turns`, 3 `saved_questions`, `dashboards` and
/// `dashboard_tiles`.
pub const EXPORT_VERSION: u32 = 3;
/// The versions this build reads; the tables a version lacks are empty.
const READABLE_VERSIONS: std::ops::RangeInclusive<u32> = 1..=EXPORT_VERSION;

pub async fn export(store: &Store) -> Result<Export, BackupError> {
    Ok(Export {
        format: EXPORT_FORMAT.into(),
        version: EXPORT_VERSION,
        exported_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        rows: store.export_rows().await?,
    })
}

/// Check and insert an export; returns the ids of the training items added
/// (the caller embeds them and loads them into the index) and the counts.
pub async fn import(
    store: &Store,
    doc: &Export,
) -> Result<(Vec<String>, ImportCounts), BackupError> {
    if doc.format != EXPORT_FORMAT || !READABLE_VERSIONS.contains(&doc.version) {
        return Err(BackupError::Refused(format!(
            "not an Insight Engine export this version can read (format `{}`, version {}); \
             expected `{EXPORT_FORMAT}` version {} to {}",
            doc.format,
            doc.version,
            READABLE_VERSIONS.start(),
            READABLE_VERSIONS.end()
        )));
    }
    Ok(store.import_rows(&doc.rows).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        assert_eq!(
            parse_name("insight-sqlite-20261205T210000123Z.sqlite"),
            Some(("sqlite".into(), "2026-12-05T21:00:00.123Z".into()))
        );
        assert!(parse_name("insight-sqlite-20261205T210000123Z.sqlite.partial").is_none());
        assert!(parse_name("insight-postgres-20261205T210000123Z.sqlite").is_none());
        assert!(parse_name("notes.txt").is_none());
        // The uploads backup of a run is paired by time, never listed alone.
        assert!(parse_name("insight-uploads-20261205T210000123Z.sqlite").is_none());
        assert_eq!(
            uploads_name("insight-postgres-20261205T210000123Z.pgdump").as_deref(),
            Some("insight-uploads-20261205T210000123Z.sqlite")
        );
    }

    #[test]
    fn pg_dump_major_versions_are_read() {
        let v = |s| parse_pg_dump_major(s);
        assert_eq!(
            v("pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(v("pg_dump (PostgreSQL) 17.2"), Some(17));
        assert_eq!(v("pg_dump (PostgreSQL) 18beta1"), Some(18));
        assert_eq!(v("pg_dump (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(v("pg_dump 17"), None);
    }
}
