//! MySQL and MariaDB target databases.
//!
//! Defense in depth on top of the validator: every session is put in
//! `SET SESSION TRANSACTION READ ONLY` when it connects, every execution runs
//! inside `START TRANSACTION READ ONLY … ROLLBACK`, and a server-side statement
//! limit (`max_statement_time` on MariaDB, `max_execution_time` on MySQL; the
//! flavor is read from `VERSION()` once) is backstopped by a client-side
//! timeout. Rows are streamed and never materialised beyond the row cap.
//!
//! Values are converted to JSON by column type: `DECIMAL` as a string (no
//! precision loss), dates and times ISO-8601, binary strings base64, `BIT` as a
//! number. MariaDB stores `JSON` as `LONGTEXT`, so its JSON columns arrive as
//! strings; MySQL's native `JSON` is parsed. Decoding never panics: a value that
//! cannot be read shows a placeholder.
//!
//! Introspection reads `information_schema` for the connection's current
//! database and must not read user data beyond the bounded counts and
//! distinct-value scans used for `row_count` and `sample_values`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use serde_json::Value;
use sqlx::mysql::types::MySqlTime;
use sqlx::mysql::{
    MySql, MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPool, MySqlPoolOptions,
    MySqlRow, MySqlTypeInfo,
};
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo, ValueRef};

use super::budget::ResultMeter;
use super::{Connector, ConnectorError, ExecLimits, ResultColumn, ResultSet};
use crate::domain::{ColumnInfo, Dialect, ForeignKey, SchemaInfo, TableInfo};
use crate::sql::ValidatedSql;

/// Text columns with at most this many distinct values get `sample_values`.
const SAMPLE_VALUES_MAX: usize = 30;
/// Distinct-value scans look at this many rows at most.
const SAMPLE_SCAN_ROWS: i64 = 100_000;
/// Longer values are not useful for value linking and are left out.
const SAMPLE_VALUE_MAX_CHARS: i64 = 80;
/// Tables up to this much data get an exact `COUNT(*)`; larger ones the
/// storage engine's estimate (`TABLE_ROWS`, often far off for InnoDB).
const EXACT_COUNT_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Extra time the client waits beyond the server-side limit.
const CLIENT_BACKSTOP: Duration = Duration::from_secs(1);

/// MariaDB `ER_STATEMENT_TIMEOUT` and MySQL `ER_QUERY_TIMEOUT`.
const TIMEOUT_ERRORS: [u16; 2] = [1969, 3024];

pub struct MySqlConnector {
    pool: MySqlPool,
    mariadb: bool,
}

