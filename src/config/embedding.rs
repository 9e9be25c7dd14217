//! Settings of the embedder (`[retrieval.embedding]`) and of hybrid ranking
//! (`[retrieval.hybrid]`). Which embedder runs is a deployment decision: the
//! default `hashing` needs nothing, `local` needs a model directory on disk
//! (never downloaded at run time), `openai` needs an endpoint.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// Which embedder turns questions and training items into vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmbedderKind {
    /// The built-in hashing n-gram embedder: no model, no network.
    #[default]
    Hashing,
    /// A sentence-transformer (BERT) run in process from `model_dir`; needs
    /// the `local-embeddings` cargo feature.
    Local,
    /// An OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Ollama, vLLM,
    /// text-embeddings-inference).
    Openai,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    pub provider: EmbedderKind,
    /// `local`: directory with `config.json`, `model.safetensors` and
    /// `tokenizer.json` (a sentence-transformers export).
    pub model_dir: Option<PathBuf>,
    /// `openai`: base URL up to `/v1`, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: Option<String>,
    /// `openai`: the model name sent with each request.
    pub model: Option<String>,
    /// `openai`: bearer token; none for a local server that needs none.
    pub api_key: Option<SecretString>,
    /// `openai`: the vector size the model returns (checked on every reply).
    pub dimensions: Option<usize>,
    /// `openai`: texts per request when (re-)embedding many items.
    pub batch_size: usize,
    /// `openai`: total time allowed for one request.
    pub timeout_ms: u64,
    /// `openai`: retries after a timeout, a connection failure, 429 or 5xx.
    pub retries: u32,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            provider: EmbedderKind::Hashing,
            model_dir: None,
            base_url: None,
            model: None,
            api_key: None,
            dimensions: None,
            batch_size: 64,
            timeout_ms: 10_000,
            retries: 2,
        }
    }
}

/// How retrieval orders candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RankingKind {
    /// `hybrid` with a model embedder, `dense` with the hashing embedder
    /// (which is lexical already: fusing it with itself adds nothing).
    #[default]
    Auto,
    /// By the embedder's cosine similarity only.
    Dense,
    /// Dense and lexical ranks fused (reciprocal rank fusion).
    Hybrid,
}

/// How the dense and lexical sides of hybrid ranking are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FusionKind {
    /// Weighted sum of the two cosines: a lexical lead counts as much as it
    /// is large, so near-equal word overlap (true paraphrases share few
    /// words) leaves the dense order alone.
    #[default]
    Score,
    /// Weighted reciprocal rank fusion (`rrf_k`): only the ranks count.
    Rrf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HybridConfig {
    pub ranking: RankingKind,
    /// Score-level (`score`) or rank-level (`rrf`) fusion.
    pub fusion: FusionKind,
    /// Weight of the dense (embedder) score or rank in the fused score.
    pub dense_weight: f32,
    /// Weight of the lexical (word and n-gram overlap) score or rank.
    pub lexical_weight: f32,
    /// `rrf` only: the `k` of reciprocal rank fusion (larger flattens the
    /// rank curve).
    pub rrf_k: f32,
    /// Dense candidates re-ranked per kind (at least the `top_k` asked for).
    pub candidates: usize,
    /// Lexical lead gate: the candidate with the highest lexical cosine
    /// ranks first, whatever the fused scores, when it leads every other
    /// candidate's lexical cosine by at least this much (0 turns it off)…
    pub lexical_lead: f32,
    /// …and its own lexical cosine is at least this (most of its words and
    /// n-grams are the question's).
    pub lexical_lead_min: f32,
    /// Question→SQL examples: the lexical top `top_k_examples` that the
    /// fused top `top_k_examples` misses are retrieved too, after them (so
    /// the generator can adapt the example sharing the question's words).
    pub lexical_examples: bool,
    /// Score fusion: fused score a candidate loses for each literal fact of
    /// the question (the numbers it names, negation) it does not share (0:
    /// none). A sentence model rates "in grade 9 or 10" and "in each grade"
    /// as near-identical.
    pub literal_penalty: f32,
}

impl Default for HybridConfig {
    fn default() -> Self {
        Self {
            ranking: RankingKind::Auto,
            fusion: FusionKind::Score,
            dense_weight: 1.0,
            lexical_weight: 1.0,
            rrf_k: 60.0,
            candidates: 50,
            lexical_lead: 0.1,
            lexical_lead_min: 0.5,
            lexical_examples: true,
            literal_penalty: 0.2,
        }
    }
}

impl EmbeddingConfig {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.provider {
            EmbedderKind::Hashing => {}
            EmbedderKind::Local => {
                if self.model_dir.is_none() {
                    out.push("retrieval.embedding.model_dir (INSIGHT_RETRIEVAL__EMBEDDING__MODEL_DIR): required when retrieval.embedding.provider is `local`".into());
                }
            }
            EmbedderKind::Openai => {
                match self.base_url.as_deref().map(str::trim) {
                    None | Some("") => out.push("retrieval.embedding.base_url (INSIGHT_RETRIEVAL__EMBEDDING__BASE_URL): required when retrieval.embedding.provider is `openai`".into()),
                    Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => out.push("retrieval.embedding.base_url (INSIGHT_RETRIEVAL__EMBEDDING__BASE_URL): must be an http:// or https:// URL".into()),
                    Some(_) => {}
                }
                if self.model.as_deref().is_none_or(|m| m.trim().is_empty()) {
                    out.push("retrieval.embedding.model (INSIGHT_RETRIEVAL__EMBEDDING__MODEL): required when retrieval.embedding.provider is `openai`".into());
                }
                if !self.dimensions.is_some_and(|d| (1..=16_384).contains(&d)) {
                    out.push("retrieval.embedding.dimensions (INSIGHT_RETRIEVAL__EMBEDDING__DIMENSIONS): required when retrieval.embedding.provider is `openai`, between 1 and 16384".into());
                }
            }
        }
        if !(1..=2048).contains(&self.batch_size) {
            out.push("retrieval.embedding.batch_size: must be between 1 and 2048".into());
        }
        if !(100..=300_000).contains(&self.timeout_ms) {
            out.push("retrieval.embedding.timeout_ms: must be between 100 and 300000".into());
        }
        if self.retries > 10 {
            out.push("retrieval.embedding.retries: must be at most 10".into());
        }
        out
    }
}

