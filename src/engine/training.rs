//! Learning: training items in, feedback turned into training, and the
//! vector index kept in step with the app store.
//!
//! The store is the source of truth. Every write goes to the store first and
//! then to the index; on start the index is rebuilt from the store (vectors
//! made by another embedder are recomputed).

use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::pipeline::{Engine, PipelineError, RequestContext};
use crate::auth::Identity;
use crate::auth::roles::Action;
use crate::config::FeedbackMode;
use crate::connectors::ConnectionHandle;
use crate::domain::{ConnectionId, TrainingKind};
use crate::engine::grant;
use crate::engine::retrieval::{IndexEntry, IndexError};
use crate::sql;
use crate::store::training::TrainingFilter;
use crate::store::{
    FeedbackRecord, FeedbackStatus, NewFeedback, NewTrainingItem, Page, QueryStatus, StoreError,
    TrainingItem, TrainingSource, TrainingStatus,
};

/// A training item as submitted through the API or the CLI.
#[derive(Debug, Clone)]
pub struct TrainingInput {
    pub kind: TrainingKind,
    pub content: String,
    pub sql: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    Up,
    Down,
}

#[derive(Debug, Clone)]
pub struct FeedbackInput {
    pub rating: Rating,
    pub corrected_sql: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedbackOutcome {
    pub feedback: FeedbackRecord,
    pub training_item: Option<TrainingItem>,
}

const MAX_CONTENT: usize = 100_000;

/// The schema and validator policy of `conn` for a caller limited to
/// `allowed` tables.
fn limited_view(
    conn: &ConnectionHandle,
    allowed: &[String],
) -> (std::sync::Arc<crate::domain::SchemaInfo>, sql::SqlPolicy) {
    let rc = RequestContext {
        allowed_tables: Some(allowed.to_vec()),
        ..Default::default()
    };
    (conn.schema(), rc.policy(conn))
}

/// Items read per store query when a limited caller's list is filtered.
const SCAN_PAGE: u32 = 500;

impl Engine {
    pub(super) async fn index_item(&self, item: &TrainingItem) -> Result<(), PipelineError> {
        if item.status != TrainingStatus::Active {
            return Ok(());
        }
        let vector = if self.is_current(item) {
            item.embedding.clone()
        } else {
            self.embedder
                .embed_one(&embed_text(item.kind, &item.content, item.sql.as_deref()))
                .await
                .map_err(IndexError::from)?
        };
        self.index
            .upsert(IndexEntry {
                id: item.id.clone(),
                connection: item.connection.clone(),
                kind: item.kind,
                vector,
            })
            .await?;
        Ok(())
    }

    /// Add a training item after checking it: `question_sql` needs SQL that
    /// validates against the connection.
    #[instrument(skip_all, fields(connection.id, training.kind = %input.kind))]
    pub async fn add_training(
        &self,
        connection: Option<&ConnectionId>,
        input: TrainingInput,
        source: TrainingSource,
        status: TrainingStatus,
        rc: &RequestContext,
    ) -> Result<(TrainingItem, bool), PipelineError> {
        let conn = self.connection(connection)?;
        tracing::Span::current().record("connection.id", conn.id.as_str());
        let content = input.content.trim().to_string();
        if content.is_empty() {
            return Err(PipelineError::BadInput("content is empty".into()));
        }
        if content.len() > MAX_CONTENT {
            return Err(PipelineError::BadInput(format!(
                "content is longer than {MAX_CONTENT} bytes"
            )));
        }
        let sql_text = match (input.kind, input.sql.as_deref().map(str::trim)) {
            // The caller's grant, not the connection's policy: an analyst
            // limited to some tables cannot teach SQL over the others.
            (TrainingKind::QuestionSql, Some(s)) if !s.is_empty() => {
                let v = self.gate_audited(rc, &conn, s, "training").await?;
                Some(strip_enforced_limit(s, v.sql()))
            }
            (TrainingKind::QuestionSql, _) => {
                return Err(PipelineError::BadInput(
                    "a question_sql item needs `sql`".into(),
                ));
            }
            (_, Some(s)) if !s.is_empty() => {
                return Err(PipelineError::BadInput(format!(
                    "a {} item takes no `sql`",
                    input.kind
                )));
            }
            _ => None,
        };
        if input.kind != TrainingKind::QuestionSql {
            let policy = rc.policy(&conn);
            let schema = conn.schema();
            if let Some(sight) = grant::Sight::new(&schema, conn.dialect, &policy)
                && !sight.shows(input.kind, &content, None)
            {
                // Worded like the validator's answer for a missing table, so
                // a limited caller learns nothing about hidden ones.
                return Err(PipelineError::Rejected(sql::ValidationError::new(
                    sql::RejectCode::UnknownTable,
                    "The item names a table that does not exist in this connection's schema.",
                )));
            }
        }
        let embedding = self
            .embedder
            .embed_one(&embed_text(input.kind, &content, sql_text.as_deref()))
            .await
            .map_err(IndexError::from)?;
        let (item, created) = self
            .store
            .insert_training(&NewTrainingItem {
                connection: conn.id.to_string(),
                kind: input.kind,
                content,
                sql: sql_text,
                source,
                status,
                embedding,
                embedder: self.embedder.id().to_string(),
                created_by: rc.user_id.clone(),
                query_id: None,
            })
            .await?;
        self.index_item(&item).await?;
        if created {
            self.audit(rc, "training.added", &item.id, serde_json::json!({
                "connection": item.connection, "kind": item.kind, "source": item.source, "status": item.status,
            }))
            .await;
        }
        Ok((item, created))
    }