impl MySqlConnector {
    /// Open a pool of at most `pool_size` read-only sessions to `url`
    /// (`mysql://user:pass@host:port/db`). Connects eagerly so an unreachable
    /// server is reported at startup.
    pub async fn connect(url: &str, pool_size: u32) -> Result<Self, ConnectorError> {
        let opts: MySqlConnectOptions = url
            .parse()
            // sqlx's parse errors describe the problem, not the URL.
            .map_err(|e| ConnectorError::Config(format!("invalid MySQL URL: {e}")))?;
        let pool = MySqlPoolOptions::new()
            .max_connections(pool_size.max(1))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query("SET SESSION TRANSACTION READ ONLY")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))?;
        let version: String = sqlx::query_scalar("SELECT VERSION()")
            .fetch_one(&pool)
            .await
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))?;
        Ok(Self {
            pool,
            mariadb: version.contains("MariaDB"),
        })
    }

    /// `true` when the server is MariaDB rather than MySQL.
    pub fn is_mariadb(&self) -> bool {
        self.mariadb
    }

    /// The underlying pool, for tests that check the session itself refuses
    /// writes. Not part of the API.
    #[doc(hidden)]
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The statement that sets (or with `None`, clears) the session's
    /// server-side limit for `SELECT`s.
    fn statement_limit(&self, timeout: Option<Duration>) -> String {
        let ms = timeout.map_or(0, |t| t.as_millis().max(1));
        if self.mariadb {
            // Seconds, fractions allowed; 0 means no limit.
            format!(
                "SET SESSION max_statement_time = {}.{:03}",
                ms / 1000,
                ms % 1000
            )
        } else {
            format!("SET SESSION max_execution_time = {ms}")
        }
    }

    async fn run(
        &self,
        conn: &mut MySqlConnection,
        sql: &str,
        limits: ExecLimits,
    ) -> Result<ResultSet, ConnectorError> {
        let err = |e| exec_err(e, Some(limits.timeout));
        sqlx::query(AssertSqlSafe(self.statement_limit(Some(limits.timeout))))
            .execute(&mut *conn)
            .await
            .map_err(err)?;
        sqlx::query("START TRANSACTION READ ONLY")
            .execute(&mut *conn)
            .await
            .map_err(err)?;
        super::explain::mysql(conn, sql, &limits.budget).await?;
        let cap = usize::try_from(limits.max_rows).unwrap_or(usize::MAX);
        let mut meter = ResultMeter::new(&limits.budget);
        let mut stream = sqlx::query(AssertSqlSafe(sql.to_string()))
            .persistent(false)
            .fetch(&mut *conn);
        let mut columns: Vec<ResultColumn> = Vec::new();
        let mut types: Vec<MySqlTypeInfo> = Vec::new();
        let mut rows = Vec::new();
        let mut truncated = false;
        while let Some(row) = stream.try_next().await.map_err(err)? {
            if columns.is_empty() {
                for c in row.columns() {
                    types.push(c.type_info().clone());
                    columns.push(ResultColumn {
                        name: c.name().to_string(),
                        data_type: type_name(c.type_info()),
                    });
                }
            }
            if rows.len() == cap {
                truncated = true;
                break;
            }
            let mut values = Vec::with_capacity(types.len());
            for (i, ty) in types.iter().enumerate() {
                // The raw size first, so a huge value is refused before it
                // is converted (copied) at all.
                let len = row.try_get_unchecked::<&[u8], _>(i).map_or(0, <[u8]>::len);
                meter.cell(len)?;
                values.push(cell(&row, i, ty));
            }
            rows.push(values);
        }
        Ok(ResultSet {
            columns,
            rows,
            truncated,
        })
    }

    async fn sample_values(&self, table: &str, column: &str) -> Vec<String> {
        let sql = format!(
            "SELECT DISTINCT v FROM (SELECT {c} AS v FROM {t} LIMIT {SAMPLE_SCAN_ROWS}) q \
             WHERE v IS NOT NULL AND CHAR_LENGTH(v) <= {SAMPLE_VALUE_MAX_CHARS} \
             ORDER BY 1 LIMIT {}",
            SAMPLE_VALUES_MAX + 1,
            c = quote(column),
            t = quote(table),
        );
        let rows = match sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.pool).await {
            Ok(rows) => rows,
            Err(_) => return Vec::new(),
        };
        let values: Vec<String> = rows.iter().filter_map(|r| string(r, 0)).collect();
        if values.len() <= SAMPLE_VALUES_MAX {
            values
        } else {
            Vec::new()
        }
    }
}

fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// Map a sqlx error; `timeout` turns the server's statement-timeout errors
/// into [`ConnectorError::Timeout`].
fn exec_err(e: sqlx::Error, timeout: Option<Duration>) -> ConnectorError {
    match e {
        sqlx::Error::Database(db) => {
            let number = db
                .try_downcast_ref::<MySqlDatabaseError>()
                .map(MySqlDatabaseError::number);
            match (number, timeout) {
                (Some(n), Some(t)) if TIMEOUT_ERRORS.contains(&n) => ConnectorError::Timeout(t),
                _ => ConnectorError::Execution(db.message().to_string()),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            ConnectorError::Unavailable(e.to_string())
        }
        other => ConnectorError::Execution(other.to_string()),
    }
}

/// A catalog string: `information_schema` columns are text on MariaDB but
/// some are binary strings on MySQL 8, so accept both.
fn string(row: &MySqlRow, i: usize) -> Option<String> {
    if let Ok(s) = row.try_get::<Option<String>, _>(i) {
        return s;
    }
    row.try_get_unchecked::<Option<Vec<u8>>, _>(i)
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn number(row: &MySqlRow, i: usize) -> Option<u64> {
    row.try_get_unchecked::<Option<u64>, _>(i)
        .ok()
        .flatten()
        .or_else(|| {
            row.try_get_unchecked::<Option<i64>, _>(i)
                .ok()
                .flatten()
                .map(|n| n.max(0) as u64)
        })
}

/// Whether a column of this type holds text (as opposed to bytes): binary
/// strings have the `binary` collation, text with a `_bin` collation does not.
fn is_text(ty: &MySqlTypeInfo) -> bool {
    <String as sqlx::Type<MySql>>::compatible(ty)
}

/// The type name shown to clients. sqlx names string types by their binary
/// flag, which `_bin` collations also set; name those by their content.
fn type_name(ty: &MySqlTypeInfo) -> String {
    let name = ty.name();
    let text_name = match name {
        "BINARY" => "CHAR",
        "VARBINARY" => "VARCHAR",
        "TINYBLOB" => "TINYTEXT",
        "BLOB" => "TEXT",
        "MEDIUMBLOB" => "MEDIUMTEXT",
        "LONGBLOB" => "LONGTEXT",
        other => other,
    };
    if text_name != name && is_text(ty) {
        text_name.to_string()
    } else {
        name.to_string()
    }
}

fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn naive_iso(dt: &NaiveDateTime) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

/// `TIME` as MySQL prints it (`-01:02:03`, `838:59:59.5`).
fn mysql_time(t: &MySqlTime) -> String {
    // Not `MySqlTime::is_negative`, which sqlx 0.9 inverts.
    let sign = if t.sign().is_negative() { "-" } else { "" };
    let mut s = format!(
        "{sign}{:02}:{:02}:{:02}",
        t.hours(),
        t.minutes(),
        t.seconds()
    );
    if t.microseconds() != 0 {
        let frac = format!("{:06}", t.microseconds());
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s
}

/// One value as JSON; a placeholder if it cannot be read (e.g. MySQL's
/// zero date `0000-00-00`, which no calendar type can hold).
fn cell(row: &MySqlRow, i: usize, ty: &MySqlTypeInfo) -> Value {
    match row.try_get_raw(i) {
        Ok(raw) if raw.is_null() => return Value::Null,
        Ok(_) => {}
        Err(_) => return placeholder(ty),
    }
    decode(row, i, ty).unwrap_or_else(|| {
        // Whatever it is, its text (if any) beats nothing.
        row.try_get_unchecked::<String, _>(i)
            .map(Value::String)
            .unwrap_or_else(|_| placeholder(ty))
    })
}

fn placeholder(ty: &MySqlTypeInfo) -> Value {
    Value::String(format!("<{} value not shown>", type_name(ty)))
}

fn decode(row: &MySqlRow, i: usize, ty: &MySqlTypeInfo) -> Option<Value> {
    let name = ty.name();
    Some(match name {
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
            Value::from(row.try_get_unchecked::<i64, _>(i).ok()?)
        }
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" => Value::from(row.try_get_unchecked::<u64, _>(i).ok()?),
        // Through the shortest decimal text, so FLOAT 0.1 reads 0.1.
        "FLOAT" => {
            let f = row.try_get_unchecked::<f32, _>(i).ok()?;
            float(f.to_string().parse::<f64>().unwrap_or(f64::from(f)))
        }
        "DOUBLE" => float(row.try_get_unchecked::<f64, _>(i).ok()?),
        // The binary protocol sends decimals as their exact text.
        "DECIMAL" => Value::String(row.try_get_unchecked::<String, _>(i).ok()?),
        "DATE" => Value::String(
            row.try_get_unchecked::<NaiveDate, _>(i)
                .ok()?
                .format("%Y-%m-%d")
                .to_string(),
        ),
        "DATETIME" => Value::String(naive_iso(
            &row.try_get_unchecked::<NaiveDateTime, _>(i).ok()?,
        )),
        // sqlx sets the session time zone to UTC, so TIMESTAMPs arrive in UTC.
        "TIMESTAMP" => Value::String(
            row.try_get_unchecked::<DateTime<Utc>, _>(i)
                .ok()?
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        ),
        // TIME is a duration (-838:59:59 to 838:59:59), not a time of day.
        "TIME" => Value::String(mysql_time(&row.try_get_unchecked::<MySqlTime, _>(i).ok()?)),
        "BIT" => {
            let b = row.try_get_unchecked::<Vec<u8>, _>(i).ok()?;
            if b.len() > 8 {
                return None;
            }
            Value::from(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
        }
        "JSON" => {
            let s = row.try_get_unchecked::<String, _>(i).ok()?;
            serde_json::from_str(&s).unwrap_or(Value::String(s))
        }
        "NULL" => Value::Null,
        _ if is_text(ty) => Value::String(row.try_get::<String, _>(i).ok()?),
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "GEOMETRY" => {
            Value::String(
                base64::engine::general_purpose::STANDARD
                    .encode(row.try_get_unchecked::<Vec<u8>, _>(i).ok()?),
            )
        }
        _ => Value::String(row.try_get_unchecked::<String, _>(i).ok()?),
    })
}

fn is_texty_data_type(data_type: &str) -> bool {
    matches!(
        data_type.to_ascii_lowercase().as_str(),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
    )
}

#[async_trait]
impl Connector for MySqlConnector {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    async fn introspect(&self) -> Result<SchemaInfo, ConnectorError> {
        let err = |e| exec_err(e, None);
        let tables = sqlx::query(
            "SELECT TABLE_NAME, TABLE_TYPE, TABLE_COMMENT, TABLE_ROWS, DATA_LENGTH \
             FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() \
               AND TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED') \
             ORDER BY TABLE_NAME",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        let columns = sqlx::query(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_COMMENT, DATA_TYPE \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             ORDER BY TABLE_NAME, ORDINAL_POSITION",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        let keys = sqlx::query(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, \
                    REFERENCED_COLUMN_NAME \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = DATABASE() \
               AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL) \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;

        let mut cols_by_table: BTreeMap<String, Vec<(ColumnInfo, bool)>> = BTreeMap::new();
        for r in &columns {
            let (Some(table), Some(name)) = (string(r, 0), string(r, 1)) else {
                continue;
            };
            let data_type = string(r, 2).unwrap_or_default();
            let comment = string(r, 4).filter(|c| !c.is_empty());
            let texty = string(r, 5).is_some_and(|t| is_texty_data_type(&t));
            cols_by_table.entry(table).or_default().push((
                ColumnInfo {
                    name,
                    data_type,
                    nullable: string(r, 3).as_deref() == Some("YES"),
                    comment,
                    sample_values: Vec::new(),
                },
                texty,
            ));
        }
        let mut pk_by_table: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // (table, constraint) → key; rows arrive ordered by position.
        let mut fk_by_table: BTreeMap<String, BTreeMap<String, ForeignKey>> = BTreeMap::new();
        for r in &keys {
            let (Some(table), Some(constraint), Some(column)) =
                (string(r, 0), string(r, 1), string(r, 2))
            else {
                continue;
            };
            match (string(r, 3), string(r, 4)) {
                (Some(ref_table), Some(ref_column)) => {
                    let fk = fk_by_table
                        .entry(table)
                        .or_default()
                        .entry(constraint)
                        .or_insert_with(|| ForeignKey {
                            columns: Vec::new(),
                            ref_table,
                            ref_columns: Vec::new(),
                        });
                    fk.columns.push(column);
                    fk.ref_columns.push(ref_column);
                }
                _ => pk_by_table.entry(table).or_default().push(column),
            }
        }

        let mut out = Vec::with_capacity(tables.len());
        for r in &tables {
            let Some(name) = string(r, 0) else { continue };
            let is_view = string(r, 1).as_deref() == Some("VIEW");
            let comment = string(r, 2).filter(|c| !(c.is_empty() || is_view && c == "VIEW"));
            let estimate = number(r, 3);
            let data_length = number(r, 4).unwrap_or(u64::MAX);
            let row_count = if is_view {
                None
            } else if data_length <= EXACT_COUNT_MAX_BYTES {
                let sql = format!("SELECT COUNT(*) FROM {}", quote(&name));
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                    .fetch_one(&self.pool)
                    .await
                    .ok()
                    .map(|n| n.max(0) as u64)
                    .or(estimate)
            } else {
                estimate
            };
            let mut columns = Vec::new();
            for (mut col, texty) in cols_by_table.remove(&name).unwrap_or_default() {
                // Views are not scanned: computing one may be arbitrarily expensive.
                if texty && !is_view {
                    col.sample_values = self.sample_values(&name, &col.name).await;
                }
                columns.push(col);
            }
            out.push(TableInfo {
                primary_key: pk_by_table.remove(&name).unwrap_or_default(),
                foreign_keys: fk_by_table
                    .remove(&name)
                    .map(|m| m.into_values().collect())
                    .unwrap_or_default(),
                name,
                is_view,
                columns,
                row_count,
                comment,
            });
        }
        // information_schema orders by its own collation; sort by bytes, as
        // the other connectors do.
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(SchemaInfo { tables: out })
    }

    async fn execute(
        &self,
        sql: &ValidatedSql,
        limits: ExecLimits,
    ) -> Result<ResultSet, ConnectorError> {
        let mut conn = self.pool.acquire().await.map_err(|e| exec_err(e, None))?;
        // The only way in is a `ValidatedSql`: the validator is the audit.
        let run = self.run(&mut conn, sql.sql(), limits);
        let backstop = limits.timeout.saturating_add(CLIENT_BACKSTOP);
        let result = match tokio::time::timeout(backstop, run).await {
            Ok(r) => r,
            Err(_) => {
                // The round trip itself hung: the session's state is unknown.
                conn.close_on_drop();
                return Err(ConnectorError::Timeout(limits.timeout));
            }
        };
        // The limit is per session: clear it so introspection on this pooled
        // connection is not cut short by the last query's limit.
        let reset = async {
            sqlx::query("ROLLBACK").execute(&mut *conn).await?;
            sqlx::query(AssertSqlSafe(self.statement_limit(None)))
                .execute(&mut *conn)
                .await
        };
        if reset.await.is_err() {
            conn.close_on_drop();
        }
        result
    }

    fn slots(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    async fn ping(&self) -> Result<(), ConnectorError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_backquoted() {
        assert_eq!(quote("a`b"), "`a``b`");
    }

    #[test]
    fn only_character_types_are_sampled() {
        assert!(is_texty_data_type("varchar"));
        assert!(is_texty_data_type("ENUM"));
        assert!(!is_texty_data_type("blob"));
        assert!(!is_texty_data_type("int"));
    }
}
