//! Backend-neutral copies of the store: a snapshot of the SQLite file, the
//! facts `pg_dump` needs, and the rows of the portable JSON export (training
//! items, feedback and the questions the feedback is about, conversations
//! with their turns, saved questions and dashboards with their tiles),
//! written and read column by column so they round-trip between SQLite and
//! PostgreSQL.

use serde_json::{Map, Value};
use sqlx::Row;

use super::{Backend, Store, StoreError};

#[derive(Clone, Copy)]
enum Col {
    Text(&'static str),
    Int(&'static str),
    /// A text column added after the first export format, `NOT NULL` with
    /// this default: an older export that lacks it still imports.
    TextOr(&'static str, &'static str),
}

impl Col {
    fn name(self) -> &'static str {
        match self {
            Col::Text(n) | Col::Int(n) | Col::TextOr(n, _) => n,
        }
    }
}

/// A table of the export and the columns it carries. Embeddings are not
/// exported: the importing service computes them with its own embedder.
struct Table {
    name: &'static str,
    cols: &'static [Col],
    /// Which rows; `1 = 1` for all.
    filter: &'static str,
    /// The order rows are exported in (oldest first).
    order: &'static str,
    /// Columns that must name an existing row of another table (column,
    /// table, its key) for a row to be imported; rows whose parent is
    /// missing on the importing side are skipped and counted. Users are not
    /// exported, so a row owned by a user who does not exist there is one.
    parents: &'static [(&'static str, &'static str, &'static str)],
}

const QUERIES: Table = Table {
    name: "queries",
    cols: &[
        Col::Text("id"),
        Col::Text("user_id"),
        Col::Text("connection"),
        Col::Text("question"),
        Col::Text("sql"),
        Col::Text("status"),
        Col::Text("error_code"),
        Col::Text("error_message"),
        Col::Int("row_count"),
        Col::Int("truncated"),
        Col::Text("tables_json"),
        Col::Text("sources_json"),
        Col::Text("timings_json"),
        Col::Text("provider"),
        Col::Text("model"),
        Col::Text("strategy"),
        Col::Int("prompt_tokens"),
        Col::Int("completion_tokens"),
        Col::Int("attempts"),
        Col::Text("correlation_id"),
        Col::Text("created_at"),
        // Migration 0008: how sure the generator was and what it assumed.
        Col::Text("confidence"),
        Col::TextOr("assumptions_json", "[]"),
    ],
    filter: "id IN (SELECT query_id FROM feedback)",
    order: "created_at, id",
    parents: &[],
};

const FEEDBACK: Table = Table {
    name: "feedback",
    cols: &[
        Col::Text("id"),
        Col::Text("query_id"),
        Col::Text("user_id"),
        Col::Text("rating"),
        Col::Text("corrected_sql"),
        Col::Text("comment"),
        Col::Text("status"),
        Col::Text("training_item_id"),
        Col::Text("created_at"),
    ],
    filter: "1 = 1",
    order: "created_at, id",
    parents: &[],
};

/// Introspected DDL is not exported: the importing service introspects its
/// own connections.
const TRAINING: Table = Table {
    name: "training_items",
    cols: &[
        Col::Text("id"),
        Col::Text("connection"),
        Col::Text("kind"),
        Col::Text("content"),
        Col::Text("sql"),
        Col::Text("source"),
        Col::Text("status"),
        Col::Text("content_hash"),
        Col::Text("created_by"),
        Col::Text("query_id"),
        Col::Text("created_at"),
    ],
    filter: "source <> 'introspection'",
    order: "created_at, id",
    parents: &[],
};

/// Conversations travel whole. A turn's `query_id` names a history record,
/// which is exported only when it has feedback (as for every question); like
/// `user_id`, it is a plain reference that may point at nothing on the
/// importing side.
const CONVERSATIONS: Table = Table {
    name: "conversations",
    cols: &[
        Col::Text("id"),
        Col::Text("user_id"),
        Col::Text("created_at"),
        Col::Text("updated_at"),
    ],
    filter: "1 = 1",
    order: "created_at, id",
    parents: &[],
};

const TURNS: Table = Table {
    name: "conversation_turns",
    cols: &[
        Col::Text("conversation_id"),
        Col::Int("seq"),
        Col::Text("query_id"),
        Col::Text("question"),
        Col::Text("standalone_question"),
        Col::Text("created_at"),
    ],
    filter: "1 = 1",
    order: "conversation_id, seq",
    parents: &[],
};

