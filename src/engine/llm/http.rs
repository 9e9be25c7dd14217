//! The HTTP plumbing shared by the remote providers: one `reqwest::Client`
//! per provider, the retry policy, the mapping of transport failures and
//! non-2xx replies onto [`LlmError`], and a small Server-Sent-Events decoder.
//!
//! Providers own their wire formats (URLs, headers, JSON shapes); this module
//! must stay format-agnostic apart from reading the `error.message` that both
//! OpenAI and Anthropic put in their error bodies. Error messages that reach
//! `LlmError` are redacted: an API key is never echoed back, even when the
//! upstream quotes it.

use std::time::Duration;

use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::llm::LlmConfig;
use crate::engine::llm::LlmError;
use crate::observability::redact;

/// Connecting should never take long; a slow handshake means the host is
/// down or unreachable, so cap it independently of the (generation) timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Base delay before the single retry (plus up to the same again as jitter).
const RETRY_BACKOFF: Duration = Duration::from_millis(250);
/// Longest `Retry-After` we are willing to wait inside a user's request; a
/// longer one fails fast instead of holding the request open.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Upstream messages are shown to users and logged; keep them short.
const MAX_MESSAGE_CHARS: usize = 300;

/// A `reqwest::Client` configured for one provider, plus what is needed to
/// report its failures safely.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
    /// Only used to scrub the key out of upstream error messages.
    api_key: Option<SecretString>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Build the `reqwest::Client` used for one provider: rustls with the `ring`
