//! What a remote provider is sent: asks on the demo database through an
//! OpenAI provider pointed at a local peer that speaks the chat-completions
//! wire format and records every prompt. Database values (the demo's
//! sampled countries, cities, segments, categories, statuses) reach the
//! prompt only when `allow_values_in_prompt` allows it — globally, at
//! runtime, or per connection.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use insight::config::{ConnectionConfig, LlmConfig, ProviderKind};
use insight::domain::{ConnectionId, Dialect};
use insight::engine::llm::openai::OpenAiProvider;
use serde_json::{Value, json};

use crate::util::TestApp;

/// User messages of the generation calls, in order.
type Prompts = Arc<Mutex<Vec<String>>>;

async fn chat(
    State(prompts): State<Prompts>,
    axum::Json(body): axum::Json<Value>,
) -> axum::Json<Value> {
    let user = body
        .pointer("/messages/1/content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    prompts.lock().unwrap().push(user);
    axum::Json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant",
            "content": "```sql\nSELECT COUNT(*) FROM customers WHERE country = 'Germany'\n```"},
            "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}
    }))
}

async fn recording_llm() -> (Prompts, OpenAiProvider) {
    let prompts = Prompts::default();
    let app = Router::new()
        .route("/v1/chat/completions", axum::routing::post(chat))
        .with_state(prompts.clone());
    let addr = crate::util::serve_router(app).await;
    let provider = OpenAiProvider::new(&LlmConfig {
        provider: ProviderKind::Openai,
        base_url: Some(format!("http://{addr}/v1")),
        api_key: Some("sk-test-prompts".to_string().into()),
        model: Some("test-model".into()),
        timeout_secs: 5,
        ..LlmConfig::default()
    })
    .unwrap();
    (prompts, provider)
}

/// The demo app on the recording provider, with the SQL cache off so every
/// ask reaches the model.
async fn recording_app() -> (Prompts, TestApp) {
    let (prompts, llm) = recording_llm().await;
    let app = TestApp::builder()
        .config(|c| c.cache.sql_ttl_secs = 0)
        .llm(Arc::new(llm))
        .spawn()
        .await;
    (prompts, app)
}

fn last(prompts: &Prompts) -> String {
    prompts
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("a prompt was sent")
}

/// Every sampled value of the demo schema the question does not contain.
fn foreign_values(app: &TestApp, question: &str) -> Vec<String> {
    let demo = ConnectionId::parse("demo").unwrap();
    let schema = app.state.engine.connections.get(&demo).unwrap().schema();
    let q = question.to_lowercase();
    let values: Vec<String> = schema
        .tables
        .iter()
        .flat_map(|t| &t.columns)
        .flat_map(|c| &c.sample_values)
        .filter(|v| !q.contains(&v.to_lowercase()))
        .cloned()
        .collect();
    assert!(values.len() > 10, "the demo has sampled values: {values:?}");
    values
}