/// Saved questions and dashboards (migration 0009) keep their owner and
/// share token: on the importing side they belong to the user with the
/// same id, and are skipped when there is none (a foreign key requires one).
const SAVED: Table = Table {
    name: "saved_questions",
    cols: &[
        Col::Text("id"),
        Col::Text("user_id"),
        Col::Text("title"),
        Col::Text("question"),
        Col::Text("sql"),
        Col::Text("connection"),
        Col::TextOr("chart", "auto"),
        Col::Text("share_token"),
        Col::Text("created_at"),
        Col::Text("updated_at"),
    ],
    filter: "1 = 1",
    order: "created_at, id",
    parents: &[("user_id", "users", "id")],
};

const DASHBOARDS: Table = Table {
    name: "dashboards",
    cols: &[
        Col::Text("id"),
        Col::Text("user_id"),
        Col::Text("title"),
        Col::Text("share_token"),
        Col::Text("created_at"),
        Col::Text("updated_at"),
    ],
    filter: "1 = 1",
    order: "created_at, id",
    parents: &[("user_id", "users", "id")],
};

const TILES: Table = Table {
    name: "dashboard_tiles",
    cols: &[
        Col::Text("dashboard_id"),
        Col::Text("saved_id"),
        Col::Int("position"),
    ],
    filter: "1 = 1",
    order: "dashboard_id, position",
    parents: &[
        ("dashboard_id", "dashboards", "id"),
        ("saved_id", "saved_questions", "id"),
    ],
};

/// The exported rows, table by table, oldest first. Tables added after the
/// first export format default to empty, so an older export still reads.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExportRows {
    pub training_items: Vec<Map<String, Value>>,
    pub feedback: Vec<Map<String, Value>>,
    pub queries: Vec<Map<String, Value>>,
    #[serde(default)]
    pub conversations: Vec<Map<String, Value>>,
    #[serde(default)]
    pub conversation_turns: Vec<Map<String, Value>>,
    #[serde(default)]
    pub saved_questions: Vec<Map<String, Value>>,
    #[serde(default)]
    pub dashboards: Vec<Map<String, Value>>,
    #[serde(default)]
    pub dashboard_tiles: Vec<Map<String, Value>>,
}

/// How many rows an import added (rows already present are skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    pub training_items: u64,
    pub feedback: u64,
    pub queries: u64,
    pub conversations: u64,
    pub conversation_turns: u64,
    pub saved_questions: u64,
    pub dashboards: u64,
    pub dashboard_tiles: u64,
    /// Rows not imported because what they belong to is missing here (the
    /// owner of a saved question or dashboard, the dashboard or saved
    /// question of a tile).
    pub skipped: u64,
}

impl Store {
    pub async fn export_rows(&self) -> Result<ExportRows, StoreError> {
        Ok(ExportRows {
            training_items: self.export_table(&TRAINING).await?,
            feedback: self.export_table(&FEEDBACK).await?,
            queries: self.export_table(&QUERIES).await?,
            conversations: self.export_table(&CONVERSATIONS).await?,
            conversation_turns: self.export_table(&TURNS).await?,
            saved_questions: self.export_table(&SAVED).await?,
            dashboards: self.export_table(&DASHBOARDS).await?,
            dashboard_tiles: self.export_table(&TILES).await?,
        })
    }

