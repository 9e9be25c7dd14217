//! [`EmbeddingService`]: what the engine embeds with. Unlike [`Embedder`]
//! (in process, infallible, one text at a time) it is async, batched and may
//! fail, so a remote endpoint and a model on a blocking thread fit behind it.
//! Every [`Embedder`] is one; [`build_embedder`] picks the configured one.
//!
//! The `id` is stored with every vector (index versioning): it names the
//! embedder, its model and its dimension, so a change of any of them makes
//! the stored vectors stale and they are re-embedded.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Embedder, HashingEmbedder};
use crate::config::{EmbedderKind, RetrievalConfig};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The endpoint could not be reached, timed out or kept failing.
    #[error("embedding service unavailable: {0}")]
    Unavailable(String),
    /// The endpoint answered, but not with what we asked for.
    #[error("embedding service answered unexpectedly: {0}")]
    BadResponse(String),
    /// The local model failed to load or run.
    #[error("embedding model: {0}")]
    Model(String),
}

/// Turns texts into fixed-size, L2-normalised vectors.
#[async_trait]
pub trait EmbeddingService: Send + Sync {
    /// Embedder, model and dimension, e.g. `hash-ngram-v1-512` or
    /// `local:all-minilm-l6-v2:384`; stored with each vector.
    fn id(&self) -> &str;
    fn dim(&self) -> usize;
    /// One vector per text, in order.
    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// One text (a question at ask time).
    async fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed_batch(&[text.to_string()])
            .await?
            .pop()
            .ok_or_else(|| EmbedError::BadResponse("no vector for the text".into()))
    }

    /// Whether this embedder is the lexical hashing one (hybrid ranking then
    /// has nothing to add).
    fn is_lexical(&self) -> bool {
        false
    }
}

#[async_trait]
impl<T: Embedder + 'static> EmbeddingService for T {
    fn id(&self) -> &str {
        Embedder::id(self)
    }

    fn dim(&self) -> usize {
        Embedder::dim(self)
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.embed(t)).collect())
    }

    fn is_lexical(&self) -> bool {
        true
    }
}

/// The embedder `retrieval.embedding.provider` names. `local` fails here,
/// with a message naming the setting, when the model directory is unusable
/// or the binary was built without the `local-embeddings` feature.
pub fn build_embedder(config: &RetrievalConfig) -> anyhow::Result<Arc<dyn EmbeddingService>> {
    let e = &config.embedding;
    Ok(match e.provider {
        EmbedderKind::Hashing => Arc::new(HashingEmbedder::new(config.embedding_dim)),
        EmbedderKind::Openai => Arc::new(super::openai::OpenAiEmbedder::new(e)?),
        EmbedderKind::Local => local(e)?,
    })
}

#[cfg(feature = "local-embeddings")]
fn local(e: &crate::config::EmbeddingConfig) -> anyhow::Result<Arc<dyn EmbeddingService>> {
    let dir = e.model_dir.as_deref().ok_or_else(|| {
        anyhow::anyhow!("retrieval.embedding.model_dir is required for the local embedder")
    })?;
    let model = super::local::LocalEmbedder::load(dir).map_err(|err| {
        anyhow::anyhow!("retrieval.embedding.model_dir ({}): {err}", dir.display())
    })?;
    Ok(Arc::new(model))
}

#[cfg(not(feature = "local-embeddings"))]
fn local(_: &crate::config::EmbeddingConfig) -> anyhow::Result<Arc<dyn EmbeddingService>> {
    anyhow::bail!(
        "retrieval.embedding.provider = \"local\" needs a build with the `local-embeddings` cargo feature (cargo build --features local-embeddings)"
    )
}
