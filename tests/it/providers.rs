//! The remote providers against a mock peer on 127.0.0.1:0 that speaks the
//! real OpenAI and Anthropic wire formats (JSON and SSE) and records what we
//! send: paths, headers, bodies, retries, errors and timeouts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use insight::config::ProviderKind;
use insight::domain::{ColumnInfo, SchemaInfo, TableInfo};
use insight::domain::{Dialect, TrainingKind};
use insight::engine::llm::anthropic::AnthropicProvider;
use insight::engine::llm::openai::OpenAiProvider;
use insight::engine::llm::{
    ContextItem, FailedAttempt, GenerationOutcome, GenerationRequest, LlmError, LlmProvider,
    RetrievedContext,
};
use serde_json::{Value, json};

use crate::util::mock_llm::{
    KEY, MockLlm, Step, anthropic_message, chat_completion, llm_config, ok, sse_in_pieces, status,
};

async fn openai(steps: Vec<Step>, stream: bool) -> (MockLlm, OpenAiProvider) {
    let peer = MockLlm::start(steps).await;
    let mut config = peer.llm_config(ProviderKind::Openai);
    config.stream = stream;
    let provider = OpenAiProvider::new(&config).unwrap();
    (peer, provider)
}

async fn anthropic(steps: Vec<Step>, stream: bool) -> (MockLlm, AnthropicProvider) {
    let peer = MockLlm::start(steps).await;
    let mut config = peer.llm_config(ProviderKind::Anthropic);
    config.stream = stream;
    let provider = AnthropicProvider::new(&config).unwrap();
    (peer, provider)
}

fn request() -> GenerationRequest {
    let schema = SchemaInfo {
        tables: vec![TableInfo {
            name: "customers".into(),
            columns: vec![
                ColumnInfo {
                    name: "id".into(),
                    data_type: "INTEGER".into(),
                    ..ColumnInfo::default()
                },
                ColumnInfo {
                    name: "country".into(),
                    data_type: "TEXT".into(),
                    nullable: true,
                    ..ColumnInfo::default()
                },
            ],
            primary_key: vec!["id".into()],
            ..TableInfo::default()
        }],
    };
    let ddl = schema.tables[0].to_ddl();
    GenerationRequest {
        question: "How many customers are in France?".into(),
        dialect: Dialect::Sqlite,
        schema: Arc::new(schema),
        context: RetrievedContext {
            ddl: vec![ContextItem {
                id: "ddl-1".into(),
                kind: TrainingKind::Ddl,
                score: 0.9,
                content: ddl,
                sql: None,
            }],
            documentation: vec![],
            examples: vec![ContextItem {
                id: "ex-1".into(),
                kind: TrainingKind::QuestionSql,
                score: 0.8,
                content: "How many customers are there?".into(),
                sql: Some("SELECT count(*) FROM customers".into()),
            }],
            values: vec![],
        },
        previous_attempts: vec![],
        correlation_id: Some("corr-123".into()),
        token_budget: 4000,
    }
}

fn expect_sql(outcome: &GenerationOutcome) -> &str {
    match outcome {
        GenerationOutcome::Sql { sql } => sql,
        other => panic!("expected SQL, got {other:?}"),
    }
}

// ---------------------------------------------------------------- OpenAI