impl HybridConfig {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let weight_ok = |w: f32| w.is_finite() && (0.0..=100.0).contains(&w);
        if !weight_ok(self.dense_weight) || !weight_ok(self.lexical_weight) {
            out.push(
                "retrieval.hybrid.dense_weight and lexical_weight: must be between 0 and 100"
                    .into(),
            );
        } else if self.dense_weight + self.lexical_weight <= 0.0 {
            out.push(
                "retrieval.hybrid.dense_weight and lexical_weight: at least one must be positive"
                    .into(),
            );
        }
        if !(self.rrf_k.is_finite() && (0.0..=10_000.0).contains(&self.rrf_k)) {
            out.push("retrieval.hybrid.rrf_k: must be between 0 and 10000".into());
        }
        if !(1..=10_000).contains(&self.candidates) {
            out.push("retrieval.hybrid.candidates: must be between 1 and 10000".into());
        }
        let unit = |x: f32| x.is_finite() && (0.0..=1.0).contains(&x);
        if !(self.literal_penalty.is_finite() && (0.0..=2.0).contains(&self.literal_penalty)) {
            out.push("retrieval.hybrid.literal_penalty: must be between 0 and 2".into());
        }
        if !unit(self.lexical_lead) || !unit(self.lexical_lead_min) {
            out.push(
                "retrieval.hybrid.lexical_lead and lexical_lead_min: must be between 0 and 1"
                    .into(),
            );
        }
        out
    }

    /// Whether retrieval fuses ranks with `embedder`.
    pub fn is_hybrid(&self, embedder: EmbedderKind) -> bool {
        match self.ranking {
            RankingKind::Auto => embedder != EmbedderKind::Hashing,
            RankingKind::Dense => false,
            RankingKind::Hybrid => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_hashing_with_dense_ranking() {
        let (e, h) = (EmbeddingConfig::default(), HybridConfig::default());
        assert_eq!(e.provider, EmbedderKind::Hashing);
        assert!(e.problems().is_empty() && h.problems().is_empty());
        assert!(
            !h.is_hybrid(EmbedderKind::Hashing),
            "the default ranking is unchanged"
        );
        assert!(h.is_hybrid(EmbedderKind::Local));
        assert!(h.is_hybrid(EmbedderKind::Openai));
        let dense = HybridConfig {
            ranking: RankingKind::Dense,
            ..HybridConfig::default()
        };
        assert!(!dense.is_hybrid(EmbedderKind::Local));
        let hybrid = HybridConfig {
            ranking: RankingKind::Hybrid,
            ..HybridConfig::default()
        };
        assert!(hybrid.is_hybrid(EmbedderKind::Hashing));
    }

    #[test]
    fn each_provider_names_the_settings_it_needs() {
        let local = EmbeddingConfig {
            provider: EmbedderKind::Local,
            ..EmbeddingConfig::default()
        };
        let p = local.problems();
        assert!(
            p.len() == 1 && p[0].contains("retrieval.embedding.model_dir"),
            "{p:?}"
        );

        let openai = EmbeddingConfig {
            provider: EmbedderKind::Openai,
            base_url: Some("ftp://x".into()),
            ..EmbeddingConfig::default()
        };
        let p = openai.problems().join("\n");
        for want in [
            "base_url",
            "http:// or https://",
            "embedding.model",
            "embedding.dimensions",
        ] {
            assert!(p.contains(want), "{want}: {p}");
        }
        let ok = EmbeddingConfig {
            provider: EmbedderKind::Openai,
            base_url: Some("http://127.0.0.1:11434/v1".into()),
            model: Some("nomic-embed-text".into()),
            dimensions: Some(768),
            ..EmbeddingConfig::default()
        };
        assert!(ok.problems().is_empty(), "{:?}", ok.problems());
    }

    #[test]
    fn out_of_range_numbers_are_rejected() {
        let e = EmbeddingConfig {
            batch_size: 0,
            timeout_ms: 5,
            retries: 11,
            ..EmbeddingConfig::default()
        };
        assert_eq!(e.problems().len(), 3, "{:?}", e.problems());
        let h = HybridConfig {
            dense_weight: 0.0,
            lexical_weight: 0.0,
            rrf_k: f32::NAN,
            candidates: 0,
            lexical_lead: 1.5,
            ..HybridConfig::default()
        };
        let p = h.problems().join("\n");
        for want in [
            "at least one must be positive",
            "rrf_k",
            "candidates",
            "lexical_lead",
        ] {
            assert!(p.contains(want), "{want}: {p}");
        }
        let negative = HybridConfig {
            dense_weight: -1.0,
            ..HybridConfig::default()
        };
        assert_eq!(negative.problems().len(), 1);
        let penalty = HybridConfig {
            literal_penalty: -0.1,
            ..HybridConfig::default()
        };
        assert_eq!(penalty.problems().len(), 1, "{:?}", penalty.problems());
        let min = HybridConfig {
            lexical_lead_min: f32::NAN,
            ..HybridConfig::default()
        };
        assert_eq!(min.problems().len(), 1, "{:?}", min.problems());
    }
}
