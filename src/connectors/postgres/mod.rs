//! PostgreSQL target databases.
//!
//! Defense in depth on top of the validator: every session starts with
//! `default_transaction_read_only = on`, every execution runs inside
//! `BEGIN READ ONLY … ROLLBACK` with `SET LOCAL statement_timeout`, and a
//! client-side timeout backstops the server's. Before the statement runs, its
//! `EXPLAIN` estimate is checked against the work budget
//! ([`super::explain`]). Rows are fetched as a stream and never materialised
//! beyond the row cap or the byte caps ([`super::budget::ResultMeter`]).
//!
//! Values arrive in PostgreSQL's binary format and are converted to JSON by
//! `values`, so no value loses precision. Columns of a type it cannot decode
//! are re-read once through a `::text` cast; if even that fails they show a
//! placeholder.
//!
//! Introspection reads `pg_catalog` for the schemas on the connection's
//! `search_path`. It must not read user data beyond the bounded counts and
//! distinct-value scans used for `row_count` and `sample_values`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::TryStreamExt;
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgTypeInfo};
use sqlx::{AssertSqlSafe, Column, Postgres, Row};

mod values;

use super::budget::ResultMeter;
use super::{Connector, ConnectorError, ExecLimits, ResultColumn, ResultSet};
use crate::domain::{ColumnInfo, Dialect, ForeignKey, SchemaInfo, TableInfo};
use crate::sql::ValidatedSql;
use values::{cell, decodable, type_name};

/// Text columns with at most this many distinct values get `sample_values`.
const SAMPLE_VALUES_MAX: usize = 30;
/// Distinct-value scans look at this many rows at most.
const SAMPLE_SCAN_ROWS: i64 = 100_000;
/// Longer values are not useful for value linking and are left out.
const SAMPLE_VALUE_MAX_CHARS: i64 = 80;
/// Tables up to this size on disk get an exact `count(*)`; larger ones the
/// planner's estimate (`pg_class.reltuples`).
const EXACT_COUNT_MAX_BYTES: i64 = 8 * 1024 * 1024;
/// Session-wide statement timeout, so introspection cannot hang forever;
/// executions override it with their own limit.
const SESSION_STATEMENT_TIMEOUT: &str = "60s";
/// Extra time the client waits beyond the server-side timeout before giving
/// up on the round trip itself.
const CLIENT_BACKSTOP: Duration = Duration::from_secs(1);

pub struct PostgresConnector {
    pool: PgPool,
}

impl PostgresConnector {
    /// Open a pool of at most `pool_size` read-only sessions to `url`
    /// (`postgres://user:pass@host:port/db?options=-csearch_path%3Dsales`).
    /// Connects eagerly so an unreachable server is reported at startup.
    pub async fn connect(url: &str, pool_size: u32) -> Result<Self, ConnectorError> {
        let opts: PgConnectOptions = url
            .parse()
            // sqlx's parse errors describe the problem, not the URL, so no
            // password can leak through them.
            .map_err(|e| ConnectorError::Config(format!("invalid PostgreSQL URL: {e}")))?;
        let opts = opts.application_name("insight").options([
            ("default_transaction_read_only", "on"),
            ("statement_timeout", SESSION_STATEMENT_TIMEOUT),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))?;
        Ok(Self { pool })
    }

