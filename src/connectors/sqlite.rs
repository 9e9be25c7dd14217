//! SQLite target databases.
//!
//! Defense in depth on top of the validator: the file is opened read-only
//! (`SQLITE_OPEN_READONLY`) with `PRAGMA query_only = ON`, every execution is
//! interrupted by a progress handler once its deadline passes or its step
//! budget is spent, and rows are fetched as a stream so a result is never
//! materialised beyond the row cap or the byte caps (each value's size is
//! checked before it is copied out of SQLite).
//!
//! SQLite's own length limit (`sqlite3_limit`) is not reachable through sqlx
//! without `unsafe`, so it is set when the bundled SQLite is compiled
//! (`SQLITE_MAX_LENGTH`, 32 MiB, in `.cargo/config.toml`): one huge
//! `printf`, which no progress handler can interrupt, fails inside SQLite
//! with "string or blob too big" (answered `result_too_large`).
//! `PRAGMA hard_heap_limit` is not used: it is process-wide, and when it
//! makes sqlx's copy of a large value fail, sqlx's worker thread panics.
//! Introspection builds its own catalog queries from quoted identifiers; user
//! and generated SQL reaches SQLite only as a [`ValidatedSql`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use futures::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo, ValueRef};

use super::budget::{PROGRESS_OPS, ResultMeter};
use super::{Connector, ConnectorError, ExecLimits, ResultColumn, ResultSet};
use crate::domain::{ColumnInfo, Dialect, ForeignKey, SchemaInfo, TableInfo};
use crate::sql::ValidatedSql;

/// Text columns with at most this many distinct values get `sample_values`
/// (value linking for the generator).
const SAMPLE_VALUES_MAX: i64 = 30;
/// Distinct-value scans look at this many rows at most, so introspection of a
/// large table stays cheap.
const SAMPLE_SCAN_ROWS: i64 = 100_000;

