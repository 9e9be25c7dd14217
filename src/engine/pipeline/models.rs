//! Calls to the language model, measured (metrics per provider and model,
//! tokens in the span) and traced the same way for generation and for
//! free text (rewrites, extras, explanations).

use std::time::Instant;

use tracing::instrument;

use super::Engine;
use crate::domain::Trust;
use crate::engine::llm::{
    Generation, GenerationRequest, LlmError, TextCompletion, TextRequest, TokenUsage,
};
use crate::observability::metrics;

impl Engine {
    /// One generation call, measured and traced.
    #[instrument(name = "llm.generate", skip_all, fields(llm.provider = self.llm.name(), llm.model = self.llm.model(), llm.prompt_tokens, llm.completion_tokens))]
    pub(crate) async fn call_llm(&self, req: &GenerationRequest) -> Result<Generation, LlmError> {
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
    pub(super) fn trust_of(&self, generation: &Generation, attempt: u32) -> Trust {
        generation
            .trust
            .clone()
            .unwrap_or_else(|| Trust::remote(self.llm.name()))
            .after_attempts(attempt)
    }
}

/// The tokens a free-text call used: none when it failed or had no model.
pub(super) fn usage_of(reply: &Result<Option<TextCompletion>, LlmError>) -> TokenUsage {
    match reply {
        Ok(Some(c)) => c.usage,
        _ => TokenUsage::default(),
    }
}

pub(super) fn llm_error_kind(e: &LlmError) -> &'static str {
    match e {
        LlmError::Timeout(_) => "timeout",
        LlmError::Unavailable(_) => "unavailable",
        LlmError::Upstream { .. } => "upstream",
        LlmError::BadResponse(_) => "bad_response",
        LlmError::Config(_) => "config",
    }
}
