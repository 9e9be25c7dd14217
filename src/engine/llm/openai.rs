//! The `openai` provider: any OpenAI-compatible chat-completions API (OpenAI,
//! gateways, Ollama, vLLM, llama.cpp server).
//!
//! Owns the wire format only: the prompt comes from [`crate::engine::prompt`],
//! the SQL is found by [`crate::engine::llm::extract`], and transport, retries
//! and error mapping live in [`super::http`]. Prompts and replies are never
//! logged (they carry user data).

use async_trait::async_trait;
use reqwest::RequestBuilder;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::extract::ProviderReply;
use super::http::{HttpClient, with_correlation_id};
use super::{Generation, GenerationRequest, LlmError, LlmProvider, TextCompletion, TextRequest};
use crate::config::llm::LlmConfig;
use crate::engine::prompt::{Prompt, build_prompt, estimate_tokens};

pub struct OpenAiProvider {
    http: HttpClient,
    base_url: String,
    model: String,
    /// Optional: local servers such as Ollama need none.
    api_key: Option<SecretString>,
    max_tokens: u32,
    temperature: f32,
    stream: bool,
}

impl std::fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    pub fn new(config: &LlmConfig) -> Result<Self, LlmError> {
        let base_url = config.base_url.as_deref().map_or_else(
            || "https://api.openai.com/v1".to_string(),
            |u| u.trim_end_matches('/').to_string(),
        );
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "llm.base_url must be an http(s) URL, got {base_url:?}"
            )));
        }
        Ok(Self {
            http: HttpClient::new(config)?,
            base_url,
            model: config
                .model
                .clone()
                .unwrap_or_else(|| "gpt-4o-mini".to_string()),
            api_key: config.api_key.clone(),
            max_tokens: config.max_tokens,
            temperature: config.temperature,
            stream: config.stream,
        })
    }

    fn authorized(&self, request: RequestBuilder, correlation_id: Option<&str>) -> RequestBuilder {
        let mut request = request;
        if let Some(key) = &self.api_key
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
        {
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        with_correlation_id(request, correlation_id)
    }

    fn body(&self, prompt: &Prompt) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        });
        if self.stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    async fn complete(
        &self,
        prompt: &Prompt,
        correlation_id: Option<&str>,
    ) -> Result<ProviderReply, LlmError> {
        let request = self
            .authorized(
                self.http
                    .post(&format!("{}/chat/completions", self.base_url)),
                correlation_id,
            )
            .json(&self.body(prompt));
        let resp = self.http.send(request, self.stream).await?;
        if self.stream {
            let mut reply = StreamedReply::default();
            self.http
                .read_sse(resp, |event| reply.on_event(&event.data))
                .await?;
            reply.finish()
        } else {
            parse_completion(&self.http.read_json(resp).await?)
        }
    }
}

fn parse_completion(json: &Value) -> Result<ProviderReply, LlmError> {
    let message = json
        .pointer("/choices/0/message")
        .ok_or_else(|| LlmError::BadResponse("no choices[0].message in the reply".into()))?;
    let text = message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let refusal = message
        .get("refusal")
        .and_then(Value::as_str)
        .map(str::to_string);
    if text.is_empty() && refusal.is_none() {
        return Err(LlmError::BadResponse(
            "choices[0].message.content is empty".into(),
        ));
    }
    Ok(ProviderReply {
        text,
        refusal,
        prompt_tokens: json.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
        completion_tokens: json
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64),
    })
}

/// Assembles a streamed chat completion from its `data:` chunks.
#[derive(Debug, Default)]
struct StreamedReply {
    reply: ProviderReply,
    done: bool,
    finished: bool,
}

impl StreamedReply {
    /// Returns `Ok(false)` once `[DONE]` arrives.
    fn on_event(&mut self, data: &str) -> Result<bool, LlmError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| LlmError::BadResponse(format!("stream chunk is not JSON: {e}")))?;
        if let Some(error) = chunk.get("error") {
            // A mid-stream failure: the HTTP status was already 200.
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| error.as_str())
                .unwrap_or("the stream reported an error");
            return Err(LlmError::Upstream {
                status: 502,
                message: message.chars().take(300).collect(),
            });
        }
        if let Some(choice) = chunk.pointer("/choices/0") {
            if let Some(piece) = choice.pointer("/delta/content").and_then(Value::as_str) {
                self.reply.text.push_str(piece);
            }
            if let Some(piece) = choice.pointer("/delta/refusal").and_then(Value::as_str) {
                self.reply
                    .refusal
                    .get_or_insert_with(String::new)
                    .push_str(piece);
            }
            if choice.get("finish_reason").is_some_and(|r| !r.is_null()) {
                self.finished = true;
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.reply.prompt_tokens = usage.get("prompt_tokens").and_then(Value::as_u64);
            self.reply.completion_tokens = usage.get("completion_tokens").and_then(Value::as_u64);
        }
        Ok(true)
    }

    fn finish(self) -> Result<ProviderReply, LlmError> {
        if !self.done && !self.finished {
            return Err(LlmError::BadResponse(
                "the stream ended before the reply was complete".into(),
            ));
        }
        Ok(self.reply)
    }
}

