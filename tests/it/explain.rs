//! Issue 18: `POST /sql/explain` puts SQL in plain words, through the gate.

use std::sync::Arc;

use insight::domain::Role;
use insight::store::grants::Grant;
use serde_json::json;

use crate::util::TestApp;
use crate::util::mock_llm::{MockLlm, chat_completion_with_usage, ok};

#[tokio::test]
async fn explain_reads_the_sql_in_sentences_without_a_model() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let r = viewer
        .post(
            "/api/v1/sql/explain",
            json!({ "sql": "SELECT c.country, COUNT(*) AS n FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.total > 100 GROUP BY c.country ORDER BY n DESC LIMIT 5" }),
        )
        .await
        .expect(200);
    assert_eq!(r["source"], "builtin", "{r}");
    assert_eq!(r["connection"], "demo");
    assert_eq!(r["tables"], json!(["customers", "orders"]));
    let steps: Vec<String> = serde_json::from_value(r["steps"].clone()).unwrap();
    assert_eq!(steps.len(), 6, "{steps:?}");
    assert!(
        steps[0].starts_with("It reads the table `customers`"),
        "{steps:?}"
    );
    assert!(steps[1].contains("joins `orders`"), "{steps:?}");
    assert!(
        steps[2].contains("`o.total` is greater than 100"),
        "{steps:?}"
    );
    assert!(
        steps[3].contains("groups the rows by `c.country`"),
        "{steps:?}"
    );
    assert!(steps[4].contains("from highest to lowest"), "{steps:?}");
    assert_eq!(steps[5], "It returns at most 5 rows.");
    assert_eq!(r["explanation"], steps.join(" "));
}

#[tokio::test]
async fn explain_refuses_writes_and_tables_outside_the_grant() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let r = viewer
        .post(
            "/api/v1/sql/explain",
            json!({ "sql": "DELETE FROM customers" }),
        )
        .await;
    r.expect_error(422, "sql_rejected");
    assert!(r.body["error"]["correlation_id"].is_string());
    let r = viewer
        .post("/api/v1/sql/explain", json!({ "sql": "" }))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);

    let limited = app
        .user_with_grants(
            Role::Viewer,
            &[Grant {
                connection: "demo".into(),
                allowed_tables: Some(vec!["orders".into()]),
            }],
        )
        .await;
    let r = limited
        .post(
            "/api/v1/sql/explain",
            json!({ "sql": "SELECT email FROM customers" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    limited
        .post(
            "/api/v1/sql/explain",
            json!({ "sql": "SELECT status, COUNT(*) FROM orders GROUP BY status" }),
        )
        .await
        .expect(200);
    let r = viewer
        .post(
            "/api/v1/sql/explain",
            json!({ "sql": "SELECT 1", "connection": "nowhere" }),
        )
        .await;
    assert!(matches!(r.status.as_u16(), 403 | 404), "{}", r.body);
}

#[tokio::test]
async fn a_configured_llm_writes_the_explanation_of_gated_sql_only() {
    // A model that explains, and records what it was sent.
    let peer = MockLlm::start(vec![ok(chat_completion_with_usage(
        "  It counts the orders.  ",
        (10, 5),
    ))])
    .await;
    let app = TestApp::builder()
        .llm(Arc::new(peer.openai()))
        .spawn()
        .await;
    let viewer = app.login_as(Role::Viewer).await;
    let r = viewer
        .post(
            "/api/v1/sql/explain",
            json!({ "sql": "SELECT COUNT(*) FROM orders" }),
        )
        .await
        .expect(200);
    assert_eq!(r["source"], "llm", "{r}");
    assert_eq!(r["explanation"], "It counts the orders.");
    assert!(!r["steps"].as_array().unwrap().is_empty(), "{r}");
    // Rejected SQL never reaches the model.
    let before = peer.requests().len();
    let r = viewer
        .post("/api/v1/sql/explain", json!({ "sql": "DROP TABLE orders" }))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(peer.requests().len(), before);
    assert_eq!(before, 1);
}

#[tokio::test]
async fn fix_turns_a_failing_sql_into_a_validated_one_that_runs() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let r = viewer
        .post(
            "/api/v1/sql/fix",
            json!({ "sql": "SELECT COUNT(*) FROM customer", "question": "How many customers are there?" }),
        )
        .await
        .expect(200);
    assert_eq!(r["fixed"], true, "{r}");
    assert!(r["error"].as_str().unwrap().contains("customer"), "{r}");
    assert_eq!(r["tables"], json!(["customers"]), "{r}");
    assert!(r["attempts"].as_u64().unwrap() >= 1);
    let ran = viewer
        .post("/api/v1/sql/execute", json!({ "sql": r["sql"] }))
        .await
        .expect(200);
    assert_eq!(ran["row_count"], 1);

    // SQL that already runs comes back validated, unchanged in meaning.
    let r = viewer
        .post(
            "/api/v1/sql/fix",
            json!({ "sql": "SELECT COUNT(*) FROM orders" }),
        )
        .await
        .expect(200);
    assert_eq!(r["fixed"], false, "{r}");
    assert_eq!(r["attempts"], 0);
    assert!(r["error"].is_null());

    // Nothing to go on: a clear refusal, not a guess.
    let r = viewer
        .post("/api/v1/sql/fix", json!({ "sql": "SELEC nonsense" }))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["error"]["correlation_id"].is_string());
    let r = viewer.post("/api/v1/sql/fix", json!({})).await;
    assert_eq!(r.status, 400, "{}", r.body);
}

