//! Conversations: turning a follow-up ("and by country?") into a standalone
//! question from the previous turns, before retrieval.
//!
//! With an LLM the rewrite is one free-text call whose reply is read as a
//! question and nothing else (it goes through the whole pipeline like any
//! question, validator included). The builtin generator has no model: it
//! merges the previous question with the follow-up's new grouping or filter
//! words, which is enough for "and by country?", "what about in 2023?" or
//! "only France?"; a question that does not read like a follow-up is left
//! as it is. Storing turns is the store's job (`store::conversations`).

use std::sync::LazyLock;

use regex::Regex;

use crate::domain::Question;
use crate::engine::llm::{LlmError, TextRequest};

/// How many previous turns a rewrite sees.
pub const CONTEXT_TURNS: u32 = 3;

/// A conversation id from a client: 1–64 characters of `[A-Za-z0-9_-]`
/// (ours are UUIDs).
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The prompt of an LLM rewrite; `previous` are standalone questions, oldest first.
pub fn rewrite_request(
    previous: &[String],
    follow_up: &str,
    correlation_id: Option<String>,
) -> TextRequest {
    let mut user = String::from("Earlier questions, oldest first:\n");
    for (i, q) in previous.iter().enumerate() {
        user.push_str(&format!("{}. {q}\n", i + 1));
    }
    user.push_str(&format!("Follow-up: {follow_up}\n"));
    TextRequest {
        system: "You rewrite the follow-up question of a conversation about a database into \
                 one standalone question that keeps everything the earlier questions \
                 established (what is counted or measured, filters, groupings) unless the \
                 follow-up changes it. Reply with the standalone question only, on one line. \
                 If the follow-up is already a standalone question, repeat it unchanged."
            .into(),
        user,
        correlation_id,
    }
}

/// The model's rewrite: its first non-empty line without a label or quotes,
/// which must be a valid question.
pub fn parse_rewrite(reply: &str) -> Result<Question, LlmError> {
    let line = reply
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("```"))
        .unwrap_or_default();
    let lower = line.to_lowercase();
    let mut text = line;
    for label in ["standalone question:", "question:", "rewritten:"] {
        if lower.starts_with(label) {
            text = line.get(label.len()..).unwrap_or_default().trim();
            break;
        }
    }
    let text = text.trim_matches(|c| matches!(c, '"' | '\'' | '`' | '“' | '”'));
    Question::parse(text)
        .map_err(|e| LlmError::BadResponse(format!("the rewritten question is not usable: {e}")))
}

/// Openers of a follow-up, longest first; what follows them is the new part.
const OPENERS: [&str; 16] = [
    "and what about ",
    "and how about ",
    "what about ",
    "how about ",
    "and now ",
    "and also ",
    "same but ",
    "same for ",
    "and then ",
    "but only ",
    "and only ",
    "and just ",
    "and ",
    "but ",
    "now ",
    "also ",
];

/// Words a bare follow-up fragment may start with ("by country?", "in 2023?").
const FRAGMENT_STARTS: [&str; 12] = [
    "by",
    "per",
    "in",
    "for",
    "during",
    "from",
    "grouped",
    "broken",
    "split",
    "only",
    "just",
    "excluding",
];

static YEAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:19|20)\d{2}\b").expect("year regex"));
/// A time filter already in the previous question.
static TIME_FILTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\s+(?:in|during|for|from|of)\s+(?:the\s+year\s+)?(?:19|20)\d{2}\b")
        .expect("time filter regex")
});
/// A grouping at the end of the previous question ("by country", "in each city").
static GROUPING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\s+(?:(?:grouped|broken down|split)\s+by|by|per|in\s+each|for\s+each|for\s+every)\s+[\w ]{1,40}$",
    )
    .expect("grouping regex")
});
static GROUPING_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:(?:grouped|broken down|split)\s+by|by|per|in\s+each|for\s+each|for\s+every)\s+",
    )
    .expect("grouping start regex")
});

/// The builtin rewrite of `follow_up` given the previous standalone
/// question; `None` when `follow_up` does not read like a follow-up.
pub fn builtin_rewrite(previous: &str, follow_up: &str) -> Option<String> {
    let raw = follow_up.trim().trim_end_matches(['?', '.', '!']).trim();
    let lower = raw.to_lowercase();
    let opener = OPENERS.iter().find(|o| lower.starts_with(*o));
    let fragment = match opener {
        Some(o) => raw.get(o.len()..).unwrap_or_default().trim(),
        None => {
            let first = lower.split_whitespace().next().unwrap_or_default();
            let short = lower.split_whitespace().count() <= 5;
            if !(short && FRAGMENT_STARTS.contains(&first)) {
                return None;
            }
            raw
        }
    };
    if fragment.is_empty() {
        return None;
    }
    let base = previous.trim().trim_end_matches(['?', '.', '!']).trim();
    let merged = if GROUPING_START.is_match(fragment) {
        // A new grouping replaces the old one.
        let stripped = GROUPING.replace(base, "");
        format!("{stripped} {fragment}")
    } else if YEAR.is_match(fragment) {
        // A new period replaces the old one.
        let stripped = TIME_FILTER.replace_all(base, "");
        let first = fragment.split_whitespace().next().unwrap_or_default();
        if YEAR.is_match(first) {
            format!("{stripped} in {fragment}")
        } else {
            format!("{stripped} {fragment}")
        }
    } else {
        let first = fragment
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_lowercase();
        if FRAGMENT_STARTS.contains(&first.as_str()) || first == "with" || first == "where" {
            format!("{base} {fragment}")
        } else {
            format!("{base} for {fragment}")
        }
    };
    Some(format!(
        "{}?",
        merged.split_whitespace().collect::<Vec<_>>().join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rewrites_follow_ups() {
        let prev = "How many customers are there?";
        assert_eq!(
            builtin_rewrite(prev, "and by country?").as_deref(),
            Some("How many customers are there by country?")
        );
        assert_eq!(
            builtin_rewrite(
                "How many customers are there in each country?",
                "what about by city?"
            )
            .as_deref(),
            Some("How many customers are there by city?")
        );
        assert_eq!(
            builtin_rewrite(
                "What is the revenue by month in 2022?",
                "what about in 2023?"
            )
            .as_deref(),
            Some("What is the revenue by month in 2023?")
        );
        assert_eq!(
            builtin_rewrite("How many orders are there?", "what about 2023?").as_deref(),
            Some("How many orders are there in 2023?")
        );
        assert_eq!(
            builtin_rewrite(prev, "and France?").as_deref(),
            Some("How many customers are there for France?")
        );
        assert_eq!(
            builtin_rewrite(prev, "in France").as_deref(),
            Some("How many customers are there in France?")
        );
        assert_eq!(builtin_rewrite(prev, "How many products are there?"), None);
        assert_eq!(builtin_rewrite(prev, "and?"), None);
    }

    #[test]
    fn rewrites_from_a_model_are_read_as_one_question() {
        assert_eq!(
            parse_rewrite(
                "Standalone question: \"How many customers per country?\"\n\nExplanation…"
            )
            .unwrap()
            .as_str(),
            "How many customers per country?"
        );
        assert!(parse_rewrite("   \n").is_err());
        assert!(valid_id("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
        assert!(!valid_id("x'; DROP TABLE"));
        assert!(!valid_id(&"a".repeat(65)));
    }
}
