//! Words for matching a question against schema names, comments and
//! example questions: lower-cased, split at `_`, spaces and camelCase
//! humps, lightly stemmed, stopwords dropped, and a few common synonyms.
//!
//! The offline generator has its own, richer tokenizer (quoted literals,
//! numbers, capitalisation); this one only has to make "unit prices of
//! order items" meet `order_items.unit_price`, and must stay cheap because
//! it runs over every identifier of a large schema per question.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Words that carry no meaning for linking: question filler and function
/// words. Kept sorted for binary search.
const STOPWORDS: &[&str] = &[
    "a", "about", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "by", "can",
    "could", "did", "display", "do", "doe", "does", "each", "every", "find", "for", "from", "get",
    "give", "had", "has", "have", "how", "i", "in", "is", "it", "its", "list", "many", "me",
    "much", "my", "of", "on", "or", "our", "please", "return", "show", "tell", "than", "that",
    "the", "their", "them", "there", "these", "they", "this", "those", "to", "us", "was", "we",
    "were", "what", "when", "where", "which", "who", "whom", "whose", "why", "will", "with",
    "would", "you", "your",
];

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

/// Content words of `text`, stemmed, in order (duplicates kept).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in split(text) {
        if is_stopword(&raw) {
            continue;
        }
        let s = stem(&raw);
        if !is_stopword(&s) {
            out.push(s);
        }
    }
    out
}

/// Schema words (stems) a question word's stem may stand for.
pub fn synonyms(stem: &str) -> &'static [String] {
    SYNONYM_STEMS.get(stem).map_or(&[], Vec::as_slice)
}

fn is_stopword(w: &str) -> bool {
    STOPWORDS.binary_search(&w).is_ok()
}

/// Lower-case pieces of `text`: runs of letters or digits, split at
/// camelCase humps (`unitPrice`, `HTTPServer` → `http`, `server`).
fn split(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let hump = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if hump && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Light suffix stripping, the same for question words and schema words,
/// so "categories"/"category", "hired"/"hire_date", "prices"/"price" meet.
pub fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    if w.chars().count() <= 3 || w.chars().any(|c| c.is_ascii_digit()) {
        return w;
    }
    let mut s = if let Some(b) = w.strip_suffix("ies") {
        format!("{b}y")
    } else if w.ends_with("sses")
        || w.ends_with("xes")
        || w.ends_with("ches")
        || w.ends_with("shes")
    {
        w[..w.len() - 2].to_string()
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w[..w.len() - 1].to_string()
    } else {
        w
    };
    for suffix in ["ing", "ed"] {
        if s.len() > suffix.len() + 2 && s.ends_with(suffix) {
            s.truncate(s.len() - suffix.len());
            let b = s.as_bytes();
            let n = b.len();
            if n >= 2 && b[n - 1] == b[n - 2] && !matches!(b[n - 1], b'l' | b's' | b'z') {
                s.pop();
            }
            break;
        }
    }
    if s.len() > 3 && s.ends_with('e') {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
        // Every synonym is reachable from its word as written in a question.
        for (k, _) in SYNONYMS {
            assert!(!synonyms(&stem(k)).is_empty(), "{k}");
        }
    }

    #[test]
    fn identifiers_and_questions_meet() {
        assert_eq!(
            words("order_items.unitPrice"),
            ["order", "item", "unit", "pric"]
        );
        assert_eq!(
            words("unit prices of the order items"),
            ["unit", "pric", "order", "item"]
        );
        assert_eq!(words("HTTPServer_id"), ["http", "server", "id"]);
        assert_eq!(words("Which categories were hired?"), ["category", "hir"]);
        assert_eq!(words("hire_date"), ["hir", "dat"]);
        assert_eq!(words("address_line_1"), ["address", "lin", "1"]);
        assert!(words("How many are there?").is_empty());
        assert_eq!(synonyms(&stem("oldest")), ["age"]);
        assert_eq!(synonyms(&stem("towns")), ["city"]);
        assert_eq!(synonyms(&stem("employees")), ["staff"]);
        assert_eq!(synonyms(&stem("prices")), ["cost"]);
        assert!(synonyms("zebra").is_empty());
    }
}
