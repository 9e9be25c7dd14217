//! Training items (DDL, documentation, question→SQL pairs) with their
//! embeddings. The store is the source of truth; the vector index is rebuilt
//! from it on start. Every change bumps the connection's training version,
//! which is part of the generated-SQL cache key.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Page, Store, StoreError, new_id, now};
use crate::domain::TrainingKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrainingSource {
    Introspection,
    User,
    Feedback,
}

impl TrainingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Introspection => "introspection",
            Self::User => "user",
            Self::Feedback => "feedback",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "introspection" => Self::Introspection,
            "feedback" => Self::Feedback,
            _ => Self::User,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrainingStatus {
    Active,
    Pending,
}

impl TrainingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewTrainingItem {
    pub connection: String,
    pub kind: TrainingKind,
    pub content: String,
    pub sql: Option<String>,
    pub source: TrainingSource,
    pub status: TrainingStatus,
    pub embedding: Vec<f32>,
    pub embedder: String,
    pub created_by: Option<String>,
    pub query_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainingItem {
    pub id: String,
    pub connection: String,
    pub kind: TrainingKind,
    pub content: String,
    pub sql: Option<String>,
    pub source: TrainingSource,
    pub status: TrainingStatus,
    pub created_by: Option<String>,
    /// Who made a pending item active (`None`: active from the start).
    pub approved_by: Option<String>,
    pub query_id: Option<String>,
    pub created_at: String,
    #[serde(skip)]
    pub embedding: Vec<f32>,
    #[serde(skip)]
    pub embedder: Option<String>,
}

/// Filter for listing training items.
#[derive(Debug, Clone, Default)]
pub struct TrainingFilter {
    pub connection: Option<String>,
    pub kind: Option<TrainingKind>,
    pub status: Option<TrainingStatus>,
    /// Case-insensitive substring of content or SQL.
    pub search: Option<String>,
}

/// Stable dedupe key: whitespace-collapsed, lower-cased content and SQL.
pub fn content_hash(content: &str, sql: Option<&str>) -> String {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let text = format!(
        "{}\u{1f}{}",
        norm(content),
        sql.map(norm).unwrap_or_default()
    );
    // FNV-1a 64, twice with different offsets: 128 bits, stable across builds.
    let fnv = |seed: u64| {
        let mut h = seed;
        for b in text.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        h
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

fn encode(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn decode(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

const COLUMNS: &str = "id, connection, kind, content, sql, source, status, created_by, approved_by, \
    query_id, created_at, embedding, embedder";

fn from_row(r: &AnyRow) -> Result<TrainingItem, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    Ok(TrainingItem {
        id: r.try_get("id")?,
        connection: r.try_get("connection")?,
        kind: TrainingKind::parse(&kind).unwrap_or(TrainingKind::Documentation),
        content: r.try_get("content")?,
        sql: r.try_get("sql")?,
        source: TrainingSource::parse(&r.try_get::<String, _>("source")?),
        status: if status == "pending" {
            TrainingStatus::Pending
        } else {
            TrainingStatus::Active
        },
        created_by: r.try_get("created_by")?,
        approved_by: r.try_get("approved_by")?,
        query_id: r.try_get("query_id")?,
        created_at: r.try_get("created_at")?,
        embedding: r
            .try_get::<Option<Vec<u8>>, _>("embedding")?
            .map(|b| decode(&b))
            .unwrap_or_default(),
        embedder: r.try_get("embedder")?,
    })
}

impl Store {
    /// Insert an item; an identical item (same connection, kind and content)
    /// is not duplicated: the existing one is returned with `false`. A pending
    /// duplicate becomes active when the new one is active.
    pub async fn insert_training(
        &self,
        item: &NewTrainingItem,
    ) -> Result<(TrainingItem, bool), StoreError> {
        let hash = content_hash(&item.content, item.sql.as_deref());
        let mut tx = self.write_tx().await?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT id FROM training_items WHERE connection = $1 AND kind = $2 AND content_hash = $3",
        )
        .bind(&item.connection)
        .bind(item.kind.as_str())
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        let (id, created) = match existing {
            Some(id) => {
                if item.status == TrainingStatus::Active {
                    sqlx::query("UPDATE training_items SET status = 'active' WHERE id = $1")
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                }
                (id, false)
            }
            None => {
                let id = new_id();
                sqlx::query(
                    "INSERT INTO training_items (id, connection, kind, content, sql, source, status, \
                     content_hash, embedding, embedder, created_by, query_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&id)
                .bind(&item.connection)
                .bind(item.kind.as_str())
                .bind(&item.content)
                .bind(&item.sql)
                .bind(item.source.as_str())
                .bind(item.status.as_str())
                .bind(&hash)
                .bind(encode(&item.embedding))
                .bind(&item.embedder)
                .bind(&item.created_by)
                .bind(&item.query_id)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                (id, true)
            }
        };
        bump_version(&mut tx, &item.connection).await?;
        tx.commit().await?;
        self.training_cache.changed();
        Ok((self.get_training(&id).await?, created))
    }

    pub async fn get_training(&self, id: &str) -> Result<TrainingItem, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM training_items WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(from_row(&row)?)
    }

    /// Items by id, in the order of `ids` (missing ids are skipped).
    pub async fn get_training_many(&self, ids: &[String]) -> Result<Vec<TrainingItem>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = super::placeholders(1, ids.len());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM training_items WHERE id IN ({placeholders})"
        )));
        for id in ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.pool()).await?;
        let mut items: Vec<TrainingItem> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
        items.sort_by_key(|i| ids.iter().position(|x| *x == i.id).unwrap_or(usize::MAX));
        Ok(items)
    }

    pub async fn list_training(
        &self,
        filter: &TrainingFilter,
        page: Page,
    ) -> Result<(Vec<TrainingItem>, u64), StoreError> {
        let search = filter
            .search
            .as_ref()
            .map(|s| format!("%{}%", s.to_lowercase()));
        let where_clause = "WHERE ($1 IS NULL OR connection = $1) AND ($2 IS NULL OR kind = $2) \
            AND ($3 IS NULL OR status = $3) \
            AND ($4 IS NULL OR lower(content) LIKE $4 OR lower(coalesce(sql, '')) LIKE $4)";
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM training_items {where_clause} \
             ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6"
        )))
        .bind(&filter.connection)
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.status.map(|s| s.as_str()))
        .bind(&search)
        .bind(page.limit as i64)
        .bind(page.offset as i64)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM training_items {where_clause}"
        )))
        .bind(&filter.connection)
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.status.map(|s| s.as_str()))
        .bind(&search)
        .fetch_one(self.pool())
        .await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((items, total.max(0) as u64))
    }

    /// Every active item with its embedding, for rebuilding the vector index.
    pub async fn active_training(&self) -> Result<Vec<TrainingItem>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM training_items WHERE status = 'active'"
        )))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?)
    }

    /// Active items of one connection, for a replica re-syncing its index.
    pub async fn active_training_for(
        &self,
        connection: &str,
    ) -> Result<Vec<TrainingItem>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM training_items WHERE status = 'active' AND connection = $1"
        )))
        .bind(connection)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?)
    }

    /// Every connection's training version.
    pub async fn training_versions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT connection, version FROM training_versions ORDER BY connection")
                .fetch_all(self.pool())
                .await?,
        )
    }

    pub async fn delete_training(&self, id: &str) -> Result<TrainingItem, StoreError> {
        let item = self.get_training(id).await?;
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM training_items WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        bump_version(&mut tx, &item.connection).await?;
        tx.commit().await?;
        self.training_cache.changed();
        Ok(item)
    }

    /// Every item `user_id` authored, newest first.
    pub async fn training_by_author(&self, user_id: &str) -> Result<Vec<TrainingItem>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM training_items WHERE created_by = $1 \
             ORDER BY created_at DESC, id DESC"
        )))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?)
    }

    /// Delete every item `user_id` authored (one transaction); returns them.
    pub async fn delete_training_by_author(
        &self,
        user_id: &str,
    ) -> Result<Vec<TrainingItem>, StoreError> {
        let items = self.training_by_author(user_id).await?;
        if items.is_empty() {
            return Ok(items);
        }
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM training_items WHERE created_by = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let connections: std::collections::BTreeSet<&str> =
            items.iter().map(|i| i.connection.as_str()).collect();
        for c in connections {
            bump_version(&mut tx, c).await?;
        }
        tx.commit().await?;
        self.training_cache.changed();
        Ok(items)
    }

    /// Make a pending item active, recording who approved it.
    pub async fn approve_training(
        &self,
        id: &str,
        approver: Option<&str>,
    ) -> Result<TrainingItem, StoreError> {
        let item = self.get_training(id).await?;
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE training_items SET status = 'active', approved_by = $2 WHERE id = $1")
            .bind(id)
            .bind(approver)
            .execute(&mut *tx)
            .await?;
        bump_version(&mut tx, &item.connection).await?;
        tx.commit().await?;
        self.training_cache.changed();
        self.get_training(id).await
    }

    /// Replace a connection's introspected DDL items with `items` (unchanged
    /// ones keep their id). Returns (added, removed) ids.
    pub async fn sync_introspected_ddl(
        &self,
        connection: &str,
        items: Vec<NewTrainingItem>,
    ) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let mut tx = self.write_tx().await?;
        let existing: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, content_hash FROM training_items \
             WHERE connection = $1 AND kind = 'ddl' AND source = 'introspection'",
        )
        .bind(connection)
        .fetch_all(&mut *tx)
        .await?;
        let wanted: Vec<(String, NewTrainingItem)> = items
            .into_iter()
            .map(|i| (content_hash(&i.content, i.sql.as_deref()), i))
            .collect();
        let mut removed = Vec::new();
        for (id, hash) in &existing {
            if !wanted.iter().any(|(h, _)| h == hash) {
                sqlx::query("DELETE FROM training_items WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                removed.push(id.clone());
            }
        }
        let mut added = Vec::new();
        for (hash, item) in wanted {
            if existing.iter().any(|(_, h)| *h == hash) {
                continue;
            }
            let id = new_id();
            // A user may have trained the same DDL by hand: keep theirs.
            let res = sqlx::query(
                "INSERT INTO training_items (id, connection, kind, content, sql, source, \
                 status, content_hash, embedding, embedder, created_by, query_id, created_at) \
                 VALUES ($1, $2, 'ddl', $3, NULL, 'introspection', 'active', $4, $5, $6, NULL, NULL, $7) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&id)
            .bind(connection)
            .bind(&item.content)
            .bind(&hash)
            .bind(encode(&item.embedding))
            .bind(&item.embedder)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            if res.rows_affected() > 0 {
                added.push(id);
            }
        }
        if !added.is_empty() || !removed.is_empty() {
            bump_version(&mut tx, connection).await?;
        }
        tx.commit().await?;
        if !added.is_empty() || !removed.is_empty() {
            self.training_cache.changed();
        }
        Ok((added, removed))
    }

    /// Store a re-computed embedding (after a change of embedder).
    pub async fn set_training_embedding(
        &self,
        id: &str,
        embedding: &[f32],
        embedder: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE training_items SET embedding = $1, embedder = $2 WHERE id = $3")
            .bind(encode(embedding))
            .bind(embedder)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Monotonic counter of training changes for `connection`.
    pub async fn training_version(&self, connection: &str) -> Result<i64, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT version FROM training_versions WHERE connection = $1")
                .bind(connection)
                .fetch_optional(self.pool())
                .await?;
        Ok(v.unwrap_or(0))
    }
}

pub(super) async fn bump_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    connection: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO training_versions (connection, version) VALUES ($1, 1) \
         ON CONFLICT (connection) DO UPDATE SET version = training_versions.version + 1",
    )
    .bind(connection)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// Tested by the store suite (tests/it/store.rs), on SQLite and PostgreSQL.
