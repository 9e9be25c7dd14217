//! The uploads database: one SQLite file under the data dir
//! (`<data_dir>/uploads.db`), registered read-only as the connection
//! `uploads` like any other (introspected, trained, gated), and written only
//! here, when a CSV file becomes a table.
//!
//! A table is created and filled in one transaction (`BEGIN IMMEDIATE`), so
//! a failure leaves nothing half-imported; writes are serialised by a lock
//! (one writer). Identifiers reach SQL only as names that
//! [`sanitize_identifier`] produced (`[a-z0-9_]`, quoted as well); values
//! are always bound.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, Row as _};

use super::ConnectorError;

/// The connection's id.
pub const CONNECTION: &str = "uploads";
/// Longest table or column name kept.
pub const MAX_IDENTIFIER: usize = 63;
/// SQLite's default limit of bound values per statement is 32766; stay
/// well below it per multi-row `INSERT`.
const MAX_BOUND: usize = 30_000;

/// A column's type, inferred from every value of the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Integer,
    Real,
    /// ISO dates (`YYYY-MM-DD`), stored as text with the declared type `DATE`.
    Date,
    Text,
}

impl ColumnType {
    pub fn sql(self) -> &'static str {
        match self {
            ColumnType::Integer => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Date => "DATE",
            ColumnType::Text => "TEXT",
        }
    }
}

/// One value to insert (`Null` for an empty field).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

/// A table to create: sanitised names, typed columns, typed rows.
#[derive(Debug, Clone)]
pub struct NewTable {
    pub name: String,
    pub columns: Vec<(String, ColumnType)>,
    pub rows: Vec<Vec<Cell>>,
}

/// `name` as a plain SQL identifier: lower-case ASCII letters, digits and
/// `_` (anything else becomes `_`, runs collapse), not starting with a
/// digit, not an SQL keyword, at most [`MAX_IDENTIFIER`] characters.
/// `None` when nothing usable is left.
pub fn sanitize_identifier(name: &str) -> Option<String> {
    let mut out = String::new();
    for ch in name.trim().chars() {
        let c = ch.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let mut out = out.trim_matches('_').to_string();
    if out.is_empty() {
        return None;
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "t_");
    }
    if out.starts_with("sqlite_") || RESERVED.contains(&out.as_str()) {
        out.push_str("_col");
    }
    out.truncate(MAX_IDENTIFIER);
    Some(out.trim_end_matches('_').to_string())
}

/// Words a generator would have to quote; a name equal to one gets `_col`.
const RESERVED: &[&str] = &[
    "all",
    "and",
    "as",
    "asc",
    "between",
    "by",
    "case",
    "cast",
    "create",
    "cross",
    "delete",
    "desc",
    "distinct",
    "drop",
    "else",
    "end",
    "except",
    "exists",
    "from",
    "full",
    "group",
    "having",
    "in",
    "index",
    "inner",
    "insert",
    "intersect",
    "into",
    "is",
    "join",
    "key",
    "left",
    "like",
    "limit",
    "not",
    "null",
    "offset",
    "on",
    "or",
    "order",
    "outer",
    "primary",
    "references",
    "right",
    "select",
    "set",
    "table",
    "then",
    "union",
    "update",
    "using",
    "values",
    "when",
    "where",
    "with",
];

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn err(e: sqlx::Error) -> ConnectorError {
    ConnectorError::Execution(e.to_string())
}

/// The writer of the uploads database.
#[derive(Debug)]
pub struct UploadsDb {
    path: PathBuf,
    /// Largest CSV file accepted, bytes (`uploads.max_bytes`).
    pub max_bytes: u64,
    write: tokio::sync::Mutex<()>,
}