    /// The underlying pool, for tests that check the session itself refuses
    /// writes. Not part of the API.
    #[doc(hidden)]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn relations(&self) -> Result<Vec<Relation>, ConnectorError> {
        // Schemas in search-path order; the first relation of a name wins, as
        // it does when an unqualified name is resolved.
        let rows: Vec<RelationRow> = sqlx::query_as(
            "WITH sp AS (SELECT s.nspname, s.ord \
                         FROM unnest(current_schemas(false)) WITH ORDINALITY AS s(nspname, ord)) \
             SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, \
                    obj_description(c.oid, 'pg_class'), c.reltuples::float8, \
                    pg_relation_size(c.oid) \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN sp ON sp.nspname = n.nspname \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition \
             ORDER BY sp.ord, c.relname",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| exec_err(e, None))?;
        let mut seen = std::collections::HashSet::new();
        Ok(rows
            .into_iter()
            .filter(|r| seen.insert(r.2.clone()))
            .map(
                |(oid, schema, name, kind, comment, reltuples, size)| Relation {
                    oid,
                    schema,
                    name,
                    kind,
                    comment,
                    reltuples,
                    size,
                },
            )
            .collect())
    }

    async fn row_count(&self, rel: &Relation) -> Option<u64> {
        match rel.kind.as_str() {
            "r" | "m" if rel.size <= EXACT_COUNT_MAX_BYTES => {
                let sql = format!(
                    "SELECT count(*) FROM {}.{}",
                    quote(&rel.schema),
                    quote(&rel.name)
                );
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                    .fetch_one(&self.pool)
                    .await
                    .ok()
                    .map(|n| n.max(0) as u64)
            }
            // -1 means "never analyzed": better no number than a wrong one.
            "r" | "m" if rel.reltuples >= 0.0 => Some(rel.reltuples.round() as u64),
            _ => None,
        }
    }

    async fn sample_values(&self, rel: &Relation, column: &str) -> Vec<String> {
        let sql = format!(
            "SELECT DISTINCT v FROM (SELECT {c}::text AS v FROM {s}.{t} LIMIT {SAMPLE_SCAN_ROWS}) q \
             WHERE v IS NOT NULL AND length(v) <= {SAMPLE_VALUE_MAX_CHARS} ORDER BY 1 LIMIT {}",
            SAMPLE_VALUES_MAX + 1,
            c = quote(column),
            s = quote(&rel.schema),
            t = quote(&rel.name),
        );
        let values: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        if values.len() <= SAMPLE_VALUES_MAX {
            values
        } else {
            Vec::new()
        }
    }
}

/// oid, schema, name, relkind, comment, reltuples, size in bytes.
type RelationRow = (i64, String, String, String, Option<String>, f64, i64);

struct Relation {
    oid: i64,
    schema: String,
    name: String,
    /// `pg_class.relkind`: r table, p partitioned, v view, m materialized view, f foreign.
    kind: String,
    comment: Option<String>,
    reltuples: f64,
    size: i64,
}

impl Relation {
    fn is_view(&self) -> bool {
        matches!(self.kind.as_str(), "v" | "m")
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Map a sqlx error; `timeout` turns `query_canceled` into [`ConnectorError::Timeout`].
fn exec_err(e: sqlx::Error, timeout: Option<Duration>) -> ConnectorError {
    match e {
        sqlx::Error::Database(db) => match (db.code().as_deref(), timeout) {
            (Some("57014"), Some(t)) => ConnectorError::Timeout(t),
            _ => ConnectorError::Execution(db.message().to_string()),
        },
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            ConnectorError::Unavailable(e.to_string())
        }
        other => ConnectorError::Execution(other.to_string()),
    }
}

/// Rows of one run: column names and types come from the first row.
struct Fetched {
    columns: Vec<(String, PgTypeInfo)>,
    rows: Vec<Vec<Value>>,
    truncated: bool,
}

async fn fetch(
    conn: &mut PgConnection,
    sql: &str,
    cap: usize,
    limits: ExecLimits,
) -> Result<Fetched, ConnectorError> {
    let err = |e| exec_err(e, Some(limits.timeout));
    let mut meter = ResultMeter::new(&limits.budget);
    // A named (cached) statement: when the result has user-defined types
    // (enums, domains), sqlx looks them up with queries of its own, which
    // would replace an unnamed statement before it runs.
    let mut stream = sqlx::query(AssertSqlSafe(sql.to_string()))
        .persistent(true)
        .fetch(&mut *conn);
    let mut out = Fetched {
        columns: Vec::new(),
        rows: Vec::new(),
        truncated: false,
    };
    while let Some(row) = stream.try_next().await.map_err(err)? {
        if out.columns.is_empty() {
            out.columns = row
                .columns()
                .iter()
                .map(|c| (c.name().to_string(), c.type_info().clone()))
                .collect();
        }
        if out.rows.len() == cap {
            out.truncated = true;
            break;
        }
        let values = out
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| {
                // The raw size first, so a huge value is refused before it
                // is converted (copied) at all.
                let raw = row.try_get_raw(i).map_err(err)?;
                meter.cell(raw.as_bytes().map_or(0, <[u8]>::len))?;
                cell(&row, i, ty).map_err(err)
            })
            .collect::<Result<Vec<_>, ConnectorError>>()?;
        out.rows.push(values);
    }
    Ok(out)
}

