//! The SQL cache: a generation that answered (same question, schema,
//! training, model and caller's allowlist) is kept for `cache.sql_ttl_secs`
//! and, on a hit, skips retrieval and generation. A hit is checked again
//! all the same ([`Engine::check`]: the gate, then the database); one the
//! gate now refuses is generated afresh.

use serde::{Deserialize, Serialize};

use super::correct::{Trail, Until, Verdict};
use super::types::emit;
use super::{AskEvent, Engine, PipelineError, Scope, Sink, Source};
use crate::connectors::{ConnectionHandle, ConnectorError, ResultSet};
use crate::domain::{Question, TrainingKind, Trust};
use crate::engine::gate::GatedSql;
use crate::observability::metrics;
use crate::sql;

#[derive(Serialize, Deserialize)]
struct CachedGeneration {
    sql: String,
    sources: Vec<(String, TrainingKind, f32)>,
    strategy: Option<String>,
    #[serde(default)]
    trust: Option<Trust>,
}

/// SQL that answered, with its rows: from the cache or from the loop.
pub(super) struct Found {
    pub gated: GatedSql,
    pub rows: ResultSet,
    pub strategy: Option<String>,
    pub cached: bool,
}

impl Engine {
    /// A cached generation for `key` that still passes the gate, run.
    /// `Ok(None)`: no usable hit (the caller generates).
    pub(super) async fn cached_answer(
        &self,
        scope: &Scope,
        key: &str,
        sink: Sink<'_>,
        trail: &mut Trail,
    ) -> Result<Option<Found>, PipelineError> {
        if self.settings().sql_cache_ttl.is_zero() {
            return Ok(None);
        }
        let cached = self.cache.get(key).await;
        metrics::cache_lookup("sql", cached.is_some());
        let Some(hit) = cached.and_then(|b| serde_json::from_slice::<CachedGeneration>(&b).ok())
        else {
            return Ok(None);
        };
        trail.sources = hit
            .sources
            .iter()
            .map(|(id, kind, score)| Source {
                id: id.clone(),
                kind: *kind,
                score: *score,
            })
            .collect();
        emit(
            sink,
            AskEvent::Retrieval {
                sources: trail.sources.clone(),
                duration_ms: 0,
            },
        )
        .await;
        trail.sql = Some(hit.sql.clone());
        trail.attempts = 1;
        trail.trust = hit.trust.clone();
        emit(
            sink,
            AskEvent::Sql {
                sql: hit.sql.clone(),
                attempt: 1,
            },
        )
        .await;
        match self.check(scope, &hit.sql, Until::Ran, trail, sink).await {
            Verdict::Accepted(gated, Some(rows)) => Ok(Some(Found {
                gated,
                rows,
                strategy: hit.strategy,
                cached: true,
            })),
            Verdict::Accepted(_, None) | Verdict::Rejected(_) => Ok(None),
            // SQL that answered before is not corrected: its failure is
            // the database's (the caller sees the public sentence).
            Verdict::Failed { error, .. } => Err(ConnectorError::Execution(error).into()),
            Verdict::Broken(e) => Err(e),
        }
    }

    /// Keep a generation that answered under `key`.
    pub(super) async fn remember(&self, key: &str, gated: &GatedSql, trail: &Trail) {
        let ttl = self.settings().sql_cache_ttl;
        if ttl.is_zero() {
            return;
        }
        let cached = CachedGeneration {
            sql: gated.sql().to_string(),
            sources: trail
                .sources
                .iter()
                .map(|s| (s.id.clone(), s.kind, s.score))
                .collect(),
            strategy: trail.strategy.clone(),
            trust: trail.trust.clone(),
        };
        if let Ok(bytes) = serde_json::to_vec(&cached) {
            self.cache.set(key, bytes, ttl).await;
        }
    }

    pub(super) async fn cache_key(
        &self,
        conn: &ConnectionHandle,
        question: &Question,
        policy: &sql::SqlPolicy,
    ) -> Result<String, PipelineError> {
        let synced = self
            .index_versions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|m| m.get(conn.id.as_str()).copied().unwrap_or(0));
        let training = match synced {
            Some(v) => v,
            None => self.store.training_version(conn.id.as_str()).await?,
        };
        let normalized = question
            .as_str()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        // Callers with different allowlists see different schemas and
        // context, so they get different generations (and sources).
        let grant = match &policy.allowed_tables {
            Some(tables) => tables.iter().cloned().collect::<Vec<_>>().join(","),
            None => "*".to_string(),
        };
        Ok(crate::cache::cache_key(&[
            "sql",
            &self.cache_namespace,
            conn.id.as_str(),
            &conn.schema_version().to_string(),
            &training.to_string(),
            self.llm.name(),
            self.llm.model(),
            &grant,
            &normalized,
        ]))
    }
}
