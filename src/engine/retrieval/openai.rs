//! [`OpenAiEmbedder`]: any OpenAI-compatible `POST {base_url}/embeddings`
//! endpoint (OpenAI, Ollama, vLLM, text-embeddings-inference).
//!
//! Texts go in batches of `batch_size`; each request has a total deadline of
//! `timeout_ms` and is retried up to `retries` times after a timeout, a
//! connection failure, 429 or 5xx, with exponential backoff (a `Retry-After`
//! in seconds is honoured up to a cap). Replies are checked: one vector per
//! input, each of the configured dimension, put back in input order by their
//! `index`, and L2-normalised. Error messages never carry the API key.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::service::{EmbedError, EmbeddingService};
use crate::config::EmbeddingConfig;

/// First backoff; doubled per retry.
const BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait between two attempts, whatever the server asks for.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// Upstream messages end up in logs and readiness; keep them short.
const MAX_MESSAGE_CHARS: usize = 200;

/// An OpenAI-compatible embeddings endpoint.
pub struct OpenAiEmbedder {
    client: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<SecretString>,
    dim: usize,
    batch_size: usize,
    timeout: Duration,
    retries: u32,
    id: String,
}

impl std::fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Reply {
    data: Vec<Datum>,
}

#[derive(Deserialize)]
struct Datum {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    pub fn new(config: &EmbeddingConfig) -> anyhow::Result<Self> {
        let base = config
            .base_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/'))
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .ok_or_else(|| {
                anyhow::anyhow!("retrieval.embedding.base_url: an http(s) URL is required")
            })?;
        let model = config
            .model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| anyhow::anyhow!("retrieval.embedding.model is required"))?;
        let dim = config
            .dimensions
            .filter(|d| *d > 0)
            .ok_or_else(|| anyhow::anyhow!("retrieval.embedding.dimensions is required"))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let client = reqwest::Client::builder()
            .user_agent(concat!("insight-engine/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            url: format!("{base}/embeddings"),
            id: format!("openai:{model}:{dim}"),
            model: model.to_string(),
            api_key: config.api_key.clone(),
            dim,
            batch_size: config.batch_size.max(1),
            timeout,
            retries: config.retries,
        })
    }

    /// One request with retries; vectors in input order.
    async fn embed_chunk(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = json!({ "model": self.model, "input": texts, "encoding_format": "float" });
        let mut attempt = 0;
        loop {
            match self.post_once(&body).await {
                Ok(reply) => return self.check(reply, texts.len()),
                Err(Failure { error, retry_after }) => {
                    let Some(server_wait) = retry_after.filter(|_| attempt < self.retries) else {
                        return Err(error);
                    };
                    let wait = server_wait
                        .unwrap_or(BACKOFF * 2u32.saturating_pow(attempt))
                        .min(MAX_WAIT);
                    tracing::debug!(error = %error, retry_in_ms = wait.as_millis() as u64, "embedding request failed, retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn post_once(&self, body: &serde_json::Value) -> Result<Reply, Failure> {
        let mut request = self.client.post(&self.url).timeout(self.timeout).json(body);
        if let Some(key) = &self.api_key
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
        {
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let resp = request.send().await.map_err(|e| Failure {
            error: EmbedError::Unavailable(self.transport_message(&e)),
            retry_after: Some(None),
        })?;
        let status = resp.status();
        if !status.is_success() {
            let server_wait = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = resp.text().await.unwrap_or_default();
            let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            let message = format!("HTTP {}: {}", status.as_u16(), self.upstream_message(&text));
            return Err(Failure {
                error: if retryable {
                    EmbedError::Unavailable(message)
                } else {
                    EmbedError::BadResponse(message)
                },
                retry_after: retryable.then_some(server_wait),
            });
        }
        let bytes = resp.bytes().await.map_err(|e| Failure {
            error: EmbedError::Unavailable(self.transport_message(&e)),
            retry_after: Some(None),
        })?;
        serde_json::from_slice::<Reply>(&bytes).map_err(|e| Failure {
            error: EmbedError::BadResponse(format!("not an embeddings reply: {e}")),
            retry_after: None,
        })
    }

    fn check(&self, reply: Reply, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        if reply.data.len() != expected {
            return Err(EmbedError::BadResponse(format!(
                "{} vectors for {expected} inputs",
                reply.data.len()
            )));
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; expected];
        for d in reply.data {
            if d.embedding.len() != self.dim {
                return Err(EmbedError::BadResponse(format!(
                    "a vector has {} dimensions, retrieval.embedding.dimensions is {}",
                    d.embedding.len(),
                    self.dim
                )));
            }
            let slot = out.get_mut(d.index).ok_or_else(|| {
                EmbedError::BadResponse(format!("index {} out of range", d.index))
            })?;
            let mut v = d.embedding;
            normalize(&mut v);
            *slot = Some(v);
        }
        out.into_iter()
            .map(|v| v.ok_or_else(|| EmbedError::BadResponse("an input got no vector".into())))
            .collect()
    }

    fn transport_message(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            format!("no answer within {} ms", self.timeout.as_millis())
        } else if e.is_connect() {
            "cannot connect".to_string()
        } else {
            // Without the URL: it is in the config, and may carry credentials.
            let mut message = e.to_string();
            if let Some(url) = e.url() {
                message = message.replace(url.as_str(), "<embeddings endpoint>");
            }
            self.upstream_message(&message)
        }
    }

    /// The `error.message` of an OpenAI-style error body (or the body),
    /// shortened and with the key scrubbed.
    fn upstream_message(&self, body: &str) -> String {
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| body.trim().to_string());
        let mut message = match &self.api_key {
            Some(key) if !key.expose_secret().is_empty() => {
                message.replace(key.expose_secret(), "[redacted]")
            }
            _ => message,
        };
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        message
    }
}

/// A failed attempt; `retry_after` is `Some` when it is worth retrying,
/// holding the server's requested wait if it named one.
struct Failure {
    error: EmbedError,
    retry_after: Option<Option<Duration>>,
}

fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[async_trait]
impl EmbeddingService for OpenAiEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch_size) {
            out.extend(self.embed_chunk(chunk).await?);
        }
        Ok(out)
    }
}