/// `sql` with the columns at `cast` read through `::text`. Columns are renamed
/// positionally (`q(c1, …)`), so duplicate or odd output names do not matter.
fn text_cast_wrapper(sql: &str, ncols: usize, cast: &[usize]) -> String {
    let select: Vec<String> = (0..ncols)
        .map(|i| {
            if cast.contains(&i) {
                format!("q.c{}::text", i + 1)
            } else {
                format!("q.c{}", i + 1)
            }
        })
        .collect();
    let names: Vec<String> = (1..=ncols).map(|i| format!("c{i}")).collect();
    format!(
        "SELECT {} FROM ({sql}) AS q({})",
        select.join(", "),
        names.join(", ")
    )
}

fn timeout_ms(d: Duration) -> u128 {
    d.as_millis().max(1)
}

/// Run `sql` in a read-only transaction with a server-side timeout. The
/// caller rolls back.
async fn run_in_transaction(
    conn: &mut PgConnection,
    sql: &str,
    limits: ExecLimits,
) -> Result<ResultSet, ConnectorError> {
    let started = Instant::now();
    let err = |e| exec_err(e, Some(limits.timeout));
    sqlx::raw_sql(AssertSqlSafe(format!(
        "BEGIN READ ONLY; SET LOCAL statement_timeout = {}",
        timeout_ms(limits.timeout)
    )))
    .execute(&mut *conn)
    .await
    .map_err(err)?;
    super::explain::postgres(conn, sql, &limits.budget).await?;
    let cap = usize::try_from(limits.max_rows).unwrap_or(usize::MAX);
    let first = fetch(conn, sql, cap, limits).await?;
    let mut columns: Vec<ResultColumn> = first
        .columns
        .iter()
        .map(|(name, ty)| ResultColumn {
            name: name.clone(),
            data_type: type_name(ty),
        })
        .collect();
    let mut rows = first.rows;
    let mut truncated = first.truncated;

    let opaque: Vec<usize> = first
        .columns
        .iter()
        .enumerate()
        .filter(|(_, (_, ty))| !decodable(ty))
        .map(|(i, _)| i)
        .collect();
    let remaining = limits.timeout.saturating_sub(started.elapsed());
    if !opaque.is_empty() && !rows.is_empty() && remaining >= Duration::from_millis(1) {
        // Every PostgreSQL type has a text output function, so a second read
        // through `::text` shows the values; it runs in the remaining time,
        // and if it fails the placeholders stay.
        let again = async {
            sqlx::raw_sql(AssertSqlSafe(format!(
                "SET LOCAL statement_timeout = {}",
                timeout_ms(remaining)
            )))
            .execute(&mut *conn)
            .await
            .map_err(err)?;
            let wrapped = text_cast_wrapper(sql, columns.len(), &opaque);
            fetch(conn, &wrapped, cap, limits).await
        };
        if let Ok(second) = again.await
            && second.columns.len() == columns.len()
        {
            rows = second.rows;
            truncated = second.truncated;
        }
    }
    for c in columns.iter_mut() {
        if c.data_type.is_empty() {
            c.data_type = "unknown".into();
        }
    }
    Ok(ResultSet {
        columns,
        rows,
        truncated,
    })
}

#[async_trait]
impl Connector for PostgresConnector {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn introspect(&self) -> Result<SchemaInfo, ConnectorError> {
        let relations = self.relations().await?;
        let oids: Vec<i64> = relations.iter().map(|r| r.oid).collect();

        let cols: Vec<(i64, String, String, bool, Option<String>, bool)> = sqlx::query_as(
            "SELECT a.attrelid::int8, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                    NOT a.attnotnull, col_description(a.attrelid, a.attnum), \
                    (t.typcategory = 'S' OR t.typtype = 'e') \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid::int8 = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attrelid, a.attnum",
        )
        .bind(&oids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| exec_err(e, None))?;

