//! The question pipeline, one loop for every caller: a request is bound to
//! its connection once ([`Engine::scope`] → [`Scope`]: caller, grant and
//! connection, resolved together), then
//!
//! ```text
//! Engine::scope                 caller + grant + connection, once per request
//! └─ ask_with                   a follow-up rewritten; the turn stored; extras added
//!    └─ answer                  one question → one history record (a rejection audited)
//!       └─ sql_and_rows
//!          ├─ cached_answer → check                       a cached generation, checked again
//!          └─ retrieve → correct: generate → check     failures fed back to the generator
//!                                (check: the gate, then the database)
//! ```
//!
//! `Engine::correct` (in `correct.rs`) is the one generate → validate →
//! correct loop: the ask, the stream, `/sql/generate` ([`Engine::generate`],
//! which stops at the gate) and `/sql/fix` use it, and a cached generation
//! goes through the same `Engine::check` step (gate, then database) as a
//! fresh one. Every ask, whatever its outcome, is recorded in the history
//! with its sources, timings and the tokens of every LLM call made for it
//! (generation, and under [`Engine::ask_with`] the rewrite of a follow-up
//! and the extras).
//!
//! The rooms: `context` (the request and its [`Scope`]), `types` (what the
//! pipeline returns), `models` (measured LLM calls), `retrieve` (training
//! context), `correct` (the loop), `cache` (the SQL cache), `answer` (one
//! question to one history record), `ask` (conversations and extras around
//! it), `caller_sql` (generate, validate and execute for `/sql/*`) and `run`
//! (the one executor). [`Engine`] owns no HTTP types.

mod answer;
mod ask;
mod cache;
mod caller_sql;
mod context;
pub(crate) mod correct;
mod models;
mod retrieve;
mod run;
mod types;

use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::config::Config;
use crate::connectors::ConnectorRegistry;
use crate::engine::llm::LlmProvider;
use crate::engine::retrieval::{EmbeddingService, VectorIndex};
use crate::store::Store;

pub use caller_sql::{Executed, SqlSource};
pub use context::{RequestContext, Scope};
pub(crate) use types::Sink;
pub use types::{
    Answer, AskEvent, AskFailure, AskOptions, GeneratedSql, PipelineError, Source, Timings,
    ValidationReport,
};

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
    /// The validator's verdicts, keyed by everything they depend on
    /// (see [`crate::engine::gate::GateCache`]).
    pub gate_cache: crate::engine::gate::GateCache,
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

    /// Can the store answer a trivial query? For readiness.
    pub async fn ping_store(&self) -> Result<(), crate::store::StoreError> {
        self.store.ping().await
    }
}
