//! Question words and the schema words they usually stand for ("oldest" →
//! `age`, "town" → `city`), for the prompt's schema linking. Words
//! themselves (splitting, stemming, stop words) come from [`crate::text`].

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::text::stem;

/// Question words and the schema words they usually stand for (both
/// sides are stemmed when the table is built). Deliberately short: a wrong
/// synonym pulls in noise tables.
const SYNONYMS: &[(&str, &[&str])] = &[
    ("biggest", &["size", "capacity"]),
    ("born", &["birth"]),
    ("cheap", &["price", "cost"]),
    ("cheapest", &["price", "cost"]),
    ("client", &["customer"]),
    ("cost", &["price"]),
    ("customer", &["client"]),
    ("earn", &["salary", "income"]),
    ("employee", &["staff"]),
    ("expensive", &["price", "cost"]),
    ("female", &["sex", "gender"]),
    ("job", &["position", "title"]),
    ("large", &["size", "capacity"]),
    ("largest", &["size", "capacity"]),
    ("male", &["sex", "gender"]),
    ("nation", &["country"]),
    ("old", &["age"]),
    ("older", &["age"]),
    ("oldest", &["age"]),
    ("pay", &["salary", "amount"]),
    ("price", &["cost"]),
    ("revenue", &["amount", "total", "sales"]),
    ("salary", &["wage"]),
    ("staff", &["employee"]),
    ("town", &["city"]),
    ("wage", &["salary"]),
    ("young", &["age"]),
    ("younger", &["age"]),
    ("youngest", &["age"]),
];

/// [`SYNONYMS`] by stem, with stemmed values.
static SYNONYM_STEMS: LazyLock<HashMap<String, Vec<String>>> = LazyLock::new(|| {
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for (word, others) in SYNONYMS {
        m.entry(stem(word))
            .or_default()
            .extend(others.iter().map(|o| stem(o)));
    }
    m
});

/// Schema words (stems) a question word's stem may stand for.
pub fn synonyms(stem: &str) -> &'static [String] {
    SYNONYM_STEMS.get(stem).map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synonyms_are_found_by_stem() {
        // Every synonym is reachable from its word as written in a question.
        for (k, _) in SYNONYMS {
            assert!(!synonyms(&stem(k)).is_empty(), "{k}");
        }
        assert_eq!(synonyms(&stem("oldest")), ["age"]);
        assert_eq!(synonyms(&stem("towns")), ["city"]);
        assert_eq!(synonyms(&stem("employees")), ["staff"]);
        assert_eq!(synonyms(&stem("prices")), ["cost"]);
        assert!(synonyms("zebra").is_empty());
    }
}