    async fn export_table(&self, t: &Table) -> Result<Vec<Map<String, Value>>, StoreError> {
        let cols: Vec<&str> = t.cols.iter().map(|c| c.name()).collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {}",
            cols.join(", "),
            t.name,
            t.filter,
            t.order
        )))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut m = Map::new();
            for c in t.cols {
                let v = match c {
                    Col::Text(n) | Col::TextOr(n, _) => {
                        r.try_get::<Option<String>, _>(*n)?.map(Value::String)
                    }
                    Col::Int(n) => r.try_get::<Option<i64>, _>(*n)?.map(Value::from),
                };
                m.insert(c.name().to_string(), v.unwrap_or(Value::Null));
            }
            out.push(m);
        }
        Ok(out)
    }

    /// Insert exported rows in one transaction, skipping rows whose key
    /// exists (a conversation's turn: its conversation and number). Returns
    /// the ids of the training items that were added (they need embeddings)
    /// and the counts. A turn whose conversation is not in `rows` is refused:
    /// the export is not whole.
    pub async fn import_rows(
        &self,
        rows: &ExportRows,
    ) -> Result<(Vec<String>, ImportCounts), StoreError> {
        let conversations: std::collections::BTreeSet<&str> = rows
            .conversations
            .iter()
            .filter_map(|c| c.get("id").and_then(Value::as_str))
            .collect();
        for turn in &rows.conversation_turns {
            let id = turn.get("conversation_id").and_then(Value::as_str);
            if !id.is_some_and(|id| conversations.contains(id)) {
                return Err(StoreError::Conflict(format!(
                    "conversation_turns: the conversation of a turn ({}) is not in the export",
                    id.unwrap_or("none")
                )));
            }
        }
        let mut tx = self.write_tx().await?;
        let mut counts = ImportCounts::default();
        let mut added_training = Vec::new();
        for (t, list) in [
            (&QUERIES, &rows.queries),
            (&FEEDBACK, &rows.feedback),
            (&TRAINING, &rows.training_items),
            (&CONVERSATIONS, &rows.conversations),
            (&TURNS, &rows.conversation_turns),
            (&SAVED, &rows.saved_questions),
            (&DASHBOARDS, &rows.dashboards),
            (&TILES, &rows.dashboard_tiles),
        ] {
            let cols: Vec<&str> = t.cols.iter().map(|c| c.name()).collect();
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
                t.name,
                cols.join(", "),
                super::placeholders(1, cols.len())
            );
            for row in list {
                if !parents_exist(&mut tx, t, row).await? {
                    counts.skipped += 1;
                    continue;
                }
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for c in t.cols {
                    let v = row.get(c.name()).unwrap_or(&Value::Null);
                    q = match (c, v) {
                        (_, Value::Null) => match c {
                            Col::Text(_) => q.bind(None::<String>),
                            Col::Int(_) => q.bind(None::<i64>),
                            Col::TextOr(_, default) => q.bind(default.to_string()),
                        },
                        (Col::Text(_) | Col::TextOr(..), Value::String(s)) => q.bind(s.clone()),
                        (Col::Int(_), Value::Number(n)) if n.is_i64() => q.bind(n.as_i64()),
                        (c, v) => {
                            return Err(StoreError::Conflict(format!(
                                "{}.{}: unexpected value {v}",
                                t.name,
                                c.name()
                            )));
                        }
                    };
                }
                let done = q.execute(&mut *tx).await?;
                let n = done.rows_affected();
                match t.name {
                    "queries" => counts.queries += n,
                    "feedback" => counts.feedback += n,
                    "conversations" => counts.conversations += n,
                    "conversation_turns" => counts.conversation_turns += n,
                    "saved_questions" => counts.saved_questions += n,
                    "dashboards" => counts.dashboards += n,
                    "dashboard_tiles" => counts.dashboard_tiles += n,
                    _ => {
                        counts.training_items += n;
                        if n > 0
                            && let Some(Value::String(id)) = row.get("id")
                        {
                            added_training.push(id.clone());
                        }
                    }
                }
            }
        }
        // Every connection that got items: bump its training version.
        let mut connections: Vec<&str> = rows
            .training_items
            .iter()
            .filter_map(|r| r.get("connection").and_then(Value::as_str))
            .collect();
        connections.sort_unstable();
        connections.dedup();
        if !added_training.is_empty() {
            for c in connections {
                super::training::bump_version(&mut tx, c).await?;
            }
        }
        tx.commit().await?;
        if !added_training.is_empty() {
            self.training_cache().changed();
        }
        Ok((added_training, counts))
    }

    /// Write a consistent copy of a SQLite store to `path` (`VACUUM INTO`),
    /// while the service keeps running.
    pub async fn sqlite_snapshot(&self, path: &std::path::Path) -> Result<(), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Database("not a SQLite store".into()));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().into_owned())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The PostgreSQL schema the store's tables live in.
    pub async fn current_schema(&self) -> Result<String, StoreError> {
        Ok(sqlx::query_scalar("SELECT CAST(current_schema() AS TEXT)")
            .fetch_one(self.pool())
            .await?)
    }

    /// The PostgreSQL server's `server_version_num` (e.g. 170002 for 17.2),
    /// so backups can check that `pg_dump` is new enough to dump it.
    pub async fn server_version_num(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT CAST(current_setting('server_version_num') AS BIGINT)")
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Whether the store holds no tables at all (a restore target).
    pub async fn has_no_tables(&self) -> Result<bool, StoreError> {
        let n: i64 = match self.backend() {
            Backend::Sqlite => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%'",
                )
                .fetch_one(self.pool())
                .await?
            }
            Backend::Postgres => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = current_schema()",
                )
                .fetch_one(self.pool())
                .await?
            }
        };
        Ok(n == 0)
    }
}

/// Whether every parent `row` names (see [`Table::parents`]) exists.
async fn parents_exist(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    t: &Table,
    row: &Map<String, Value>,
) -> Result<bool, StoreError> {
    for (col, parent, key) in t.parents {
        let Some(id) = row.get(*col).and_then(Value::as_str) else {
            return Ok(false);
        };
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {parent} WHERE {key} = $1"
        )))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        if n == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}
