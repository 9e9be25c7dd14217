//! The `anthropic` provider: Anthropic's Messages API (`POST /v1/messages`).
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

const API_VERSION: &str = "2023-06-01";

pub struct AnthropicProvider {
    http: HttpClient,
    base_url: String,
    model: String,
    api_key: SecretString,
    max_tokens: u32,
    temperature: f32,
    stream: bool,
}

impl std::fmt::Debug for AnthropicProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicProvider")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &"[redacted]")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl AnthropicProvider {
    /// Fails with [`LlmError::Config`] without an API key: the Messages API
    /// always requires one.
    pub fn new(config: &LlmConfig) -> Result<Self, LlmError> {
        let base_url = config.base_url.as_deref().map_or_else(
            || "https://api.anthropic.com".to_string(),
            |u| u.trim_end_matches('/').to_string(),
        );
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "llm.base_url must be an http(s) URL, got {base_url:?}"
            )));
        }
        let api_key = config.api_key.clone().ok_or_else(|| {
            LlmError::Config("llm.api_key is required for provider anthropic".into())
        })?;
        Ok(Self {
            http: HttpClient::new(config)?,
            base_url,
            model: config
                .model
                .clone()
                .unwrap_or_else(|| "claude-sonnet-4-5".to_string()),
            api_key,
            max_tokens: config.max_tokens,
            temperature: config.temperature,
            stream: config.stream,
        })
    }

    fn with_headers(
        &self,
        request: RequestBuilder,
        correlation_id: Option<&str>,
    ) -> RequestBuilder {
        let mut request = request
            .header("anthropic-version", API_VERSION)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Ok(mut key) = HeaderValue::from_str(self.api_key.expose_secret()) {
            key.set_sensitive(true);
            request = request.header("x-api-key", key);
        }
        with_correlation_id(request, correlation_id)
    }

    fn body(&self, prompt: &Prompt) -> Value {
        let mut body = json!({
            "model": self.model,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "system": prompt.system,
            "messages": [{"role": "user", "content": prompt.user}],
        });
        if self.stream {
            body["stream"] = json!(true);
        }
        body
    }

    async fn complete(
        &self,
        prompt: &Prompt,
        correlation_id: Option<&str>,
    ) -> Result<ProviderReply, LlmError> {
        let request = self
            .with_headers(
                self.http.post(&format!("{}/v1/messages", self.base_url)),
                correlation_id,
            )
            .json(&self.body(prompt));
        let resp = self.http.send(request, self.stream).await?;
        if self.stream {
            let mut reply = StreamedMessage::default();
            self.http
                .read_sse(resp, |event| {
                    reply.on_event(event.event.as_deref(), &event.data)
                })
                .await?;
            reply.finish()
        } else {
            parse_message(&self.http.read_json(resp).await?)
        }
    }
}

fn parse_message(json: &Value) -> Result<ProviderReply, LlmError> {
    let blocks = json
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::BadResponse("no content[] in the reply".into()))?;
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    Ok(ProviderReply {
        refusal: refusal(json.get("stop_reason").and_then(Value::as_str), &text),
        text,
        prompt_tokens: json.pointer("/usage/input_tokens").and_then(Value::as_u64),
        completion_tokens: json.pointer("/usage/output_tokens").and_then(Value::as_u64),
    })
}

fn refusal(stop_reason: Option<&str>, text: &str) -> Option<String> {
    (stop_reason == Some("refusal") && text.trim().is_empty())
        .then(|| "the model declined to answer this question".to_string())
}

/// Rough HTTP status for an error event that arrives inside a 200 stream,
/// so callers can treat it like the same error sent as a status.
fn status_of_error_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "overloaded_error" => 529,
        _ => 502,
    }
}

/// Assembles a streamed message from its SSE events.
#[derive(Debug, Default)]
struct StreamedMessage {
    reply: ProviderReply,
    stop_reason: Option<String>,
    stopped: bool,
}