    /// Append an audit event; a failure to audit is logged, never fatal.
    pub(crate) async fn audit(
        &self,
        rc: &RequestContext,
        action: &str,
        target: &str,
        details: serde_json::Value,
    ) {
        if let Err(e) = self
            .store
            .record_audit(
                rc.user_id.as_deref(),
                action,
                Some(target),
                details,
                rc.correlation_id.as_deref(),
            )
            .await
        {
            tracing::warn!(error = %e, audit.action = action, "could not record an audit event");
        }
    }

    /// Training items matching `filter` as a caller limited to `allowed`
    /// tables of the filter's connection (their grant) may see them: only
    /// items about those tables ([`crate::engine::grant::Sight`]), counted
    /// and paged after that filter. `None`: every matching item.
    pub async fn list_training_as(
        &self,
        filter: &TrainingFilter,
        page: Page,
        allowed: Option<&[String]>,
    ) -> Result<(Vec<TrainingItem>, u64), PipelineError> {
        let Some(allowed) = allowed else {
            return Ok(self.store.list_training(filter, page).await?);
        };
        let conn = self.connection_named(filter.connection.as_deref())?;
        let (schema, policy) = limited_view(&conn, allowed);
        let Some(sight) = grant::Sight::new(&schema, conn.dialect, &policy) else {
            return Ok(self.store.list_training(filter, page).await?);
        };
        let mut visible = Vec::new();
        let mut offset = 0;
        loop {
            let scan = Page {
                limit: SCAN_PAGE,
                offset,
            };
            let (items, total) = self.store.list_training(filter, scan).await?;
            offset += items.len() as u64;
            let done = items.is_empty() || offset >= total;
            visible.extend(
                items
                    .into_iter()
                    .filter(|i| sight.shows(i.kind, &i.content, i.sql.as_deref()))
                    .map(|mut i| {
                        // Introspected DDL as the caller's view of the table:
                        // no keys naming tables outside the grant.
                        if i.kind == TrainingKind::Ddl
                            && let Some(ddl) = grant::caller_ddl(&schema, &policy, &i.content)
                        {
                            i.content = ddl;
                        }
                        i
                    }),
            );
            if done {
                break;
            }
        }
        let total = visible.len() as u64;
        let items = visible
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(page.limit as usize)
            .collect();
        Ok((items, total))
    }

    /// The training item `id` if `identity` reaches it: on a connection
    /// they are granted, about tables in their allowlist. Otherwise
    /// `Store(NotFound)`, exactly as for a missing item.
    pub async fn training_item_for(
        &self,
        identity: &Identity,
        id: &str,
    ) -> Result<TrainingItem, PipelineError> {
        let item = self.store.get_training(id).await?;
        match identity.reach(&item.connection) {
            Some(allowed) if self.training_visible(&item, allowed.as_deref()) => Ok(item),
            _ => Err(PipelineError::Store(StoreError::NotFound)),
        }
    }

