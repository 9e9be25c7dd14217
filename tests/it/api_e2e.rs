//! End to end through HTTP on the demo database: ask → validate → execute →
//! feedback → the same and a paraphrased question answered from training;
//! hostile SQL refused with nothing changed; error bodies; SSE; training.

use serde_json::{Value, json};

use crate::util::mock_llm::{MockLlm, chat_completion, ok};
use crate::util::{TestApp, error_code};

#[tokio::test]
async fn ask_validate_execute_feedback_then_learned() {
    let app = TestApp::spawn().await;

    // 1. Ask: the offline generator answers from the schema.
    let q = "How many customers are there in each country?";
    let first = app.ask(q).await.expect(200);
    let sql = first["sql"].as_str().unwrap().to_string();
    assert!(first["row_count"].as_u64().unwrap() > 1, "{first}");
    assert_eq!(first["columns"].as_array().unwrap().len(), 2, "{first}");
    assert!(
        first["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "ddl"),
        "{first}"
    );
    assert_ne!(first["strategy"], "trained_example");
    // Category + measure: a bar chart with the rows embedded.
    assert_eq!(first["chart"]["mark"], "bar", "{first}");
    assert_eq!(
        first["chart"]["data"]["values"].as_array().unwrap().len(),
        first["row_count"].as_u64().unwrap() as usize
    );
    let query_id = first["query_id"].as_str().unwrap().to_string();

    // 2. Validate and execute the same SQL by hand.
    let v = app
        .post("/api/v1/sql/validate", json!({ "sql": sql }))
        .await
        .expect(200);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["tables"], json!(["customers"]));
    let ex = app
        .post("/api/v1/sql/execute", json!({ "sql": sql }))
        .await
        .expect(200);
    assert_eq!(ex["rows"], first["rows"]);
    let ex2 = app
        .post("/api/v1/sql/execute", json!({ "query_id": query_id }))
        .await
        .expect(200);
    assert_eq!(ex2["rows"], first["rows"]);

    // 3. History has it, newest first.
    let hist = app.get("/api/v1/queries?limit=5").await.expect(200);
    assert_eq!(hist["items"][0]["id"], query_id.as_str());
    assert_eq!(hist["items"][0]["status"], "answered");

    // 4. 👍 turns it into a training example.
    let fb = app
        .post(
            &format!("/api/v1/queries/{query_id}/feedback"),
            json!({ "rating": "up" }),
        )
        .await
        .expect(201);
    assert_eq!(fb["feedback"]["status"], "trained", "{fb}");
    let item_id = fb["training_item"]["id"].as_str().unwrap().to_string();

    // 5. The same question and a paraphrase now come from the trained example.
    for question in [q, "how many customers are there per country"] {
        let again = app.ask(question).await.expect(200);
        assert_eq!(again["strategy"], "trained_example", "{question}: {again}");
        assert_eq!(again["rows"], first["rows"]);
        assert!(
            again["sources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["id"] == item_id.as_str()),
            "{question}: sources lack the trained item: {again}"
        );
    }
    let detail = app
        .get(&format!("/api/v1/queries/{query_id}"))
        .await
        .expect(200);
    assert_eq!(detail["feedback"][0]["rating"], "up");
}

/// Issue 14: after the README's correction of "customers per country", other
/// customer questions are not answered with its SQL, and every answer says
/// how sure it is — in the response and in the history.
#[tokio::test]
async fn a_correction_never_hijacks_other_questions() {
    let app = TestApp::spawn().await;
    let q = "How many customers are there in each country?";
    let first = app.ask(q).await.expect(200);
    let query_id = first["query_id"].as_str().unwrap().to_string();
    let corrected = "SELECT country, COUNT(*) AS customers FROM customers GROUP BY country ORDER BY customers DESC";
    let fb = app
        .post(
            &format!("/api/v1/queries/{query_id}/feedback"),
            json!({ "rating": "down", "corrected_sql": corrected }),
        )
        .await
        .expect(201);
    assert_eq!(fb["feedback"]["status"], "trained", "{fb}");

    let again = app
        .ask("how many customers are there per country")
        .await
        .expect(200);
    assert_eq!(again["strategy"], "trained_example", "{again}");
    assert!(
        again["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "trained_example"),
        "{again}"
    );

    let total = app.ask("How many customers do we have?").await.expect(200);
    assert_ne!(total["strategy"], "trained_example", "{total}");
    assert!(
        !total["sql"].as_str().unwrap().contains("country"),
        "{total}"
    );
    assert_eq!(total["row_count"], 1, "{total}");
    assert_eq!(total["confidence"], "high", "{total}");

    let yearly = app.ask("How many new customers signed up each year?").await;
    if yearly.status.as_u16() == 200 {
        let sql = yearly.body["sql"].as_str().unwrap();
        assert!(!sql.contains("GROUP BY country"), "{}", yearly.body);
        assert_ne!(yearly.body["confidence"], "high", "{}", yearly.body);
    } else {
        assert_eq!(error_code(&yearly.body), "unanswerable", "{}", yearly.body);
    }

    // The history keeps them with the query.
    let id = total["query_id"].as_str().unwrap();
    let detail = app.get(&format!("/api/v1/queries/{id}")).await.expect(200);
    assert_eq!(detail["confidence"], "high", "{detail}");
    assert_eq!(detail["assumptions"], json!([]), "{detail}");
    let id = again["query_id"].as_str().unwrap();
    let detail = app.get(&format!("/api/v1/queries/{id}")).await.expect(200);
    assert_eq!(detail["assumptions"], again["assumptions"], "{detail}");
}

#[tokio::test]
async fn a_correction_teaches_an_unanswerable_question() {
    let app = TestApp::spawn().await;
    let q = "Who are our most loyal clients?";
    let first = app.ask(q).await;
    first.expect_error(422, "unanswerable");
    let query_id = first.body["error"]["details"]["query_id"]
        .as_str()
        .expect("query id")
        .to_string();

    let corrected = "SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id \
                     GROUP BY c.id, c.name ORDER BY spent DESC LIMIT 10";
    // A correction that does not validate is refused and teaches nothing.
    let bad = app
        .post(
            &format!("/api/v1/queries/{query_id}/feedback"),
            json!({ "rating": "down", "corrected_sql": "DROP TABLE customers" }),
        )
        .await;
    bad.expect_error(422, "sql_rejected");

    let fb = app
        .post(
            &format!("/api/v1/queries/{query_id}/feedback"),
            json!({ "rating": "down", "corrected_sql": corrected, "comment": "loyal = top spenders" }),
        )
        .await
        .expect(201);
    assert_eq!(fb["feedback"]["status"], "trained");
    for question in [q, "who are the most loyal clients"] {
        let again = app.ask(question).await.expect(200);
        assert_eq!(again["strategy"], "trained_example", "{question}: {again}");
        assert_eq!(again["row_count"], 10);
        assert!(
            again["sql"].as_str().unwrap().contains("SUM(o.total)"),
            "{again}"
        );
    }
}

#[tokio::test]
async fn destructive_generated_sql_is_refused_and_changes_nothing() {
    for reply in [
        "```sql\nDELETE FROM customers\n```",
        "Sure! ```sql\nSELECT * FROM customers; DROP TABLE orders;\n```",
        "```sql\nWITH x AS (SELECT 1) UPDATE products SET price = 0\n```",
    ] {
        // A model that always answers with destructive SQL.
        let peer = MockLlm::start(vec![ok(chat_completion(reply))]).await;
        let base_url = format!("{}/v1", peer.base);
        let app = TestApp::builder()
            .config(move |c| {
                c.llm.provider = insight::config::ProviderKind::Openai;
                c.llm.base_url = Some(base_url);
                c.llm.model = Some("evil-1".into());
                c.llm.timeout_secs = 5;
            })
            .spawn()
            .await;
        let before = app.demo_scalar("SELECT COUNT(*) FROM customers").await;
        let products_before = app
            .demo_scalar("SELECT CAST(SUM(price) * 100 AS INTEGER) FROM products")
            .await;
        let r = app.ask("Please remove every customer").await;
        r.expect_error_in(reply, 422, "sql_rejected");
        // The validator's error was fed back for the configured corrections.
        let requests = peer.requests();
        assert_eq!(requests.len(), 3, "1 try + 2 corrections");
        let feedback = requests[1].body.to_string();
        assert!(
            feedback.contains("read-only") || feedback.to_lowercase().contains("only"),
            "feedback missing: {feedback}"
        );
        assert_eq!(
            app.demo_scalar("SELECT COUNT(*) FROM customers").await,
            before
        );
        assert_eq!(
            app.demo_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'orders'")
                .await,
            1
        );
        assert_eq!(
            app.demo_scalar("SELECT CAST(SUM(price) * 100 AS INTEGER) FROM products")
                .await,
            products_before
        );
        let hist = app.get("/api/v1/queries").await.expect(200);
        assert_eq!(hist["items"][0]["status"], "rejected");
        // Audited once, with its reason and without the SQL text.
        let audit = app.get("/api/v1/admin/audit?limit=100").await.expect(200);
        let rejections: Vec<&Value> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "sql.rejected")
            .collect();
        assert_eq!(rejections.len(), 1, "{audit}");
        assert_eq!(rejections[0]["target"], "demo");
        assert!(
            !audit.to_string().contains("DELETE FROM")
                && !audit.to_string().contains("customers;")
                && !audit.to_string().contains("SET price"),
            "{audit}"
        );
        assert_eq!(hist["items"][0]["provider"], "openai");
    }
}

#[tokio::test]
async fn hand_written_writes_are_rejected_with_stable_codes() {
    let app = TestApp::spawn().await;
    let cases = [
        ("DELETE FROM customers", "validate"),
        ("SELECT 1; DROP TABLE customers", "validate"),
        ("SELECT * FROM secrets", "validate"),
    ];
    for (sql, _) in cases {
        let v = app
            .post("/api/v1/sql/validate", json!({ "sql": sql }))
            .await
            .expect(200);
        assert_eq!(v["valid"], false, "{sql}: {v}");
        assert!(v["errors"][0]["code"].as_str().is_some(), "{v}");
        let ex = app.post("/api/v1/sql/execute", json!({ "sql": sql })).await;
        ex.expect_error_in(sql, 422, "sql_rejected");
        assert!(ex.body["error"]["details"]["reason"].as_str().is_some());
    }
    assert_eq!(app.demo_scalar("SELECT COUNT(*) FROM customers").await, 200);
}

#[tokio::test]
async fn row_cap_truncates() {
    let app = TestApp::builder()
        .config(|c| c.query.max_rows = 25)
        .spawn()
        .await;
    let r = app
        .post(
            "/api/v1/sql/execute",
            json!({ "sql": "SELECT * FROM order_items" }),
        )
        .await
        .expect(200);
    assert_eq!(r["row_count"], 25);
    assert!(r["sql"].as_str().unwrap().contains("LIMIT 25"), "{r}");
    let r = app
        .post(
            "/api/v1/sql/execute",
            json!({ "sql": "SELECT * FROM order_items LIMIT 5" }),
        )
        .await
        .expect(200);
    assert_eq!(r["row_count"], 5);
}

#[tokio::test]
async fn errors_have_one_shape_and_carry_the_correlation_id() {
    let app = TestApp::spawn().await;
    // Client-chosen correlation id is echoed and lands in the error body.
    let resp = app
        .client
        .post(format!("{}/api/v1/ask", app.base))
        .header("x-correlation-id", "test-123")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(resp.headers()["x-correlation-id"], "test-123");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["correlation_id"], "test-123");
    assert_eq!(body["error"]["code"], "bad_request");

    // An invalid client id is replaced by a generated one.
    let resp = app
        .client
        .get(format!("{}/health", app.base))
        .header("x-correlation-id", "bad id; DROP")
        .send()
        .await
        .unwrap();
    let id = resp.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!id.contains(' ') && id.len() >= 16, "{id}");

    for (path, body, status, code) in [
        ("/api/v1/ask", json!({}), 400, "bad_request"),
        (
            "/api/v1/ask",
            json!({ "question": "   " }),
            400,
            "bad_request",
        ),
        (
            "/api/v1/ask",
            json!({ "question": "x", "connection": "../etc" }),
            400,
            "bad_request",
        ),
        (
            "/api/v1/ask",
            json!({ "question": "How many customers?", "connection": "nope" }),
            404,
            "not_found",
        ),
        (
            "/api/v1/ask",
            json!({ "question": "How many customers?", "extra": 1 }),
            400,
            "bad_request",
        ),
        (
            "/api/v1/queries/does-not-exist/feedback",
            json!({ "rating": "up" }),
            404,
            "not_found",
        ),
        (
            "/api/v1/queries/x/feedback",
            json!({ "rating": "sideways" }),
            400,
            "bad_request",
        ),
        (
            "/api/v1/training",
            json!({ "kind": "question_sql", "content": "q" }),
            400,
            "bad_request",
        ),
        (
            "/api/v1/sql/execute",
            json!({ "sql": "SELECT 1", "query_id": "x" }),
            400,
            "bad_request",
        ),
        ("/api/v1/nope", json!({}), 404, "not_found"),
    ] {
        let r = app.post(path, body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{path} {body}: {}", r.body);
        assert_eq!(error_code(&r.body), code, "{path} {body}: {}", r.body);
    }
    let r = app.get("/api/v1/ask").await;
    r.expect_error(405, "method_not_allowed");
    let r = app.get("/api/v1/queries?limit=1000").await;
    assert_eq!(error_code(&r.body), "bad_request");
    let r = app.post_raw("/api/v1/ask", "text/plain", "hi").await;
    r.expect_error(400, "bad_request");
    let big = format!("{{\"question\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let r = app.post_raw("/api/v1/ask", "application/json", &big).await;
    r.expect_error(413, "payload_too_large");
}

#[tokio::test]
async fn ask_stream_sends_progress_events_then_done() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(format!("{}/api/v1/ask/stream", app.base))
        .json(&json!({ "question": "How many products are there?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = resp.text().await.unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        events,
        ["retrieval", "sql", "validation", "rows", "done"],
        "{text}"
    );
    let done = crate::util::sse_event(&text, "done");
    assert_eq!(done["row_count"], 1);

    let resp = app
        .client
        .post(format!("{}/api/v1/ask/stream", app.base))
        .json(&json!({ "question": "what is the meaning of life" }))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(text.contains("event: error"), "{text}");
    assert!(text.contains("\"unanswerable\""), "{text}");
}

#[tokio::test]
async fn training_items_can_be_added_listed_and_deleted() {
    let app = TestApp::spawn().await;
    let list = app.get("/api/v1/training?kind=ddl").await.expect(200);
    assert_eq!(list["total"], 5, "one DDL item per demo table: {list}");

    let doc = app
        .post("/api/v1/training", json!({ "kind": "documentation", "content": "Revenue means the sum of orders.total for delivered orders." }))
        .await
        .expect(201);
    let id = doc["id"].as_str().unwrap().to_string();
    let dup = app
        .post("/api/v1/training", json!({ "kind": "documentation", "content": "revenue means the sum of orders.total for  delivered orders." }))
        .await
        .expect(200);
    assert_eq!(dup["created"], false);
    assert_eq!(dup["id"], id.as_str());

    let pair = app
        .post("/api/v1/training", json!({ "kind": "question_sql", "content": "What is our revenue?", "sql": "SELECT SUM(total) FROM orders WHERE status = 'delivered'" }))
        .await
        .expect(201);
    let bad = app
        .post(
            "/api/v1/training",
            json!({ "kind": "question_sql", "content": "Drop it", "sql": "DROP TABLE orders" }),
        )
        .await;
    assert_eq!(error_code(&bad.body), "sql_rejected");

    let r = app.ask("What is our revenue?").await.expect(200);
    assert_eq!(r["strategy"], "trained_example");
    assert!(
        r["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == doc["id"]),
        "documentation retrieved: {r}"
    );

    let found = app.get("/api/v1/training?q=revenue").await.expect(200);
    assert_eq!(found["total"], 2);
    app.delete(&format!(
        "/api/v1/training/{}",
        pair["id"].as_str().unwrap()
    ))
    .await
    .expect(204);
    let r = app
        .delete(&format!(
            "/api/v1/training/{}",
            pair["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status.as_u16(), 404);
    let r = app.ask("What is our revenue?").await;
    assert_ne!(
        r.body["strategy"], "trained_example",
        "deleted example no longer used: {}",
        r.body
    );
}

#[tokio::test]
async fn approval_mode_keeps_feedback_pending_until_approved() {
    let app = TestApp::builder()
        .config(|c| c.training.feedback_mode = insight::config::FeedbackMode::Approval)
        .spawn()
        .await;
    let first = app.ask("How many employees are there?").await.expect(200);
    let qid = first["query_id"].as_str().unwrap();
    let fb = app
        .post(
            &format!("/api/v1/queries/{qid}/feedback"),
            json!({ "rating": "up" }),
        )
        .await
        .expect(201);
    assert_eq!(fb["feedback"]["status"], "pending");
    let pending = app.get("/api/v1/training?status=pending").await.expect(200);
    assert_eq!(pending["total"], 1);
    let item = fb["training_item"]["id"].as_str().unwrap();
    let r = app.ask("How many employees are there?").await.expect(200);
    assert_ne!(r["strategy"], "trained_example");
    app.post(&format!("/api/v1/training/{item}/approve"), json!({}))
        .await
        .expect(200);
    let r = app.ask("How many employees are there?").await.expect(200);
    assert_eq!(r["strategy"], "trained_example");
}

#[tokio::test]
async fn connections_and_health() {
    // A second SQLite connection, so we can check it keeps answering when
    // the demo database disappears.
    let extra_dir = tempfile::tempdir().unwrap();
    let extra = extra_dir.path().join("extra.db");
    {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&extra)
            .create_if_missing(true);
        let mut conn = sqlx::ConnectOptions::connect(&opts).await.unwrap();
        for stmt in [
            "CREATE TABLE gadgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL, colour TEXT)",
            "INSERT INTO gadgets (name, colour) VALUES ('spanner', 'red'), ('widget', 'blue'), ('sprocket', 'red')",
        ] {
            sqlx::query(stmt).execute(&mut conn).await.unwrap();
        }
    }
    let extra_path = extra.clone();
    let app = TestApp::builder()
        .config(move |c| {
            let toml = format!(
                "[connections.extra]\ndialect = \"sqlite\"\npath = {:?}\n",
                extra_path.display().to_string()
            );
            let f = std::env::temp_dir().join(format!("insight-extra-{}.toml", std::process::id()));
            std::fs::write(&f, toml).unwrap();
            let loaded = insight::config::Config::load_from(Some(&f), &[]).unwrap();
            c.connections = loaded.connections;
        })
        .spawn()
        .await;
    let conns = app.get("/api/v1/connections").await.expect(200);
    let demo = conns
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "demo")
        .unwrap();
    assert_eq!(demo["dialect"], "sqlite");
    let tables: Vec<&str> = demo["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for t in [
        "customers",
        "employees",
        "order_items",
        "orders",
        "products",
    ] {
        assert!(tables.contains(&t), "{tables:?}");
    }
    let live = app.get("/health").await.expect(200);
    assert_eq!(live["status"], "ok");
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["status"], "ok", "{ready}");
    assert_eq!(ready["checks"]["connection:demo"]["status"], "ok");
    assert_eq!(ready["checks"]["connection:extra"]["status"], "ok");
    assert_eq!(ready["checks"]["app_store"]["status"], "ok");

    // The demo database disappears: degraded (not down), the failing check
    // is named, and the other connection still answers.
    std::fs::remove_file(app.dir.path().join("demo.db")).unwrap();
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["checks"]["connection:demo"]["status"], "degraded");
    assert!(
        ready["checks"]["connection:demo"]["error"]
            .as_str()
            .is_some()
    );
    assert_eq!(ready["checks"]["connection:extra"]["status"], "ok");
    let r = app
        .post(
            "/api/v1/ask",
            json!({ "question": "How many gadgets are there?", "connection": "extra" }),
        )
        .await
        .expect(200);
    assert_eq!(r["rows"], json!([[3]]), "{r}");
}

#[tokio::test]
async fn answers_read_past_unlinked_words_say_which() {
    let app = TestApp::spawn().await;
    // "reviewed" links to nothing on the demo schema; the join stands for it.
    let a = app
        .ask("How many products were reviewed by customers in France?")
        .await
        .expect(200);
    let w: Vec<&Value> = a["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "words_not_used")
        .collect();
    assert_eq!(w.len(), 1, "{a}");
    assert!(
        w[0]["message"].as_str().unwrap().contains("'reviewed'"),
        "{a}"
    );

    // Every word read: no such warning.
    assert_eq!(a["confidence"], "medium", "{a}");
    assert!(
        a["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["code"] == "words_ignored"
                && x["message"].as_str().unwrap().contains("'reviewed'")),
        "{a}"
    );
    let b = app
        .ask("How many customers are in France?")
        .await
        .expect(200);
    assert_eq!(b["confidence"], "high", "{b}");
    assert!(
        b["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["code"] != "words_not_used"),
        "{b}"
    );
    // An adjective the reading cannot place still makes it unanswerable.
    let c = app.ask("How many customers are happy?").await;
    assert_eq!(c.status.as_u16(), 422, "{}", c.body);
}
