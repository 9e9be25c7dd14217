//! [`LocalEmbedder`]: a sentence-transformer BERT model (e.g.
//! all-MiniLM-L6-v2) run in process with `candle`, loaded from a directory
//! holding `config.json`, `model.safetensors` and `tokenizer.json`. Nothing
//! is ever downloaded: a missing or unreadable file fails startup.
//!
//! Sentence embedding as sentence-transformers does it: token embeddings of
//! the last layer, mean-pooled over the real tokens, then L2-normalised.
//! Texts are encoded one at a time without padding (a `tokenizer.json` that
//! pads to a fixed length would otherwise average pad tokens into every
//! vector and make all sentences look alike), truncated to
//! [`MAX_TOKENS`]. Inference is CPU-bound, so it runs on tokio's blocking
//! pool, never on a request's worker thread.
//!
//! The weights are read into memory once (the crate forbids `unsafe`, so no
//! memory map); the embedder is only built when configured, so the default
//! build and the hashing embedder's memory are unchanged.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use sha2::{Digest as _, Sha256};
use tokenizers::{Tokenizer, TruncationParams};

use super::service::{EmbedError, EmbeddingService};

/// Longest input in tokens (sentence-transformers' `max_seq_length` for
/// MiniLM); longer DDL is cut, which only drops its last columns.
pub const MAX_TOKENS: usize = 256;

/// A BERT sentence encoder in process.
pub struct LocalEmbedder {
    inner: Arc<Model>,
    id: String,
}

struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    dim: usize,
}

impl std::fmt::Debug for LocalEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEmbedder")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl LocalEmbedder {
    /// Load the model in `dir`. The id names the directory, the dimension
    /// and a digest of `config.json` and the weights' size, so another model
    /// in the same place still makes stored vectors stale.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| EmbedError::Model(format!("cannot read {name}: {e}")))
        };
        let config_bytes = read("config.json")?;
        let config: Config = serde_json::from_slice(&config_bytes)
            .map_err(|e| EmbedError::Model(format!("config.json is not a BERT config: {e}")))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| EmbedError::Model(format!("cannot load tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| EmbedError::Model(format!("tokenizer truncation: {e}")))?;
        let weights = read("model.safetensors")?;
        let weights_len = weights.len();
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| EmbedError::Model(format!("model.safetensors: {e}")))?;
        // sentence-transformers exports name the layers `embeddings.…`,
        // Hugging Face checkpoints `bert.embeddings.…`.
        let bert = BertModel::load(vb.clone(), &config)
            .or_else(|_| BertModel::load(vb.pp("bert"), &config))
            .map_err(|e| {
                EmbedError::Model(format!("model.safetensors is not a BERT model: {e}"))
            })?;
        let dim = config.hidden_size;
        let mut digest = Sha256::new();
        digest.update(&config_bytes);
        digest.update(weights_len.to_le_bytes());
        let digest = digest.finalize();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_else(|| "model".into());
        let id = format!(
            "local:{name}:{dim}:{:02x}{:02x}{:02x}{:02x}",
            digest[0], digest[1], digest[2], digest[3]
        );
        Ok(Self {
            inner: Arc::new(Model {
                bert,
                tokenizer,
                dim,
            }),
            id,
        })
    }

    /// Embed synchronously on the calling thread (benchmarks and tests; the
    /// service goes through [`EmbeddingService::embed_batch`]).
    pub fn embed_blocking(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.inner.embed(text)
    }
}

