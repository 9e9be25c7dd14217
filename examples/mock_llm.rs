//! A local OpenAI-compatible chat-completions server for load tests
//! (`scripts/load`). It answers every request at once with one fixed SQL
//! statement, so a load run measures the service and not a model. Dev
//! tooling only: built as a Cargo example, never part of the `insight`
//! binary. The test suite has its own recording mock in `tests/it/util`.
//!
//! ```sh
//! cargo run --release --example mock_llm -- --port 0 --sql "SELECT 1"
//! ```
//!
//! Prints `listening on 127.0.0.1:PORT` once bound, then serves until killed.
//! `POST /v1/chat/completions` answers in the wire format (a JSON completion,
//! or Server-Sent Events chunks when the request says `"stream": true`), with
//! token usage; `GET /v1/models` lists the one model.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(about = "OpenAI-compatible mock LLM for load tests")]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind (0: any free port; the chosen one is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The SQL every completion answers with.
    #[arg(long, default_value = "SELECT 1")]
    sql: String,
}

struct Mock {
    content: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mock = Arc::new(Mock {
        content: format!("```sql\n{}\n```", args.sql),
    });
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .with_state(mock);
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn chat(State(mock): State<Arc<Mock>>, Json(req): Json<Value>) -> Response {
    let model = req.get("model").and_then(Value::as_str).unwrap_or("mock");
    let usage = json!({"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120});
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "mock", "object": "chat.completion.chunk", "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        let events = [
            chunk(
                json!({"role": "assistant", "content": mock.content}),
                Value::Null,
            ),
            chunk(json!({}), json!("stop")),
            json!({"id": "mock", "object": "chat.completion.chunk", "model": model,
                   "choices": [], "usage": usage}),
        ];
        let mut body = String::new();
        for e in events {
            body.push_str(&format!("data: {e}\n\n"));
        }
        body.push_str("data: [DONE]\n\n");
        return ([("content-type", "text/event-stream")], body).into_response();
    }
    Json(json!({
        "id": "mock",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": mock.content}}],
        "usage": usage,
    }))
    .into_response()
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": "mock", "object": "model"}]}))
}
