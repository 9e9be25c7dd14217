//! SQL generation behind the [`LlmProvider`] trait.
//!
//! Providers: `openai` (any OpenAI-compatible chat-completions API), `anthropic`
//! (the Messages API) and `builtin` (the offline generator, the default when no
//! provider is configured). Remote providers get a prompt built by
//! [`crate::engine::prompt`] from the retrieved context and return SQL extracted
//! from the reply by [`extract::extract_sql`]. [`LlmProvider::complete_text`]
//! is the free-text side (answer summaries, follow-up suggestions,
//! conversation rewrites): its replies are only ever shown or parsed as text,
//! never executed. Nothing here executes SQL or touches the app store.

pub mod anthropic;
pub mod builtin;
pub mod extract;
pub mod http;
pub mod openai;
/// Confidence and assumptions live in the domain (the store records them).
pub use crate::domain::trust;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::domain::SchemaInfo;
use crate::domain::{Dialect, TrainingKind};

/// A retrieved training item, as handed to a generator.
#[derive(Debug, Clone, Serialize)]
pub struct ContextItem {
    pub id: String,
    pub kind: TrainingKind,
    pub score: f32,
    /// DDL or documentation text; for `question_sql` the question.
    pub content: String,
    /// For `question_sql` items: the SQL that answers `content`.
    pub sql: Option<String>,
}

/// Everything retrieval found for one question, best first within each kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetrievedContext {
    pub ddl: Vec<ContextItem>,
    pub documentation: Vec<ContextItem>,
    pub examples: Vec<ContextItem>,
    /// Stored values of columns the question names or whose values it
    /// mentions. Always empty unless `llm.allow_values_in_prompt` is on:
    /// this is the only way database values reach a prompt.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValueHint>,
}

/// Stored values of one column, offered to the model so it spells filter
/// values as the database does (see [`crate::engine::prompt::linking::value_hints`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueHint {
    pub table: String,
    pub column: String,
    /// Stored values that the question mentions, as stored.
    pub matched: Vec<String>,
    /// A few other stored values, to show their form.
    pub samples: Vec<String>,
}

impl RetrievedContext {
    pub fn all(&self) -> impl Iterator<Item = &ContextItem> {
        self.ddl
            .iter()
            .chain(self.documentation.iter())
            .chain(self.examples.iter())
    }
}

/// A previous attempt that failed validation or execution, fed back so the
/// generator can correct itself.
#[derive(Debug, Clone, Serialize)]
pub struct FailedAttempt {
    pub sql: String,
    pub error: String,
}

/// Input of one generation call.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    pub question: String,
    pub dialect: Dialect,
    /// The full introspected schema of the connection (the builtin generator
    /// maps questions onto it; remote providers see only `context`).
    pub schema: Arc<SchemaInfo>,
    pub context: RetrievedContext,
    pub previous_attempts: Vec<FailedAttempt>,
    /// Forwarded to remote providers as `X-Correlation-ID`.
    pub correlation_id: Option<String>,
    /// Prompt token budget for remote providers.
    pub token_budget: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GenerationOutcome {
    /// SQL to validate and run.
    Sql { sql: String },
    /// The generator could not map the question; `reason` says why, for the user.
    Unanswerable { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub outcome: GenerationOutcome,
    pub usage: TokenUsage,
    /// For the builtin generator: which strategy produced the SQL
    /// (`trained_example`, `count`, `top_n`, …). Remote providers: `None`.
    pub strategy: Option<String>,
    /// The generator's own confidence and assumptions (builtin); `None`:
    /// the pipeline applies [`trust::Trust::remote`].
    pub trust: Option<trust::Trust>,
}

/// Input of one free-text completion (no SQL extraction).
#[derive(Debug, Clone)]
pub struct TextRequest {
    pub system: String,
    pub user: String,
    /// Forwarded to remote providers as `X-Correlation-ID`.
    pub correlation_id: Option<String>,
}

/// A free-text reply, as the model wrote it.
#[derive(Debug, Clone)]
pub struct TextCompletion {
    pub text: String,
    pub usage: TokenUsage,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the LLM provider did not answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the LLM provider could not be reached: {0}")]
    Unavailable(String),
    #[error("the LLM provider returned HTTP {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("the LLM provider's reply could not be read: {0}")]
    BadResponse(String),
    #[error("LLM configuration error: {0}")]
    Config(String),
}

#[async_trait]
pub trait LlmProvider: Send + Sync {
    /// `openai`, `anthropic` or `builtin`.
    fn name(&self) -> &str;
    fn model(&self) -> &str;
    async fn generate(&self, req: &GenerationRequest) -> Result<Generation, LlmError>;
    /// A free-text completion for the answer extras and conversation
    /// rewrites. `Ok(None)`: the provider has no language model (the builtin
    /// generator), so the caller builds the text itself, deterministically.
    async fn complete_text(&self, req: &TextRequest) -> Result<Option<TextCompletion>, LlmError>;
    /// A cheap check that the provider is reachable (readiness).
    async fn ping(&self) -> Result<(), LlmError>;
}