impl Model {
    fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| EmbedError::Model(format!("tokenizer: {e}")))?;
        let ids = encoding.get_ids();
        let n = ids.len();
        let run = || -> candle_core::Result<Vec<f32>> {
            let input = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
            let types = input.zeros_like()?;
            let mask = input.ones_like()?;
            // (1, n, dim) → mean over the n real tokens → (dim).
            let hidden = self.bert.forward(&input, &types, Some(&mask))?;
            let pooled = (hidden.sum(1)? / n as f64)?.squeeze(0)?;
            pooled.to_vec1::<f32>()
        };
        let mut v = run().map_err(|e| EmbedError::Model(format!("inference: {e}")))?;
        if v.len() != self.dim {
            return Err(EmbedError::Model(format!(
                "the model returned {} dimensions, its config says {}",
                v.len(),
                self.dim
            )));
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 && norm.is_finite() {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        Ok(v)
    }
}

#[async_trait]
impl EmbeddingService for LocalEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.inner.dim
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let model = self.inner.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || texts.iter().map(|t| model.embed(t)).collect())
            .await
            .map_err(|e| EmbedError::Model(format!("embedding task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model `scripts/fetch-model` puts under target/ (or
    /// `INSIGHT_TEST_MODEL_DIR`); `None` locally when absent, a failure
    /// under CI.
    fn model() -> Option<LocalEmbedder> {
        let dir = std::env::var_os("INSIGHT_TEST_MODEL_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("target/models/all-minilm-l6-v2")
            });
        if !dir.join("model.safetensors").exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no model in {} under CI: run scripts/fetch-model",
                dir.display()
            );
            eprintln!(
                "skipped: no model in {} (run scripts/fetch-model)",
                dir.display()
            );
            return None;
        }
        Some(LocalEmbedder::load(&dir).expect("the model loads"))
    }

    /// (sentence, sentence, cosine): all-MiniLM-L6-v2 with candle, mean
    /// pooling over unpadded tokens, measured outside this crate (recorded in
    /// the team's STACK.md), to three decimals.
    const KNOWN: &[(&str, &str, f32)] = &[
        (
            "How many singers do we have?",
            "What is the total number of singers?",
            0.868,
        ),
        (
            "How many singers do we have?",
            "List the names of all stadiums.",
            0.151,
        ),
    ];

    fn cos(m: &LocalEmbedder, a: &str, b: &str) -> f32 {
        let (x, y) = (m.embed_blocking(a).unwrap(), m.embed_blocking(b).unwrap());
        x.iter().zip(&y).map(|(p, q)| p * q).sum()
    }

    #[test]
    fn known_answers_of_all_minilm_l6_v2() {
        let Some(m) = model() else { return };
        assert_eq!(EmbeddingService::dim(&m), 384);
        let v = m.embed_blocking("How many singers do we have?").unwrap();
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        for (a, b, want) in KNOWN {
            let got = cos(&m, a, b);
            assert!(
                (got - want).abs() < 2e-3,
                "cos({a:?}, {b:?}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn padding_is_off_so_short_sentences_stay_apart() {
        let Some(m) = model() else { return };
        let enc = m.inner.tokenizer.encode("How many singers?", true).unwrap();
        assert!(enc.get_ids().len() < 10, "{}", enc.get_ids().len());
        let long = "word ".repeat(1000);
        let enc = m.inner.tokenizer.encode(long.as_str(), true).unwrap();
        assert_eq!(enc.get_ids().len(), MAX_TOKENS, "truncated");
        assert_eq!(m.embed_blocking(&long).unwrap().len(), 384);
    }

    #[tokio::test]
    async fn batches_match_single_embeddings() {
        let Some(m) = model() else { return };
        let texts = vec![
            "List the names of all stadiums.".to_string(),
            "Who are our VIP clients?".to_string(),
        ];
        let batch = m.embed_batch(&texts).await.unwrap();
        assert_eq!(batch[1], m.embed_blocking(&texts[1]).unwrap());
        assert!(
            m.id().starts_with("local:all-minilm-l6-v2:384:"),
            "{}",
            m.id()
        );
    }

    #[test]
    fn a_missing_or_broken_model_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalEmbedder::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let err = LocalEmbedder::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("BERT config") || err.contains("tokenizer"),
            "{err}"
        );
    }
}