impl UploadsDb {
    /// Create the file if it is missing (the read-only connection needs it).
    pub async fn open(path: &Path, max_bytes: u64) -> Result<Self, ConnectorError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| ConnectorError::Unavailable(format!("{}: {e}", parent.display())))?;
        }
        let db = Self {
            path: path.to_path_buf(),
            max_bytes,
            write: tokio::sync::Mutex::new(()),
        };
        let mut conn = db.connect().await?;
        sqlx::query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(err)?;
        conn.close().await.map_err(err)?;
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn connect(&self) -> Result<SqliteConnection, ConnectorError> {
        SqliteConnectOptions::new()
            .filename(&self.path)
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10))
            .disable_statement_logging()
            .connect()
            .await
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))
    }

    /// Whether table `name` exists.
    pub async fn exists(&self, name: &str) -> Result<bool, ConnectorError> {
        let mut conn = self.connect().await?;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1",
        )
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .map_err(err)?;
        Ok(n > 0)
    }

    /// Create (or, with `replace`, re-create) `table` and fill it, all in one
    /// transaction. Returns whether an existing table was replaced;
    /// `Ok(None)` when it exists and `replace` is false (nothing changed).
    pub async fn create(
        &self,
        table: &NewTable,
        replace: bool,
    ) -> Result<Option<bool>, ConnectorError> {
        let _one_writer = self.write.lock().await;
        let mut conn = self.connect().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
        let existed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1",
        )
        .bind(&table.name)
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
        if existed > 0 && !replace {
            return Ok(None);
        }
        let name = quote(&table.name);
        sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let cols: Vec<String> = table
            .columns
            .iter()
            .map(|(c, t)| format!("{} {}", quote(c), t.sql()))
            .collect();
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE {name} ({})",
            cols.join(", ")
        )))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let width = table.columns.len().max(1);
        let per_statement = (MAX_BOUND / width).max(1);
        for chunk in table.rows.chunks(per_statement) {
            let row = format!("({})", vec!["?"; width].join(", "));
            let sql = format!(
                "INSERT INTO {name} VALUES {}",
                vec![row.as_str(); chunk.len()].join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for cell in chunk.iter().flatten() {
                q = match cell {
                    Cell::Null => q.bind(None::<String>),
                    Cell::Integer(i) => q.bind(*i),
                    Cell::Real(f) => q.bind(*f),
                    Cell::Text(s) => q.bind(s.clone()),
                };
            }
            q.execute(&mut *tx).await.map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(Some(existed > 0))
    }

    /// Drop table `name`; `false` when there was none.
    pub async fn drop_table(&self, name: &str) -> Result<bool, ConnectorError> {
        let _one_writer = self.write.lock().await;
        if !self.exists(name).await? {
            return Ok(false);
        }
        let mut conn = self.connect().await?;
        sqlx::query(AssertSqlSafe(format!("DROP TABLE {}", quote(name))))
            .execute(&mut conn)
            .await
            .map_err(err)?;
        Ok(true)
    }

    /// Rows in table `name` (for the upload's answer).
    pub async fn count_rows(&self, name: &str) -> Result<u64, ConnectorError> {
        let mut conn = self.connect().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {}",
            quote(name)
        )))
        .fetch_one(&mut conn)
        .await
        .map_err(err)?;
        let n: i64 = row.try_get("n").map_err(err)?;
        Ok(n.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_plain_lower_case_and_never_keywords() {
        assert_eq!(
            sanitize_identifier("Sales 2024.csv").unwrap(),
            "sales_2024_csv"
        );
        assert_eq!(sanitize_identifier("  Order Date ").unwrap(), "order_date");
        assert_eq!(sanitize_identifier("2024 sales").unwrap(), "t_2024_sales");
        assert_eq!(sanitize_identifier("order").unwrap(), "order_col");
        assert_eq!(
            sanitize_identifier("sqlite_master").unwrap(),
            "sqlite_master_col"
        );
        assert_eq!(
            sanitize_identifier("x\"; DROP TABLE y; --").unwrap(),
            "x_drop_table_y"
        );
        assert!(sanitize_identifier("€€ --").is_none());
        assert_eq!(
            sanitize_identifier(&"a".repeat(100)).unwrap().len(),
            MAX_IDENTIFIER
        );
    }

    #[tokio::test]
    async fn a_failed_insert_leaves_no_table_behind() {
        let dir = tempfile::tempdir().unwrap();
        let db = UploadsDb::open(&dir.path().join("uploads.db"), 1 << 20)
            .await
            .unwrap();
        let good = NewTable {
            name: "t".into(),
            columns: vec![("a".into(), ColumnType::Integer)],
            rows: vec![vec![Cell::Integer(1)], vec![Cell::Null]],
        };
        assert_eq!(db.create(&good, false).await.unwrap(), Some(false));
        assert_eq!(db.count_rows("t").await.unwrap(), 2);
        assert_eq!(db.create(&good, false).await.unwrap(), None);
        // A replacement that fails after the old table was dropped (two
        // columns of one name) rolls back: the old table is still whole.
        let bad = NewTable {
            name: "t".into(),
            columns: vec![
                ("a".into(), ColumnType::Integer),
                ("a".into(), ColumnType::Text),
            ],
            rows: vec![vec![Cell::Integer(7), Cell::Null]],
        };
        assert!(db.create(&bad, true).await.is_err());
        assert_eq!(db.count_rows("t").await.unwrap(), 2);
        assert!(db.drop_table("t").await.unwrap());
        assert!(!db.exists("t").await.unwrap());
    }
}