pub struct SqliteConnector {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteConnector {
    /// Open the database at `path`. Target connections pass `read_only = true`;
    /// the file must then already exist.
    pub async fn open(path: &Path, read_only: bool) -> Result<Self, ConnectorError> {
        if read_only && !path.exists() {
            return Err(ConnectorError::Unavailable(format!(
                "database file {} does not exist",
                path.display()
            )));
        }
        let mut opts = SqliteConnectOptions::new()
            .filename(path)
            .read_only(read_only)
            .create_if_missing(!read_only)
            .busy_timeout(Duration::from_secs(5));
        if read_only {
            opts = opts.pragma("query_only", "ON");
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            // A "ping" of a SQLite connection only asks its worker thread to
            // answer (there is no server to lose): a round trip to another
            // thread per query for nothing. A connection whose worker died
            // is closed when it fails instead (see `execute`).
            .test_before_acquire(false)
            .connect_with(opts)
            .await
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))?;
        Ok(Self {
            pool,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn introspect_table(
        &self,
        name: &str,
        is_view: bool,
    ) -> Result<TableInfo, ConnectorError> {
        let q = quote(name);
        let cols = sqlx::query(AssertSqlSafe(format!("PRAGMA table_info({q})")))
            .fetch_all(&self.pool)
            .await
            .map_err(exec_err)?;
        let mut columns = Vec::with_capacity(cols.len());
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in &cols {
            let col_name: String = c.try_get("name").map_err(exec_err)?;
            let data_type: String = c.try_get("type").map_err(exec_err)?;
            let notnull: i64 = c.try_get("notnull").map_err(exec_err)?;
            let pk_pos: i64 = c.try_get("pk").map_err(exec_err)?;
            if pk_pos > 0 {
                pk.push((pk_pos, col_name.clone()));
            }
            columns.push(ColumnInfo {
                name: col_name,
                data_type: if data_type.is_empty() {
                    "TEXT".into()
                } else {
                    data_type
                },
                nullable: notnull == 0 && pk_pos == 0,
                comment: None,
                sample_values: Vec::new(),
            });
        }
        pk.sort();

        let mut foreign_keys: Vec<ForeignKey> = Vec::new();
        if !is_view {
            let fks = sqlx::query(AssertSqlSafe(format!("PRAGMA foreign_key_list({q})")))
                .fetch_all(&self.pool)
                .await
                .map_err(exec_err)?;
            // Rows of one composite key share `id` and are ordered by `seq`.
            let mut by_id: std::collections::BTreeMap<i64, ForeignKey> = Default::default();
            for r in &fks {
                let id: i64 = r.try_get("id").map_err(exec_err)?;
                let table: String = r.try_get("table").map_err(exec_err)?;
                let from: String = r.try_get("from").map_err(exec_err)?;
                let to: Option<String> = r.try_get("to").map_err(exec_err)?;
                let fk = by_id.entry(id).or_insert_with(|| ForeignKey {
                    columns: vec![],
                    ref_table: table,
                    ref_columns: vec![],
                });
                fk.columns.push(from);
                fk.ref_columns.push(to.unwrap_or_else(|| "rowid".into()));
            }
            foreign_keys = by_id.into_values().collect();
        }

        let row_count: Option<i64> =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {q}")))
                .fetch_one(&self.pool)
                .await
                .ok();

        for col in columns.iter_mut() {
            if !is_texty(&col.data_type) {
                continue;
            }
            let cq = quote(&col.name);
            let sql = format!(
                "SELECT DISTINCT {cq} FROM (SELECT {cq} FROM {q} LIMIT {SAMPLE_SCAN_ROWS}) \
                 WHERE {cq} IS NOT NULL AND typeof({cq}) = 'text' AND length({cq}) <= 80 \
                 ORDER BY 1 LIMIT {}",
                SAMPLE_VALUES_MAX + 1
            );
            let values: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_all(&self.pool)
                .await
                .unwrap_or_default();
            if (values.len() as i64) <= SAMPLE_VALUES_MAX {
                col.sample_values = values;
            }
        }

        Ok(TableInfo {
            name: name.to_string(),
            is_view,
            columns,
            primary_key: pk.into_iter().map(|(_, c)| c).collect(),
            foreign_keys,
            row_count: row_count.map(|n| n.max(0) as u64),
            comment: None,
        })
    }
}

fn is_texty(declared: &str) -> bool {
    let t = declared.to_ascii_uppercase();
    t.contains("CHAR") || t.contains("TEXT") || t.contains("CLOB") || t.is_empty()
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn exec_err(e: sqlx::Error) -> ConnectorError {
    match e {
        sqlx::Error::Database(db) => ConnectorError::Execution(db.message().to_string()),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            ConnectorError::Unavailable(e.to_string())
        }
        other => ConnectorError::Execution(other.to_string()),
    }
}

/// Convert one SQLite value to JSON by its storage class, counting its size
/// on `meter` before anything is copied.
fn value_to_json(
    row: &SqliteRow,
    i: usize,
    meter: &mut ResultMeter,
) -> Result<(serde_json::Value, &'static str), ConnectorError> {
    let raw = row.try_get_raw(i).map_err(exec_err)?;
    if raw.is_null() {
        meter.cell(4)?;
        return Ok((serde_json::Value::Null, "NULL"));
    }
    let class = raw.type_info().name().to_ascii_uppercase();
    if matches!(class.as_str(), "INTEGER" | "REAL") {
        meter.cell(8)?;
    }
    Ok(match class.as_str() {
        "INTEGER" => (
            serde_json::Value::from(row.try_get::<i64, _>(i).map_err(exec_err)?),
            "INTEGER",
        ),
        "REAL" => {
            let f: f64 = row.try_get(i).map_err(exec_err)?;
            (
                serde_json::Number::from_f64(f)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null),
                "REAL",
            )
        }
        "BLOB" => {
            let b: &[u8] = row.try_get(i).map_err(exec_err)?;
            meter.cell(b.len().div_ceil(3).saturating_mul(4).saturating_add(2))?;
            (
                serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
                "BLOB",
            )
        }
        _ => {
            let t: &str = row.try_get(i).map_err(exec_err)?;
            meter.cell(t.len().saturating_add(2))?;
            (serde_json::Value::String(t.to_string()), "TEXT")
        }
    })
}

/// What the progress handler of one execution checks. The handler stays
/// installed after the execution (the next one on the connection replaces
/// it) and, disarmed, lets everything run: removing it would cost a second
/// round trip to the connection's worker thread per query.
struct Watch {
    armed: AtomicBool,
    over_budget: AtomicBool,
    calls: AtomicU64,
}

impl Watch {
    /// Install the handler for one execution on `conn`. SQLite calls it
    /// every PROGRESS_OPS VM steps; returning false interrupts the
    /// statement, which frees the worker thread too (a dropped future alone
    /// would leave the query running). The step budget stops a runaway
    /// statement long before the deadline, so it does not hold a pool slot
    /// for the whole timeout.
    async fn install(
        self: &Arc<Self>,
        conn: &mut sqlx::SqliteConnection,
        limits: &ExecLimits,
        deadline: Instant,
    ) -> Result<(), sqlx::Error> {
        let max_calls = (limits.budget.max_steps / PROGRESS_OPS).max(1);
        let watch = self.clone();
        let mut handle = conn.lock_handle().await?;
        handle.set_progress_handler(PROGRESS_OPS as i32, move || {
            if !watch.armed.load(Ordering::Relaxed) {
                return true;
            }
            if watch.calls.fetch_add(1, Ordering::Relaxed) >= max_calls {
                watch.over_budget.store(true, Ordering::Relaxed);
                return false;
            }
            Instant::now() < deadline
        });
        Ok(())
    }
}

/// Fetch the rows of `sql` as a stream, stopping at the row cap and
/// refusing a value or a result over its byte cap.
async fn stream_rows(
    conn: &mut sqlx::SqliteConnection,
    sql: &ValidatedSql,
    limits: ExecLimits,
) -> Result<ResultSet, ConnectorError> {
    let cap = usize::try_from(limits.max_rows).unwrap_or(usize::MAX);
    let mut meter = ResultMeter::new(&limits.budget);
    // The only way in is a `ValidatedSql`: the validator is the audit.
    let mut stream = sqlx::query(AssertSqlSafe(sql.sql().to_string()))
        .persistent(false)
        .fetch(&mut *conn);
    let mut columns: Vec<ResultColumn> = Vec::new();
    let mut rows = Vec::new();
    let mut truncated = false;
    while let Some(row) = stream.try_next().await.map_err(exec_err)? {
        if columns.is_empty() {
            for c in row.columns() {
                let t = c.type_info().name().to_string();
                columns.push(ResultColumn {
                    name: c.name().to_string(),
                    data_type: if t == "NULL" { String::new() } else { t },
                });
            }
        }
        if rows.len() == cap {
            truncated = true;
            break;
        }
        let mut values = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter_mut().enumerate() {
            let (v, class) = value_to_json(&row, i, &mut meter)?;
            if column.data_type.is_empty() && class != "NULL" {
                column.data_type = class.to_string();
            }
            values.push(v);
        }
        rows.push(values);
    }
    for c in columns.iter_mut() {
        if c.data_type.is_empty() {
            c.data_type = "NULL".into();
        }
    }
    Ok(ResultSet {
        columns,
        rows,
        truncated,
    })
}

#[async_trait]
impl Connector for SqliteConnector {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn introspect(&self) -> Result<SchemaInfo, ConnectorError> {
        let objects: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, type FROM sqlite_master \
             WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(exec_err)?;
        let mut tables = Vec::with_capacity(objects.len());
        for (name, kind) in objects {
            tables.push(self.introspect_table(&name, kind == "view").await?);
        }
        Ok(SchemaInfo { tables })
    }

