//! The offline generator's confidence rule (see [`crate::engine::llm::trust`]).
//!
//! - Its own reading of the question (the shapes): `high` when every content
//!   word was mapped onto the schema; `medium` when words were read past
//!   (each named in a `words_ignored` assumption); `low` when an alternative
//!   reading was taken after the best one failed.
//! - A trained example reused unchanged: `high` only when both questions have
//!   the same content words; otherwise `medium`.
//! - A trained example adapted to the question: `medium` when it was close
//!   enough to win over the shapes; `low` when it only stood in because the
//!   shapes found no reading.

use crate::connectors::SchemaInfo;
use crate::engine::llm::trust::{Assumption, Confidence, Trust};
use crate::text;

use super::adapt::Adapted;

/// A trained example reused as is.
pub fn reused(question: &str, example: &str) -> Trust {
    let same_words = text::content_words(question) == text::content_words(example);
    let mut t = Trust::new(Confidence::High);
    let message = format!("answered with the SQL of the trained example '{example}'");
    if same_words {
        t.assumptions
            .push(Assumption::new("trained_example", message));
    } else {
        t.assume(
            Confidence::Medium,
            Assumption::new("trained_example", message),
        );
    }
    t
}

/// A trained example adapted (or, `strategy == "trained_example"`, taken
/// unchanged because nothing needed swapping).
pub fn adapted(a: &Adapted, strategy: &str, at_most: Confidence) -> Trust {
    let mut t = Trust::new(Confidence::High);
    let (code, verb) = if at_most == Confidence::Low {
        ("loose_example", "borrowed from the loosely similar")
    } else if strategy == "trained_example" {
        ("trained_example", "answered with the SQL of the similar")
    } else {
        ("adapted_example", "adapted from the")
    };
    t.assume(
        at_most,
        Assumption::new(code, format!("{verb} trained example '{}'", a.question)),
    );
    t
}

/// The shapes' own reading.
pub fn shaped(question: &str, schema: &SchemaInfo, variant: usize) -> Trust {
    let mut t = Trust::new(Confidence::High);
    let unread = super::unread_words(question, schema);
    if !unread.is_empty() {
        t.assume(
            Confidence::Medium,
            Assumption::new(
                "words_ignored",
                format!(
                    "read past '{}': no table, column or value matches",
                    unread.join("', '")
                ),
            ),
        );
    }
    if variant > 0 {
        t.assume(
            Confidence::Low,
            Assumption::new(
                "alternative_reading",
                "an alternative reading of the question, taken after the first one failed",
            ),
        );
    }
    t
}
