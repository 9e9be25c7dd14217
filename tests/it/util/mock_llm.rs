//! The one mock LLM peer of the suite: an HTTP server on 127.0.0.1:0 that
//! speaks the wire formats our remote providers and embedders use (OpenAI
//! `/v1/chat/completions` and `/v1/models`, Anthropic `/v1/messages`,
//! OpenAI-compatible `/v1/embeddings`), answers from a script and records
//! every request (method, path, headers, JSON body).
//!
//! A script is a list of [`Step`]s served in order, the last one repeating:
//! fixed JSON with any status and headers, an SSE body sent chunk by chunk,
//! a delay before another step, or a reply computed from the request (a
//! wire-format server rather than a script, e.g. one that answers by the
//! system prompt). The peer does not route by path: what it answers is the
//! script's business, what it was asked is in [`MockLlm::requests`].
//!
//! `examples/mock_llm.rs` is a separate fixed-answer server for load runs;
//! it stays out of the test binary and this one out of the product.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use insight::config::{LlmConfig, ProviderKind};
use insight::engine::llm::anthropic::AnthropicProvider;
use insight::engine::llm::openai::OpenAiProvider;
use serde_json::{Value, json};

/// The API key [`llm_config`] sends (tests check it never leaks).
pub const KEY: &str = "sk-test-0123456789abcdef";
/// The model name [`llm_config`] asks for and the canned replies report.
pub const MODEL: &str = "test-model";

/// Computes a step from the request it answers.
pub type Responder = Arc<dyn Fn(&Recorded) -> Step + Send + Sync>;

/// One scripted reply of the mock peer.
#[derive(Clone)]
pub enum Step {
    Json {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: Value,
    },
    /// An SSE body sent chunk by chunk with a pause between chunks, so the
    /// client sees them as separate reads; a chunk may end mid-event.
    Sse {
        chunks: Vec<String>,
        pause: Duration,
    },
    /// Wait, then answer with the inner step.
    Delay(Duration, Box<Step>),
    /// The step `f(request)`: a reply that depends on what was asked.
    Compute(Responder),
}

/// A 200 JSON reply.
pub fn ok(body: Value) -> Step {
    status(200, body)
}

/// A JSON reply with `status`.
pub fn status(status: u16, body: Value) -> Step {
    Step::Json {
        status,
        headers: vec![],
        body,
    }
}

/// An SSE body `wire` cut into pieces of `size` bytes (so events straddle
/// reads), sent 5 ms apart.
pub fn sse_in_pieces(wire: &str, size: usize) -> Step {
    Step::Sse {
        chunks: wire
            .as_bytes()
            .chunks(size)
            .map(|c| String::from_utf8(c.to_vec()).expect("a piece ends inside a character"))
            .collect(),
        pause: Duration::from_millis(5),
    }
}

/// A reply computed from each request.
pub fn compute(f: impl Fn(&Recorded) -> Step + Send + Sync + 'static) -> Step {
    Step::Compute(Arc::new(f))
}

/// An OpenAI chat completion whose one choice says `content`
/// (usage: 120 prompt, 14 completion tokens).
pub fn chat_completion(content: &str) -> Value {
    chat_completion_with_usage(content, (120, 14))
}

/// An OpenAI chat completion saying `content`, reporting `(prompt,
/// completion)` tokens.
pub fn chat_completion_with_usage(content: &str, (prompt, completion): (u64, u64)) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    })
}

/// An Anthropic message whose content is the text blocks `texts`
/// (usage: 90 input, 11 output tokens).
pub fn anthropic_message(texts: &[&str]) -> Value {
    json!({
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": texts.iter().map(|t| json!({"type": "text", "text": t})).collect::<Vec<_>>(),
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 90, "output_tokens": 11}
    })
}

