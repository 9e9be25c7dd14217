//! Retrieval of training context: an [`EmbeddingService`] turns text into
//! vectors, the [`VectorIndex`] finds the nearest training items per
//! connection and kind, and [`hybrid`] fuses that dense ranking with a
//! lexical one.
//!
//! The built-in embedder ([`HashingEmbedder`], the default) needs no model
//! download; `local` runs a sentence-transformer in process (cargo feature
//! `local-embeddings`, module `local`); `openai` calls any OpenAI-compatible
//! `/v1/embeddings` endpoint ([`openai`]). The embedded index keeps all vectors
//! in memory (the app store is the source of truth and reloads it on start).
//! Other backends implement the same traits: [`ChromaIndex`] keeps them in a
//! Chroma server shared by instances.

pub mod chroma;
pub mod embedder;
pub mod hybrid;
pub mod index;
pub mod literals;
#[cfg(feature = "local-embeddings")]
pub mod local;
pub mod openai;
mod postings;
pub mod service;

use async_trait::async_trait;

use crate::domain::TrainingKind;

pub use chroma::ChromaIndex;
pub use embedder::HashingEmbedder;
pub use index::EmbeddedIndex;
pub use service::{EmbedError, EmbeddingService, build_embedder};

/// Turns text into a fixed-size, L2-normalised vector, in process and
/// infallibly (the hashing embedder). Every `Embedder` is an
/// [`EmbeddingService`], which is what the engine holds.
pub trait Embedder: Send + Sync {
    /// Stable identifier, stored with each vector so a change of embedder
    /// is detected and vectors are rebuilt.
    fn id(&self) -> &str;
    fn dim(&self) -> usize;
    fn embed(&self, text: &str) -> Vec<f32>;
}

/// One vector in the index.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub id: String,
    pub connection: String,
    pub kind: TrainingKind,
    pub vector: Vec<f32>,
}

/// A search result: the training item id and its cosine similarity (−1..1).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredId {
    pub id: String,
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("vector index unavailable: {0}")]
    Unavailable(String),
    #[error("vector has {got} dimensions, the index expects {expected}")]
    Dimension { expected: usize, got: usize },
    /// The embedder could not embed (a remote endpoint down, a model error).
    #[error(transparent)]
    Embedding(#[from] EmbedError),
}

#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// Insert or replace an entry (same id replaces).
    async fn upsert(&self, entry: IndexEntry) -> Result<(), IndexError>;
    async fn remove(&self, id: &str) -> Result<(), IndexError>;
    /// Top `k` entries of `connection` and `kind` by cosine similarity, best first.
    async fn search(
        &self,
        connection: &str,
        kind: TrainingKind,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredId>, IndexError>;
    /// Number of entries, for readiness and metrics.
    async fn len(&self) -> Result<usize, IndexError>;

    async fn is_empty(&self) -> Result<bool, IndexError> {
        Ok(self.len().await? == 0)
    }

    /// Reachability, for readiness.
    async fn ping(&self) -> Result<(), IndexError> {
        self.len().await.map(|_| ())
    }

    /// Whether a failing index takes the service down (`true` for an index
    /// in this process); a remote one only degrades it: asks fail while it
    /// is down, but SQL execution, history and administration keep working.
    fn required(&self) -> bool {
        true
    }

    /// Backend name, for logs.
    fn name(&self) -> &str {
        "embedded"
    }
}
