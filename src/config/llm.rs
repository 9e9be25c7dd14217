//! Settings of the SQL generator: which provider, where, which model, limits.

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The offline generator: no network, no model.
    #[default]
    Builtin,
    /// Any OpenAI-compatible chat-completions API (OpenAI, Azure-style
    /// gateways, Ollama, vLLM, llama.cpp server).
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    pub provider: ProviderKind,
    /// Base URL, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    /// Defaults per provider when empty.
    pub base_url: Option<String>,
    pub api_key: Option<SecretString>,
    pub model: Option<String>,
    pub timeout_secs: u64,
    pub max_tokens: u32,
    pub temperature: f32,
    /// Prompt budget in (estimated) tokens.
    pub token_budget: usize,
    /// Let prompts for remote providers carry stored values of the columns a
    /// question refers to (low-cardinality text columns sampled at
    /// introspection). Off: no value from a target database is ever sent.
    pub allow_values_in_prompt: bool,
    /// How many times a failed validation or execution is fed back for correction.
    pub max_correction_attempts: u32,
    /// Ask the provider to stream its reply (SSE) and assemble it as it comes.
    pub stream: bool,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            provider: ProviderKind::Builtin,
            base_url: None,
            api_key: None,
            model: None,
            timeout_secs: 60,
            max_tokens: 1024,
            temperature: 0.0,
            token_budget: 6000,
            allow_values_in_prompt: false,
            max_correction_attempts: 2,
            stream: false,
        }
    }
}

impl LlmConfig {
    pub fn base_url_or_default(&self) -> String {
        let default = match self.provider {
            ProviderKind::Openai => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
            ProviderKind::Builtin => "",
        };
        self.base_url
            .clone()
            .unwrap_or_else(|| default.to_string())
            .trim_end_matches('/')
            .to_string()
    }

    pub fn model_or_default(&self) -> String {
        let default = match self.provider {
            ProviderKind::Openai => "gpt-4o-mini",
            ProviderKind::Anthropic => "claude-sonnet-4-5",
            ProviderKind::Builtin => "builtin",
        };
        self.model.clone().unwrap_or_else(|| default.to_string())
    }
}
