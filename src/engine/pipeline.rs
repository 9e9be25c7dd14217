//! The question pipeline: question → retrieval → generation → validation →
//! execution → history. [`Engine`] is the one service the API and the CLI
//! call; it owns no HTTP types.
//!
//! Generation and validation run in a loop: when the generated SQL fails
//! validation or execution, the error is fed back to the generator for up to
//! `max_correction_attempts` more tries. Every ask, whatever its outcome, is
//! recorded in the history with its sources, timings and the tokens of every
//! LLM call made for it (generation, and under `ask_with` the rewrite of a
//! follow-up and the extras).
//!
//! [`Engine::ask_with`] wraps an ask in a conversation (a follow-up is
//! rewritten into a standalone question first, see
//! [`crate::engine::conversation`]) and adds the requested extras (summary,
//! follow-ups, see [`crate::engine::extras`]); extras never fail an answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::instrument;

use crate::cache::Cache;
use crate::config::Config;
use crate::connectors::{
    ConnectionHandle, ConnectorError, ConnectorRegistry, ResultColumn, ResultSet,
};
use crate::domain::{Assumption, Confidence, ConnectionId, Question, TrainingKind, Trust};
use crate::engine::conversation;
use crate::engine::extras::{self, AnswerWarning, ResultView};
use crate::engine::gate::{Caller, GatedSql};
use crate::engine::llm::{
    ContextItem, FailedAttempt, Generation, GenerationOutcome, GenerationRequest, LlmError,
    LlmProvider, RetrievedContext, TextCompletion, TextRequest, TokenUsage,
};
use crate::engine::retrieval::{EmbeddingService, IndexError, VectorIndex};
use crate::engine::sql::{self, ValidatedSql, ValidationError};
use crate::observability::metrics;
use crate::store::{NewQuery, QueryStatus, Store, StoreError};

/// Settings the pipeline needs, copied from [`Config`] once.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub default_connection: String,
    pub top_k_ddl: usize,
    pub top_k_documentation: usize,
    pub top_k_examples: usize,
    pub max_correction_attempts: u32,
    pub token_budget: usize,
    /// Value hints in prompts (`llm.allow_values_in_prompt`).
    pub allow_values_in_prompt: bool,
    pub sql_cache_ttl: Duration,
    /// Cached query results live this long; zero runs every query.
    pub result_cache_ttl: Duration,
    pub feedback_mode: crate::config::FeedbackMode,
    /// Attach a chart suggestion to answers.
    pub charts: bool,
    /// Answer summaries are allowed.
    pub summaries: bool,
    /// At most this many rows go into a summary.
    pub summary_max_rows: usize,
    /// Dense and lexical rank fusion; `None`: the embedder's ranking alone.
    pub hybrid: Option<crate::engine::retrieval::hybrid::HybridRanker>,
}

impl EngineSettings {
    pub fn from_config(c: &Config) -> Self {
        Self {
            default_connection: c.query.default_connection.clone(),
            top_k_ddl: c.retrieval.top_k_ddl,
            top_k_documentation: c.retrieval.top_k_documentation,
            top_k_examples: c.retrieval.top_k_examples,
            max_correction_attempts: c.llm.max_correction_attempts,
            token_budget: c.llm.token_budget,
            allow_values_in_prompt: c.llm.allow_values_in_prompt,
            sql_cache_ttl: Duration::from_secs(c.cache.sql_ttl_secs),
            result_cache_ttl: Duration::from_secs(c.cache.result_ttl_secs),
            feedback_mode: c.training.feedback_mode,
            charts: c.query.charts,
            summaries: c.query.summaries,
            summary_max_rows: c.query.summary_max_rows,
            hybrid: c
                .retrieval
                .hybrid
                .is_hybrid(c.retrieval.embedding.provider)
                .then(|| (&c.retrieval.hybrid).into()),
        }
    }
}

/// The engine: every service the pipeline uses, behind traits.
pub struct Engine {
    pub store: Store,
    pub connections: Arc<ConnectorRegistry>,
    pub embedder: Arc<dyn EmbeddingService>,
    pub index: Arc<dyn VectorIndex>,
    pub llm: Arc<dyn LlmProvider>,
    pub cache: Arc<dyn Cache>,
    /// Runtime-tunable settings (`PATCH /api/v1/admin/settings`); read with
    /// [`Engine::settings`], which clones them so no lock is held across awaits.
    pub settings: std::sync::RwLock<EngineSettings>,
    /// With an index that follows the store (`retrieval.index = postgres`):
    /// the training version per connection the index holds, which cache keys
    /// use so an answer computed from a not-yet-synced index is never cached
    /// under the newer version. `None`: the index is always current.
    pub index_versions: std::sync::RwLock<Option<std::collections::HashMap<String, i64>>>,
    /// The app store's deployment id; the first part of every cache key.
    pub cache_namespace: String,
}

/// Who is asking and under which correlation id; auth fills `user_id`.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub user_id: Option<String>,
    pub correlation_id: Option<String>,
    /// The caller's table allowlist on the connection (from their grant),
    /// lower-case; narrows the connection's own policy. `None`: no narrowing.
    pub allowed_tables: Option<Vec<String>>,
    /// The authenticated caller (role and every grant), which the gate
    /// ([`crate::engine::gate`]) applies to all SQL it checks. `None`: a
    /// trusted internal caller (CLI, jobs), limited by the connection only.
    pub caller: Option<Caller>,
}