    /// Whether a caller limited to `allowed` tables may see `item` (see
    /// [`Engine::list_training_as`]); `None`: yes.
    pub fn training_visible(&self, item: &TrainingItem, allowed: Option<&[String]>) -> bool {
        let Some(allowed) = allowed else {
            return true;
        };
        let Ok(conn) = self.connection_named(Some(&item.connection)) else {
            return false;
        };
        let (schema, policy) = limited_view(&conn, allowed);
        grant::Sight::new(&schema, conn.dialect, &policy)
            .is_none_or(|s| s.shows(item.kind, &item.content, item.sql.as_deref()))
    }

    pub(crate) fn connection_named(
        &self,
        name: Option<&str>,
    ) -> Result<std::sync::Arc<ConnectionHandle>, PipelineError> {
        let id = name
            .map(ConnectionId::parse)
            .transpose()
            .map_err(|_| PipelineError::UnknownConnection(name.unwrap_or_default().to_string()))?;
        self.connection(id.as_ref())
    }

    /// Everything `author` taught (admins: see `GET /admin/users/{id}/training`).
    pub async fn training_by_author(
        &self,
        author: &str,
    ) -> Result<Vec<TrainingItem>, PipelineError> {
        Ok(self.store.training_by_author(author).await?)
    }

    /// Revert everything `author` taught: delete their items from the store
    /// and the index, and audit it (item ids only). Returns the items.
    pub async fn revert_author(
        &self,
        author: &str,
        rc: &RequestContext,
    ) -> Result<Vec<TrainingItem>, PipelineError> {
        let items = self.store.delete_training_by_author(author).await?;
        for item in &items {
            self.index.remove(&item.id).await?;
        }
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        self.audit(
            rc,
            "training.reverted",
            author,
            serde_json::json!({ "items": ids }),
        )
        .await;
        Ok(items)
    }

    pub async fn delete_training(
        &self,
        id: &str,
        rc: &RequestContext,
    ) -> Result<TrainingItem, PipelineError> {
        let item = self.store.delete_training(id).await?;
        self.index.remove(id).await?;
        self.audit(
            rc,
            "training.deleted",
            id,
            serde_json::json!({"connection": item.connection, "kind": item.kind}),
        )
        .await;
        Ok(item)
    }

    pub async fn approve_training(
        &self,
        id: &str,
        rc: &RequestContext,
    ) -> Result<TrainingItem, PipelineError> {
        // Only someone whose grant covers every table the item touches may
        // make it shared training; to anyone else it does not exist.
        let pending = self.store.get_training(id).await?;
        if !rc.can(Action::ApproveTraining) || !self.covers_training(rc, &pending) {
            return Err(PipelineError::Store(StoreError::NotFound));
        }
        let item = self
            .store
            .approve_training(id, rc.user_id.as_deref())
            .await?;
        self.index_item(&item).await?;
        self.audit(
            rc,
            "training.approved",
            id,
            serde_json::json!({"connection": item.connection, "author": item.created_by}),
        )
        .await;
        Ok(item)
    }