#[tokio::test]
async fn openai_sends_a_chat_completion_and_reads_sql_wrapped_in_prose() {
    let reply = "Sure! Here is the query:\n\n```sql\nSELECT count(*) FROM customers WHERE country = 'France';\n```\n\nIt counts French customers.";
    let (peer, provider) = openai(vec![ok(chat_completion(reply))], false).await;
    assert_eq!(
        (provider.name(), provider.model()),
        ("openai", "test-model")
    );

    let generation = provider.generate(&request()).await.unwrap();
    assert_eq!(
        expect_sql(&generation.outcome),
        "SELECT count(*) FROM customers WHERE country = 'France'"
    );
    assert_eq!(
        (
            generation.usage.prompt_tokens,
            generation.usage.completion_tokens
        ),
        (120, 14)
    );
    assert_eq!(generation.strategy, None);

    let sent = peer.only_request();
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.header("x-correlation-id"), Some("corr-123"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert!(
        sent.header("user-agent")
            .unwrap()
            .starts_with("insight-engine/")
    );
    let body = &sent.body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(body["temperature"], 0.0);
    assert!(body.get("stream").is_none());
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"].as_str().unwrap().contains("SQLite"));
    assert_eq!(messages[1]["role"], "user");
    let user = messages[1]["content"].as_str().unwrap();
    assert!(user.contains("CREATE TABLE"), "{user}");
    assert!(user.contains("SELECT count(*) FROM customers"), "{user}");
    assert!(user.contains("How many customers are in France?"), "{user}");
}

#[tokio::test]
async fn openai_without_a_key_sends_no_authorization() {
    let peer = MockLlm::start(vec![ok(chat_completion("SELECT 1"))]).await;
    let mut cfg = llm_config(ProviderKind::Openai, format!("{}/v1/", peer.base));
    cfg.api_key = None;
    let provider = OpenAiProvider::new(&cfg).unwrap();
    let mut req = request();
    req.correlation_id = None;
    let generation = provider.generate(&req).await.unwrap();
    assert_eq!(expect_sql(&generation.outcome), "SELECT 1");
    let sent = peer.only_request();
    assert_eq!(
        sent.path, "/v1/chat/completions",
        "trailing slash of base_url is dropped"
    );
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.header("x-correlation-id"), None);
}

#[tokio::test]
async fn openai_feeds_back_failed_attempts() {
    let (peer, provider) = openai(vec![ok(chat_completion("SELECT 2"))], false).await;
    let mut req = request();
    req.previous_attempts = vec![FailedAttempt {
        sql: "SELECT count(*) FROM customer".into(),
        error: "no such table: customer".into(),
    }];
    provider.generate(&req).await.unwrap();
    let user = peer.only_request().body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(user.contains("Your previous SQL failed"), "{user}");
    assert!(user.contains("no such table: customer"), "{user}");
}

