//! How sure a generated answer is: a [`Confidence`] level and the
//! [`Assumption`]s behind it, so nothing the generator read past, guessed or
//! adapted is dropped silently.
//!
//! The builtin generator sets them itself (`engine::llm::builtin::trust`): `high`
//! only when every content word of the question was mapped onto the schema by
//! its own reading, or when a trained example asked exactly the same thing.
//! Remote providers say nothing about themselves, so the pipeline applies
//! [`Trust::remote`]: `medium` for an answer accepted on the first attempt,
//! `low` once a correction attempt was needed. Any correction attempt lowers
//! a builtin answer to `low` too ([`Trust::after_attempts`]).

use serde::{Deserialize, Serialize};

/// How sure the generator is that the SQL means what was asked.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Confidence::Low),
            "medium" => Some(Confidence::Medium),
            "high" => Some(Confidence::High),
            _ => None,
        }
    }
}

/// One thing the answer took for granted, for the user to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assumption {
    /// Stable machine code. Builtin reading: `words_ignored`,
    /// `words_unused`, `value_guessed`, `joined_tables`, `grouped`,
    /// `comparison_unread`, `all_columns`, `alternative_reading`; training:
    /// `trained_example`, `adapted_example`, `loose_example`; any provider:
    /// `corrected`, `remote_model`.
    pub code: String,
    /// One sentence for people.
    pub message: String,
}

impl Assumption {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// Confidence plus the assumptions that set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trust {
    pub confidence: Confidence,
    pub assumptions: Vec<Assumption>,
}

impl Trust {
    pub fn new(confidence: Confidence) -> Self {
        Self {
            confidence,
            assumptions: Vec::new(),
        }
    }

    /// Record an assumption and cap the confidence at `at_most`.
    pub fn assume(&mut self, at_most: Confidence, assumption: Assumption) {
        self.confidence = self.confidence.min(at_most);
        self.assumptions.push(assumption);
    }

    /// The rule for remote providers (no self-assessment): `medium`, noted.
    pub fn remote(provider: &str) -> Self {
        let mut t = Self::new(Confidence::Medium);
        t.assumptions.push(Assumption::new(
            "remote_model",
            format!("the SQL was written by the language model '{provider}' and not checked against another reading"),
        ));
        t
    }

    /// Lowered to `low` when the accepted SQL needed correction attempts.
    pub fn after_attempts(mut self, attempts: u32) -> Self {
        if attempts > 1 {
            self.assume(
                Confidence::Low,
                Assumption::new(
                    "corrected",
                    format!(
                        "{} earlier SQL attempt(s) failed validation or execution before this one",
                        attempts - 1
                    ),
                ),
            );
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumptions_only_lower_confidence() {
        let mut t = Trust::new(Confidence::High);
        t.assume(Confidence::Medium, Assumption::new("x", "x"));
        t.assume(Confidence::High, Assumption::new("y", "y"));
        assert_eq!(t.confidence, Confidence::Medium);
        assert_eq!(t.assumptions.len(), 2);
        assert_eq!(Trust::remote("openai").confidence, Confidence::Medium);
        let fixed = Trust::remote("openai").after_attempts(2);
        assert_eq!(fixed.confidence, Confidence::Low);
        assert_eq!(fixed.assumptions[1].code, "corrected");
        assert_eq!(
            Trust::new(Confidence::High).after_attempts(1).confidence,
            Confidence::High
        );
        assert_eq!(Confidence::parse("medium"), Some(Confidence::Medium));
    }
}