/// provider, connect and read timeouts from `config.timeout_secs`, and an
/// `insight-engine/<version>` user agent.
pub fn build_client(config: &LlmConfig) -> Result<reqwest::Client, LlmError> {
    // reqwest is built with `rustls-no-provider`; whoever comes first installs
    // the process-wide crypto provider, later calls are no-ops.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let timeout = timeout_of(config);
    reqwest::Client::builder()
        .user_agent(concat!("insight-engine/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
        // A read timeout (idle gap between reads) rather than a total one, so
        // a long streamed answer that keeps arriving is not cut off; the
        // total deadline of non-streamed calls is set per request.
        .read_timeout(timeout)
        .build()
        .map_err(|e| LlmError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Forward the request's correlation id; an id that is not a valid header
/// value is dropped rather than failing the call.
pub fn with_correlation_id(
    request: RequestBuilder,
    correlation_id: Option<&str>,
) -> RequestBuilder {
    match correlation_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        Some(value) => request.header("X-Correlation-ID", value),
        None => request,
    }
}

fn timeout_of(config: &LlmConfig) -> Duration {
    Duration::from_secs(config.timeout_secs.max(1))
}

impl HttpClient {
    pub fn new(config: &LlmConfig) -> Result<Self, LlmError> {
        Ok(Self {
            client: build_client(config)?,
            timeout: timeout_of(config),
            api_key: config.api_key.clone(),
        })
    }

    pub fn get(&self, url: &str) -> RequestBuilder {
        self.client.get(url)
    }

    pub fn post(&self, url: &str) -> RequestBuilder {
        self.client.post(url)
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Send `request`, retrying once on 429/500/502/503/529 and on connect
    /// errors, and turn every failure into an [`LlmError`]. Returns the 2xx
    /// response with its body unread. `streaming` requests get no total
    /// deadline (the client's read timeout still catches a stalled stream).
    pub async fn send(
        &self,
        request: RequestBuilder,
        streaming: bool,
    ) -> Result<Response, LlmError> {
        let request = if streaming {
            request
        } else {
            request.timeout(self.timeout)
        };
        // JSON bodies are always clonable; if one is not, we just do not retry.
        let retry = request.try_clone();
        match self.send_once(request).await {
            Ok(resp) => Ok(resp),
            Err(failure) => match (failure.retry_after, retry) {
                (Some(delay), Some(retry)) => {
                    tracing::warn!(
                        retry_in_ms = delay.as_millis() as u64,
                        error = %failure.error,
                        "LLM provider call failed, retrying once"
                    );
                    tokio::time::sleep(delay).await;
                    self.send_once(retry).await.map_err(|f| f.error)
                }
                _ => Err(failure.error),
            },
        }
    }

    async fn send_once(&self, request: RequestBuilder) -> Result<Response, Failure> {
        let resp = match request.send().await {
            Ok(resp) => resp,
            Err(e) => {
                let retry_after = e.is_connect().then(jittered_backoff);
                return Err(Failure {
                    error: self.map_reqwest_error(&e),
                    retry_after,
                });
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = if is_retryable(status) {
            match parse_retry_after(resp.headers().get(RETRY_AFTER)) {
                Some(d) if d > MAX_RETRY_AFTER => None,
                Some(d) => Some(d),
                None => Some(jittered_backoff()),
            }
        } else {
            None
        };
        // The error body is small; failing to read it only loses the message.
        let body = resp.text().await.unwrap_or_default();
        Err(Failure {
            error: LlmError::Upstream {
                status: status.as_u16(),
                message: self.redact(&error_message(status, &body)),
            },
            retry_after,
        })
    }

    /// Map a transport error (while sending or reading the body).
    pub fn map_reqwest_error(&self, e: &reqwest::Error) -> LlmError {
        if e.is_timeout() {
            LlmError::Timeout(self.timeout)
        } else if e.is_connect() {
            LlmError::Unavailable(self.redact(&without_url(e)))
        } else if e.is_decode() || e.is_body() {
            LlmError::BadResponse(self.redact(&without_url(e)))
        } else {
            LlmError::Unavailable(self.redact(&without_url(e)))
        }
    }

    /// Read a non-streamed 2xx body as JSON.
    pub async fn read_json(&self, resp: Response) -> Result<Value, LlmError> {
        let bytes = resp.bytes().await.map_err(|e| self.map_reqwest_error(&e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| LlmError::BadResponse(format!("reply is not JSON: {e}")))
    }

    /// Feed every SSE event of a streamed 2xx body to `on_event` until it
    /// returns `Ok(false)` (done), an error, or the body ends.
    pub async fn read_sse<F>(&self, mut resp: Response, mut on_event: F) -> Result<(), LlmError>
    where
        F: FnMut(SseEvent) -> Result<bool, LlmError>,
    {
        let mut decoder = SseDecoder::default();
        loop {
            let chunk = resp.chunk().await.map_err(|e| self.map_reqwest_error(&e))?;
            let (events, ended) = match chunk {
                Some(bytes) => (decoder.push(&bytes), false),
                None => (decoder.finish(), true),
            };
            for event in events {
                if !on_event(event)? {
                    return Ok(());
                }
            }
            if ended {
                return Ok(());
            }
        }
    }

    /// Scrub the API key from a message, then everything the log masker
    /// ([`redact::mask`]) hides (keys of any provider, tokens, DSN
    /// passwords, personal data), and cap its length.
    pub fn redact(&self, message: &str) -> String {
        let mut out = message.to_string();
        if let Some(key) = &self.api_key {
            let key = key.expose_secret();
            if key.len() >= 4 {
                out = out.replace(key, "[redacted]");
            }
        }
        let out = redact::mask(&out);
        truncate_chars(out.trim(), MAX_MESSAGE_CHARS)
    }
}

struct Failure {
    error: LlmError,
    /// `Some` when the failure is worth one retry, after this delay.
    retry_after: Option<Duration>,
}

fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 529)
}

fn jittered_backoff() -> Duration {
    let jitter = rand::random_range(0..=RETRY_BACKOFF.as_millis() as u64);
    RETRY_BACKOFF + Duration::from_millis(jitter)
}

/// `Retry-After` in delta-seconds (what OpenAI and Anthropic send); HTTP
/// dates are ignored and fall back to the default backoff.
fn parse_retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let secs: f64 = value?.to_str().ok()?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// The provider's own explanation from an error body: `{"error":{"message"}}`
/// (OpenAI, and Anthropic's `{"type":"error","error":{"type","message"}}`),
/// `{"error":"…"}` (Ollama) or `{"message":"…"}`; otherwise the start of the
/// body, or the status reason when the body is empty.
pub fn error_message(status: StatusCode, body: &str) -> String {
    if let Ok(json) = serde_json::from_str::<Value>(body) {
        let found = match json.get("error") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(err) => err.get("message").and_then(Value::as_str).map(|m| {
                match err.get("type").and_then(Value::as_str) {
                    Some(kind) if !kind.is_empty() => format!("{kind}: {m}"),
                    _ => m.to_string(),
                }
            }),
            None => None,
        }
        .or_else(|| {
            json.get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        if let Some(message) = found {
            return message;
        }
    }
    let body = body.trim();
    if body.is_empty() || body.starts_with('<') {
        // Empty, or an HTML page from a proxy: the status says more.
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        body.to_string()
    }
}

/// reqwest's Display includes the URL; ours are not secret but the message
/// reads better without it and a proxy URL could carry credentials.
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => format!("{}…", &s[..idx]),
        None => s.to_string(),
    }
}

/// One Server-Sent Event: the `event:` name (if any) and its `data:` lines
/// joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Incremental SSE decoder: bytes in, complete events out. Events may be
/// split anywhere across chunks (even inside a UTF-8 sequence), so it keeps
/// the unterminated tail between calls.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl SseDecoder {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.line(&String::from_utf8_lossy(&line), &mut events);
        }
        events
    }

    /// The body ended: flush a final event that lacked its blank line.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            self.line(&String::from_utf8_lossy(&rest), &mut events);
        }
        self.line("", &mut events);
        events
    }

    fn line(&mut self, line: &str, events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                events.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data).join("\n"),
                });
            }
            self.event = None;
            return;
        }
        if line.starts_with(':') {
            return; // comment / keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => self.data.push(value.to_string()),
            _ => {} // id, retry: not needed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_with_key(key: &str) -> HttpClient {
        let config = LlmConfig {
            api_key: Some(SecretString::from(key.to_string())),
            ..LlmConfig::default()
        };
        HttpClient::new(&config).expect("client builds")
    }

    #[test]
    fn sse_events_split_anywhere_are_reassembled() {
        let stream = "event: a\r\ndata: {\"x\":\"é\"}\r\n\r\n: ping\n\ndata: one\ndata: two\n\ndata: [DONE]\n\n";
        let bytes = stream.as_bytes();
        // Every split point, including inside the two-byte `é`.
        for split in 0..bytes.len() {
            let mut d = SseDecoder::default();
            let mut events = d.push(&bytes[..split]);
            events.extend(d.push(&bytes[split..]));
            events.extend(d.finish());
            assert_eq!(
                events,
                vec![
                    SseEvent {
                        event: Some("a".into()),
                        data: "{\"x\":\"é\"}".into()
                    },
                    SseEvent {
                        event: None,
                        data: "one\ntwo".into()
                    },
                    SseEvent {
                        event: None,
                        data: "[DONE]".into()
                    },
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn sse_final_event_without_blank_line_is_flushed() {
        let mut d = SseDecoder::default();
        assert!(d.push(b"data: last").is_empty());
        assert_eq!(
            d.finish(),
            vec![SseEvent {
                event: None,
                data: "last".into()
            }]
        );
    }

    #[test]
    fn error_messages_come_from_the_provider_body() {
        let s = StatusCode::UNAUTHORIZED;
        assert_eq!(
            error_message(
                s,
                r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#
            ),
            "invalid_request_error: Incorrect API key provided"
        );
        assert_eq!(
            error_message(
                s,
                r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#
            ),
            "authentication_error: invalid x-api-key"
        );
        assert_eq!(
            error_message(s, r#"{"error":"model \"x\" not found"}"#),
            "model \"x\" not found"
        );
        assert_eq!(error_message(s, r#"{"message":"nope"}"#), "nope");
        assert_eq!(error_message(s, "plain text"), "plain text");
        assert_eq!(error_message(s, "<html>bad gateway</html>"), "Unauthorized");
        assert_eq!(error_message(StatusCode::BAD_GATEWAY, ""), "Bad Gateway");
    }

    #[test]
    fn redaction_hides_the_key_and_key_like_tokens() {
        let c = client_with_key("my-secret-key-123");
        assert_eq!(
            c.redact("bad key my-secret-key-123 given"),
            "bad key [redacted] given"
        );
        let msg = c.redact("Incorrect API key provided: sk-proj-abcdefghijklmnop.");
        assert!(!msg.contains("abcdefghijklmnop"), "{msg}");
        assert!(msg.contains("[api-key]"), "{msg}");
        let long = "x".repeat(1000);
        assert_eq!(c.redact(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn retry_after_is_parsed_as_seconds() {
        let v = HeaderValue::from_static("2");
        assert_eq!(parse_retry_after(Some(&v)), Some(Duration::from_secs(2)));
        let v = HeaderValue::from_static("0.5");
        assert_eq!(
            parse_retry_after(Some(&v)),
            Some(Duration::from_millis(500))
        );
        let v = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(parse_retry_after(Some(&v)), None);
        assert_eq!(parse_retry_after(None), None);
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable(StatusCode::from_u16(529).unwrap()));
        assert!(!is_retryable(StatusCode::UNAUTHORIZED));
        assert!(!is_retryable(StatusCode::BAD_REQUEST));
    }
}