#[tokio::test]
async fn openai_streaming_assembles_deltas_split_across_chunks() {
    let events = [
        r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{"content":"```sql\nSELECT country, "},"finish_reason":null}]}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{"content":"count(*) FROM customers GROUP BY country;\n```"},"finish_reason":null}]}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        r#"{"id":"c","choices":[],"usage":{"prompt_tokens":77,"completion_tokens":12,"total_tokens":89}}"#,
    ];
    let mut wire: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    wire.push_str("data: [DONE]\n\n");
    // Cut the wire into uneven pieces so events straddle chunk boundaries.
    let (peer, provider) = openai(vec![sse_in_pieces(&wire, 37)], true).await;

    let generation = provider.generate(&request()).await.unwrap();
    assert_eq!(
        expect_sql(&generation.outcome),
        "SELECT country, count(*) FROM customers GROUP BY country"
    );
    assert_eq!(
        (
            generation.usage.prompt_tokens,
            generation.usage.completion_tokens
        ),
        (77, 12)
    );
    let body = peer.only_request().body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn openai_401_surfaces_the_provider_message_without_the_key() {
    let (peer, provider) = openai(
        vec![status(
            401,
            json!({"error": {"message": format!("Incorrect API key provided: {KEY}."), "type": "invalid_request_error", "code": "invalid_api_key"}}),
        )],
        false,
    )
    .await;
    match provider.generate(&request()).await {
        Err(LlmError::Upstream { status, message }) => {
            assert_eq!(status, 401);
            assert!(message.contains("Incorrect API key provided"), "{message}");
            assert!(!message.contains(KEY), "the key is echoed: {message}");
        }
        other => panic!("expected Upstream, got {other:?}"),
    }
    assert_eq!(peer.requests().len(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn openai_long_retry_after_fails_fast() {
    let (peer, provider) = openai(
        vec![Step::Json {
            status: 429,
            headers: vec![("retry-after", "60")],
            body: json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
        }],
        false,
    )
    .await;
    let started = Instant::now();
    let result = provider.generate(&request()).await;
    assert!(
        matches!(result, Err(LlmError::Upstream { status: 429, .. })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        peer.requests().len(),
        1,
        "a Retry-After beyond the cap is not waited for"
    );
}

#[tokio::test]
async fn openai_500_twice_is_an_upstream_error() {
    let (peer, provider) = openai(
        vec![status(
            500,
            json!({"error": {"message": "The server had an error", "type": "server_error"}}),
        )],
        false,
    )
    .await;
    match provider.generate(&request()).await {
        Err(LlmError::Upstream { status, message }) => {
            assert_eq!(status, 500);
            assert!(message.contains("The server had an error"), "{message}");
        }
        other => panic!("expected Upstream, got {other:?}"),
    }
    assert_eq!(peer.requests().len(), 2, "exactly one retry");
}

#[tokio::test]
async fn openai_stalled_stream_times_out() {
    let peer = MockLlm::start(vec![Step::Sse {
        chunks: vec![
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"SELECT\"}}]}\n\n".into(),
            "data: [DONE]\n\n".into(),
        ],
        pause: Duration::from_secs(3),
    }])
    .await;
    let mut cfg = peer.llm_config(ProviderKind::Openai);
    cfg.stream = true;
    cfg.timeout_secs = 1;
    let provider = OpenAiProvider::new(&cfg).unwrap();
    let started = Instant::now();
    let result = provider.generate(&request()).await;
    assert!(matches!(result, Err(LlmError::Timeout(_))), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn openai_unanswerable_and_prose_only_replies() {
    let (_peer, provider) = openai(
        vec![
            ok(chat_completion(
                "UNANSWERABLE: the schema has no table about weather.",
            )),
            ok(chat_completion(
                "I am sorry, I cannot find anything about weather.",
            )),
        ],
        false,
    )
    .await;
    let generation = provider.generate(&request()).await.unwrap();
    assert_eq!(
        generation.outcome,
        GenerationOutcome::Unanswerable {
            reason: "the schema has no table about weather.".into()
        }
    );
    let generation = provider.generate(&request()).await.unwrap();
    assert_eq!(
        generation.outcome,
        GenerationOutcome::Unanswerable {
            reason: "I am sorry, I cannot find anything about weather.".into()
        }
    );
}

#[tokio::test]
async fn openai_malformed_reply_is_a_bad_response() {
    let (_peer, provider) = openai(
        vec![ok(json!({"object": "chat.completion", "choices": []}))],
        false,
    )
    .await;
    let result = provider.generate(&request()).await;
    assert!(
        matches!(result, Err(LlmError::BadResponse(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn unreachable_provider_is_unavailable() {
    // Bind then drop, so the port is (almost certainly) closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let provider = OpenAiProvider::new(&llm_config(
        ProviderKind::Openai,
        format!("http://{addr}/v1"),
    ))
    .unwrap();
    let result = provider.ping().await;
    assert!(
        matches!(result, Err(LlmError::Unavailable(_))),
        "{result:?}"
    );
}

// ---------------------------------------------------------------- Anthropic

#[tokio::test]
async fn anthropic_sends_a_message_and_reads_the_text_blocks() {
    let (peer, provider) = anthropic(
        vec![ok(anthropic_message(&["<sql>\nSELECT count(*) FROM customers WHERE country = 'France'\n</sql>\nThis counts them."]))],
        false,
    )
    .await;
    assert_eq!(
        (provider.name(), provider.model()),
        ("anthropic", "test-model")
    );
    let generation = provider.generate(&request()).await.unwrap();
    assert_eq!(
        expect_sql(&generation.outcome),
        "SELECT count(*) FROM customers WHERE country = 'France'"
    );
    assert_eq!(
        (
            generation.usage.prompt_tokens,
            generation.usage.completion_tokens
        ),
        (90, 11)
    );

    let sent = peer.only_request();
    assert_eq!(
        (sent.method.clone(), sent.path.as_str()),
        (Method::POST, "/v1/messages")
    );
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("x-correlation-id"), Some("corr-123"));
    assert_eq!(sent.header("authorization"), None);
    let body = &sent.body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(body["temperature"], 0.0);
    assert!(body["system"].as_str().unwrap().contains("UNANSWERABLE"));
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["role"], "user");
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("How many customers are in France?")
    );
    assert!(body.get("stream").is_none());
}

fn anthropic_sse(text_parts: &[&str]) -> String {
    let mut wire = String::new();
    let mut event =
        |name: &str, data: Value| wire.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [], "usage": {"input_tokens": 61, "output_tokens": 1}}}),
    );
    event(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    event("ping", json!({"type": "ping"}));
    for part in text_parts {
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": part}}),
        );
    }
    event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    );
    event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 17}}),
    );
    event("message_stop", json!({"type": "message_stop"}));
    wire
}

