//! Words of a question: tokens, light stemming, stopwords and the
//! content-word sets used to recognise paraphrases of trained questions.

use std::collections::BTreeSet;

/// One token of a question.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Lower-case text.
    pub lower: String,
    /// Text as written (for literals).
    pub raw: String,
    /// [`stem`] of `lower`.
    pub stem: String,
    /// Written inside quotes: always a literal value.
    pub quoted: bool,
    /// Starts with a capital letter and is not the first word.
    pub capitalised: bool,
}

impl Token {
    pub fn number(&self) -> Option<f64> {
        if self.quoted {
            return None;
        }
        self.lower.replace(',', "").parse::<f64>().ok()
    }
}

/// Split into words, numbers and quoted literals; punctuation is dropped.
pub fn tokenize(question: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = question.chars().collect();
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        let quote_open =
            matches!(c, '\'' | '"' | '“' | '‘') && (i == 0 || !chars[i - 1].is_alphanumeric());
        if quote_open {
            let close = match c {
                '“' => '”',
                '‘' => '’',
                other => other,
            };
            // The closing quote is one not followed by a letter ("O'Neil" stays whole).
            let closing = chars[i + 1..].iter().enumerate().position(|(k, &x)| {
                x == close && !chars.get(i + 2 + k).is_some_and(|n| n.is_alphanumeric())
            });
            if let Some(len) = closing {
                let raw: String = chars[i + 1..i + 1 + len].iter().collect();
                let raw = raw.trim().to_string();
                if !raw.is_empty() {
                    out.push(make(raw, true, false));
                }
                i += len + 2;
                first = false;
                continue;
            }
        }
        if c.is_alphanumeric() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric()
                    || (matches!(chars[i], '.' | ',')
                        && chars[i - 1].is_ascii_digit()
                        && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()))
                    || (matches!(chars[i], '\'' | '’' | '-')
                        && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())))
            {
                i += 1;
            }
            let raw: String = chars[start..i].iter().collect();
            // "customer's" → "customer"
            let raw = raw
                .strip_suffix("'s")
                .or_else(|| raw.strip_suffix("’s"))
                .map(str::to_string)
                .unwrap_or(raw);
            let capitalised = !first && raw.chars().next().is_some_and(char::is_uppercase);
            out.push(make(raw, false, capitalised));
            first = false;
            continue;
        }
        i += 1;
    }
    out
}

fn make(raw: String, quoted: bool, capitalised: bool) -> Token {
    let lower = raw.to_lowercase();
    Token {
        stem: stem(&lower),
        lower,
        raw,
        quoted,
        capitalised,
    }
}

/// Light stemming, the same for question words and schema words, so
/// "categories"/"category", "hired"/"hire_date", "shipped"/"ship" meet: the
/// prompt's schema linking uses the same stemmer.
pub fn stem(word: &str) -> String {
    crate::engine::prompt::words::stem(word)
}

/// Function words that carry no meaning for matching (intent words such as
/// "many", "top", "average" are deliberately *not* here).
pub const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "to",
    "for",
    "from",
    "with",
    "and",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "do",
    "does",
    "did",
    "we",
    "our",
    "us",
    "i",
    "me",
    "my",
    "you",
    "your",
    "there",
    "their",
    "they",
    "them",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "have",
    "has",
    "had",
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "please",
    "can",
    "could",
    "would",
    "will",
    "tell",
    "show",
    "list",
    "give",
    "get",
    "find",
    "display",
    "return",
    "all",
    "any",
    "some",
    "about",
    "currently",
    "exist",
    "existing",
    "as",
    "into",
    "so",
    "far",
    "just",
    "also",
    "here",
    "now",
    "see",
    "know",
    "want",
    "like",
    "need",
    "let",
    "made",
    "make",
    "got",
    "being",
    "overall",
    "altogether",
    "whole",
    "entire",
    "records",
    "record",
    "rows",
    "row",
    "data",
    "database",
    "table",
    "tables",
    "value",
    "values",
    "currently",
    "every",
    "each",
    "anything",
    "stored",
    "registered",
    "where",
    "when",
    "how",
    "he",
    "she",
    "his",
    "her",
    "him",
    "corresponding",
    "along",
    "well",
    "listed",
];

pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

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
    tokenize(question)
        .into_iter()
        .filter(|t| !is_stopword(&t.lower))
        .map(|t| {
            let c = canonical(&t.lower);
            if c != t.lower { c.to_string() } else { stem(c) }
        })
        .collect()
}

pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let inter = a.intersection(b).count() as f64;
    let union = a.union(b).count() as f64;
    inter / union
}

/// Words of an identifier: split on `_`, `-`, spaces and camelCase.
pub fn identifier_words(ident: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in ident.chars() {
        if c == '_' || c == '-' || c == ' ' || c == '.' {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_meet() {
        assert_eq!(stem("categories"), stem("category"));
        assert_eq!(stem("hired"), stem("hire"));
        assert_eq!(stem("shipped"), stem("ship"));
        assert_eq!(stem("orders"), "order");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("prices"), stem("price"));
    }

    #[test]
    fn tokens_keep_quotes_and_numbers() {
        let t = tokenize("Orders of 'Small Business' clients over 1,000.50 in Germany?");
        let raws: Vec<&str> = t.iter().map(|t| t.raw.as_str()).collect();
        assert_eq!(
            raws,
            [
                "Orders",
                "of",
                "Small Business",
                "clients",
                "over",
                "1,000.50",
                "in",
                "Germany"
            ]
        );
        assert!(t[2].quoted);
        assert_eq!(t[5].number(), Some(1000.5));
        assert!(t[7].capitalised && !t[0].capitalised);
        assert_eq!(tokenize("O'Brien's orders")[0].raw, "O'Brien");
    }

    #[test]
    fn paraphrases_share_content_words() {
        let a = content_words("How many customers are in Germany?");
        let b = content_words("how many customers do we have in germany");
        assert_eq!(a, b);
        let c = content_words("How many orders are there?");
        let d = content_words("How many customers are there?");
        assert!(jaccard(&c, &d) < 0.75);
        assert!(jaccard(&a, &content_words("list customers in Germany")) < 0.75);
    }

    #[test]
    fn identifiers_split() {
        assert_eq!(identifier_words("order_items"), ["order", "items"]);
        assert_eq!(identifier_words("hireDate"), ["hire", "date"]);
        assert_eq!(identifier_words("CustomerID"), ["customer", "id"]);
    }
}
