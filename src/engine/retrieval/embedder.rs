//! The built-in [`HashingEmbedder`]: a bag of lexical features hashed into a
//! fixed number of buckets, so retrieval works out of the box with no model
//! download and no network.
//!
//! Questions and schema text share vocabulary more often than not ("unit price
//! of order items" vs `order_items.unit_price`), so the features are chosen to
//! make that overlap count: identifiers are split into words, words are
//! lightly stemmed, question filler ("how many … are there") is down-weighted,
//! word bigrams reward matching phrases and character trigrams keep typos and
//! inflections close. It is not semantic: synonyms with no shared letters do
//! not meet. A model-backed embedder implements the same trait when that
//! matters.
//!
//! Vectors are persisted alongside training items, so the output must be
//! identical across runs, platforms and releases with the same [`Embedder::id`]:
//! the hash is our own FNV-1a (never `std`'s randomly seeded hasher) and any
//! change to the features must change the id.

use super::Embedder;
use crate::text;

/// Weight of a content word.
const WORD: f32 = 1.0;
/// Weight of a stopword: question filler and SQL keywords still say a little
/// ("per", "count"), so they are damped rather than dropped.
const STOPWORD: f32 = 0.15;
/// Weight of two consecutive content words.
const BIGRAM: f32 = 0.7;
/// Weight of each character trigram of a content word; a word has about as
/// many trigrams as letters, so their sum stays comparable to the word itself.
const TRIGRAM: f32 = 0.3;

/// Feature-hashing embedder over words, word bigrams and character trigrams.
#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    dim: usize,
    id: String,
}

impl HashingEmbedder {
    pub const DEFAULT_DIM: usize = 512;

    /// # Panics
    /// If `dim` is zero (configuration validation rejects it first).
    pub fn new(dim: usize) -> Self {
        assert!(dim > 0, "embedding dimension must be positive");
        Self {
            dim,
            id: format!("hash-ngram-v1-{dim}"),
        }
    }
}

impl Default for HashingEmbedder {
    fn default() -> Self {
        Self::new(Self::DEFAULT_DIM)
    }
}

impl Embedder for HashingEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, text: &str) -> Vec<f32> {
        let mut features = features(text);
        // Sublinear term frequency: a word said three times is more present
        // than once, not three times as relevant.
        features.sort_unstable_by_key(|&(hash, _)| hash);
        let mut vector = vec![0.0f32; self.dim];
        for group in features.chunk_by(|a, b| a.0 == b.0) {
            let (hash, weight) = group[0];
            let tf = group.len() as f32;
            let value = weight * (1.0 + tf.ln());
            // The low bit picks the sign so collisions cancel out on average
            // instead of piling up; the rest picks the bucket.
            let bucket = ((hash >> 1) % self.dim as u64) as usize;
            if hash & 1 == 0 {
                vector[bucket] += value;
            } else {
                vector[bucket] -= value;
            }
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }
}

/// A word of the input after splitting, lower-casing and stemming.
#[derive(Debug, PartialEq)]
struct Token {
    text: String,
    stop: bool,
}

/// All hashed features of `text` with their weights, one entry per occurrence.
fn features(text: &str) -> Vec<(u64, f32)> {
    let tokens = tokenize(text);
    let mut out = Vec::with_capacity(tokens.len() * 8);
    let mut previous: Option<&str> = None;
    for token in &tokens {
        let word = token.text.as_str();
        if token.stop {
            out.push((feature_hash(b'w', &[word]), STOPWORD));
            // Filler between two content words does not break their phrase:
            // "customers in germany" pairs customers with germany.
            continue;
        }
        out.push((feature_hash(b'w', &[word]), WORD));
        if let Some(prev) = previous {
            out.push((feature_hash(b'b', &[prev, word]), BIGRAM));
        }
        previous = Some(word);
        if word.chars().count() >= 2 && !word.bytes().all(|b| b.is_ascii_digit()) {
            let padded: Vec<char> = std::iter::once('<')
                .chain(word.chars())
                .chain(std::iter::once('>'))
                .collect();
            let mut buf = String::with_capacity(12);
            for window in padded.windows(3) {
                buf.clear();
                buf.extend(window);
                out.push((feature_hash(b'c', &[&buf]), TRIGRAM));
            }
        }
    }
    out
}