/// What the peer was sent.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    /// The JSON body (`Null` when there was none or it was not JSON).
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The text of chat message `i` (OpenAI: 0 is the system prompt, 1 the
    /// user message); empty when there is none.
    pub fn message(&self, i: usize) -> &str {
        self.body
            .pointer(&format!("/messages/{i}/content"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct MockState {
    steps: Mutex<VecDeque<Step>>,
    requests: Mutex<Vec<Recorded>>,
}

/// A running mock peer; it serves until the test's runtime ends.
pub struct MockLlm {
    /// `http://127.0.0.1:PORT`, without a path.
    pub base: String,
    state: Arc<MockState>,
}

impl MockLlm {
    /// Serve `steps` in order (the last one repeats).
    pub async fn start(steps: Vec<Step>) -> Self {
        assert!(!steps.is_empty(), "the mock needs at least one step");
        let state = Arc::new(MockState {
            steps: Mutex::new(steps.into()),
            requests: Mutex::default(),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let addr = super::serve_router(app).await;
        Self {
            base: format!("http://{addr}"),
            state,
        }
    }

    /// Answer every request with `f(request)`.
    pub async fn answering(f: impl Fn(&Recorded) -> Step + Send + Sync + 'static) -> Self {
        Self::start(vec![compute(f)]).await
    }

    /// Replace the script with `steps` and forget the requests so far.
    pub fn play(&self, steps: Vec<Step>) {
        assert!(!steps.is_empty(), "the mock needs at least one step");
        *self.state.steps.lock().unwrap() = steps.into();
        self.state.requests.lock().unwrap().clear();
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The one request the peer got (fails the test otherwise).
    pub fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "expected exactly one request");
        requests.into_iter().next().unwrap()
    }

    /// Settings of a `provider` pointed at this peer (see [`llm_config`]).
    pub fn llm_config(&self, provider: ProviderKind) -> LlmConfig {
        let base_url = match provider {
            ProviderKind::Openai => format!("{}/v1", self.base),
            _ => self.base.clone(),
        };
        llm_config(provider, base_url)
    }

    /// An OpenAI provider pointed at this peer.
    pub fn openai(&self) -> OpenAiProvider {
        OpenAiProvider::new(&self.llm_config(ProviderKind::Openai)).expect("openai provider")
    }

    /// An Anthropic provider pointed at this peer.
    pub fn anthropic(&self) -> AnthropicProvider {
        AnthropicProvider::new(&self.llm_config(ProviderKind::Anthropic))
            .expect("anthropic provider")
    }
}

/// Settings of a remote `provider` at `base_url`: key [`KEY`], model
/// [`MODEL`], 5 s timeout, 256 tokens, temperature 0, no streaming.
pub fn llm_config(provider: ProviderKind, base_url: String) -> LlmConfig {
    LlmConfig {
        provider,
        base_url: Some(base_url),
        api_key: Some(KEY.to_string().into()),
        model: Some(MODEL.into()),
        timeout_secs: 5,
        max_tokens: 256,
        temperature: 0.0,
        stream: false,
        ..LlmConfig::default()
    }
}

async fn handle(
    State(state): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Recorded {
        method,
        path: uri.path().to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    state.requests.lock().unwrap().push(request.clone());
    let step = {
        let mut steps = state.steps.lock().unwrap();
        if steps.len() > 1 {
            steps.pop_front().unwrap()
        } else {
            steps.front().cloned().expect("the mock has a step")
        }
    };
    respond(step, &request).await
}

async fn respond(mut step: Step, request: &Recorded) -> Response {
    loop {
        step = match step {
            Step::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                *inner
            }
            Step::Compute(f) => f(request),
            other => break respond_now(other),
        }
    }
}

fn respond_now(step: Step) -> Response {
    match step {
        Step::Json {
            status,
            headers,
            body,
        } => {
            let mut builder = Response::builder()
                .status(status)
                .header("content-type", "application/json");
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder.body(Body::from(body.to_string())).unwrap()
        }
        Step::Sse { chunks, pause } => {
            let stream = futures::stream::unfold(chunks.into_iter(), move |mut rest| async move {
                let chunk = rest.next()?;
                tokio::time::sleep(pause).await;
                Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), rest))
            });
            Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        Step::Delay(..) | Step::Compute(_) => unreachable!("resolved by respond"),
    }
}
