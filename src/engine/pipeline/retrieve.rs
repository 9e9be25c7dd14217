//! Retrieval of training context for a question (DDL, documentation,
//! question→SQL examples, value hints), narrowed to what the caller may see,
//! and the first generation request built from it.

use std::sync::Arc;

use tracing::instrument;

use super::{Engine, PipelineError, RequestContext, Scope, Source};
use crate::connectors::ConnectionHandle;
use crate::domain::{Question, TrainingKind};
use crate::engine::llm::{ContextItem, GenerationRequest, RetrievedContext};
use crate::engine::retrieval::IndexError;
use crate::store::TrainingItem;

impl Engine {
    /// The first generation request for a question; corrections add
    /// `previous_attempts`. The schema is the caller's view of it: a model
    /// never sees tables the caller may not query.
    pub(crate) fn generation_request(
        &self,
        scope: &Scope,
        question: &Question,
        context: RetrievedContext,
    ) -> GenerationRequest {
        GenerationRequest {
            question: question.to_string(),
            dialect: scope.conn.dialect,
            schema: scope.rc.schema(&scope.conn),
            context,
            previous_attempts: Vec::new(),
            correlation_id: scope.rc.correlation_id.clone(),
            token_budget: self.settings().token_budget,
        }
    }

    /// Retrieve training context for `question` on `conn`, and the value
    /// hints when the settings allow values in prompts; for a caller with a
    /// table allowlist, only what names no other table (see
    /// [`crate::engine::grant`]).
    #[instrument(name = "retrieval", skip_all, fields(connection.id = %conn.id))]
    pub async fn retrieve(
        &self,
        conn: &ConnectionHandle,
        question: &str,
        rc: &RequestContext,
    ) -> Result<RetrievedContext, PipelineError> {
        let vector = self
            .embedder
            .embed_one(question)
            .await
            .map_err(IndexError::from)?;
        let s = self.settings();
        let mut hits: Vec<(TrainingKind, String, f32)> = Vec::new();
        let mut pools = Vec::new();
        for (kind, k) in [
            (TrainingKind::Ddl, s.top_k_ddl),
            (TrainingKind::Documentation, s.top_k_documentation),
            (TrainingKind::QuestionSql, s.top_k_examples),
        ] {
            if k == 0 {
                continue;
            }
            let pool = s.hybrid.as_ref().map_or(k, |h| h.pool(k));
            let found = self
                .index
                .search(conn.id.as_str(), kind, &vector, pool)
                .await?;
            pools.push((kind, k, found));
        }
        let ids: Vec<String> = pools
            .iter()
            .flat_map(|p| p.2.iter().map(|h| h.id.clone()))
            .collect();
        let items = self.training_items(conn.id.as_str(), &ids).await?;
        for (kind, k, found) in pools {
            match &s.hybrid {
                // Hybrid: fused order (for examples, the lexical top k
                // after it), and the lexical score handed on.
                Some(h) => hits.extend(
                    crate::engine::retrieval::hybrid::rank_items(
                        h, question, kind, &found, &items, k,
                    )
                    .into_iter()
                    .map(|f| (kind, f.id, f.lexical)),
                ),
                None => hits.extend(found.into_iter().map(|h| (kind, h.id, h.score))),
            }
        }
        let mut ctx = RetrievedContext::default();
        for (kind, id, score) in hits {
            let Some(item) = items.iter().find(|i| i.id == id) else {
                continue;
            };
            let ci = ContextItem {
                id: item.id.clone(),
                kind,
                score,
                content: item.content.clone(),
                sql: item.sql.clone(),
            };
            match kind {
                TrainingKind::Ddl => ctx.ddl.push(ci),
                TrainingKind::Documentation => ctx.documentation.push(ci),
                TrainingKind::QuestionSql => ctx.examples.push(ci),
            }
        }
        if conn
            .allow_values_in_prompt
            .unwrap_or(s.allow_values_in_prompt)
        {
            ctx.values = crate::engine::prompt::linking::value_hints(question, &conn.schema());
        }
        let policy = rc.policy(conn);
        if policy.allowed_tables.is_some() {
            let narrowed = rc.schema(conn);
            crate::engine::grant::narrow_context(
                &mut ctx,
                &conn.schema(),
                &narrowed,
                conn.dialect,
                &policy,
            );
        }
        Ok(ctx)
    }

    /// The training items `ids` of `connection`, in that order (missing
    /// ids skipped). With an index that follows the store, the version it
    /// holds is known here, and the items come from the store's in-memory
    /// copy for that version (read from the app store once); otherwise
    /// (Chroma, or before the first sync) from the app store each time.
    async fn training_items(
        &self,
        connection: &str,
        ids: &[String],
    ) -> Result<Vec<Arc<TrainingItem>>, PipelineError> {
        let synced = self
            .index_versions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|m| m.get(connection).copied().unwrap_or(0));
        Ok(match synced {
            Some(version) => {
                self.store
                    .training_for_retrieval(connection, version, ids)
                    .await?
            }
            None => self
                .store
                .get_training_many(ids)
                .await?
                .into_iter()
                .map(Arc::new)
                .collect(),
        })
    }

    pub(super) fn sources(ctx: &RetrievedContext) -> Vec<Source> {
        ctx.all()
            .map(|c| Source {
                id: c.id.clone(),
                kind: c.kind,
                score: c.score,
            })
            .collect()
    }
}
