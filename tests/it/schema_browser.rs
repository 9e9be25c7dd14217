//! Issue 18: the schema browser (`GET /connections/{id}/schema`, sample
//! values through the gate), starter questions that the offline generator
//! answers, suggestions on a refusal, confidence on the stream's `sql`
//! event, and training added by `insight train` reaching a running server.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use insight::domain::Role;
use insight::store::grants::Grant;
use serde_json::{Value, json};

use crate::util::{TestApp, insight_cmd};

fn table<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no table {name}: {schema}"))
}

fn column<'a>(table: &'a Value, name: &str) -> &'a Value {
    table["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name}: {table}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_schema_shows_tables_keys_documentation_and_starters_that_answer() {
    let app = TestApp::spawn().await;
    app.post(
        "/api/v1/training",
        json!({"kind": "documentation", "content": "Every order belongs to one customer; cancelled orders carry no revenue."}),
    )
    .await
    .expect(201);
    let schema = app.get("/api/v1/connections/demo/schema").await.expect(200);
    assert_eq!(schema["connection"], "demo");
    assert_eq!(schema["tables"].as_array().unwrap().len(), 5, "{schema}");
    let orders = table(&schema, "orders");
    let id = column(orders, "id");
    assert_eq!(id["primary_key"], true);
    assert_eq!(id["type"], "INTEGER");
    assert_eq!(
        column(orders, "customer_id")["references"],
        "customers.id",
        "{orders}"
    );
    assert_eq!(column(orders, "total")["references"], Value::Null);
    let docs = strings(&orders["documentation"]);
    assert!(
        docs.iter().any(|d| d.contains("cancelled orders")),
        "{orders}"
    );
    // "order" names the orders table as a word only in that text.
    assert!(strings(&table(&schema, "order_items")["documentation"]).is_empty());

    let starters = strings(&schema["starter_questions"]);
    assert!(starters.len() >= 4, "{starters:?}");
    let distinct: std::collections::BTreeSet<_> = starters.iter().collect();
    assert_eq!(distinct.len(), starters.len(), "{starters:?}");
    // The rules give different kinds of question: per category, over time…
    assert!(
        starters.iter().any(|q| q.contains(" each ")),
        "{starters:?}"
    );
    assert!(
        starters.iter().any(|q| q.contains("per month")),
        "{starters:?}"
    );
    // Every starter for the demo database answers, with nothing guessed.
    for q in &starters {
        let answer = app.ask(q).await.expect(200);
        assert_ne!(answer["confidence"], "low", "{q}: {answer}");
        for a in answer["assumptions"].as_array().unwrap() {
            let code = a["code"].as_str().unwrap();
            assert!(
                insight::engine::starters::STRUCTURAL.contains(&code),
                "{q}: {answer}"
            );
        }
        assert!(answer["row_count"].as_u64().unwrap() > 0, "{q}: {answer}");
    }
}

