//! Content-word sets and their overlap: how the offline generator tells
//! that a question is a paraphrase of a trained one ("how many customers
//! are in Germany" / "how many customers do we have in germany").

use std::collections::BTreeSet;

use super::{is_question_filler, question_tokens, stem};

/// Canonical intent words, so "how many"/"number of"/"count" compare equal
/// in content-word sets while "list" and "how many" stay different.
fn canonical(word: &str) -> &str {
    match word {
        "many" | "number" | "count" | "counts" => "count",
        "avg" | "average" | "mean" => "avg",
        "sum" | "total" => "total",
        "max" | "maximum" | "highest" | "largest" | "biggest" => "max",
        "min" | "minimum" | "lowest" | "smallest" => "min",
        "client" | "clients" | "buyer" | "buyers" => "customer",
        "staff" | "worker" | "workers" | "employee" | "employees" => "employee",
        _ => word,
    }
}

/// Normalised content words: lower-case, stopwords removed, stemmed.
pub fn content_words(question: &str) -> BTreeSet<String> {
    question_tokens(question)
        .into_iter()
        .filter(|t| !is_question_filler(&t.lower))
        .map(|t| {
            let c = canonical(&t.lower);
            if c != t.lower { c.to_string() } else { stem(c) }
        })
        .collect()
}

/// Jaccard similarity of two word sets; 0 when both are empty.
pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let inter = a.intersection(b).count() as f64;
    let union = a.union(b).count() as f64;
    inter / union
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paraphrases_share_content_words() {
        let a = content_words("How many customers are in Germany?");
        let b = content_words("how many customers do we have in germany");
        assert_eq!(a, b);
        let c = content_words("How many orders are there?");
        let d = content_words("How many customers are there?");
        assert!(jaccard(&c, &d) < 0.75);
        assert!(jaccard(&a, &content_words("list customers in Germany")) < 0.75);
        assert_eq!(jaccard(&BTreeSet::new(), &BTreeSet::new()), 0.0);
    }
}