#[tokio::test]
async fn anthropic_streaming_assembles_text_deltas_split_across_chunks() {
    let wire = anthropic_sse(&[
        "```sql\nWITH fr AS (SELECT * FROM customers WHERE country = 'France')\n",
        "SELECT count(*) FROM fr;\n```",
    ]);
    let (peer, provider) = anthropic(vec![sse_in_pieces(&wire, 29)], true).await;
    let generation = provider.generate(&request()).await.unwrap();
    assert_eq!(
        expect_sql(&generation.outcome),
        "WITH fr AS (SELECT * FROM customers WHERE country = 'France')\nSELECT count(*) FROM fr"
    );
    assert_eq!(
        (
            generation.usage.prompt_tokens,
            generation.usage.completion_tokens
        ),
        (61, 17)
    );
    assert_eq!(peer.only_request().body["stream"], true);
}

#[tokio::test]
async fn anthropic_stream_error_event_is_an_upstream_error() {
    let wire = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5}}}\n\n\
                event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let (_peer, provider) = anthropic(
        vec![Step::Sse {
            chunks: vec![wire.to_string()],
            pause: Duration::ZERO,
        }],
        true,
    )
    .await;
    match provider.generate(&request()).await {
        Err(LlmError::Upstream { status, message }) => {
            assert_eq!(status, 529);
            assert!(message.contains("Overloaded"), "{message}");
        }
        other => panic!("expected Upstream, got {other:?}"),
    }
}

#[tokio::test]
async fn anthropic_requires_a_key() {
    let mut cfg = llm_config(ProviderKind::Anthropic, "http://127.0.0.1:9".into());
    cfg.api_key = None;
    assert!(matches!(
        AnthropicProvider::new(&cfg),
        Err(LlmError::Config(_))
    ));
}

// ------------------------------------------------- Both providers, one table

