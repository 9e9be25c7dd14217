//! One question to one history record: [`Engine::answer`] finds SQL and
//! rows ([`Engine::sql_and_rows`]: a cached generation, else retrieval and
//! the correction loop), then records the ask, answered or not, with what
//! the loop learned. A rejection is audited here, whoever asked (HTTP, SSE,
//! CLI, eval).

use std::time::Instant;

use tracing::instrument;

use super::cache::Found;
use super::correct::{Echo, Plan, Trail, Until};
use super::types::{emit, ms};
use super::{Answer, AskEvent, AskFailure, Engine, PipelineError, RequestContext, Scope, Sink};
use crate::connectors::ConnectorError;
use crate::domain::{ConnectionId, Question, Trust};
use crate::engine::llm::TokenUsage;
use crate::observability::metrics;
use crate::store::{NewQuery, QueryStatus};

impl Engine {
    /// Ask a question on `connection` (or the default one) as `rc`: the
    /// plain pipeline, without conversation or extras (the CLI, eval and
    /// benchmarks; the API uses [`Engine::ask_with`]).
    pub async fn ask(
        &self,
        question: &Question,
        connection: Option<&ConnectionId>,
        rc: &RequestContext,
        sink: Sink<'_>,
    ) -> Result<Answer, AskFailure> {
        let scope = self.scope(rc.clone(), connection)?;
        self.answer(&scope, question, sink, TokenUsage::default())
            .await
    }

    /// Answer `question` in `scope` and record it in the history; the
    /// record also counts `used`, the tokens of LLM calls made for this ask
    /// before it (a conversation's rewrite).
    #[instrument(name = "ask", skip_all, fields(connection.id = scope.connection(), query.id))]
    pub(super) async fn answer(
        &self,
        scope: &Scope,
        question: &Question,
        sink: Sink<'_>,
        used: TokenUsage,
    ) -> Result<Answer, AskFailure> {
        let started = Instant::now();
        let query_id = crate::store::new_id();
        tracing::Span::current().record("query.id", query_id.as_str());
        let mut trail = Trail::default();
        let outcome = self.sql_and_rows(scope, question, sink, &mut trail).await;
        trail.timings.total = ms(started.elapsed());
        let mut record = self.new_record(scope, &query_id, question, used, &trail);
        match outcome {
            Ok(found) => self.answered(scope, question, found, record, trail).await,
            Err(error) => {
                let recorded = self.record_failure(scope, &mut record, &error).await;
                Err(AskFailure {
                    query_id: recorded.then_some(query_id),
                    error,
                })
            }
        }
    }

    /// SQL and rows for `question`: a cached generation that still passes
    /// the gate, else retrieval and the correction loop (whose answer is
    /// cached).
    async fn sql_and_rows(
        &self,
        scope: &Scope,
        question: &Question,
        sink: Sink<'_>,
        trail: &mut Trail,
    ) -> Result<Found, PipelineError> {
        let policy = scope.rc.policy(&scope.conn);
        let key = self.cache_key(&scope.conn, question, &policy).await?;
        if let Some(found) = self.cached_answer(scope, &key, sink, trail).await? {
            return Ok(found);
        }
        let t = Instant::now();
        let context = self
            .retrieve(&scope.conn, question.as_str(), &scope.rc)
            .await?;
        metrics::retrieval(t.elapsed());
        trail.timings.retrieval = ms(t.elapsed());
        trail.sources = Self::sources(&context);
        emit(
            sink,
            AskEvent::Retrieval {
                sources: trail.sources.clone(),
                duration_ms: trail.timings.retrieval,
            },
        )
        .await;
        let req = self.generation_request(scope, question, context);
        let plan = Plan {
            attempts: 1 + self.settings().max_correction_attempts,
            until: Until::Ran,
            echo: Echo::Validated,
        };
        let accepted = self
            .correct(scope, req, plan, trail, sink)
            .await
            .map_err(|stop| stop.into_error())?;
        let Some(rows) = accepted.rows else {
            // `Until::Ran` runs every accepted candidate.
            return Err(PipelineError::Unanswerable("the query did not run".into()));
        };
        self.remember(&key, &accepted.gated, trail).await;
        Ok(Found {
            gated: accepted.gated,
            rows,
            strategy: trail.strategy.clone(),
            cached: false,
        })
    }