/// Issue 18: `PATCH /training/{id}` (kept here with the other SQL helpers'
/// tests): edited like a new item, authored by the editor, never approved
/// by the edit.
#[tokio::test]
async fn editing_a_training_item_replaces_it_under_the_same_rules_as_adding() {
    let app = TestApp::spawn().await;
    let analyst = app.login_as(Role::Analyst).await;
    let added = analyst
        .post(
            "/api/v1/training",
            json!({ "kind": "documentation", "content": "Orders ship in two days.\nReturns take a week." }),
        )
        .await
        .expect(201);
    let old_id = added["id"].as_str().unwrap().to_string();
    let edited = analyst
        .patch(
            &format!("/api/v1/training/{old_id}"),
            json!({ "content": "Orders ship in three days.\nReturns take a week." }),
        )
        .await
        .expect(200);
    assert_eq!(edited["replaces"], old_id.as_str());
    assert_ne!(edited["id"], old_id.as_str());
    assert_eq!(edited["status"], "active");
    assert_eq!(
        edited["content"],
        "Orders ship in three days.\nReturns take a week."
    );
    assert_eq!(edited["created_by"], analyst.id.as_str());
    let r = analyst
        .patch(
            &format!("/api/v1/training/{old_id}"),
            json!({ "content": "x y z" }),
        )
        .await;
    assert_eq!(r.status, 404, "the old version is gone: {}", r.body);

    // A pending item (a viewer's correction) stays pending when edited.
    let viewer = app.login_as(Role::Viewer).await;
    let q = viewer.ask("How many orders are there?").await.expect(200);
    let fb = viewer
        .post(
            &format!(
                "/api/v1/queries/{}/feedback",
                q["query_id"].as_str().unwrap()
            ),
            json!({ "rating": "down", "corrected_sql": "SELECT COUNT(*) AS n FROM orders" }),
        )
        .await
        .expect(201);
    let pending = fb["training_item"]["id"].as_str().unwrap().to_string();
    assert_eq!(fb["training_item"]["status"], "pending");
    let edited = analyst
        .patch(
            &format!("/api/v1/training/{pending}"),
            json!({ "sql": "SELECT COUNT(*) AS orders FROM orders" }),
        )
        .await
        .expect(200);
    assert_eq!(edited["status"], "pending", "{edited}");
    assert_eq!(edited["sql"], "SELECT COUNT(*) AS orders FROM orders");

    // Bad edits: clear errors, and the item is left as it was.
    let id = edited["id"].as_str().unwrap();
    let r = analyst
        .patch(
            &format!("/api/v1/training/{id}"),
            json!({ "sql": "DELETE FROM orders" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = analyst
        .patch(
            &format!("/api/v1/training/{id}"),
            json!({ "content": "  " }),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = analyst
        .patch(
            &format!("/api/v1/training/{id}"),
            json!({ "colour": "red" }),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let list = analyst
        .get("/api/v1/training?status=pending")
        .await
        .expect(200);
    assert!(list.to_string().contains(id), "{list}");
    assert_eq!(
        viewer
            .patch(&format!("/api/v1/training/{id}"), json!({}))
            .await
            .status,
        403
    );
}

/// Issue 18 rough edge: "Delete all customers" is answered "I only read
/// data", not refused word by word.
#[tokio::test]
async fn a_request_to_change_data_is_told_we_only_read() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let r = viewer.ask("Delete all customers").await;
    r.expect_error(422, "unanswerable");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("I only read data"),
        "{}",
        r.body
    );
}
