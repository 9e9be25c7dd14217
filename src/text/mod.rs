//! Words of questions, schema identifiers and DDL: tokenising, stemming and
//! stop words, in one place for the three readers of text: retrieval (the
//! hashing embedder), the prompt's schema linking and few-shot choice, and
//! the offline generator.
//!
//! The readers share the building blocks but not every choice, and their
//! outputs are compared against stored data (embedding vectors persisted
//! under an embedder id, trained questions, benchmark predictions), so the
//! differences are kept, each under its own name rather than in a copy:
//!
//! | need | tokeniser | stemmer | stop words |
//! |------|-----------|---------|------------|
//! | generator: read a question | [`question_tokens`] (quotes, numbers, capitals) | [`stem`] | [`is_question_filler`] |
//! | generator: split a schema name | [`identifier_words`] | [`stem`] | — |
//! | prompt: link words to the schema | [`linking_words`] (camelCase humps) | [`stem`] | [`is_linking_stopword`] |
//! | retrieval: hash features | [`retrieval_pieces`] (humps, letter/digit changes) | [`stem_conservative`] | [`is_retrieval_stopword`] |
//!
//! Everything here is pure and deterministic. Changing what
//! [`retrieval_pieces`], [`stem_conservative`] or [`is_retrieval_stopword`]
//! return changes persisted vectors, so it must come with a new embedder id.

pub mod numbers;
mod similarity;
mod stem;
mod stopwords;
mod tokens;

pub use similarity::{content_words, jaccard};
pub use stem::{stem, stem_conservative};
pub use stopwords::{is_linking_stopword, is_question_filler, is_retrieval_stopword};
pub use tokens::{Token, identifier_words, linking_words, question_tokens, retrieval_pieces};