    async fn execute(
        &self,
        sql: &ValidatedSql,
        limits: ExecLimits,
    ) -> Result<ResultSet, ConnectorError> {
        let deadline = limits.deadline();
        let watch = Arc::new(Watch {
            armed: AtomicBool::new(true),
            over_budget: AtomicBool::new(false),
            calls: AtomicU64::new(0),
        });
        let mut conn = self.pool.acquire().await.map_err(exec_err)?;
        if watch.install(&mut conn, &limits, deadline).await.is_err() {
            // Its worker thread is gone (the pool does not ping before
            // handing a connection out): drop it and take another.
            conn.close_on_drop();
            drop(conn);
            conn = self.pool.acquire().await.map_err(exec_err)?;
            if let Err(e) = watch.install(&mut conn, &limits, deadline).await {
                conn.close_on_drop();
                return Err(exec_err(e));
            }
        }
        let run = stream_rows(&mut conn, sql, limits);
        // The outer timeout is a backstop; the progress handler normally fires first.
        let backstop = limits.timeout.saturating_add(Duration::from_millis(500));
        let result = match tokio::time::timeout(backstop, run).await {
            Ok(Ok(rs)) => Ok(rs),
            Ok(Err(ConnectorError::Execution(msg))) if msg.contains("interrupt") => {
                if watch.over_budget.load(Ordering::Relaxed) {
                    Err(ConnectorError::TooExpensive(format!(
                        "the query needed more than its work budget ({} SQLite steps) and was stopped; narrow it down",
                        limits.budget.max_steps
                    )))
                } else if Instant::now() >= deadline {
                    Err(ConnectorError::Timeout(limits.timeout))
                } else {
                    Err(ConnectorError::Execution(msg))
                }
            }
            Ok(Err(ConnectorError::Execution(msg)))
                if msg.contains("too big") || msg.contains("out of memory") =>
            {
                Err(ConnectorError::TooLarge(
                    "the query needed more memory than the database may use; select less data"
                        .into(),
                ))
            }
            Ok(Err(e)) => Err(e),
            // Still running on the worker thread: the handler stays armed
            // and interrupts it at its next call.
            Err(_) => return Err(ConnectorError::Timeout(limits.timeout)),
        };
        watch.armed.store(false, Ordering::Relaxed);
        result
    }