/// Split `text` into lower-cased words, stemmed unless they are stop words.
/// Identifiers are split at `_`, `.`, punctuation, camelCase humps and
/// letter/digit changes, so `order_items.unitPrice2` gives order, item,
/// unit, price, 2 (see [`text::retrieval_pieces`]).
fn tokenize(text: &str) -> Vec<Token> {
    text::retrieval_pieces(text)
        .into_iter()
        .map(|word| {
            let stop = text::is_retrieval_stopword(&word);
            let text = if stop {
                word
            } else {
                text::stem_conservative(&word)
            };
            Token { text, stop }
        })
        .collect()
}

/// Hash of a feature: its kind tag and parts, separated by a byte that never
/// occurs in UTF-8, then mixed so every bit depends on every input byte.
fn feature_hash(tag: u8, parts: &[&str]) -> u64 {
    let mut h = Fnv1a::new();
    h.write(&[tag]);
    for part in parts {
        h.write(&[0xff]);
        h.write(part.as_bytes());
    }
    mix(h.finish())
}

/// 64-bit FNV-1a: tiny, fast on short keys and fixed forever.
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Self(Self::OFFSET)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The splitmix64 finaliser: FNV's low bits are weak, and we use them for the
/// sign and the bucket.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(e: &HashingEmbedder, a: &str, b: &str) -> f32 {
        let (x, y) = (e.embed(a), e.embed(b));
        x.iter().zip(&y).map(|(p, q)| p * q).sum()
    }

    fn words(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        let hash = |s: &str| {
            let mut h = Fnv1a::new();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn embeddings_are_deterministic_normalised_and_sized() {
        let e = HashingEmbedder::default();
        assert_eq!(e.dim(), 512);
        assert_eq!(e.id(), "hash-ngram-v1-512");
        let text = "Top 10 customers by revenue in 2024";
        let v = e.embed(text);
        assert_eq!(v.len(), 512);
        assert_eq!(v, HashingEmbedder::new(512).embed(text));
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");

        let small = HashingEmbedder::new(64);
        assert_eq!(small.id(), "hash-ngram-v1-64");
        assert_eq!(small.embed(text).len(), 64);
    }

    #[test]
    fn empty_text_gives_the_zero_vector() {
        let e = HashingEmbedder::new(32);
        assert_eq!(e.embed(""), vec![0.0; 32]);
        assert_eq!(e.embed("  ?!, ()"), vec![0.0; 32]);
    }

    #[test]
    fn identifiers_are_split_into_words() {
        assert_eq!(
            words("order_items.unit_price"),
            ["order", "item", "unit", "pric"]
        );
        assert_eq!(
            words("unitPrice HTTPServer"),
            ["unit", "pric", "http", "server"]
        );
        assert_eq!(
            words("address2 Q3sales"),
            ["address", "2", "q", "3", "sale"]
        );
        assert_eq!(words("Überweisung_Datum"), ["überweisung", "datum"]);
    }

    #[test]
    fn paraphrases_score_clearly_above_unrelated_questions() {
        let e = HashingEmbedder::default();
        let q = "How many customers are in Germany?";
        let paraphrase = cosine(&e, q, "number of customers from germany");
        let unrelated = cosine(&e, q, "total revenue per product category");
        assert!(paraphrase > 0.5, "paraphrase {paraphrase}");
        assert!(paraphrase > unrelated + 0.4, "{paraphrase} vs {unrelated}");
    }

    #[test]
    fn filler_words_weigh_little() {
        let e = HashingEmbedder::default();
        // Same filler, different subject: must not look alike.
        let same_filler = cosine(
            &e,
            "how many orders are there",
            "how many employees are there",
        );
        assert!(same_filler < 0.3, "{same_filler}");
    }

    #[test]
    fn questions_meet_the_ddl_they_need() {
        let e = HashingEmbedder::default();
        let q = "unit price of order items";
        let right = cosine(&e, q, "CREATE TABLE order_items (unit_price REAL)");
        let wrong = cosine(
            &e,
            q,
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, country TEXT)",
        );
        assert!(right > 0.6, "right {right}");
        assert!(right > wrong + 0.4, "{right} vs {wrong}");
    }

    #[test]
    fn typos_still_overlap() {
        let e = HashingEmbedder::default();
        let q = "custmers in germny";
        let right = cosine(&e, q, "customers in germany");
        let wrong = cosine(&e, q, "total revenue per product category");
        assert!(right > 0.18, "right {right}");
        assert!(right > wrong + 0.12, "{right} vs {wrong}");
    }
}