impl StreamedMessage {
    /// Returns `Ok(false)` once `message_stop` arrives.
    fn on_event(&mut self, name: Option<&str>, data: &str) -> Result<bool, LlmError> {
        let event: Value = serde_json::from_str(data)
            .map_err(|e| LlmError::BadResponse(format!("stream event is not JSON: {e}")))?;
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .or(name)
            .unwrap_or_default();
        match kind {
            "message_start" => {
                let usage = event.pointer("/message/usage");
                self.reply.prompt_tokens = usage
                    .and_then(|u| u.get("input_tokens"))
                    .and_then(Value::as_u64);
                if let Some(out) = usage
                    .and_then(|u| u.get("output_tokens"))
                    .and_then(Value::as_u64)
                {
                    self.reply.completion_tokens = Some(out);
                }
            }
            "content_block_start" => {
                if let Some(text) = event
                    .pointer("/content_block")
                    .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                    .and_then(|b| b.get("text"))
                    .and_then(Value::as_str)
                {
                    self.reply.text.push_str(text);
                }
            }
            "content_block_delta" => {
                let delta = event.get("delta");
                if delta.and_then(|d| d.get("type")).and_then(Value::as_str) == Some("text_delta")
                    && let Some(text) = delta.and_then(|d| d.get("text")).and_then(Value::as_str)
                {
                    self.reply.text.push_str(text);
                }
            }
            "message_delta" => {
                if let Some(out) = event
                    .pointer("/usage/output_tokens")
                    .and_then(Value::as_u64)
                {
                    self.reply.completion_tokens = Some(out);
                }
                if let Some(reason) = event.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_string());
                }
            }
            "message_stop" => {
                self.stopped = true;
                return Ok(false);
            }
            "error" => {
                let kind = event
                    .pointer("/error/type")
                    .and_then(Value::as_str)
                    .unwrap_or("error");
                let message = event
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the stream reported an error");
                return Err(LlmError::Upstream {
                    status: status_of_error_type(kind),
                    message: format!("{kind}: {message}").chars().take(300).collect(),
                });
            }
            // ping, content_block_stop and event types added later.
            _ => {}
        }
        Ok(true)
    }

    fn finish(mut self) -> Result<ProviderReply, LlmError> {
        if !self.stopped {
            return Err(LlmError::BadResponse(
                "the stream ended before message_stop".into(),
            ));
        }
        self.reply.refusal = refusal(self.stop_reason.as_deref(), &self.reply.text);
        Ok(self.reply)
    }
}

#[async_trait]
impl LlmProvider for AnthropicProvider {
    fn name(&self) -> &str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.model
    }

    #[tracing::instrument(skip_all, fields(llm.provider = "anthropic", llm.model = %self.model, llm.stream = self.stream))]
    async fn generate(&self, req: &GenerationRequest) -> Result<Generation, LlmError> {
        let prompt = build_prompt(req);
        let reply = self
            .complete(&prompt, req.correlation_id.as_deref())
            .await?;
        reply.into_generation(&prompt)
    }

    #[tracing::instrument(skip_all, fields(llm.provider = "anthropic", llm.model = %self.model, llm.stream = self.stream))]
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
        let request =
            self.with_headers(self.http.get(&format!("{}/v1/models", self.base_url)), None);
        self.http.send(request, false).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_blocks_are_joined_and_usage_read() {
        let reply = parse_message(&json!({
            "id": "msg_1", "type": "message", "role": "assistant",
            "content": [
                {"type": "text", "text": "```sql\nSELECT "},
                {"type": "tool_use", "id": "t", "name": "x", "input": {}},
                {"type": "text", "text": "1\n```"}
            ],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 20, "output_tokens": 6}
        }))
        .unwrap();
        assert_eq!(reply.text, "```sql\nSELECT 1\n```");
        assert_eq!(
            (reply.prompt_tokens, reply.completion_tokens),
            (Some(20), Some(6))
        );
        assert!(reply.refusal.is_none());
        assert!(matches!(
            parse_message(&json!({"type": "message"})),
            Err(LlmError::BadResponse(_))
        ));
    }

    #[test]
    fn stream_events_are_assembled() {
        let mut s = StreamedMessage::default();
        let events = [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":25,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            ("ping", r#"{"type":"ping"}"#),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"SELECT "}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"2"}}"#,
            ),
            (
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}"#,
            ),
        ];
        for (name, data) in events {
            assert!(s.on_event(Some(name), data).unwrap());
        }
        assert!(
            !s.on_event(Some("message_stop"), r#"{"type":"message_stop"}"#)
                .unwrap()
        );
        let reply = s.finish().unwrap();
        assert_eq!(reply.text, "SELECT 2");
        assert_eq!(
            (reply.prompt_tokens, reply.completion_tokens),
            (Some(25), Some(9))
        );
    }

    #[test]
    fn stream_errors_and_truncation() {
        let mut s = StreamedMessage::default();
        let err = s
            .on_event(
                Some("error"),
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            )
            .unwrap_err();
        assert!(
            matches!(err, LlmError::Upstream { status: 529, ref message } if message == "overloaded_error: Overloaded")
        );
        let mut s = StreamedMessage::default();
        s.on_event(
            None,
            r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"SEL"}}"#,
        )
        .unwrap();
        assert!(matches!(s.finish(), Err(LlmError::BadResponse(_))));
    }

    #[test]
    fn refusals_and_missing_keys() {
        let reply = parse_message(&json!({"content": [], "stop_reason": "refusal"})).unwrap();
        assert!(reply.refusal.is_some());
        assert!(matches!(
            AnthropicProvider::new(&LlmConfig::default()),
            Err(LlmError::Config(m)) if m.contains("api_key")
        ));
    }
}