impl RequestContext {
    /// Who runs a query, for admission and budgets (`connectors::budget`):
    /// the user and their role's name (`None`: the service itself).
    pub fn budget_caller(&self) -> crate::connectors::Caller<'_> {
        crate::connectors::Caller {
            user_id: self.user_id.as_deref(),
            role: self.role().map(crate::auth::Role::as_str),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Source {
    pub id: String,
    pub kind: TrainingKind,
    pub score: f32,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Timings {
    pub retrieval: u64,
    pub generation: u64,
    pub validation: u64,
    pub execution: u64,
    pub total: u64,
}

/// A complete answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub query_id: String,
    pub question: String,
    pub connection: String,
    pub sql: String,
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<serde_json::Value>>,
    pub row_count: usize,
    pub truncated: bool,
    pub tables: Vec<String>,
    pub sources: Vec<Source>,
    pub timings_ms: Timings,
    pub attempts: u32,
    pub provider: String,
    pub strategy: Option<String>,
    pub cached: bool,
    /// A Vega-Lite v5 spec suggested from the result's shape, when one fits
    /// (see `engine::chart`).
    #[schema(value_type = Option<Object>)]
    pub chart: Option<serde_json::Value>,
    /// The conversation of this answer; send it back as `conversation_id`
    /// to ask a follow-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// What a follow-up was rewritten into: the question actually answered
    /// and recorded in the history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standalone_question: Option<String>,
    /// A short summary of (at most `query.summary_max_rows` rows of) the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `llm` or `builtin` (built from the rows without a model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_source: Option<String>,
    /// Suggested next questions (at most 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followups: Option<Vec<String>>,
    /// Extras that were asked for but are missing, and why.
    pub warnings: Vec<AnswerWarning>,
    /// How sure the generator is that the SQL means what was asked.
    pub confidence: Confidence,
    /// What the answer took for granted (words read past, trained examples
    /// used or adapted, corrections): nothing is dropped silently.
    pub assumptions: Vec<Assumption>,
}

/// What an ask may add to the plain pipeline.
#[derive(Debug, Clone, Default)]
pub struct AskOptions {
    pub summary: bool,
    pub followups: bool,
    /// Continue this conversation (it must belong to the caller); `None`
    /// starts a new one.
    pub conversation_id: Option<String>,
}

/// Progress of one ask, streamed to SSE clients as it happens.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AskEvent {
    Retrieval {
        sources: Vec<Source>,
        duration_ms: u64,
    },
    Sql {
        sql: String,
        attempt: u32,
        /// How sure the generator is of this SQL (`None`: not known yet).
        confidence: Option<Confidence>,
    },
    Validation {
        valid: bool,
        sql: String,
        tables: Vec<String>,
        errors: Vec<ValidationError>,
    },
    Rows {
        columns: Vec<ResultColumn>,
        rows: Vec<Vec<serde_json::Value>>,
        row_count: usize,
        truncated: bool,
    },
}

/// Why an ask did not produce rows. `query_id` is set when the ask was
/// recorded in the history.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("unknown connection `{0}`")]
    UnknownConnection(String),
    #[error("{0}")]
    Unanswerable(String),
    #[error(transparent)]
    Rejected(#[from] ValidationError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("{0}")]
    BadInput(String),
    /// Unknown, or another user's: the same answer for both.
    #[error("unknown conversation `{0}`")]
    UnknownConversation(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct AskFailure {
    pub query_id: Option<String>,
    #[source]
    pub error: PipelineError,
}

impl From<PipelineError> for AskFailure {
    fn from(error: PipelineError) -> Self {
        Self {
            query_id: None,
            error,
        }
    }
}

/// Result of `generate`: SQL checked but not executed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GeneratedSql {
    pub question: String,
    pub connection: String,
    pub sql: String,
    pub valid: bool,
    pub errors: Vec<ValidationError>,
    pub tables: Vec<String>,
    pub sources: Vec<Source>,
    pub attempts: u32,
    pub strategy: Option<String>,
    pub confidence: Confidence,
    pub assumptions: Vec<Assumption>,
}

/// Result of `validate`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValidationReport {
    pub valid: bool,
    pub sql: String,
    pub errors: Vec<ValidationError>,
    pub tables: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct CachedGeneration {
    sql: String,
    sources: Vec<(String, TrainingKind, f32)>,
    strategy: Option<String>,
    #[serde(default)]
    trust: Option<Trust>,
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

type Sink<'a> = Option<&'a mpsc::Sender<AskEvent>>;

async fn emit(sink: Sink<'_>, ev: AskEvent) {
    if let Some(tx) = sink {
        // A client that went away must not stop the ask: ignore send errors.
        let _ = tx.send(ev).await;
    }
}

impl Engine {
    /// The current settings (a cheap copy).
    pub fn settings(&self) -> EngineSettings {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replace the settings at runtime.
    pub fn set_settings(&self, settings: EngineSettings) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = settings;
    }

    /// One generation call, measured and traced.
    #[instrument(name = "llm.generate", skip_all, fields(llm.provider = self.llm.name(), llm.model = self.llm.model(), llm.prompt_tokens, llm.completion_tokens))]
    pub(super) async fn call_llm(
        &self,
        req: &GenerationRequest,
    ) -> Result<crate::engine::llm::Generation, LlmError> {
        let t = Instant::now();
        let result = self.llm.generate(req).await;
        match &result {
            Ok(g) => {
                let span = tracing::Span::current();
                span.record("llm.prompt_tokens", g.usage.prompt_tokens);
                span.record("llm.completion_tokens", g.usage.completion_tokens);
                self.count_llm_call(t, g.usage, None);
            }
            Err(e) => self.count_llm_call(t, TokenUsage::default(), Some(e)),
        }
        result
    }

    /// Metrics of one LLM call that started at `started`.
    fn count_llm_call(&self, started: Instant, usage: TokenUsage, err: Option<&LlmError>) {
        metrics::llm_call(
            self.llm.name(),
            self.llm.model(),
            started.elapsed(),
            usage.prompt_tokens,
            usage.completion_tokens,
            err.map(llm_error_kind),
        );
    }

    /// One free-text call (extras, rewrites), measured and traced like
    /// generation. `Ok(None)`: the provider has no model.
    #[instrument(name = "llm.complete_text", skip_all, fields(llm.provider = self.llm.name(), llm.model = self.llm.model(), llm.purpose = purpose))]
    pub(crate) async fn call_text_llm(
        &self,
        purpose: &'static str,
        req: &TextRequest,
    ) -> Result<Option<TextCompletion>, LlmError> {
        let t = Instant::now();
        let result = self.llm.complete_text(req).await;
        match &result {
            Ok(Some(c)) => self.count_llm_call(t, c.usage, None),
            Ok(None) => {}
            Err(e) => self.count_llm_call(t, TokenUsage::default(), Some(e)),
        }
        result
    }

    /// The generation's confidence and assumptions: its own (builtin) or the
    /// remote rule, lowered when correction attempts were needed.
    fn trust_of(&self, generation: &Generation, attempt: u32) -> Trust {
        generation
            .trust
            .clone()
            .unwrap_or_else(|| Trust::remote(self.llm.name()))
            .after_attempts(attempt)
    }

    /// When the offline generator read the question past words it could not
    /// link (its shapes, not a trained example), say which ones.
    fn unread_words_warning(&self, answer: &Answer, question: &Question) -> Option<AnswerWarning> {
        let shaped = answer.provider == "builtin"
            && !matches!(
                answer.strategy.as_deref(),
                None | Some("trained_example" | "adapted_example")
            );
        if !shaped {
            return None;
        }
        let id = ConnectionId::parse(&answer.connection).ok()?;
        let conn = self.connections.get(&id)?;
        let words = crate::engine::llm::builtin::unread_words(question.as_str(), &conn.schema());
        (!words.is_empty()).then(|| {
            AnswerWarning::new(
                "words_not_used",
                format!(
                    "the SQL was built without the words '{}'; check that it means what you asked",
                    words.join("', '")
                ),
            )
        })
    }

    /// An ask inside a conversation, with the requested extras: the main
    /// job of `POST /api/v1/ask`. A follow-up is rewritten into a standalone
    /// question (that is what the pipeline answers and the history records),
    /// the turn is stored, then summary and follow-ups are added; a failing
    /// extra leaves a warning instead. No span of its own: `ask` stays the
    /// request span's child, as traces expect.
    pub async fn ask_with(
        &self,
        question: &Question,
        connection: Option<&ConnectionId>,
        rc: &RequestContext,
        sink: Sink<'_>,
        opts: &AskOptions,
    ) -> Result<Answer, AskFailure> {
        let mut warnings = Vec::new();
        let (conversation_id, previous) = self.conversation(rc, opts).await?;
        let (standalone, rewrite_usage) = self
            .standalone(question, &previous, rc, &mut warnings)
            .await;
        let mut answer = self
            .ask_counting(
                standalone.as_ref().unwrap_or(question),
                connection,
                rc,
                sink,
                rewrite_usage,
            )
            .await?;
        let turn = crate::store::conversations::NewTurn {
            query_id: Some(&answer.query_id),
            question: question.as_str(),
            standalone_question: standalone.as_ref().unwrap_or(question).as_str(),
        };
        match self
            .store
            .add_turn(&conversation_id, rc.user_id.as_deref(), &turn)
            .await
        {
            Ok(_) => answer.conversation_id = Some(conversation_id),
            Err(e) => {
                tracing::warn!(error.detail = %e, "conversation turn not stored");
                warnings.push(AnswerWarning::new(
                    "conversation_not_saved",
                    "this answer could not be added to the conversation; ask again to continue it",
                ));
            }
        }
        answer.question = question.to_string();
        if let Some(w) = self.unread_words_warning(&answer, standalone.as_ref().unwrap_or(question))
        {
            warnings.push(w);
        }
        answer.standalone_question = standalone.map(|q| q.to_string());
        let extras_usage = self
            .add_extras(&mut answer, connection, rc, opts, &mut warnings)
            .await;
        if extras_usage != TokenUsage::default() {
            // The record was written before the extras ran: add their
            // tokens to it, so the history counts every call of this ask.
            if let Err(e) = self
                .store
                .add_query_tokens(
                    &answer.query_id,
                    extras_usage.prompt_tokens,
                    extras_usage.completion_tokens,
                )
                .await
            {
                tracing::warn!(error.detail = %e, "token usage of the extras not recorded");
            }
        }
        answer.warnings = warnings;
        Ok(answer)
    }

    /// The conversation to continue (checked to be the caller's) with its
    /// recent standalone questions, or a new id.
    async fn conversation(
        &self,
        rc: &RequestContext,
        opts: &AskOptions,
    ) -> Result<(String, Vec<String>), PipelineError> {
        let Some(id) = &opts.conversation_id else {
            return Ok((crate::store::new_id(), Vec::new()));
        };
        if !conversation::valid_id(id) {
            return Err(PipelineError::BadInput(
                "conversation_id must be 1 to 64 letters, digits, `-` or `_`".into(),
            ));
        }
        match self.store.find_conversation(id).await? {
            Some(c) if c.user_id == rc.user_id => {}
            _ => return Err(PipelineError::UnknownConversation(id.clone())),
        }
        let turns = self
            .store
            .recent_turns(id, conversation::CONTEXT_TURNS)
            .await?;
        Ok((
            id.clone(),
            turns.into_iter().map(|t| t.standalone_question).collect(),
        ))
    }

    /// The standalone form of a follow-up; `None` when the question stands
    /// on its own (or there is nothing before it). With the tokens the
    /// rewrite used.
    async fn standalone(
        &self,
        question: &Question,
        previous: &[String],
        rc: &RequestContext,
        warnings: &mut Vec<AnswerWarning>,
    ) -> (Option<Question>, TokenUsage) {
        let Some(last) = previous.last() else {
            return (None, TokenUsage::default());
        };
        let builtin = || {
            conversation::builtin_rewrite(last, question.as_str())
                .and_then(|q| Question::parse(&q).ok())
        };
        let req =
            conversation::rewrite_request(previous, question.as_str(), rc.correlation_id.clone());
        let reply = self.call_text_llm("rewrite", &req).await;
        let usage = usage_of(&reply);
        let rewritten = match reply {
            Ok(None) => builtin(),
            Ok(Some(reply)) => match conversation::parse_rewrite(&reply.text) {
                Ok(q) => Some(q),
                Err(e) => {
                    warnings.push(rewrite_warning(&e));
                    builtin()
                }
            },
            Err(e) => {
                warnings.push(rewrite_warning(&e));
                builtin()
            }
        };
        (rewritten.filter(|q| q.as_str() != question.as_str()), usage)
    }

    /// Summary and follow-ups, as requested and allowed; the two LLM calls
    /// run side by side. Returns the tokens they used (a reply that could
    /// not be used was paid for all the same).
    async fn add_extras(
        &self,
        answer: &mut Answer,
        connection: Option<&ConnectionId>,
        rc: &RequestContext,
        opts: &AskOptions,
        warnings: &mut Vec<AnswerWarning>,
    ) -> TokenUsage {
        let settings = self.settings();
        let question = answer
            .standalone_question
            .clone()
            .unwrap_or_else(|| answer.question.clone());
        let view = ResultView {
            question: &question,
            sql: &answer.sql,
            columns: &answer.columns,
            rows: &answer.rows,
            row_count: answer.row_count,
            truncated: answer.truncated,
            tables: &answer.tables,
        };
        let none = TokenUsage::default();
        let summary = async {
            if !opts.summary {
                return (Ok(None), none);
            }
            if !settings.summaries {
                let warning = AnswerWarning::new(
                    "summary_disabled",
                    "summaries are turned off on this server (query.summaries)",
                );
                return (Err(warning), none);
            }
            let max = settings.summary_max_rows;
            let req = extras::summary_request(&view, max, rc.correlation_id.clone());
            let reply = self.call_text_llm("summary", &req).await;
            let usage = usage_of(&reply);
            let summary = match reply {
                Ok(None) => Ok(Some((extras::builtin_summary(&view, max), "builtin"))),
                Ok(Some(reply)) => extras::clean_summary(&reply.text)
                    .map(|text| Some((text, "llm")))
                    .map_err(|e| extra_warning("summary", &e)),
                Err(e) => Err(extra_warning("summary", &e)),
            };
            (summary, usage)
        };
        let followups = async {
            if !opts.followups {
                return (Ok(None), none);
            }
            let req = extras::followups_request(&view, rc.correlation_id.clone());
            let reply = self.call_text_llm("followups", &req).await;
            let usage = usage_of(&reply);
            let followups = match reply {
                Ok(None) => self
                    .connection(connection)
                    .map(|conn| Some(extras::builtin_followups(&view, &rc.schema(&conn))))
                    .map_err(|e| AnswerWarning::new("followups_failed", e.to_string())),
                Ok(Some(reply)) => extras::parse_followups(&reply.text, &question)
                    .map(Some)
                    .map_err(|e| extra_warning("followups", &e)),
                Err(e) => Err(extra_warning("followups", &e)),
            };
            (followups, usage)
        };
        let ((summary, summary_usage), (followups, followups_usage)) =
            tokio::join!(summary, followups);
        match summary {
            Ok(Some((text, source))) => {
                answer.summary = Some(text);
                answer.summary_source = Some(source.to_string());
            }
            Ok(None) => {}
            Err(w) => warnings.push(w),
        }
        match followups {
            Ok(list) => answer.followups = list,
            Err(w) => warnings.push(w),
        }
        TokenUsage {
            prompt_tokens: summary_usage.prompt_tokens + followups_usage.prompt_tokens,
            completion_tokens: summary_usage.completion_tokens + followups_usage.completion_tokens,
        }
    }

    /// One execution on a target database, measured and traced.
    #[instrument(name = "sql.execute", skip_all, fields(connection.id = %conn.id, sql.rows))]
    pub(super) async fn run(
        &self,
        conn: &ConnectionHandle,
        sql: &GatedSql,
        rc: &RequestContext,
    ) -> Result<ResultSet, ConnectorError> {
        if sql.connection() != conn.id.as_str() {
            return Err(ConnectorError::Config(
                "SQL gated for another connection".into(),
            ));
        }
        let sql = sql.validated();
        let ttl = self.settings().result_cache_ttl;
        let key = (!ttl.is_zero()).then(|| {
            crate::cache::cache_key(&[
                "rows",
                &self.cache_namespace,
                conn.id.as_str(),
                &conn.schema_version().to_string(),
                &conn.limits.max_rows.to_string(),
                sql.sql(),
            ])
        });
        if let Some(key) = &key {
            let hit = crate::cache::get_json::<ResultSet>(self.cache.as_ref(), key).await;
            metrics::cache_lookup("result", hit.is_some());
            if let Some(rs) = hit {
                tracing::Span::current().record("sql.rows", rs.rows.len());
                return Ok(rs);
            }
        }
        let t = Instant::now();
        let result = conn.execute(sql, rc.budget_caller()).await;
        if let (Some(key), Ok(rs)) = (&key, &result) {
            if let Err(e) = crate::cache::set_json(self.cache.as_ref(), key, rs, ttl).await {
                tracing::debug!(error = %e, "result not cached");
            }
        }
        let (rows, err) = match &result {
            Ok(rs) => {
                tracing::Span::current().record("sql.rows", rs.rows.len());
                (Some(rs.rows.len()), None)
            }
            Err(ConnectorError::Timeout(_)) => (None, Some("timeout")),
            Err(ConnectorError::Unavailable(_)) => (None, Some("unavailable")),
            Err(ConnectorError::Execution(m)) => {
                crate::engine::gate::log_db_error(m);
                (None, Some("execution"))
            }
            Err(_) => (None, Some("execution")),
        };
        metrics::sql_execution(conn.id.as_str(), t.elapsed(), rows, err);
        result
    }

    /// The first generation request for a question; corrections add
    /// `previous_attempts`. The schema is the caller's view of it: a model
    /// never sees tables the caller may not query.
    pub(super) fn generation_request(
        &self,
        question: &Question,
        conn: &ConnectionHandle,
        context: RetrievedContext,
        rc: &RequestContext,
    ) -> GenerationRequest {
        GenerationRequest {
            question: question.to_string(),
            dialect: conn.dialect,
            schema: rc.schema(conn),
            context,
            previous_attempts: Vec::new(),
            correlation_id: rc.correlation_id.clone(),
            token_budget: self.settings().token_budget,
        }
    }

    /// Resolve a connection name (or the default one).
    pub fn connection(
        &self,
        name: Option<&ConnectionId>,
    ) -> Result<Arc<ConnectionHandle>, PipelineError> {
        let id = match name {
            Some(id) => id.clone(),
            None => ConnectionId::parse(&self.settings().default_connection).map_err(|_| {
                PipelineError::UnknownConnection(self.settings().default_connection)
            })?,
        };
        self.connections
            .get(&id)
            .ok_or_else(|| PipelineError::UnknownConnection(id.to_string()))
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
        let items = self.store.get_training_many(&ids).await?;
        for (kind, k, found) in pools {
            match &s.hybrid {
                // Hybrid: fused order, and the lexical score handed on.
                Some(h) => hits.extend(
                    crate::engine::retrieval::hybrid::rank_items(h, question, &found, &items, k)
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

    fn sources(ctx: &RetrievedContext) -> Vec<Source> {
        ctx.all()
            .map(|c| Source {
                id: c.id.clone(),
                kind: c.kind,
                score: c.score,
            })
            .collect()
    }

    async fn cache_key(
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

    /// Ask a question: the main job in one call.
    pub async fn ask(
        &self,
        question: &Question,
        connection: Option<&ConnectionId>,
        rc: &RequestContext,
        sink: Sink<'_>,
    ) -> Result<Answer, AskFailure> {
        self.ask_counting(question, connection, rc, sink, TokenUsage::default())
            .await
    }

    /// [`Engine::ask`], whose history record also counts `used`: the tokens
    /// of LLM calls made for this ask before it (a conversation's rewrite).
    #[instrument(name = "ask", skip_all, fields(connection.id, query.id))]
    async fn ask_counting(
        &self,
        question: &Question,
        connection: Option<&ConnectionId>,
        rc: &RequestContext,
        sink: Sink<'_>,
        used: TokenUsage,
    ) -> Result<Answer, AskFailure> {
        let started = Instant::now();
        let conn = self.connection(connection)?;
        tracing::Span::current().record("connection.id", conn.id.as_str());
        let query_id = crate::store::new_id();
        tracing::Span::current().record("query.id", query_id.as_str());
        let mut record = NewQuery {
            id: query_id.clone(),
            user_id: rc.user_id.clone(),
            connection: conn.id.to_string(),
            question: question.to_string(),
            sql: None,
            status: QueryStatus::Failed,
            error_code: None,
            error_message: None,
            row_count: None,
            truncated: false,
            tables: vec![],
            sources: serde_json::json!([]),
            timings: serde_json::json!({}),
            provider: Some(self.llm.name().to_string()),
            model: Some(self.llm.model().to_string()),
            strategy: None,
            prompt_tokens: used.prompt_tokens,
            completion_tokens: used.completion_tokens,
            attempts: 0,
            correlation_id: rc.correlation_id.clone(),
            trust: None,
        };
        let mut timings = Timings::default();
        let outcome = self
            .ask_inner(question, &conn, rc, sink, &mut record, &mut timings)
            .await;
        timings.total = ms(started.elapsed());
        record.timings = serde_json::to_value(&timings).unwrap_or_default();
        match outcome {
            Ok((validated, rs, sources, strategy, cached)) => {
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
                    query_id,
                    question: question.to_string(),
                    connection: conn.id.to_string(),
                    sql: validated.sql().to_string(),
                    row_count: rs.rows.len(),
                    truncated: rs.truncated,
                    columns: rs.columns,
                    rows: rs.rows,
                    tables: validated.tables().to_vec(),
                    sources,
                    timings_ms: timings,
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
            Err(error) => {
                let (status, code) = match &error {
                    PipelineError::Unanswerable(_) => {
                        (QueryStatus::Unanswerable, "unanswerable".to_string())
                    }
                    PipelineError::Rejected(v) => {
                        (QueryStatus::Rejected, v.code.as_str().to_string())
                    }
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
                        rc,
                        "sql.rejected",
                        conn.id.as_str(),
                        serde_json::json!({ "reason": code, "query_id": query_id }),
                    )
                    .await;
                }
                metrics::ask(status.as_str());
                record.status = status;
                record.error_code = Some(code);
                // The history shows what the caller was shown: database
                // text can quote data, so it never goes in.
                record.error_message = Some(match &error {
                    PipelineError::Connector(ConnectorError::Execution(m)) => {
                        crate::engine::gate::public_db_error(m)
                    }
                    other => other.to_string(),
                });
                match self.store.insert_query(&record).await {
                    Ok(_) => Err(AskFailure {
                        query_id: Some(query_id),
                        error,
                    }),
                    Err(e) => {
                        tracing::error!(error.detail = %e, "could not record a failed ask");
                        Err(AskFailure {
                            query_id: None,
                            error,
                        })
                    }
                }
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn ask_inner(
        &self,
        question: &Question,
        conn: &ConnectionHandle,
        rc: &RequestContext,
        sink: Sink<'_>,
        record: &mut NewQuery,
        timings: &mut Timings,
    ) -> Result<(GatedSql, ResultSet, Vec<Source>, Option<String>, bool), PipelineError> {
        let policy = rc.policy(conn);
        let key = self.cache_key(conn, question, &policy).await?;

        // A cached generation (same question, schema, training and model)
        // skips retrieval and generation; it is validated again all the same.
        if !self.settings().sql_cache_ttl.is_zero() {
            let cached = self.cache.get(&key).await;
            metrics::cache_lookup("sql", cached.is_some());
            if let Some(bytes) = cached {
                if let Ok(hit) = serde_json::from_slice::<CachedGeneration>(&bytes) {
                    let sources: Vec<Source> = hit
                        .sources
                        .iter()
                        .map(|(id, kind, score)| Source {
                            id: id.clone(),
                            kind: *kind,
                            score: *score,
                        })
                        .collect();
                    record.sources = serde_json::to_value(&sources).unwrap_or_default();
                    emit(
                        sink,
                        AskEvent::Retrieval {
                            sources: sources.clone(),
                            duration_ms: 0,
                        },
                    )
                    .await;
                    record.sql = Some(hit.sql.clone());
                    record.attempts = 1;
                    record.trust = hit.trust.clone();
                    emit(
                        sink,
                        AskEvent::Sql {
                            sql: hit.sql.clone(),
                            attempt: 1,
                            confidence: record.trust.as_ref().map(|t| t.confidence),
                        },
                    )
                    .await;
                    if let Ok(validated) = self.gate(rc, conn, &hit.sql) {
                        record.tables = validated.tables().to_vec();
                        record.sql = Some(validated.sql().to_string());
                        emit(sink, validation_event(validated.validated())).await;
                        let t = Instant::now();
                        let rs = self.run(conn, &validated, rc).await?;
                        timings.execution = ms(t.elapsed());
                        emit(sink, rows_event(&rs)).await;
                        return Ok((validated, rs, sources, hit.strategy, true));
                    }
                }
            }
        }

        let t = Instant::now();
        let context = self.retrieve(conn, question.as_str(), rc).await?;
        metrics::retrieval(t.elapsed());
        timings.retrieval = ms(t.elapsed());
        let sources = Self::sources(&context);
        record.sources = serde_json::to_value(&sources).unwrap_or_default();
        emit(
            sink,
            AskEvent::Retrieval {
                sources: sources.clone(),
                duration_ms: timings.retrieval,
            },
        )
        .await;

        let mut req = self.generation_request(question, conn, context, rc);
        let max_attempts = 1 + self.settings().max_correction_attempts;
        let mut last_error: Option<PipelineError> = None;
        for attempt in 1..=max_attempts {
            record.attempts = attempt;
            let t = Instant::now();
            let generation = self.call_llm(&req).await?;
            timings.generation += ms(t.elapsed());
            add_usage(record, generation.usage);
            if generation.strategy.is_some() {
                record.strategy = generation.strategy.clone();
            }
            if matches!(generation.outcome, GenerationOutcome::Sql { .. }) {
                record.trust = Some(self.trust_of(&generation, attempt));
            }
            let sql_text = match generation.outcome {
                GenerationOutcome::Unanswerable { reason } => {
                    // After a failed attempt, "unanswerable" means the
                    // generator gave up: report the real failure.
                    return Err(last_error.unwrap_or(PipelineError::Unanswerable(reason)));
                }
                GenerationOutcome::Sql { sql } => sql,
            };
            record.sql = Some(sql_text.clone());
            emit(
                sink,
                AskEvent::Sql {
                    sql: sql_text.clone(),
                    attempt,
                    confidence: record.trust.as_ref().map(|t| t.confidence),
                },
            )
            .await;

            let t = Instant::now();
            let validated = self.gate(rc, conn, &sql_text);
            timings.validation += ms(t.elapsed());
            let validated = match validated {
                Ok(v) => v,
                Err(e) => {
                    emit(
                        sink,
                        AskEvent::Validation {
                            valid: false,
                            sql: sql_text.clone(),
                            tables: vec![],
                            errors: vec![e.clone()],
                        },
                    )
                    .await;
                    req.previous_attempts.push(FailedAttempt {
                        sql: sql_text,
                        error: e.message.clone(),
                    });
                    last_error = Some(PipelineError::Rejected(e));
                    continue;
                }
            };
            record.sql = Some(validated.sql().to_string());
            record.tables = validated.tables().to_vec();
            emit(sink, validation_event(validated.validated())).await;

            let t = Instant::now();
            let result = self.run(conn, &validated, rc).await;
            timings.execution += ms(t.elapsed());
            match result {
                Ok(rs) => {
                    emit(sink, rows_event(&rs)).await;
                    if !self.settings().sql_cache_ttl.is_zero() {
                        let cached = CachedGeneration {
                            sql: validated.sql().to_string(),
                            sources: sources
                                .iter()
                                .map(|s| (s.id.clone(), s.kind, s.score))
                                .collect(),
                            strategy: record.strategy.clone(),
                            trust: record.trust.clone(),
                        };
                        if let Ok(bytes) = serde_json::to_vec(&cached) {
                            self.cache
                                .set(&key, bytes, self.settings().sql_cache_ttl)
                                .await;
                        }
                    }
                    return Ok((validated, rs, sources, record.strategy.clone(), false));
                }
                Err(ConnectorError::Execution(msg)) => {
                    req.previous_attempts.push(FailedAttempt {
                        sql: validated.sql().to_string(),
                        error: msg.clone(),
                    });
                    last_error = Some(PipelineError::Connector(ConnectorError::Execution(msg)));
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(last_error
            .unwrap_or_else(|| PipelineError::Unanswerable("no SQL was generated".into())))
    }

    /// Generate and validate SQL without running it.
    #[instrument(skip_all, fields(connection.id))]
    pub async fn generate(
        &self,
        question: &Question,
        connection: Option<&ConnectionId>,
        rc: &RequestContext,
    ) -> Result<GeneratedSql, PipelineError> {
        let conn = self.connection(connection)?;
        tracing::Span::current().record("connection.id", conn.id.as_str());
        let context = self.retrieve(&conn, question.as_str(), rc).await?;
        let sources = Self::sources(&context);
        let mut req = self.generation_request(question, &conn, context, rc);
        let mut last: Option<GeneratedSql> = None;
        for attempt in 1..=(1 + self.settings().max_correction_attempts) {
            let generation = self.call_llm(&req).await?;
            let trust = self.trust_of(&generation, attempt);
            let sql_text = match generation.outcome {
                GenerationOutcome::Unanswerable { reason } => {
                    return match last {
                        Some(l) => Ok(l),
                        None => Err(PipelineError::Unanswerable(reason)),
                    };
                }
                GenerationOutcome::Sql { sql } => sql,
            };
            match self.gate(rc, &conn, &sql_text) {
                Ok(v) => {
                    return Ok(GeneratedSql {
                        question: question.to_string(),
                        connection: conn.id.to_string(),
                        sql: v.sql().to_string(),
                        valid: true,
                        errors: vec![],
                        tables: v.tables().to_vec(),
                        sources,
                        attempts: attempt,
                        strategy: generation.strategy,
                        confidence: trust.confidence,
                        assumptions: trust.assumptions,
                    });
                }
                Err(e) => {
                    req.previous_attempts.push(FailedAttempt {
                        sql: sql_text.clone(),
                        error: e.message.clone(),
                    });
                    last = Some(GeneratedSql {
                        question: question.to_string(),
                        connection: conn.id.to_string(),
                        sql: sql_text,
                        valid: false,
                        errors: vec![e],
                        tables: vec![],
                        sources: sources.clone(),
                        attempts: attempt,
                        strategy: generation.strategy,
                        confidence: trust.confidence,
                        assumptions: trust.assumptions,
                    });
                }
            }
        }
        last.ok_or_else(|| PipelineError::Unanswerable("no SQL was generated".into()))
    }

    /// Validate arbitrary SQL for the caller (their grant narrows the
    /// connection's policy): the report of `POST /sql/validate`.
    pub async fn validate(
        &self,
        rc: &RequestContext,
        sql_text: &str,
        connection: Option<&ConnectionId>,
    ) -> Result<ValidationReport, PipelineError> {
        let conn = self.connection(connection)?;
        Ok(
            match self.gate_audited(rc, &conn, sql_text, "validate").await {
                Ok(v) => ValidationReport {
                    valid: true,
                    sql: v.sql().to_string(),
                    errors: vec![],
                    tables: v.tables().to_vec(),
                },
                Err(e) => ValidationReport {
                    valid: false,
                    sql: sql_text.to_string(),
                    errors: vec![e],
                    tables: vec![],
                },
            },
        )
    }

    /// Gate, then run SQL a person gave (or a stored query's SQL, see
    /// [`Engine::stored_sql`]) for the caller.
    #[instrument(skip_all, fields(connection.id))]
    pub async fn execute(
        &self,
        rc: &RequestContext,
        sql_text: &str,
        connection: Option<&ConnectionId>,
    ) -> Result<(GatedSql, ResultSet, u64), PipelineError> {
        let conn = self.connection(connection)?;
        tracing::Span::current().record("connection.id", conn.id.as_str());
        let gated = self.gate_audited(rc, &conn, sql_text, "execute").await?;
        let t = Instant::now();
        let rs = self.run(&conn, &gated, rc).await?;
        Ok((gated, rs, ms(t.elapsed())))
    }

    /// The SQL and connection of stored query `id` for a re-run, if the
    /// caller may see that query (otherwise `NotFound`, as if it did not
    /// exist); it still goes through the gate when it runs.
    pub async fn stored_sql(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<(String, ConnectionId), PipelineError> {
        let q = self.store.get_query(id).await?;
        if !self.may_see_query(rc, &q) {
            return Err(PipelineError::Store(StoreError::NotFound));
        }
        let sql = q
            .sql
            .ok_or_else(|| PipelineError::BadInput("this query has no SQL to run".into()))?;
        let conn = ConnectionId::parse(&q.connection)
            .map_err(|_| PipelineError::UnknownConnection(q.connection.clone()))?;
        Ok((sql, conn))
    }
}

fn validation_event(v: &ValidatedSql) -> AskEvent {
    AskEvent::Validation {
        valid: true,
        sql: v.sql().to_string(),
        tables: v.tables().to_vec(),
        errors: vec![],
    }
}

fn rows_event(rs: &ResultSet) -> AskEvent {
    AskEvent::Rows {
        columns: rs.columns.clone(),
        rows: rs.rows.clone(),
        row_count: rs.rows.len(),
        truncated: rs.truncated,
    }
}

fn add_usage(record: &mut NewQuery, usage: TokenUsage) {
    record.prompt_tokens += usage.prompt_tokens;
    record.completion_tokens += usage.completion_tokens;
}

/// The tokens a free-text call used: none when it failed or had no model.
fn usage_of(reply: &Result<Option<TextCompletion>, LlmError>) -> TokenUsage {
    match reply {
        Ok(Some(c)) => c.usage,
        _ => TokenUsage::default(),
    }
}

/// A missing extra: says which provider failure, never the provider's text
/// (it may quote the prompt, which carries rows).
fn extra_warning(extra: &str, e: &LlmError) -> AnswerWarning {
    AnswerWarning::new(
        &format!("{extra}_failed"),
        format!(
            "the {extra} is missing: the LLM provider call failed ({})",
            llm_error_kind(e)
        ),
    )
}

fn rewrite_warning(e: &LlmError) -> AnswerWarning {
    AnswerWarning::new(
        "rewrite_failed",
        format!(
            "the follow-up could not be rewritten by the LLM provider ({}); the builtin rewrite was used",
            llm_error_kind(e)
        ),
    )
}

fn llm_error_kind(e: &LlmError) -> &'static str {
    match e {
        LlmError::Timeout(_) => "timeout",
        LlmError::Unavailable(_) => "unavailable",
        LlmError::Upstream { .. } => "upstream",
        LlmError::BadResponse(_) => "bad_response",
        LlmError::Config(_) => "config",
    }
}