    /// Record feedback on an answer. A 👍 on an answered query, or a corrected
    /// SQL that validates and runs, becomes a `question_sql` training item
    /// (active at once, or pending approval, per `training.feedback_mode`).
    #[instrument(skip_all, fields(query.id = %query_id))]
    pub async fn feedback(
        &self,
        query_id: &str,
        input: FeedbackInput,
        rc: &RequestContext,
    ) -> Result<FeedbackOutcome, PipelineError> {
        let query = self.visible_query(rc, query_id).await?;
        let connection = ConnectionId::parse(&query.connection)
            .map_err(|_| PipelineError::UnknownConnection(query.connection.clone()))?;
        let conn = self.connection(Some(&connection))?;
        let corrected = input
            .corrected_sql
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let train_sql: Option<String> = match (input.rating, corrected) {
            (_, Some(sql_text)) => {
                // A correction must pass the gate under the caller's grant
                // and run before anyone learns from it.
                self.execute_on(rc, &conn, sql_text).await?;
                Some(sql_text.to_string())
            }
            (Rating::Up, None) => match (&query.status, &query.sql) {
                (QueryStatus::Answered, Some(s)) => {
                    // Grants change: the answer must still be the caller's.
                    self.gate_audited(rc, &conn, s, "feedback").await?;
                    Some(s.clone())
                }
                _ => {
                    return Err(PipelineError::BadInput(
                        "this question has no working SQL to approve; send `corrected_sql` instead"
                            .into(),
                    ));
                }
            },
            (Rating::Down, None) => None,
        };
        let (status, training_item) = match train_sql {
            Some(sql_text) => {
                // Feedback of someone who may not approve training (a
                // viewer) always waits for an approver whose grant covers it.
                let item_status = match self.settings().feedback_mode {
                    FeedbackMode::Immediate if rc.can(Action::ApproveTraining) => {
                        TrainingStatus::Active
                    }
                    _ => TrainingStatus::Pending,
                };
                let (item, _) = self
                    .add_training(
                        Some(&connection),
                        TrainingInput {
                            kind: TrainingKind::QuestionSql,
                            content: query.question.clone(),
                            sql: Some(sql_text),
                        },
                        TrainingSource::Feedback,
                        item_status,
                        rc,
                    )
                    .await?;
                let fs = if item.status == TrainingStatus::Active {
                    FeedbackStatus::Trained
                } else {
                    FeedbackStatus::Pending
                };
                (fs, Some(item))
            }
            None => (FeedbackStatus::Recorded, None),
        };
        let feedback = self
            .store
            .insert_feedback(&NewFeedback {
                query_id: query.id.clone(),
                user_id: rc.user_id.clone(),
                rating: match input.rating {
                    Rating::Up => "up".into(),
                    Rating::Down => "down".into(),
                },
                corrected_sql: corrected.map(str::to_string),
                comment: input.comment.map(|c| c.chars().take(4000).collect()),
                status,
                training_item_id: training_item.as_ref().map(|i| i.id.clone()),
            })
            .await?;
        self.audit(rc, "feedback.recorded", &query.id, serde_json::json!({
            "rating": feedback.rating, "status": feedback.status, "training_item_id": feedback.training_item_id,
        }))
        .await;
        Ok(FeedbackOutcome {
            feedback,
            training_item,
        })
    }

    /// Introspect `conn` and turn its catalog into `ddl` training items.
    #[instrument(skip_all, fields(connection.id = %conn.id))]
    pub async fn sync_schema(
        &self,
        conn: &ConnectionHandle,
    ) -> Result<(usize, usize), PipelineError> {
        let (schema, _) = conn.refresh_schema().await?;
        let ddls: Vec<String> = schema.tables.iter().map(|t| t.to_ddl()).collect();
        let vectors = self
            .embedder
            .embed_batch(&ddls)
            .await
            .map_err(IndexError::from)?;
        let items: Vec<NewTrainingItem> = ddls
            .into_iter()
            .zip(vectors)
            .map(|(ddl, embedding)| NewTrainingItem {
                connection: conn.id.to_string(),
                kind: TrainingKind::Ddl,
                embedding,
                content: ddl,
                sql: None,
                source: TrainingSource::Introspection,
                status: TrainingStatus::Active,
                embedder: self.embedder.id().to_string(),
                created_by: None,
                query_id: None,
            })
            .collect();
        let (added, removed) = self
            .store
            .sync_introspected_ddl(conn.id.as_str(), items)
            .await?;
        for id in &removed {
            self.index.remove(id).await?;
        }
        let fresh = self.store.get_training_many(&added).await?;
        for item in &fresh {
            self.index_item(item).await?;
        }
        Ok((added.len(), removed.len()))
    }

    /// Rebuild the vector index from the store; recompute vectors made by
    /// another embedder and save them back.
    pub async fn load_index(&self) -> Result<usize, PipelineError> {
        let items = self.store.active_training().await?;
        let n = items.len();
        for item in items {
            if !self.is_current(&item) {
                self.embed_save_index(&item).await?;
            } else {
                self.index_item(&item).await?;
            }
        }
        Ok(n)
    }
}

/// What gets embedded: for examples the question only (we search with a
/// question), for the rest the content.
pub(super) fn embed_text(kind: TrainingKind, content: &str, _sql: Option<&str>) -> String {
    match kind {
        TrainingKind::QuestionSql => content.to_string(),
        _ => content.to_string(),
    }
}

/// Keep the SQL as the user wrote it unless validation had to change more
/// than the row limit; the limit is re-applied at execution anyway.
fn strip_enforced_limit(original: &str, _validated: &str) -> String {
    original.trim().trim_end_matches(';').trim().to_string()
}
