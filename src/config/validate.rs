//! Validation of a loaded [`Config`] as a whole: ranges, settings that need
//! each other, names of connections, and production's stricter rules. Every
//! problem is collected so startup prints them all at once, each naming its
//! setting.

use super::{Config, ConfigError, Profile, ProviderKind, auth, bounds, ops, secrets};

impl Config {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if !(1..=200).contains(&self.query.summary_max_rows) {
            problems.push(
                "query.summary_max_rows (INSIGHT_QUERY__SUMMARY_MAX_ROWS): must be between 1 and 200"
                    .into(),
            );
        }
        // Ranges of every numeric setting (and of each connection's).
        problems.extend(bounds::problems(self));
        problems.extend(self.budgets.problems());
        if !(0.0..=1.0).contains(&self.training.reuse_threshold) {
            problems.push("training.reuse_threshold: must be between 0 and 1".into());
        }
        if self.retrieval.embedding_dim < 16 || self.retrieval.embedding_dim > 8192 {
            problems.push("retrieval.embedding_dim: must be between 16 and 8192".into());
        }
        problems.extend(self.retrieval.problems());
        if matches!(self.llm.provider, ProviderKind::Anthropic) && self.llm.api_key.is_none() {
            problems
                .push("llm.api_key (INSIGHT_LLM__API_KEY): required for provider anthropic".into());
        }
        for (name, c) in &self.connections {
            if let Err(e) = crate::domain::ConnectionId::parse(name) {
                problems.push(format!("connections.{name}: {}", e.message));
            }
            if let Err(e) = c.target() {
                problems.push(format!("connections.{name}: {e}"));
            }
        }
        if self.demo.enabled && self.connections.contains_key("demo") {
            problems.push("connections.demo: the name `demo` is taken by the built-in demo database (set demo.enabled = false to reuse it)".into());
        }
        problems.extend(ops::problems(self));
        problems.extend(self.auth.problems());
        if self.profile == Profile::Production {
            problems.extend(secrets::production_problems(self));
            problems.extend(auth::production_problems(&self.server.cors_origins));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Problems(problems))
        }
    }
}
