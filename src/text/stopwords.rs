//! The three stop-word lists, one per reader of text, kept apart because
//! they answer different questions:
//!
//! - [`is_question_filler`]: words the offline generator may ignore when it
//!   reads a question. Intent words ("many", "top", "average") are *not*
//!   here, but generic nouns ("records", "table") and request verbs are.
//! - [`is_linking_stopword`]: words that say nothing about which table or
//!   column a question needs (prompt schema linking and few-shot choice);
//!   "many" and "much" are filler here.
//! - [`is_retrieval_stopword`]: words the embedder damps rather than drops,
//!   including the SQL keywords and types every DDL snippet shares.

/// Function words that carry no meaning for the generator's matching.
const QUESTION_FILLER: &[&str] = &[
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

/// Words that carry no meaning for linking: question filler and function
/// words. Kept sorted for binary search.
const LINKING: &[&str] = &[
    "a", "about", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "by", "can",
    "could", "did", "display", "do", "doe", "does", "each", "every", "find", "for", "from", "get",
    "give", "had", "has", "have", "how", "i", "in", "is", "it", "its", "list", "many", "me",
    "much", "my", "of", "on", "or", "our", "please", "return", "show", "tell", "than", "that",
    "the", "their", "them", "there", "these", "they", "this", "those", "to", "us", "was", "we",
    "were", "what", "when", "where", "which", "who", "whom", "whose", "why", "will", "with",
    "would", "you", "your",
];

/// Words that carry little meaning for retrieval: question filler, pronouns,
/// prepositions and the SQL keywords and types that every DDL snippet shares.
/// Kept sorted for binary search.
const RETRIEVAL: &[&str] = &[
    "a",
    "about",
    "all",
    "also",
    "an",
    "and",
    "any",
    "are",
    "as",
    "asc",
    "at",
    "be",
    "been",
    "bigint",
    "bool",
    "boolean",
    "by",
    "can",
    "char",
    "check",
    "constraint",
    "could",
    "create",
    "decimal",
    "default",
    "desc",
    "did",
    "display",
    "distinct",
    "do",
    "does",
    "double",
    "each",
    "every",
    "exists",
    "find",
    "float",
    "for",
    "foreign",
    "from",
    "get",
    "give",
    "had",
    "has",
    "have",
    "how",
    "i",
    "if",
    "in",
    "insert",
    "int",
    "integer",
    "into",
    "is",
    "it",
    "its",
    "join",
    "key",
    "let",
    "list",
    "many",
    "me",
    "much",
    "my",
    "not",
    "null",
    "numeric",
    "of",
    "on",
    "or",
    "our",
    "please",
    "primary",
    "real",
    "references",
    "return",
    "select",
    "should",
    "show",
    "smallint",
    "table",
    "tell",
    "text",
    "than",
    "that",
    "the",
    "their",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "unique",
    "us",
    "varchar",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "whose",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
];

/// A function word the offline generator reads past (lower-case input).
pub fn is_question_filler(word: &str) -> bool {
    QUESTION_FILLER.contains(&word)
}

/// A word that says nothing about which schema item a question needs.
pub fn is_linking_stopword(word: &str) -> bool {
    LINKING.binary_search(&word).is_ok()
}

/// A word the retrieval embedder weighs little (lower-case input).
pub fn is_retrieval_stopword(word: &str) -> bool {
    RETRIEVAL.binary_search(&word).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_lists_allow_binary_search() {
        assert!(LINKING.windows(2).all(|w| w[0] < w[1]));
        assert!(RETRIEVAL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_lists_differ_where_documented() {
        // Intent words stay visible to the generator only.
        assert!(!is_question_filler("many") && is_linking_stopword("many"));
        assert!(is_retrieval_stopword("many"));
        // Generic nouns are filler for the generator, content for linking.
        assert!(is_question_filler("records") && !is_linking_stopword("records"));
        // SQL keywords are noise only in DDL-heavy retrieval.
        assert!(is_retrieval_stopword("varchar") && !is_linking_stopword("varchar"));
        assert!(!is_question_filler("varchar"));
    }
}
