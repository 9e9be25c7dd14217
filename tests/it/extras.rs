//! Answer extras (summary, follow-ups) and conversations on `/api/v1/ask`:
//! with the builtin generator, and with an OpenAI provider pointed at a mock
//! peer on 127.0.0.1:0 that speaks the chat-completions wire format and
//! records every request, so we can check what the LLM was sent.

use std::sync::Arc;

use insight::domain::Role;
use insight::engine::llm::openai::OpenAiProvider;
use serde_json::{Value, json};

use crate::util::TestApp;
use crate::util::mock_llm::{
    KEY, MockLlm, Recorded, Step, anthropic_message, chat_completion_with_usage, ok, status,
};

const BY_COUNTRY: &str = "How many customers are there in each country?";

/// How the mock answers the free-text calls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Working,
    /// Summaries get HTTP 400, follow-ups a reply that is not a JSON array.
    Failing,
}

/// The (prompt, completion) tokens the mock reports for each kind of call,
/// all different, so a history record's totals show which calls it counts.
const GENERATION_USAGE: (u64, u64) = (100, 20);
const SUMMARY_USAGE: (u64, u64) = (30, 5);
const FOLLOWUPS_USAGE: (u64, u64) = (7, 3);
const REWRITE_USAGE: (u64, u64) = (11, 2);

/// The (prompt, completion) tokens of a query's history record.
async fn record_tokens(app: &TestApp, query_id: &Value) -> (u64, u64) {
    let record = app
        .get(&format!("/api/v1/queries/{}", query_id.as_str().unwrap()))
        .await
        .expect(200);
    (
        record["prompt_tokens"].as_u64().unwrap(),
        record["completion_tokens"].as_u64().unwrap(),
    )
}

fn sum(calls: &[(u64, u64)]) -> (u64, u64) {
    calls
        .iter()
        .fold((0, 0), |(p, c), (cp, cc)| (p + cp, c + cc))
}

/// The mock model: answers each chat completion by its system prompt.
fn chat(mode: Mode, request: &Recorded) -> Step {
    let (system, user) = (request.message(0), request.message(1));
    let failing = mode == Mode::Failing;
    let (reply, usage) = if system.starts_with("You summarise") {
        if failing {
            return status(
                400,
                json!({"error": {"message": "bad request", "type": "invalid_request_error"}}),
            );
        }
        (
            "Most customers are in the United States.".to_string(),
            SUMMARY_USAGE,
        )
    } else if system.starts_with("You suggest questions") {
        let reply = if failing {
            "I would ask about revenue next.".to_string()
        } else {
            "```json\n[\"Which city has the most customers?\", 42, \"which city has the most customers\", \"How many orders are there?\", \"How many products are there?\"]\n```".to_string()
        };
        (reply, FOLLOWUPS_USAGE)
    } else if system.starts_with("You rewrite the follow-up") {
        let follow_up = user.split("Follow-up: ").nth(1).unwrap_or_default();
        let standalone = if follow_up.contains("planets") {
            "How many planets are there?"
        } else {
            BY_COUNTRY
        };
        (format!("Standalone question: {standalone}"), REWRITE_USAGE)
    } else {
        // SQL generation: answer from the <question> section only.
        let question = user
            .split("<question>")
            .nth(1)
            .and_then(|q| q.split("</question>").next())
            .unwrap_or_default()
            .to_lowercase();
        let reply = if question.contains("planets") {
            // A table that does not exist: rejected on every attempt.
            "```sql\nSELECT COUNT(*) FROM planets\n```".to_string()
        } else if question.contains("country") {
            "```sql\nSELECT country, COUNT(*) AS customers FROM customers GROUP BY country ORDER BY customers DESC\n```".to_string()
        } else {
            "```sql\nSELECT COUNT(*) AS customers FROM customers\n```".to_string()
        };
        (reply, GENERATION_USAGE)
    };
    ok(chat_completion_with_usage(&reply, usage))
}

async fn mock_llm(mode: Mode) -> (MockLlm, OpenAiProvider) {
    let peer = MockLlm::answering(move |request| chat(mode, request)).await;
    let provider = peer.openai();
    (peer, provider)
}

/// (system, user) of the chat completions whose system prompt starts with
/// `prefix`, in order.
fn calls_of(peer: &MockLlm, prefix: &str) -> Vec<(String, String)> {
    peer.requests()
        .iter()
        .filter(|r| r.message(0).starts_with(prefix))
        .map(|r| (r.message(0).to_string(), r.message(1).to_string()))
        .collect()
}

