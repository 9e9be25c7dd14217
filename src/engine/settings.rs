//! Settings an admin may change at runtime (`/api/v1/admin/settings`): what
//! they are, their bounds, and how a change is applied. Changes are stored in
//! the app store and applied again on the next start, over the config file.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::pipeline::{Engine, EngineSettings, PipelineError, RequestContext};
use crate::config::FeedbackMode;
use crate::domain::ConnectionId;

/// The runtime-tunable settings as the API shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuntimeSettings {
    /// Connection used when a request names none.
    pub default_connection: String,
    /// `immediate` or `approval` for feedback-made training items.
    #[schema(value_type = String, example = "immediate")]
    pub feedback_mode: FeedbackMode,
    /// Corrections fed back to the generator after a failed attempt (0–5).
    pub max_correction_attempts: u32,
    /// Prompt budget in estimated tokens (500–200000).
    pub token_budget: usize,
    /// Prompts may carry stored values of the columns a question refers to.
    pub allow_values_in_prompt: bool,
    /// Retrieved items per kind (0–50 each).
    pub top_k_ddl: usize,
    pub top_k_documentation: usize,
    pub top_k_examples: usize,
    /// Lifetime of cached generated SQL; 0 turns the cache off.
    pub sql_cache_ttl_secs: u64,
}

/// A partial update: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub default_connection: Option<String>,
    #[schema(value_type = Option<String>)]
    pub feedback_mode: Option<FeedbackMode>,
    pub max_correction_attempts: Option<u32>,
    pub token_budget: Option<usize>,
    pub allow_values_in_prompt: Option<bool>,
    pub top_k_ddl: Option<usize>,
    pub top_k_documentation: Option<usize>,
    pub top_k_examples: Option<usize>,
    pub sql_cache_ttl_secs: Option<u64>,
}

impl RuntimeSettings {
    pub fn of(s: &EngineSettings) -> Self {
        Self {
            default_connection: s.default_connection.clone(),
            feedback_mode: s.feedback_mode,
            max_correction_attempts: s.max_correction_attempts,
            token_budget: s.token_budget,
            allow_values_in_prompt: s.allow_values_in_prompt,
            top_k_ddl: s.top_k_ddl,
            top_k_documentation: s.top_k_documentation,
            top_k_examples: s.top_k_examples,
            sql_cache_ttl_secs: s.sql_cache_ttl.as_secs(),
        }
    }

    fn apply_to(&self, s: &mut EngineSettings) {
        s.default_connection = self.default_connection.clone();
        s.feedback_mode = self.feedback_mode;
        s.max_correction_attempts = self.max_correction_attempts;
        s.token_budget = self.token_budget;
        s.allow_values_in_prompt = self.allow_values_in_prompt;
        s.top_k_ddl = self.top_k_ddl;
        s.top_k_documentation = self.top_k_documentation;
        s.top_k_examples = self.top_k_examples;
        s.sql_cache_ttl = Duration::from_secs(self.sql_cache_ttl_secs);
    }

    fn patched(&self, p: &SettingsPatch) -> Self {
        let mut out = self.clone();
        if let Some(v) = &p.default_connection {
            out.default_connection = v.clone();
        }
        if let Some(v) = p.feedback_mode {
            out.feedback_mode = v;
        }
        if let Some(v) = p.max_correction_attempts {
            out.max_correction_attempts = v;
        }
        if let Some(v) = p.token_budget {
            out.token_budget = v;
        }
        if let Some(v) = p.allow_values_in_prompt {
            out.allow_values_in_prompt = v;
        }
        if let Some(v) = p.top_k_ddl {
            out.top_k_ddl = v;
        }
        if let Some(v) = p.top_k_documentation {
            out.top_k_documentation = v;
        }
        if let Some(v) = p.top_k_examples {
            out.top_k_examples = v;
        }
        if let Some(v) = p.sql_cache_ttl_secs {
            out.sql_cache_ttl_secs = v;
        }
        out
    }

    /// Every problem, named by setting, or `Ok`.
    fn check(&self, engine: &Engine) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        match ConnectionId::parse(&self.default_connection) {
            Ok(id) if engine.connections.get(&id).is_some() => {}
            _ => problems.push(format!(
                "default_connection: no connection named `{}`",
                self.default_connection
            )),
        }
        if self.max_correction_attempts > 5 {
            problems.push("max_correction_attempts: at most 5".into());
        }
        if !(500..=200_000).contains(&self.token_budget) {
            problems.push("token_budget: between 500 and 200000".into());
        }
        for (name, v) in [
            ("top_k_ddl", self.top_k_ddl),
            ("top_k_documentation", self.top_k_documentation),
            ("top_k_examples", self.top_k_examples),
        ] {
            if v > 50 {
                problems.push(format!("{name}: at most 50"));
            }
        }
        if self.sql_cache_ttl_secs > 30 * 24 * 3600 {
            problems.push("sql_cache_ttl_secs: at most 30 days".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

impl Engine {
    pub fn runtime_settings(&self) -> RuntimeSettings {
        RuntimeSettings::of(&self.settings())
    }

    /// Validate, store and apply a change; returns the new settings.
    pub async fn update_settings(
        &self,
        patch: &SettingsPatch,
        rc: &RequestContext,
    ) -> Result<RuntimeSettings, PipelineError> {
        let current = self.runtime_settings();
        let next = current.patched(patch);
        next.check(self)
            .map_err(|p| PipelineError::BadInput(p.join("; ")))?;
        let value =
            serde_json::to_value(&next).map_err(|e| PipelineError::BadInput(e.to_string()))?;
        self.store
            .save_runtime_settings(&value, rc.user_id.as_deref())
            .await?;
        let mut settings = self.settings();
        next.apply_to(&mut settings);
        self.set_settings(settings);
        self.audit(
            rc,
            "settings.update",
            "runtime",
            serde_json::to_value(patch).unwrap_or_default(),
        )
        .await;
        Ok(next)
    }

    /// Apply stored overrides at startup. A stored value that no longer
    /// passes (e.g. a removed default connection) is skipped with a warning.
    pub async fn load_stored_settings(&self) -> Result<(), PipelineError> {
        let Some(value) = self.store.runtime_settings().await? else {
            return Ok(());
        };
        // Settings added after the value was stored keep their configured
        // value: the stored fields are laid over the current ones.
        let mut merged = serde_json::to_value(self.runtime_settings()).unwrap_or_default();
        if let (Some(current), serde_json::Value::Object(stored)) = (merged.as_object_mut(), value)
        {
            current.extend(stored);
        }
        let Ok(stored) = serde_json::from_value::<RuntimeSettings>(merged) else {
            tracing::warn!("stored runtime settings are unreadable; using the configuration");
            return Ok(());
        };
        match stored.check(self) {
            Ok(()) => {
                let mut settings = self.settings();
                stored.apply_to(&mut settings);
                self.set_settings(settings);
            }
            Err(problems) => {
                tracing::warn!(problems = %problems.join("; "), "stored runtime settings ignored")
            }
        }
        Ok(())
    }
}