    async fn ping(&self) -> Result<(), ConnectorError> {
        if !self.path.exists() {
            return Err(ConnectorError::Unavailable(format!(
                "database file {} is missing",
                self.path.display()
            )));
        }
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sqlite_master")
            .fetch_one(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{SqlPolicy, validate};

    async fn fixture() -> (tempfile::TempDir, SqliteConnector) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let rw = SqliteConnector::open(&path, false).await.unwrap();
            for stmt in [
                "CREATE TABLE kinds (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n TEXT, d DATE)",
                "INSERT INTO kinds VALUES (1, 42, 2.5, 'héllo', x'00ff10', NULL, '2024-02-29')",
                "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), kind TEXT)",
                "INSERT INTO parent VALUES (1, 'a'), (2, 'b')",
                "INSERT INTO child VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'x')",
                "CREATE VIEW v AS SELECT * FROM child",
            ] {
                sqlx::query(stmt).execute(&rw.pool).await.unwrap();
            }
            rw.pool.close().await;
        }
        let ro = SqliteConnector::open(&path, true).await.unwrap();
        (dir, ro)
    }

    fn limits(max_rows: u64, ms: u64) -> ExecLimits {
        ExecLimits::new(Duration::from_millis(ms), max_rows)
    }

    #[tokio::test]
    async fn introspection_reads_keys_views_and_values() {
        let (_dir, c) = fixture().await;
        let s = c.introspect().await.unwrap();
        let child = s.table("child").unwrap();
        assert_eq!(child.primary_key, vec!["id"]);
        assert_eq!(child.foreign_keys[0].ref_table, "parent");
        assert_eq!(child.foreign_keys[0].columns, vec!["parent_id"]);
        assert_eq!(child.row_count, Some(3));
        assert_eq!(child.column("kind").unwrap().sample_values, vec!["x", "y"]);
        assert!(s.table("v").unwrap().is_view);
        assert!(!s.table("parent").unwrap().column("name").unwrap().nullable);
    }

    #[tokio::test]
    async fn values_map_to_json_by_storage_class() {
        let (_dir, c) = fixture().await;
        let schema = c.introspect().await.unwrap();
        let v = validate(
            "SELECT i, r, t, b, n, d FROM kinds",
            Dialect::Sqlite,
            &schema,
            &SqlPolicy::default(),
        )
        .unwrap();
        let rs = c.execute(&v, limits(10, 5000)).await.unwrap();
        assert_eq!(
            rs.rows[0],
            vec![
                serde_json::json!(42),
                serde_json::json!(2.5),
                serde_json::json!("héllo"),
                serde_json::json!("AP8Q"),
                serde_json::Value::Null,
                serde_json::json!("2024-02-29"),
            ]
        );
        let types: Vec<&str> = rs.columns.iter().map(|c| c.data_type.as_str()).collect();
        assert_eq!(types, ["INTEGER", "REAL", "TEXT", "BLOB", "TEXT", "DATE"]);
        assert!(!rs.truncated);
    }

