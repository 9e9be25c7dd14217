//! The app store's in-memory copy of retrieved training items (issue 16),
//! as `serve` uses it (its index follows the store, so the engine knows the
//! training version the index holds): a change made on this instance is
//! seen by the very next question, one made by another process once this
//! instance's index has synced it.

use serde_json::{Value, json};

use crate::util::TestApp;

const QUESTION: &str = "What is our revenue from delivered orders?";

fn retrieved(answer: &Value, id: &str) -> bool {
    answer["sources"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s["id"] == id))
}

async fn add_doc(app: &TestApp, content: &str) -> String {
    let doc = app
        .post(
            "/api/v1/training",
            json!({ "kind": "documentation", "content": content }),
        )
        .await
        .expect(201);
    doc["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn retrieval_follows_training_changes_here_at_once_and_elsewhere_at_the_sync() {
    // The SQL cache off: its hits skip retrieval (sources come with them).
    let app = TestApp::builder()
        .config(|c| c.cache.sql_ttl_secs = 0)
        .spawn()
        .await;
    let engine = &app.state.engine;
    // What `serve`'s index sync does every `retrieval.sync_interval_ms`.
    let mut sync = Default::default();
    engine.sync_index_from_store(&mut sync).await.unwrap();

    let id = add_doc(
        &app,
        "Revenue means the sum of orders.total for delivered orders.",
    )
    .await;
    let first = app.ask(QUESTION).await.expect(200);
    assert!(retrieved(&first, &id), "{first}");
    assert!(engine.store.training_cache().len("demo") > 0);
    let again = app.ask(QUESTION).await.expect(200);
    assert!(retrieved(&again, &id), "from the copy: {again}");
    assert_eq!(first["sql"], again["sql"]);

    // Deleted on this instance: the next question no longer sees it.
    app.delete(&format!("/api/v1/training/{id}"))
        .await
        .expect(204);
    let after = app.ask(QUESTION).await.expect(200);
    assert!(!retrieved(&after, &id), "{after}");

    // Deleted by another process on the same app store: gone once this
    // instance's index has synced the new training version.
    let other_id = add_doc(
        &app,
        "Revenue counts delivered orders only, in orders.total.",
    )
    .await;
    assert!(retrieved(&app.ask(QUESTION).await.expect(200), &other_id));
    let other = insight::store::Store::connect(&app.state.config.store_url())
        .await
        .unwrap();
    other.delete_training(&other_id).await.unwrap();
    engine.sync_index_from_store(&mut sync).await.unwrap();
    let synced = app.ask(QUESTION).await.expect(200);
    assert!(!retrieved(&synced, &other_id), "{synced}");
    other.close().await;
}