#[async_trait]
impl LlmProvider for OpenAiProvider {
    fn name(&self) -> &str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.model
    }

    #[tracing::instrument(skip_all, fields(llm.provider = "openai", llm.model = %self.model, llm.stream = self.stream))]
    async fn generate(&self, req: &GenerationRequest) -> Result<Generation, LlmError> {
        let prompt = build_prompt(req);
        let reply = self
            .complete(&prompt, req.correlation_id.as_deref())
            .await?;
        reply.into_generation(&prompt)
    }

    #[tracing::instrument(skip_all, fields(llm.provider = "openai", llm.model = %self.model, llm.stream = self.stream))]
    async fn complete_text(&self, req: &TextRequest) -> Result<Option<TextCompletion>, LlmError> {
        let prompt = Prompt {
            estimated_tokens: estimate_tokens(&req.system) + estimate_tokens(&req.user),
            system: req.system.clone(),
            user: req.user.clone(),
        };
        let reply = self
            .complete(&prompt, req.correlation_id.as_deref())
            .await?;
        reply.into_text(&prompt).map(Some)
    }

    async fn ping(&self) -> Result<(), LlmError> {
        let request = self.authorized(self.http.get(&format!("{}/models", self.base_url)), None);
        self.http.send(request, false).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::llm::GenerationOutcome;

    #[test]
    fn completion_content_and_usage_are_read() {
        let reply = parse_completion(&json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "```sql\nSELECT 1\n```"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
        }))
        .unwrap();
        assert_eq!(reply.text, "```sql\nSELECT 1\n```");
        assert_eq!(
            (reply.prompt_tokens, reply.completion_tokens),
            (Some(12), Some(5))
        );
        assert!(matches!(
            parse_completion(&json!({"choices": []})),
            Err(LlmError::BadResponse(_))
        ));
    }

    #[test]
    fn refusal_becomes_unanswerable() {
        let reply = parse_completion(&json!({
            "choices": [{"message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}}]
        }))
        .unwrap();
        let prompt = Prompt {
            system: String::new(),
            user: String::new(),
            estimated_tokens: 7,
        };
        let generation = reply.into_generation(&prompt).unwrap();
        assert_eq!(
            generation.outcome,
            GenerationOutcome::Unanswerable {
                reason: "I can't help with that.".into()
            }
        );
        assert_eq!(
            generation.usage.prompt_tokens, 7,
            "estimated when not reported"
        );
    }

    #[test]
    fn stream_chunks_are_assembled() {
        let mut s = StreamedReply::default();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"SELECT "}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"1"},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
        ] {
            assert!(s.on_event(data).unwrap());
        }
        assert!(!s.on_event("[DONE]").unwrap());
        let reply = s.finish().unwrap();
        assert_eq!(reply.text, "SELECT 1");
        assert_eq!(
            (reply.prompt_tokens, reply.completion_tokens),
            (Some(3), Some(2))
        );
    }

    #[test]
    fn truncated_or_failing_streams_are_errors() {
        let mut s = StreamedReply::default();
        s.on_event(r#"{"choices":[{"delta":{"content":"SELECT"}}]}"#)
            .unwrap();
        assert!(matches!(s.finish(), Err(LlmError::BadResponse(_))));
        let mut s = StreamedReply::default();
        assert!(matches!(
            s.on_event(r#"{"error":{"message":"overloaded"}}"#),
            Err(LlmError::Upstream { message, .. }) if message == "overloaded"
        ));
    }

    #[test]
    fn base_url_must_be_http() {
        let config = LlmConfig {
            base_url: Some("ftp://x".into()),
            ..LlmConfig::default()
        };
        assert!(matches!(
            OpenAiProvider::new(&config),
            Err(LlmError::Config(_))
        ));
    }
}
