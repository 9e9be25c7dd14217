//! Issue 15, one pipeline: `/ask`, the stream, `/sql/generate` and
//! `/sql/fix` run the same generate → validate → correct loop (a cached
//! generation goes through the same check), and every connection-scoped
//! route binds the caller to its connection the same way.
//!
//! The generator is an OpenAI provider pointed at the shared mock peer
//! (`util::mock_llm`), which answers from a script and records the prompts
//! it was sent.

use std::sync::Arc;

use insight::domain::Role;
use insight::store::grants::Grant;
use serde_json::{Value, json};

use crate::util::TestApp;
use crate::util::mock_llm::{MockLlm, Step, chat_completion_with_usage, ok, status};

/// Refused by the gate (the engine only reads).
const WRITES: &str = "DELETE FROM orders";
/// Passes the gate, then the database refuses it (malformed JSON).
const FAILS_TO_RUN: &str = "SELECT json('not json') AS x FROM orders";
/// Passes both.
const COUNTS: &str = "SELECT COUNT(*) AS n FROM orders";

/// The shared mock peer, replaying a script of SQL replies.
struct Peer(MockLlm);

impl Peer {
    /// Answer the next calls with `replies` (one SQL each), then with 500.
    fn play(&self, replies: &[&'static str]) {
        let mut steps: Vec<Step> = replies
            .iter()
            .map(|sql| {
                ok(chat_completion_with_usage(
                    &format!("```sql\n{sql}\n```"),
                    (10, 5),
                ))
            })
            .collect();
        steps.push(status(
            500,
            json!({"error": {"message": "the script is over"}}),
        ));
        self.0.play(steps);
    }

    /// The user message of every call since the last `play`, in order.
    fn prompts(&self) -> Vec<String> {
        self.0
            .requests()
            .iter()
            .map(|r| r.message(1).to_string())
            .collect()
    }
}

async fn scripted_app() -> (Peer, TestApp) {
    let peer = Peer(MockLlm::start(vec![status(500, json!({}))]).await);
    let app = TestApp::builder()
        .config(|c| {
            c.llm.max_correction_attempts = 2;
            c.cache.sql_ttl_secs = 300;
        })
        .llm(Arc::new(peer.0.openai()))
        .spawn()
        .await;
    (peer, app)
}

/// The failed attempts a prompt shows the generator, in order.
fn failures_shown(prompt: &str) -> Vec<String> {
    prompt
        .split("Your previous SQL failed:\n```sql\n")
        .skip(1)
        .map(|s| s.split("\n```").next().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn ask_stream_generate_and_fix_share_one_correction_loop() {
    let (peer, app) = scripted_app().await;
    let viewer = app.login_as(Role::Analyst).await;

    // Ask: refused by the gate, refused by the database, then answered;
    // each failure is fed back to the next attempt.
    peer.play(&[WRITES, FAILS_TO_RUN, COUNTS]);
    let answer = viewer.ask("How many orders are there?").await.expect(200);
    assert_eq!(answer["attempts"], 3, "{answer}");
    assert_eq!(answer["cached"], false);
    assert!(
        answer["sql"].as_str().unwrap().contains("COUNT(*)"),
        "{answer}"
    );
    let prompts = peer.prompts();
    assert_eq!(prompts.len(), 3);
    assert!(failures_shown(&prompts[0]).is_empty());
    assert_eq!(failures_shown(&prompts[1]), [WRITES]);
    let second = failures_shown(&prompts[2]);
    assert_eq!(second.len(), 2, "{}", prompts[2]);
    assert!(second[1].contains("not json"), "{second:?}");
    let record = viewer
        .get(&format!(
            "/api/v1/queries/{}",
            answer["query_id"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(record["attempts"], 3, "{record}");
    assert_eq!(record["prompt_tokens"], 30, "{record}");

    // The same question again: the cached generation is checked (gate and
    // database) and answers without a model call.
    peer.play(&[]);
    let again = viewer.ask("How many orders are there?").await.expect(200);
    assert_eq!(again["cached"], true, "{again}");
    assert_eq!(again["attempts"], 1);
    assert_eq!(again["sql"], answer["sql"]);
    assert!(peer.prompts().is_empty());

    // The stream runs the same loop and shows each step.
    peer.play(&[WRITES, FAILS_TO_RUN, COUNTS]);
    let text = viewer
        .client
        .post(format!("{}/api/v1/ask/stream", app.base))
        .json(&json!({ "question": "Count the orders, please" }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        events,
        [
            "retrieval",
            "sql",
            "validation",
            "sql",
            "validation",
            "sql",
            "validation",
            "rows",
            "done"
        ],
        "{text}"
    );
    assert!(text.contains("\"valid\":false"), "{text}");

    // Generate stops at the gate: SQL that would fail to run is shown.
    peer.play(&[WRITES, FAILS_TO_RUN]);
    let generated = viewer
        .post(
            "/api/v1/sql/generate",
            json!({ "question": "Orders as JSON?" }),
        )
        .await
        .expect(200);
    assert_eq!(generated["valid"], true, "{generated}");
    assert_eq!(generated["attempts"], 2);
    assert!(
        generated["sql"].as_str().unwrap().contains("not json"),
        "{generated}"
    );
    assert_eq!(failures_shown(&peer.prompts()[1]), [WRITES]);
    // ... and reports the last refusal when no attempt passes.
    peer.play(&[WRITES, WRITES, WRITES]);
    let refused = viewer
        .post("/api/v1/sql/generate", json!({ "question": "Drop them?" }))
        .await
        .expect(200);
    assert_eq!(refused["valid"], false, "{refused}");
    assert_eq!(refused["attempts"], 3);
    assert_eq!(refused["errors"].as_array().unwrap().len(), 1);

    // Fix starts the loop from the caller's failing SQL.
    peer.play(&[WRITES, COUNTS]);
    let fixed = viewer
        .post("/api/v1/sql/fix", json!({ "sql": FAILS_TO_RUN }))
        .await
        .expect(200);
    assert_eq!(fixed["fixed"], true, "{fixed}");
    assert_eq!(fixed["attempts"], 2);
    assert_eq!(
        fixed["error"],
        "The database rejected the query: a JSON function got an argument it cannot use."
    );
    let prompts = peer.prompts();
    assert_eq!(failures_shown(&prompts[0]), [FAILS_TO_RUN]);
    assert_eq!(failures_shown(&prompts[1]), [FAILS_TO_RUN, WRITES]);
}

#[tokio::test]
async fn every_connection_scoped_route_hides_a_connection_without_a_grant() {
    let app = TestApp::spawn().await;
    let elsewhere = app
        .user_with_grants(
            Role::Analyst,
            &[Grant {
                connection: "elsewhere".into(),
                allowed_tables: None,
            }],
        )
        .await;
    for (path, body) in [
        ("/api/v1/ask", json!({ "question": "How many orders?" })),
        (
            "/api/v1/ask/stream",
            json!({ "question": "How many orders?" }),
        ),
        (
            "/api/v1/sql/generate",
            json!({ "question": "How many orders?" }),
        ),
        ("/api/v1/sql/validate", json!({ "sql": COUNTS })),
        ("/api/v1/sql/execute", json!({ "sql": COUNTS })),
        ("/api/v1/sql/explain", json!({ "sql": COUNTS })),
        ("/api/v1/sql/fix", json!({ "sql": COUNTS })),
    ] {
        // The default connection (`demo`) and a named one alike; the
        // stream refuses before it starts (a JSON 404, not an event).
        for body in [body.clone(), with_connection(body, "demo")] {
            let r = elsewhere.post(path, body.clone()).await;
            r.expect_error_in(format_args!("{path} {body}"), 404, "not_found");
            assert_eq!(
                r.body["error"]["message"], "connection `demo` not found",
                "{path}: {}",
                r.body
            );
        }
    }
    // A bad body is still a 400 before the connection is looked at.
    let r = elsewhere
        .post("/api/v1/sql/validate", json!({ "sql": 1 }))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

fn with_connection(mut body: Value, connection: &str) -> Value {
    body["connection"] = json!(connection);
    body
}

#[tokio::test]
async fn the_streams_error_event_carries_the_error_body_of_ask() {
    let (peer, app) = scripted_app().await;
    let analyst = app.login_as(Role::Analyst).await;
    peer.play(&[WRITES, WRITES, WRITES]);
    let asked = analyst.ask("Delete the orders").await;
    assert_eq!(asked.status, 422, "{}", asked.body);
    let asked = &asked.body["error"];
    assert_eq!(asked["code"], "sql_rejected", "{asked}");
    assert!(asked["details"]["reason"].is_string(), "{asked}");

    peer.play(&[WRITES, WRITES, WRITES]);
    let text = analyst
        .client
        .post(format!("{}/api/v1/ask/stream", app.base))
        .json(&json!({ "question": "Remove every order" }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let streamed = crate::util::sse_event(&text, "error");
    let streamed = &streamed["error"];
    // The body `POST /ask` answers with: code, message and details (the
    // reason and the history record), under the stream's correlation id.
    assert_eq!(streamed["code"], asked["code"], "{streamed}");
    assert_eq!(streamed["message"], asked["message"]);
    assert_eq!(streamed["details"]["reason"], asked["details"]["reason"]);
    assert!(streamed["details"]["query_id"].is_string(), "{streamed}");
    assert_ne!(
        streamed["details"]["query_id"],
        asked["details"]["query_id"]
    );
    assert!(
        streamed["correlation_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{streamed}"
    );
}