#[tokio::test]
async fn a_limited_caller_browses_and_samples_only_granted_tables() {
    let app = TestApp::spawn().await;
    app.post(
        "/api/v1/training",
        json!({"kind": "documentation", "content": "orders.customer_id points at customers.email for VIPs."}),
    )
    .await
    .expect(201);
    let grant = Grant {
        connection: "demo".into(),
        allowed_tables: Some(vec!["orders".into()]),
    };
    let viewer = app.user_with_grants(Role::Viewer, &[grant]).await;
    let schema = viewer
        .get("/api/v1/connections/demo/schema")
        .await
        .expect(200);
    let names: Vec<&str> = schema["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["orders"], "{schema}");
    let orders = table(&schema, "orders");
    // The key to a hidden table is not shown, nor documentation naming one.
    assert_eq!(column(orders, "customer_id")["references"], Value::Null);
    assert!(strings(&orders["documentation"]).is_empty(), "{orders}");
    let starters = strings(&schema["starter_questions"]);
    assert!(!starters.is_empty(), "{schema}");
    for q in &starters {
        let answer = viewer.ask(q).await.expect(200);
        assert_eq!(strings(&answer["tables"]), ["orders"], "{q}: {answer}");
    }

    // Sample values: granted table yes (bounded), hidden table as unknown.
    let samples = viewer
        .get("/api/v1/connections/demo/samples/orders")
        .await
        .expect(200);
    assert_eq!(samples["table"], "orders");
    assert!(samples["row_count"].as_u64().unwrap() <= 5, "{samples}");
    let status = samples["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "status")
        .unwrap();
    assert!(
        !status["values"].as_array().unwrap().is_empty(),
        "{samples}"
    );
    for hidden in ["customers", "CUSTOMERS", "no_such_table", "orders;--"] {
        let r = viewer
            .get(&format!("/api/v1/connections/demo/samples/{hidden}"))
            .await;
        r.expect_error_in(hidden, 404, "not_found");
    }
    // No grant on the connection: as if it did not exist.
    let other = app.user_with_grants(Role::Analyst, &[]).await;
    let r = other.get("/api/v1/connections/demo/schema").await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    let r = other.get("/api/v1/connections/demo/samples/orders").await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    let r = app.get("/api/v1/connections/nope/schema").await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
}

#[tokio::test]
async fn a_refusal_offers_starter_questions() {
    let app = TestApp::spawn().await;
    let r = app.ask("what is the meaning of life").await;
    r.expect_error(422, "unanswerable");
    let offered = strings(&r.body["error"]["details"]["suggestions"]);
    assert!(!offered.is_empty() && offered.len() <= 4, "{}", r.body);
    assert!(r.body["error"]["details"]["query_id"].is_string());
    for q in &offered {
        app.ask(q).await.expect(200);
    }
    // The stream's error event carries them too.
    let text = app
        .client
        .post(format!("{}/api/v1/ask/stream", app.base))
        .json(&json!({"question": "what is the meaning of life"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let error = crate::util::sse_event(&text, "error");
    assert_eq!(
        strings(&error["error"]["details"]["suggestions"]),
        offered,
        "{text}"
    );
}

#[tokio::test]
async fn the_stream_sql_event_carries_confidence() {
    let app = TestApp::spawn().await;
    let text = app
        .client
        .post(format!("{}/api/v1/ask/stream", app.base))
        .json(&json!({"question": "How many products are there?"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sql = crate::util::sse_event(&text, "sql");
    assert_eq!(sql["confidence"], "high", "{text}");
}

/// `insight train` in another process while `insight serve` runs: the
/// server's in-memory index follows the app store's training version, so
/// the new example answers without a restart.
#[tokio::test]
async fn training_from_the_command_line_reaches_a_running_server() {
    // reqwest needs a crypto provider; `TestApp` installs it, this test has none.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let password = "train-follow-admin-password";
    let child = insight_cmd(dir.path())
        .args(["serve", "--port", "0"])
        .env("INSIGHT_ADMIN_PASSWORD", password)
        .env("INSIGHT_RETRIEVAL__SYNC_INTERVAL_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stopped however the test ends (a failed assertion included).
    let mut child = KillOnDrop(child);
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let base = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("server printed its address");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    let token = crate::util::login(&reqwest::Client::new(), &base, "admin", password).await;
    let client = reqwest::Client::new();
    let ask = |q: &'static str| {
        let client = client.clone();
        let url = format!("{base}/api/v1/ask");
        let token = token.clone();
        async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"question": q}))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    let before = ask("which customers are loyal").await;
    assert_ne!(before["strategy"], "trained_example", "{before}");

    let out = insight_cmd(dir.path())
        .args(["train", "--question", "Which customers are loyal?", "--sql", "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders GROUP BY customer_id HAVING COUNT(*) > 12)"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let until = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let a = ask("which customers are loyal").await;
        if a["strategy"] == "trained_example" || Instant::now() > until {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(child);
    assert_eq!(after["strategy"], "trained_example", "{after}");
    assert!(after["sql"].as_str().unwrap().contains("HAVING"), "{after}");
}

/// A child process killed (and reaped) when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