/// What the two wire formats differ in, for the cases both share.
struct Wire {
    kind: ProviderKind,
    /// A successful reply whose text is `text`.
    reply: fn(&str) -> Value,
    /// The provider's error body saying `message`.
    error: fn(&str) -> Value,
    /// The message an `error("invalid key")` reply surfaces as.
    surfaced: &'static str,
    /// The status the provider sends when it is overloaded.
    busy: u16,
    /// The headers that carry the key (and version) on every request.
    auth: fn() -> Vec<(&'static str, String)>,
}

const WIRES: [Wire; 2] = [
    Wire {
        kind: ProviderKind::Openai,
        reply: chat_completion,
        error: |message| json!({"error": {"message": message, "type": "invalid_request_error"}}),
        surfaced: "invalid_request_error: invalid key",
        busy: 429,
        auth: || vec![("authorization", format!("Bearer {KEY}"))],
    },
    Wire {
        kind: ProviderKind::Anthropic,
        reply: |text| anthropic_message(&[text]),
        error: |message| json!({"type": "error", "error": {"type": "authentication_error", "message": message}}),
        surfaced: "authentication_error: invalid key",
        busy: 529,
        auth: || {
            vec![
                ("x-api-key", KEY.to_string()),
                ("anthropic-version", "2023-06-01".to_string()),
            ]
        },
    },
];

/// `wire`'s provider against `peer`, with `timeout_secs`.
fn provider_for(wire: &Wire, peer: &MockLlm, timeout_secs: u64) -> Box<dyn LlmProvider> {
    let mut config = peer.llm_config(wire.kind);
    config.timeout_secs = timeout_secs;
    match wire.kind {
        ProviderKind::Openai => Box::new(OpenAiProvider::new(&config).unwrap()),
        ProviderKind::Anthropic => Box::new(AnthropicProvider::new(&config).unwrap()),
        other => panic!("no wire format for {other:?}"),
    }
}

#[tokio::test]
async fn each_provider_surfaces_a_401_message_without_retrying() {
    for wire in &WIRES {
        let peer = MockLlm::start(vec![status(401, (wire.error)("invalid key"))]).await;
        let provider = provider_for(wire, &peer, 30);
        match provider.generate(&request()).await {
            Err(LlmError::Upstream { status, message }) => {
                assert_eq!((status, message.as_str()), (401, wire.surfaced));
            }
            other => panic!("{:?}: expected Upstream, got {other:?}", wire.kind),
        }
        assert_eq!(
            peer.requests().len(),
            1,
            "{:?}: a 401 is not retried",
            wire.kind
        );
    }
}

#[tokio::test]
async fn each_provider_retries_an_overloaded_reply_then_succeeds() {
    for wire in &WIRES {
        let peer = MockLlm::start(vec![
            Step::Json {
                status: wire.busy,
                headers: vec![("retry-after", "0")],
                body: (wire.error)("Overloaded"),
            },
            ok((wire.reply)("UNANSWERABLE: no table holds orders.")),
        ])
        .await;
        let provider = provider_for(wire, &peer, 30);
        let generation = provider.generate(&request()).await.unwrap();
        assert_eq!(
            generation.outcome,
            GenerationOutcome::Unanswerable {
                reason: "no table holds orders.".into()
            },
            "{:?}",
            wire.kind
        );
        let requests = peer.requests();
        assert_eq!(requests.len(), 2, "{:?}", wire.kind);
        assert_eq!(
            requests[0].body, requests[1].body,
            "{:?}: the retry sends the same body",
            wire.kind
        );
    }
}

#[tokio::test]
async fn each_provider_honors_its_timeout() {
    for wire in &WIRES {
        let peer = MockLlm::start(vec![Step::Delay(
            Duration::from_secs(4),
            Box::new(ok((wire.reply)("SELECT 1"))),
        )])
        .await;
        let provider = provider_for(wire, &peer, 1);
        let started = Instant::now();
        let result = provider.generate(&request()).await;
        assert!(
            matches!(result, Err(LlmError::Timeout(d)) if d == Duration::from_secs(1)),
            "{:?}: {result:?}",
            wire.kind
        );
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{:?}: took {:?}",
            wire.kind,
            started.elapsed()
        );
        assert_eq!(
            peer.requests().len(),
            1,
            "{:?}: timeouts are not retried",
            wire.kind
        );
    }
}

#[tokio::test]
async fn each_provider_pings_its_models_list_with_its_key() {
    for wire in &WIRES {
        let peer = MockLlm::start(vec![ok(
            json!({"object": "list", "data": [], "has_more": false}),
        )])
        .await;
        let provider = provider_for(wire, &peer, 30);
        provider.ping().await.unwrap();
        let sent = peer.only_request();
        assert_eq!(
            (sent.method.clone(), sent.path.as_str()),
            (Method::GET, "/v1/models"),
            "{:?}",
            wire.kind
        );
        for (name, value) in (wire.auth)() {
            assert_eq!(
                sent.header(name),
                Some(value.as_str()),
                "{:?}: {name}",
                wire.kind
            );
        }
    }
}