#[tokio::test]
async fn database_values_reach_the_prompt_only_when_allowed() {
    let (prompts, app) = recording_app().await;
    let question = "How many Corporate customers are there in Germany?";

    // Off by default: no value from the database, only the question's words.
    app.ask(question).await.expect(200);
    let sent = last(&prompts);
    assert!(sent.contains("CREATE TABLE customers"), "{sent}");
    assert!(!sent.contains("<values>"), "{sent}");
    for v in foreign_values(&app, question) {
        assert!(
            !sent.contains(&v),
            "`{v}` was sent with values off:\n{sent}"
        );
    }

    // An admin turns it on at runtime: matching values and a few samples.
    let settings = app
        .patch(
            "/api/v1/admin/settings",
            json!({"allow_values_in_prompt": true}),
        )
        .await
        .expect(200);
    assert_eq!(settings["allow_values_in_prompt"], true);
    app.ask(question).await.expect(200);
    let sent = last(&prompts);
    let values = sent
        .split("<values>\n")
        .nth(1)
        .and_then(|v| v.split("</values>").next())
        .unwrap_or_else(|| panic!("no values section:\n{sent}"));
    assert!(
        values.contains("customers.country: 'Germany' (named in the question)"),
        "{values}"
    );
    assert!(
        values.contains("customers.segment: 'Corporate' (named in the question)"),
        "{values}"
    );
    assert_eq!(prompts.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_connection_can_keep_its_values_out_of_prompts() {
    let (prompts, llm) = recording_llm().await;
    let app = TestApp::builder()
        .config(|c| {
            c.cache.sql_ttl_secs = 0;
            c.llm.allow_values_in_prompt = true;
            // The demo file again, as a second connection that opts out.
            let path = c.data_dir.join("demo.db");
            let shop: ConnectionConfig = serde_json::from_value(json!({
                "dialect": Dialect::Sqlite,
                "path": path,
                "allow_values_in_prompt": false,
            }))
            .unwrap();
            c.connections.insert("private_shop".into(), shop);
        })
        .llm(Arc::new(llm))
        .spawn()
        .await;
    let question = "How many customers are there in Germany?";

    app.ask(question).await.expect(200);
    assert!(last(&prompts).contains("'Germany' (named in the question)"));

    app.post(
        "/api/v1/ask",
        json!({"question": question, "connection": "private_shop"}),
    )
    .await
    .expect(200);
    let sent = last(&prompts);
    assert!(
        sent.contains("CREATE TABLE customers") && !sent.contains("<values>"),
        "{sent}"
    );
    for v in foreign_values(&app, question) {
        assert!(
            !sent.contains(&v),
            "`{v}` was sent for an opted-out connection"
        );
    }
}

#[tokio::test]
async fn settings_stored_before_the_switch_existed_still_apply() {
    let app = TestApp::builder()
        .config(|c| c.llm.allow_values_in_prompt = true)
        .spawn()
        .await;
    // What an older release stored: every runtime setting it knew.
    let mut stored = serde_json::to_value(app.state.engine.runtime_settings()).unwrap();
    let map = stored.as_object_mut().unwrap();
    map.remove("allow_values_in_prompt")
        .expect("the field exists now");
    map.insert("feedback_mode".into(), json!("approval"));
    app.state
        .engine
        .store
        .save_runtime_settings(&stored, None)
        .await
        .unwrap();

    let again = insight::app::App::build(
        app.state.config.clone(),
        insight::app::AppOverrides::default(),
    )
    .await
    .unwrap();
    let settings = again.engine.runtime_settings();
    assert_eq!(
        settings.feedback_mode,
        insight::config::FeedbackMode::Approval
    );
    assert!(
        settings.allow_values_in_prompt,
        "the configured value is kept"
    );
}

/// A viewer whose grant on `demo` allows the `orders` table only.
async fn orders_only_viewer(app: &TestApp) -> crate::util::TestUser {
    app.user_with_grants(
        insight::domain::Role::Viewer,
        &[insight::store::grants::Grant {
            connection: "demo".into(),
            allowed_tables: Some(vec!["orders".into()]),
        }],
    )
    .await
}

#[tokio::test]
async fn values_of_tables_outside_the_callers_grant_are_not_sent() {
    let (prompts, llm) = recording_llm().await;
    let app = TestApp::builder()
        .config(|c| {
            c.cache.sql_ttl_secs = 0;
            c.llm.allow_values_in_prompt = true;
        })
        .llm(Arc::new(llm))
        .spawn()
        .await;
    let viewer = orders_only_viewer(&app).await;
    let question = "How many orders of customers in Germany were cancelled?";
    // The recorded answer reads `customers`, which this viewer may not: the
    // ask fails, but the prompt was sent and recorded first.
    let _ = viewer.ask(question).await;
    let sent = prompts.lock().unwrap().first().cloned().expect("a prompt");
    assert!(sent.contains("orders.status: 'cancelled'"), "{sent}");
    assert!(!sent.contains("'Germany'"), "{sent}");

    // The admin, with the whole connection, gets both.
    app.ask(question).await.expect(200);
    assert!(last(&prompts).contains("customers.country: 'Germany'"));
}

#[tokio::test]
async fn a_limited_caller_is_sent_only_their_tables_and_the_context_about_them() {
    let (prompts, app) = recording_app().await;
    for body in [
        json!({ "kind": "documentation", "content": "Stock of a product is kept in products.stock_level." }),
        json!({ "kind": "question_sql", "content": "Number of cancelled orders for each product",
                "sql": "SELECT p.name, COUNT(*) FROM order_items oi JOIN products p ON p.id = oi.product_id JOIN orders o ON o.id = oi.order_id WHERE o.status = 'cancelled' GROUP BY p.name" }),
        json!({ "kind": "documentation", "content": "A cancelled order has status 'cancelled' in orders." }),
        json!({ "kind": "question_sql", "content": "How many orders were cancelled?",
                "sql": "SELECT COUNT(*) FROM orders WHERE status = 'cancelled'" }),
    ] {
        app.post("/api/v1/training", body).await.expect(201);
    }
    let viewer = orders_only_viewer(&app).await;
    let question = "How many cancelled orders per product?";
    let _ = viewer.ask(question).await;
    let sent = prompts.lock().unwrap().first().cloned().expect("a prompt");
    assert!(sent.contains("CREATE TABLE orders"), "{sent}");
    assert!(sent.contains("A cancelled order has status"), "{sent}");
    assert!(
        sent.contains("SELECT COUNT(*) FROM orders WHERE status = 'cancelled'"),
        "{sent}"
    );
    for other in [
        "CREATE TABLE customers",
        "CREATE TABLE products",
        "CREATE TABLE order_items",
        "CREATE TABLE employees",
        "REFERENCES",
        "stock_level",
        "JOIN products",
    ] {
        assert!(!sent.contains(other), "{other} was sent: {sent}");
    }
    // The admin, with the whole connection, is sent all of it.
    app.ask(question).await.expect(200);
    let all = last(&prompts);
    for expected in [
        "CREATE TABLE products",
        "stock_level",
        "JOIN products",
        "REFERENCES",
    ] {
        assert!(all.contains(expected), "{expected} missing: {all}");
    }
}