    #[tokio::test]
    async fn row_cap_sets_truncated() {
        let (_dir, c) = fixture().await;
        let schema = c.introspect().await.unwrap();
        let v = validate(
            "SELECT * FROM child",
            Dialect::Sqlite,
            &schema,
            &SqlPolicy::default(),
        )
        .unwrap();
        let rs = c.execute(&v, limits(2, 5000)).await.unwrap();
        assert_eq!(rs.rows.len(), 2);
        assert!(rs.truncated);
    }

    #[tokio::test]
    async fn long_queries_are_interrupted_at_the_deadline() {
        let (_dir, c) = fixture().await;
        let schema = c.introspect().await.unwrap();
        let v = validate(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n",
            Dialect::Sqlite,
            &schema,
            &SqlPolicy::default(),
        )
        .unwrap();
        let started = Instant::now();
        let err = c.execute(&v, limits(10, 200)).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Timeout(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The connection is usable afterwards.
        let ok = validate("SELECT 1", Dialect::Sqlite, &schema, &SqlPolicy::default()).unwrap();
        assert_eq!(
            c.execute(&ok, limits(10, 5000)).await.unwrap().rows.len(),
            1
        );
    }

    #[tokio::test]
    async fn the_session_itself_refuses_writes() {
        // Defense in depth: even SQL that bypassed the validator cannot write.
        let (_dir, c) = fixture().await;
        for stmt in [
            "DELETE FROM child",
            "CREATE TABLE x (a)",
            "PRAGMA query_only = OFF; DELETE FROM child",
        ] {
            assert!(sqlx::query(stmt).execute(&c.pool).await.is_err(), "{stmt}");
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM child")
            .fetch_one(&c.pool)
            .await
            .unwrap();
        assert_eq!(n, 3);
    }

    /// A pool of one connection, so consecutive calls share it.
    async fn single(path: &Path) -> SqliteConnector {
        let opts = SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .unwrap();
        SqliteConnector {
            pool,
            path: path.to_path_buf(),
        }
    }

    #[tokio::test]
    async fn a_finished_execution_does_not_interrupt_later_work() {
        let (dir, _) = fixture().await;
        let c = single(&dir.path().join("t.db")).await;
        let schema = c.introspect().await.unwrap();
        let ok = validate("SELECT 1", Dialect::Sqlite, &schema, &SqlPolicy::default()).unwrap();
        c.execute(&ok, limits(10, 50)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Its deadline has passed; its handler, still installed on the one
        // connection, must let other work (introspection, pings) run.
        let long = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000) \
                    SELECT count(*) FROM n";
        let n: i64 = sqlx::query_scalar(long).fetch_one(&c.pool).await.unwrap();
        assert_eq!(n, 200_000);
    }

    #[tokio::test]
    async fn a_connection_whose_worker_died_is_replaced() {
        let (dir, _) = fixture().await;
        let path = dir.path().join("t.db");
        let c = single(&path).await;
        let schema = c.introspect().await.unwrap();
        let sql = "SELECT * FROM parent ORDER BY id";
        let v = validate(sql, Dialect::Sqlite, &schema, &SqlPolicy::default()).unwrap();
        assert_eq!(c.execute(&v, limits(10, 5000)).await.unwrap().rows.len(), 2);
        // A schema change under a prepared `SELECT *` makes sqlx's worker
        // thread panic (sqlx 0.9 keeps the columns it saw at prepare time):
        // one way to get a connection whose worker is gone.
        let rw = SqliteConnector::open(&path, false).await.unwrap();
        sqlx::query("ALTER TABLE parent ADD COLUMN note TEXT")
            .execute(&rw.pool)
            .await
            .unwrap();
        let _ = c.execute(&v, limits(10, 5000)).await;
        // The next query gets a working connection all the same.
        let again = c.execute(&v, limits(10, 5000)).await.unwrap();
        let names: Vec<&str> = again.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "name", "note"]);
        assert_eq!(again.rows.len(), 2);
    }

    #[tokio::test]
    async fn missing_files_are_unavailable() {
        let err = SqliteConnector::open(Path::new("/nonexistent/x.db"), true)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, ConnectorError::Unavailable(_)));
    }
}