    /// The history record of an ask, as failed until it is answered.
    fn new_record(
        &self,
        scope: &Scope,
        query_id: &str,
        question: &Question,
        used: TokenUsage,
        trail: &Trail,
    ) -> NewQuery {
        NewQuery {
            id: query_id.to_string(),
            user_id: scope.rc.user_id.clone(),
            connection: scope.connection().to_string(),
            question: question.to_string(),
            sql: trail.sql.clone(),
            status: QueryStatus::Failed,
            error_code: None,
            error_message: None,
            row_count: None,
            truncated: false,
            tables: trail.tables.clone(),
            sources: serde_json::to_value(&trail.sources).unwrap_or_default(),
            timings: serde_json::to_value(&trail.timings).unwrap_or_default(),
            provider: Some(self.llm.name().to_string()),
            model: Some(self.llm.model().to_string()),
            strategy: trail.strategy.clone(),
            prompt_tokens: used.prompt_tokens + trail.usage.prompt_tokens,
            completion_tokens: used.completion_tokens + trail.usage.completion_tokens,
            attempts: trail.attempts,
            correlation_id: scope.rc.correlation_id.clone(),
            trust: trail.trust.clone(),
        }
    }

    /// Record an answered ask and build its answer.
    async fn answered(
        &self,
        scope: &Scope,
        question: &Question,
        found: Found,
        mut record: NewQuery,
        trail: Trail,
    ) -> Result<Answer, AskFailure> {
        let Found {
            gated,
            rows: rs,
            strategy,
            cached,
        } = found;
        record.status = QueryStatus::Answered;
        metrics::ask("answered");
        record.row_count = Some(rs.rows.len() as u64);
        record.truncated = rs.truncated;
        record.strategy = strategy.clone();
        let trust = record
            .trust
            .get_or_insert_with(|| Trust::remote(self.llm.name()))
            .clone();
        self.store
            .insert_query(&record)
            .await
            .map_err(PipelineError::from)?;
        let chart = if self.settings().charts {
            crate::engine::chart::suggest(&rs.columns, &rs.rows)
        } else {
            None
        };
        Ok(Answer {
            query_id: record.id,
            question: question.to_string(),
            connection: scope.connection().to_string(),
            sql: gated.sql().to_string(),
            row_count: rs.rows.len(),
            truncated: rs.truncated,
            columns: rs.columns,
            rows: rs.rows,
            tables: gated.tables().to_vec(),
            sources: trail.sources,
            timings_ms: trail.timings,
            attempts: record.attempts,
            provider: self.llm.name().to_string(),
            strategy,
            cached,
            chart,
            conversation_id: None,
            standalone_question: None,
            summary: None,
            summary_source: None,
            followups: None,
            warnings: Vec::new(),
            confidence: trust.confidence,
            assumptions: trust.assumptions,
        })
    }

    /// Record a failed ask (a rejection is audited too). `false`: the
    /// record could not be written.
    async fn record_failure(
        &self,
        scope: &Scope,
        record: &mut NewQuery,
        error: &PipelineError,
    ) -> bool {
        let (status, code) = match error {
            PipelineError::Unanswerable(_) => {
                (QueryStatus::Unanswerable, "unanswerable".to_string())
            }
            PipelineError::Rejected(v) => (QueryStatus::Rejected, v.code.as_str().to_string()),
            PipelineError::Connector(ConnectorError::Timeout(_)) => {
                (QueryStatus::Failed, "query_timeout".into())
            }
            PipelineError::Connector(_) => (QueryStatus::Failed, "query_failed".into()),
            PipelineError::Llm(_) => (QueryStatus::Failed, "llm_error".into()),
            _ => (QueryStatus::Failed, "internal".into()),
        };
        if status == QueryStatus::Rejected {
            // Rejected SQL is a security signal: keep it in the audit
            // log — its reason, never its text (which may carry data).
            // Every caller (HTTP, SSE, CLI) goes through here.
            self.audit(
                &scope.rc,
                "sql.rejected",
                scope.connection(),
                serde_json::json!({ "reason": code, "query_id": record.id }),
            )
            .await;
        }
        metrics::ask(status.as_str());
        record.status = status;
        record.error_code = Some(code);
        // The history shows what the caller was shown: database text can
        // quote data, so it never goes in.
        record.error_message = Some(match error {
            PipelineError::Connector(ConnectorError::Execution(m)) => {
                crate::engine::gate::public_db_error(m)
            }
            other => other.to_string(),
        });
        match self.store.insert_query(record).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(error.detail = %e, "could not record a failed ask");
                false
            }
        }
    }
}