fn codes(answer: &Value) -> Vec<String> {
    answer["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn builtin_summary_and_followups_come_from_the_rows_and_schema() {
    let app = TestApp::spawn().await;
    let answer = app
        .post(
            "/api/v1/ask",
            json!({"question": BY_COUNTRY, "summary": true, "followups": true}),
        )
        .await
        .expect(200);
    assert_eq!(answer["summary_source"], "builtin");
    assert_eq!(codes(&answer), Vec::<String>::new());
    let rows = answer["rows"].as_array().unwrap();
    let n = answer["row_count"].as_u64().unwrap();
    assert!(n > 1, "{answer}");
    // The largest count among the first 20 rows, as the summary must name it.
    let seen = &rows[..rows.len().min(20)];
    let top = seen
        .iter()
        .max_by_key(|r| r[1].as_i64().unwrap())
        .expect("rows");
    let summary = answer["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!("{n} rows; the largest ")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("{} ({})", top[0].as_str().unwrap(), top[1])),
        "{summary} should name {top:?}"
    );
    let followups: Vec<&str> = answer["followups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_str().unwrap())
        .collect();
    assert!(
        !followups.is_empty() && followups.len() <= 3,
        "{followups:?}"
    );
    assert!(followups.contains(&"How many customers are there?"));
    assert!(!followups.contains(&BY_COUNTRY));

    // Not asked for: not there.
    let plain = app.ask(BY_COUNTRY).await.expect(200);
    assert!(plain.get("summary").is_none() && plain.get("followups").is_none());
    assert!(plain["conversation_id"].is_string());
}

#[tokio::test]
async fn summaries_turned_off_by_config_leave_a_warning_not_an_error() {
    let app = TestApp::builder()
        .config(|c| c.query.summaries = false)
        .spawn()
        .await;
    let answer = app
        .post(
            "/api/v1/ask",
            json!({"question": "How many customers are there?", "summary": true}),
        )
        .await
        .expect(200);
    assert!(answer.get("summary").is_none());
    assert_eq!(codes(&answer), vec!["summary_disabled"]);
}

#[tokio::test]
async fn llm_summary_sees_at_most_n_rows_and_followups_are_parsed_defensively() {
    let (mock, llm) = mock_llm(Mode::Working).await;
    let app = TestApp::builder()
        .config(|c| c.query.summary_max_rows = 3)
        .llm(Arc::new(llm))
        .spawn()
        .await;
    let answer = app
        .post(
            "/api/v1/ask",
            json!({"question": BY_COUNTRY, "summary": true, "followups": true}),
        )
        .await
        .expect(200);
    assert!(answer["row_count"].as_u64().unwrap() > 3, "{answer}");
    assert_eq!(
        answer["summary"],
        "Most customers are in the United States."
    );
    assert_eq!(answer["summary_source"], "llm");
    assert_eq!(
        answer["followups"],
        json!([
            "Which city has the most customers?",
            "How many orders are there?",
            "How many products are there?"
        ])
    );
    assert_eq!(codes(&answer), Vec::<String>::new());

    let summaries = calls_of(&mock, "You summarise");
    assert_eq!(summaries.len(), 1);
    let user = &summaries[0].1;
    let row_lines: Vec<&str> = user.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(row_lines.len(), 3, "at most summary_max_rows rows: {user}");
    assert!(user.contains(&format!("the first 3 of {} rows", answer["row_count"])));
    let first_row = answer["rows"][0].to_string();
    assert_eq!(row_lines[0], first_row);
    let fourth_row = answer["rows"][3].to_string();
    assert!(!user.contains(&fourth_row), "row 4 must not be sent");

    let followups = calls_of(&mock, "You suggest questions");
    assert_eq!(followups.len(), 1);
    assert!(
        !followups[0].1.lines().any(|l| l.starts_with('[')),
        "follow-ups get no rows"
    );
}

#[tokio::test]
async fn failing_llm_extras_never_fail_the_answer() {
    let (_mock, llm) = mock_llm(Mode::Failing).await;
    let app = TestApp::builder().llm(Arc::new(llm)).spawn().await;
    let answer = app
        .post(
            "/api/v1/ask",
            json!({"question": BY_COUNTRY, "summary": true, "followups": true}),
        )
        .await
        .expect(200);
    assert!(answer["rows"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(answer.get("summary").is_none() && answer.get("followups").is_none());
    assert_eq!(codes(&answer), vec!["summary_failed", "followups_failed"]);
    for w in answer["warnings"].as_array().unwrap() {
        assert!(!w["message"].as_str().unwrap().contains("bad request"));
    }
    // The summary call failed and reported nothing; the follow-ups reply
    // could not be used but was paid for.
    assert_eq!(answer["attempts"], 1);
    assert_eq!(
        record_tokens(&app, &answer["query_id"]).await,
        sum(&[GENERATION_USAGE, FOLLOWUPS_USAGE])
    );
}

/// A history record counts the tokens of every LLM call made for its ask:
/// generation, the rewrite of a follow-up, the summary and the follow-ups,
/// as the provider reported them; also when the ask fails after a rewrite.
#[tokio::test]
async fn history_records_count_the_tokens_of_rewrites_and_extras() {
    let (_mock, llm) = mock_llm(Mode::Working).await;
    let app = TestApp::builder().llm(Arc::new(llm)).spawn().await;
    let plain = app.ask("How many customers are there?").await.expect(200);
    assert_eq!(plain["attempts"], 1);
    // A remote model's answer on the first attempt: medium, and said why.
    assert_eq!(plain["confidence"], "medium", "{plain}");
    assert_eq!(plain["assumptions"][0]["code"], "remote_model", "{plain}");
    assert_eq!(
        record_tokens(&app, &plain["query_id"]).await,
        GENERATION_USAGE
    );
    let id = plain["conversation_id"].clone();

    let with_extras = app
        .post(
            "/api/v1/ask",
            json!({"question": BY_COUNTRY, "summary": true, "followups": true}),
        )
        .await
        .expect(200);
    assert!(with_extras["summary"].is_string() && with_extras["followups"].is_array());
    assert_eq!(
        record_tokens(&app, &with_extras["query_id"]).await,
        sum(&[GENERATION_USAGE, SUMMARY_USAGE, FOLLOWUPS_USAGE])
    );

    let follow_up = app
        .post(
            "/api/v1/ask",
            json!({"question": "and by country?", "conversation_id": id, "summary": true, "followups": true}),
        )
        .await
        .expect(200);
    assert_eq!(follow_up["standalone_question"], BY_COUNTRY);
    // The same standalone question as before: its SQL comes from the cache,
    // so no generation call is counted.
    assert_eq!(follow_up["cached"], true);
    assert_eq!(
        record_tokens(&app, &follow_up["query_id"]).await,
        sum(&[REWRITE_USAGE, SUMMARY_USAGE, FOLLOWUPS_USAGE])
    );

    // Rewritten, then rejected on every attempt: the failed record still
    // counts the rewrite and each generation.
    let failed = app
        .post(
            "/api/v1/ask",
            json!({"question": "and the planets?", "conversation_id": id, "summary": true}),
        )
        .await;
    failed.expect_error(422, "sql_rejected");
    let query_id = &failed.body["error"]["details"]["query_id"];
    let record = app
        .get(&format!("/api/v1/queries/{}", query_id.as_str().unwrap()))
        .await
        .expect(200);
    let attempts = record["attempts"].as_u64().unwrap();
    assert!(attempts > 1, "{record}");
    // Correction attempts lower the last SQL's confidence to low.
    assert_eq!(record["confidence"], "low", "{record}");
    assert!(
        record["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "corrected"),
        "{record}"
    );
    let generations = vec![GENERATION_USAGE; attempts as usize];
    assert_eq!(
        record_tokens(&app, query_id).await,
        sum(&[sum(&generations), REWRITE_USAGE])
    );
}

#[tokio::test]
async fn builtin_conversation_rewrites_a_follow_up_and_records_it() {
    let app = TestApp::spawn().await;
    let first = app.ask("How many customers are there?").await.expect(200);
    let id = first["conversation_id"]
        .as_str()
        .expect("a new conversation");
    assert!(first.get("standalone_question").is_none());

    let next = app
        .post(
            "/api/v1/ask",
            json!({"question": "and by country?", "conversation_id": id}),
        )
        .await
        .expect(200);
    assert_eq!(next["conversation_id"], id);
    assert_eq!(next["question"], "and by country?");
    assert_eq!(
        next["standalone_question"],
        "How many customers are there by country?"
    );
    assert!(
        next["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "country"),
        "{next}"
    );
    assert!(next["row_count"].as_u64().unwrap() > 1);
    // The history records what was answered.
    let record = app
        .get(&format!(
            "/api/v1/queries/{}",
            next["query_id"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(
        record["question"],
        "How many customers are there by country?"
    );
    // A standalone question in the same conversation is left alone.
    let other = app
        .post(
            "/api/v1/ask",
            json!({"question": "How many products are there?", "conversation_id": id}),
        )
        .await
        .expect(200);
    assert!(other.get("standalone_question").is_none());
    let turns = app.state.engine.store.recent_turns(id, 10).await.unwrap();
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[1].question, "and by country?");
}

#[tokio::test]
async fn llm_conversation_rewrite_uses_the_previous_turns() {
    let (mock, llm) = mock_llm(Mode::Working).await;
    let app = TestApp::builder().llm(Arc::new(llm)).spawn().await;
    let first = app.ask("How many customers are there?").await.expect(200);
    assert!(
        calls_of(&mock, "You rewrite").is_empty(),
        "nothing to rewrite yet"
    );
    let id = first["conversation_id"].as_str().unwrap();
    let next = app
        .post(
            "/api/v1/ask",
            json!({"question": "and by country?", "conversation_id": id}),
        )
        .await
        .expect(200);
    assert_eq!(next["standalone_question"], BY_COUNTRY);
    assert!(next["row_count"].as_u64().unwrap() > 1, "{next}");
    let rewrites = calls_of(&mock, "You rewrite");
    assert_eq!(rewrites.len(), 1);
    assert!(rewrites[0].1.contains("1. How many customers are there?"));
    assert!(rewrites[0].1.contains("Follow-up: and by country?"));
}

#[tokio::test]
async fn another_users_conversation_is_not_found() {
    let app = TestApp::spawn().await;
    let mine = app.ask("How many customers are there?").await.expect(200);
    let id = mine["conversation_id"].as_str().unwrap();
    let viewer = app.login_as(Role::Viewer).await;
    for conversation in [id, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"] {
        let r = viewer
            .post(
                "/api/v1/ask",
                json!({"question": "and by country?", "conversation_id": conversation}),
            )
            .await;
        r.expect_error(404, "not_found");
    }
    let r = viewer
        .post(
            "/api/v1/ask",
            json!({"question": "How many customers are there?", "conversation_id": "x'; --"}),
        )
        .await;
    r.expect_error(400, "bad_request");
    // The owner carries on.
    app.post(
        "/api/v1/ask",
        json!({"question": "and by country?", "conversation_id": id}),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn the_stream_carries_extras_and_conversations_in_done() {
    let app = TestApp::spawn().await;
    let first = app.ask("How many customers are there?").await.expect(200);
    let resp = app
        .client
        .post(format!("{}/api/v1/ask/stream", app.base))
        .json(&json!({
            "question": "and by country?",
            "conversation_id": first["conversation_id"],
            "summary": true,
            "followups": true,
        }))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    let done = crate::util::sse_event(&text, "done");
    assert_eq!(done["conversation_id"], first["conversation_id"]);
    assert_eq!(
        done["standalone_question"],
        "How many customers are there by country?"
    );
    assert_eq!(done["summary_source"], "builtin");
    assert!(done["followups"].as_array().is_some_and(|f| !f.is_empty()));
}

/// The Anthropic provider's free-text call speaks the Messages API: the
/// system prompt apart, one user message, its key and version headers.
#[tokio::test]
async fn anthropic_text_completion_speaks_the_messages_api() {
    use insight::engine::llm::{LlmProvider, TextRequest};

    let peer = MockLlm::start(vec![ok(anthropic_message(&[
        "Twelve countries; ",
        "most in the US.",
    ]))])
    .await;
    let provider = peer.anthropic();
    let reply = provider
        .complete_text(&TextRequest {
            system: "You summarise.".into(),
            user: "Rows: [1]".into(),
            correlation_id: Some("corr-1".into()),
        })
        .await
        .unwrap()
        .expect("a remote provider has a model");
    assert_eq!(reply.text, "Twelve countries; most in the US.");
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (90, 11)
    );
    let sent = peer.only_request();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let body = &sent.body;
    assert_eq!(body["system"], "You summarise.");
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Rows: [1]"}])
    );
}