        let pks: Vec<(i64, String)> = sqlx::query_as(
            "SELECT con.conrelid::int8, a.attname::text \
             FROM pg_constraint con \
             CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
             WHERE con.contype = 'p' AND con.conrelid::int8 = ANY($1) \
             ORDER BY con.conrelid, k.ord",
        )
        .bind(&oids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| exec_err(e, None))?;

        let fks: Vec<(i64, String, Vec<String>, Vec<String>)> = sqlx::query_as(
            "SELECT con.conrelid::int8, rc.relname::text, \
                    array_agg(a.attname::text ORDER BY k.ord), \
                    array_agg(ra.attname::text ORDER BY k.ord) \
             FROM pg_constraint con \
             JOIN pg_class rc ON rc.oid = con.confrelid \
             CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, refnum, ord) \
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
             JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refnum \
             WHERE con.contype = 'f' AND con.conrelid::int8 = ANY($1) \
             GROUP BY con.oid, con.conrelid, con.conname, rc.relname \
             ORDER BY con.conrelid, con.conname",
        )
        .bind(&oids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| exec_err(e, None))?;

        let mut columns: HashMap<i64, Vec<(ColumnInfo, bool)>> = HashMap::new();
        for (rel, name, data_type, nullable, comment, texty) in cols {
            columns.entry(rel).or_default().push((
                ColumnInfo {
                    name,
                    data_type,
                    nullable,
                    comment,
                    sample_values: Vec::new(),
                },
                texty,
            ));
        }
        let mut primary: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (rel, col) in pks {
            primary.entry(rel).or_default().push(col);
        }
        let mut foreign: BTreeMap<i64, Vec<ForeignKey>> = BTreeMap::new();
        for (rel, ref_table, cols, ref_cols) in fks {
            foreign.entry(rel).or_default().push(ForeignKey {
                columns: cols,
                ref_table,
                ref_columns: ref_cols,
            });
        }

        let mut tables = Vec::with_capacity(relations.len());
        for rel in &relations {
            let mut cols = Vec::new();
            for (mut col, texty) in columns.remove(&rel.oid).unwrap_or_default() {
                // Views are not scanned: computing one may be arbitrarily expensive.
                if texty && !rel.is_view() {
                    col.sample_values = self.sample_values(rel, &col.name).await;
                }
                cols.push(col);
            }
            tables.push(TableInfo {
                name: rel.name.clone(),
                is_view: rel.is_view(),
                columns: cols,
                primary_key: primary.remove(&rel.oid).unwrap_or_default(),
                foreign_keys: foreign.remove(&rel.oid).unwrap_or_default(),
                row_count: self.row_count(rel).await,
                comment: rel.comment.clone(),
            });
        }
        Ok(SchemaInfo { tables })
    }

    async fn execute(
        &self,
        sql: &ValidatedSql,
        limits: ExecLimits,
    ) -> Result<ResultSet, ConnectorError> {
        let mut conn: PoolConnection<Postgres> =
            self.pool.acquire().await.map_err(|e| exec_err(e, None))?;
        // The only way in is a `ValidatedSql`: the validator is the audit.
        let run = run_in_transaction(&mut conn, sql.sql(), limits);
        let backstop = limits.timeout.saturating_add(CLIENT_BACKSTOP);
        let result = match tokio::time::timeout(backstop, run).await {
            Ok(r) => r,
            Err(_) => {
                // The round trip itself hung: the session's state is unknown.
                conn.close_on_drop();
                return Err(ConnectorError::Timeout(limits.timeout));
            }
        };
        if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
            conn.close_on_drop();
        }
        result
    }

    fn slots(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    async fn ping(&self) -> Result<(), ConnectorError> {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_columns_are_cast_positionally() {
        assert_eq!(
            text_cast_wrapper("SELECT 1, 2", 2, &[1]),
            "SELECT q.c1, q.c2::text FROM (SELECT 1, 2) AS q(c1, c2)"
        );
    }
}
