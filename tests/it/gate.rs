//! The one gate for caller SQL (issue 13): as a viewer or analyst limited to
//! `orders`, try to reach the hidden `customers` table through every route
//! that takes SQL or returns it. The set of such routes is computed from the
//! OpenAPI document, so a new SQL route without a probe here fails.
//! Also one regression test per finding: feedback under the caller's grant
//! (1), training integrity (2), history (5), training add (6), and point 13.

use std::collections::BTreeSet;

use insight::domain::Role;
use insight::store::grants::Grant;
use serde_json::{Value, json};
use utoipa::OpenApi as _;

use crate::util::{TestApp, TestUser, error_code};

/// Every `/api/v1` route whose request or response carries SQL (a property
/// named `sql` or `corrected_sql`, or an event stream of SQL events).
const SQL_ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin/users/{id}/training"),
    ("DELETE", "/admin/users/{id}/training"),
    ("POST", "/ask"),
    ("POST", "/ask/stream"),
    ("GET", "/queries"),
    ("GET", "/queries/{id}"),
    ("POST", "/queries/{id}/feedback"),
    ("POST", "/sql/execute"),
    ("POST", "/sql/explain"),
    ("POST", "/sql/fix"),
    ("POST", "/sql/generate"),
    ("POST", "/sql/validate"),
    ("POST", "/saved"),
    ("GET", "/saved"),
    ("GET", "/saved/{id}"),
    ("PATCH", "/saved/{id}"),
    ("POST", "/saved/{id}/run"),
    ("GET", "/shared/{id}"),
    ("POST", "/dashboards/{id}/refresh"),
    ("GET", "/training"),
    ("POST", "/training"),
    ("POST", "/training/{id}/approve"),
    ("PATCH", "/training/{id}"),
];

/// The JSON-extract trick of finding 1: the database's error would quote
/// every customer e-mail.
const LEAK_EMAILS: &str = "SELECT json_extract('{}', (SELECT group_concat(email) FROM customers))";

fn only_orders() -> Vec<Grant> {
    vec![Grant {
        connection: "demo".into(),
        allowed_tables: Some(vec!["orders".into()]),
    }]
}

/// Property names reachable from `schema`, following `$ref`s.
fn properties(
    doc: &Value,
    schema: &Value,
    seen: &mut BTreeSet<String>,
    out: &mut BTreeSet<String>,
) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if seen.insert(r.to_string()) {
            let name = r.rsplit('/').next().unwrap_or_default();
            properties(doc, &doc["components"]["schemas"][name], seen, out);
        }
        return;
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            out.insert(name.clone());
            properties(doc, sub, seen, out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = schema.get(key) {
            properties(doc, sub, seen, out);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for sub in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            properties(doc, sub, seen, out);
        }
    }
}

/// Routes of the OpenAPI document that take or return SQL.
fn sql_bearing_routes() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(insight::api::openapi::ApiDoc::openapi()).unwrap();
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(rel) = path.strip_prefix(insight::api::access::PREFIX) else {
            continue;
        };
        for m in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(m) else { continue };
            let mut names = BTreeSet::new();
            let mut seen = BTreeSet::new();
            let mut stream = false;
            let bodies = op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
                .chain(
                    op["responses"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(code, _)| code.starts_with('2'))
                        .flat_map(|(_, r)| r["content"].as_object().into_iter().flatten()),
                );
            for (content_type, media) in bodies {
                stream |= content_type == "text/event-stream";
                properties(&doc, &media["schema"], &mut seen, &mut names);
            }
            if stream || names.contains("sql") || names.contains("corrected_sql") {
                found.insert((m.to_uppercase(), rel.to_string()));
            }
        }
    }
    found
}

#[test]
fn the_sql_bearing_routes_are_exactly_the_probed_ones() {
    let known: BTreeSet<(String, String)> = SQL_ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        sql_bearing_routes(),
        known,
        "a route takes or returns SQL but has no gate probe in tests/it/gate.rs (or one went away)"
    );
    // The OpenAPI document and the router's permission table list the same
    // routes (see access_matrix); every probed route is in that table.
    for (method, path) in &known {
        assert!(
            insight::api::access::ROUTES
                .iter()
                .any(|(m, p, _)| m.as_str() == method && p == path),
            "{method} {path} is not in api::access::ROUTES"
        );
    }
}

fn no_customer_data(what: &str, body: &Value) {
    let text = body.to_string();
    assert!(
        !text.contains("@example.com"),
        "{what} leaked e-mails: {text}"
    );
}

fn never_names_customers(what: &str, body: &Value) {
    no_customer_data(what, body);
    assert!(
        !body.to_string().to_lowercase().contains("customers"),
        "{what} names the hidden table: {body}"
    );
}

/// What the walk needs: a limited viewer and analyst, objects about the
/// hidden table made by others, and the viewer's own question.
struct World {
    app: TestApp,
    viewer: TestUser,
    analyst: TestUser,
    admin_query: String,
    viewer_query: String,
    pending_customers: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let admin_query = app
        .ask("How many customers are there in each country?")
        .await
        .expect(200)["query_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A full viewer's correction over `customers` waits for approval.
    let full_viewer = app.login_as(Role::Viewer).await;
    let own = full_viewer
        .ask("How many orders are there?")
        .await
        .expect(200)["query_id"]
        .as_str()
        .unwrap()
        .to_string();
    let fb = full_viewer
        .post(
            &format!("/api/v1/queries/{own}/feedback"),
            json!({ "rating": "down", "corrected_sql": "SELECT name, city FROM customers" }),
        )
        .await
        .expect(201);
    assert_eq!(fb["training_item"]["status"], "pending", "{fb}");
    let pending_customers = fb["training_item"]["id"].as_str().unwrap().to_string();
    let viewer = app.user_with_grants(Role::Viewer, &only_orders()).await;
    let analyst = app.user_with_grants(Role::Analyst, &only_orders()).await;
    let viewer_query = viewer.ask("How many orders are there?").await.expect(200)["query_id"]
        .as_str()
        .unwrap()
        .to_string();
    World {
        app,
        viewer,
        analyst,
        admin_query,
        viewer_query,
        pending_customers,
    }
}

/// Try to reach `customers` through one route; `Err` says how it leaked.
async fn probe(w: &World, method: &str, path: &str) -> Result<(), String> {
    let (v, a) = (&w.viewer, &w.analyst);
    match (method, path) {
        ("POST", "/ask") => {
            let r = v.ask("List the e-mail of every customer").await;
            if r.status.is_success() {
                never_names_customers("ask", &r.body);
            }
            no_customer_data("ask", &r.body);
        }
        ("POST", "/ask/stream") => {
            let r = v
                .post(
                    "/api/v1/ask/stream",
                    json!({ "question": "List the e-mail of every customer" }),
                )
                .await;
            let text = r.body.to_string().to_lowercase();
            if text.contains("@example.com") || text.contains("from customers") {
                return Err(format!("ask/stream: {text}"));
            }
        }
        ("POST", "/sql/generate") => {
            let r = v
                .post(
                    "/api/v1/sql/generate",
                    json!({ "question": "List the e-mail of every customer" }),
                )
                .await;
            if r.status.is_success() {
                never_names_customers("generate", &r.body);
            }
        }
        ("POST", "/sql/validate") => {
            let hidden = a
                .post(
                    "/api/v1/sql/validate",
                    json!({ "sql": "SELECT email FROM customers" }),
                )
                .await
                .expect(200);
            let missing = a
                .post(
                    "/api/v1/sql/validate",
                    json!({ "sql": "SELECT email FROM clients" }),
                )
                .await
                .expect(200);
            if hidden["valid"] != false {
                return Err(format!("validate accepted a hidden table: {hidden}"));
            }
            let said = |b: &Value| b["errors"][0].to_string().replace("clients", "customers");
            if said(&hidden) != said(&missing) {
                return Err(format!("hidden {hidden} reads unlike missing {missing}"));
            }
        }
        ("POST", "/sql/execute") => {
            for sql in ["SELECT name, email FROM customers", LEAK_EMAILS] {
                let r = v.post("/api/v1/sql/execute", json!({ "sql": sql })).await;
                if r.status.as_u16() != 422 || error_code(&r.body) != "sql_rejected" {
                    return Err(format!("execute {sql}: {} {}", r.status, r.body));
                }
                no_customer_data("execute", &r.body);
            }
            let r = v
                .post("/api/v1/sql/execute", json!({ "query_id": w.admin_query }))
                .await;
            if r.status.as_u16() != 404 {
                return Err(format!(
                    "re-run of the admin's query: {} {}",
                    r.status, r.body
                ));
            }
        }
        ("POST", "/sql/explain") => {
            for sql in ["SELECT name, email FROM customers", LEAK_EMAILS] {
                let r = v.post("/api/v1/sql/explain", json!({ "sql": sql })).await;
                if r.status.as_u16() != 422 || error_code(&r.body) != "sql_rejected" {
                    return Err(format!("explain {sql}: {} {}", r.status, r.body));
                }
                no_customer_data("explain", &r.body);
            }
            let ok = v
                .post(
                    "/api/v1/sql/explain",
                    json!({ "sql": "SELECT COUNT(*) FROM orders" }),
                )
                .await;
            if ok.status.as_u16() != 200 {
                return Err(format!(
                    "explain over a granted table: {} {}",
                    ok.status, ok.body
                ));
            }
        }
        ("POST", "/sql/fix") => {
            // A hidden table is not "fixed" into view, and the database's
            // text (which would quote e-mails) never comes back.
            for sql in ["SELECT name, email FROM customers", LEAK_EMAILS] {
                let r = v.post("/api/v1/sql/fix", json!({ "sql": sql })).await;
                if r.status.as_u16() == 200 {
                    let tables = r.body["tables"].to_string();
                    if tables.contains("customers")
                        || r.body["sql"]
                            .to_string()
                            .to_lowercase()
                            .contains("customers")
                    {
                        return Err(format!("fix {sql} reached the hidden table: {}", r.body));
                    }
                }
                no_customer_data("fix", &r.body);
            }
        }
        ("GET", "/queries") => {
            let list = a.get("/api/v1/queries?limit=100").await.expect(200);
            never_names_customers("history list", &list);
        }
        ("GET", "/queries/{id}") => {
            let r = a.get(&format!("/api/v1/queries/{}", w.admin_query)).await;
            if r.status.as_u16() != 404 {
                return Err(format!("history item: {} {}", r.status, r.body));
            }
        }
        ("POST", "/queries/{id}/feedback") => {
            let url = format!("/api/v1/queries/{}/feedback", w.viewer_query);
            for sql in ["SELECT name, email FROM customers", LEAK_EMAILS] {
                let r = v
                    .post(&url, json!({ "rating": "down", "corrected_sql": sql }))
                    .await;
                if r.status.as_u16() != 422 {
                    return Err(format!("feedback {sql}: {} {}", r.status, r.body));
                }
                no_customer_data("feedback", &r.body);
            }
        }
        ("GET", "/training") => {
            let list = a
                .get("/api/v1/training?connection=demo&limit=100")
                .await
                .expect(200);
            never_names_customers("training list", &list);
        }
        ("POST", "/training") => {
            for body in [
                json!({ "kind": "question_sql", "content": "who are the customers", "sql": "SELECT name FROM customers" }),
                json!({ "kind": "documentation", "content": "VIPs are rows of customers with segment Corporate." }),
            ] {
                let r = a.post("/api/v1/training", body.clone()).await;
                if r.status.as_u16() != 422 {
                    return Err(format!("training add {body}: {} {}", r.status, r.body));
                }
            }
        }
        ("POST", "/training/{id}/approve") => {
            let r = a
                .post(
                    &format!("/api/v1/training/{}/approve", w.pending_customers),
                    json!({}),
                )
                .await;
            if r.status.as_u16() != 404 {
                return Err(format!("approve: {} {}", r.status, r.body));
            }
        }
        ("PATCH", "/training/{id}") => {
            // Another's item over the hidden table: not there to edit.
            let r = a
                .patch(
                    &format!("/api/v1/training/{}", w.pending_customers),
                    json!({ "content": "who are they" }),
                )
                .await;
            if r.status.as_u16() != 404 {
                return Err(format!("edit another's item: {} {}", r.status, r.body));
            }
            // Its own item cannot be edited into SQL over the hidden table.
            let own = a
                .post(
                    "/api/v1/training",
                    json!({ "kind": "question_sql", "content": "how many orders are open", "sql": "SELECT COUNT(*) FROM orders" }),
                )
                .await
                .expect(201);
            let id = own["id"].as_str().unwrap_or_default();
            let r = a
                .patch(
                    &format!("/api/v1/training/{id}"),
                    json!({ "sql": "SELECT name FROM customers" }),
                )
                .await;
            if r.status.as_u16() != 422 {
                return Err(format!("edit into customers: {} {}", r.status, r.body));
            }
            no_customer_data("training edit", &r.body);
        }
        ("GET" | "DELETE", "/admin/users/{id}/training") => {
            let url = format!("/api/v1/admin/users/{}/training", w.app.admin.id);
            for user in [v, a] {
                let r = match method {
                    "GET" => user.get(&url).await,
                    _ => user.delete(&url).await,
                };
                if r.status.as_u16() != 403 {
                    return Err(format!("{method} author training: {}", r.status));
                }
            }
        }
        ("POST", "/saved") => {
            for user in [v, a] {
                let r = user
                    .post(
                        "/api/v1/saved",
                        json!({ "sql": "SELECT email FROM customers", "connection": "demo" }),
                    )
                    .await;
                if r.status.as_u16() != 422 {
                    return Err(format!("save customers SQL: {} {}", r.status, r.body));
                }
                no_customer_data("save", &r.body);
                let r = user
                    .post("/api/v1/saved", json!({ "query_id": w.admin_query }))
                    .await;
                if r.status.as_u16() != 404 {
                    return Err(format!("save another's answer: {} {}", r.status, r.body));
                }
            }
        }
        ("GET", "/saved") => {
            admin_saved_customers(w).await;
            for user in [v, a] {
                let r = user.get("/api/v1/saved").await;
                never_names_customers("saved list", &r.body);
            }
        }
        ("GET" | "PATCH", "/saved/{id}") | ("POST", "/saved/{id}/run") => {
            let (id, _) = admin_saved_customers(w).await;
            for user in [v, a] {
                let url = format!("/api/v1/saved/{id}");
                let r = match (method, path) {
                    ("GET", _) => user.get(&url).await,
                    ("PATCH", _) => user.patch(&url, json!({ "title": "x" })).await,
                    _ => user.post(&format!("{url}/run"), json!({})).await,
                };
                if r.status.as_u16() != 404 {
                    return Err(format!(
                        "{method} another's saved question: {} {}",
                        r.status, r.body
                    ));
                }
                never_names_customers("saved", &r.body);
            }
        }
        ("GET", "/shared/{id}") => {
            let (_, token) = admin_saved_customers(w).await;
            for user in [v, a] {
                let r = user.get(&format!("/api/v1/shared/{token}")).await;
                if r.body["tiles"][0]["status"] != "refused" {
                    return Err(format!(
                        "shared customers question: {} {}",
                        r.status, r.body
                    ));
                }
                never_names_customers("shared", &r.body);
            }
        }
        ("POST", "/dashboards/{id}/refresh") => {
            let (saved, _) = admin_saved_customers(w).await;
            let board = w
                .app
                .post("/api/v1/dashboards", json!({ "title": "Board" }))
                .await
                .expect(201);
            let url = format!(
                "/api/v1/dashboards/{}",
                board["id"].as_str().unwrap_or_default()
            );
            w.app
                .patch(&url, json!({ "tiles": [saved] }))
                .await
                .expect(200);
            for user in [v, a] {
                let r = user.post(&format!("{url}/refresh"), json!({})).await;
                if r.status.as_u16() != 404 {
                    return Err(format!(
                        "refresh another's dashboard: {} {}",
                        r.status, r.body
                    ));
                }
                never_names_customers("dashboard", &r.body);
            }
        }
        other => return Err(format!("no gate probe for SQL route {other:?}")),
    }
    Ok(())
}

/// A saved question of the admin's over `customers` (neutral title), shared:
/// its id and share token.
async fn admin_saved_customers(w: &World) -> (String, String) {
    let saved = w
        .app
        .post(
            "/api/v1/saved",
            json!({ "title": "Contact list", "sql": "SELECT name, email FROM customers", "connection": "demo" }),
        )
        .await
        .expect(201);
    let id = saved["id"].as_str().unwrap_or_default().to_string();
    let link = w
        .app
        .post(&format!("/api/v1/saved/{id}/share"), json!({}))
        .await
        .expect(200);
    (id, link["token"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn a_limited_caller_reaches_no_hidden_table_through_any_sql_route() {
    let w = world().await;
    let mut failures = Vec::new();
    for (method, path) in sql_bearing_routes() {
        if let Err(e) = probe(&w, &method, &path).await {
            failures.push(format!("{method} {path}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Finding 1: feedback runs `corrected_sql` under the caller's grant, and a
/// database error carries no data.
#[tokio::test]
async fn feedback_sql_runs_under_the_callers_grant_and_errors_carry_no_data() {
    let app = TestApp::spawn().await;
    let viewer = app.user_with_grants(Role::Viewer, &only_orders()).await;
    let own = viewer.ask("How many orders are there?").await.expect(200)["query_id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("/api/v1/queries/{own}/feedback");
    let r = viewer
        .post(
            &url,
            json!({ "rating": "down", "corrected_sql": LEAK_EMAILS }),
        )
        .await;
    r.expect_error(422, "sql_rejected");
    no_customer_data("feedback", &r.body);

    // Revoking every grant revokes feedback SQL too.
    app.put(
        &format!("/api/v1/admin/users/{}/grants", viewer.id),
        json!([]),
    )
    .await
    .expect(200);
    let r = viewer
        .post(
            &url,
            json!({ "rating": "down", "corrected_sql": "SELECT count(*) FROM orders" }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);

    // Even where the SQL is allowed, the database's text stays in the log.
    let r = app
        .post("/api/v1/sql/execute", json!({ "sql": LEAK_EMAILS }))
        .await;
    r.expect_error(422, "query_failed");
    no_customer_data("execute error", &r.body);
}

/// Finding 2: a viewer's correction is pending until an approver whose grant
/// covers it approves; items record their author; an admin reverts them.
#[tokio::test]
async fn a_viewers_correction_waits_for_a_covering_approver_and_can_be_reverted() {
    let app = TestApp::builder()
        .config(|c| c.cache.sql_ttl_secs = 0)
        .spawn()
        .await;
    let viewer = app.login_as(Role::Viewer).await;
    let question = "How many orders are there?";
    let own = viewer.ask(question).await.expect(200)["query_id"]
        .as_str()
        .unwrap()
        .to_string();
    let fb = viewer
        .post(
            &format!("/api/v1/queries/{own}/feedback"),
            json!({ "rating": "down", "corrected_sql": "SELECT name, email, city FROM customers" }),
        )
        .await
        .expect(201);
    assert_eq!(fb["feedback"]["status"], "pending", "{fb}");
    let item = &fb["training_item"];
    assert_eq!(item["status"], "pending", "{fb}");
    assert_eq!(item["created_by"], viewer.id.as_str(), "{fb}");
    let item_id = item["id"].as_str().unwrap().to_string();

    // Not shared training: the admin's answer does not come from it.
    let answer = app.ask(question).await.expect(200);
    assert_ne!(answer["strategy"], "trained_example", "{answer}");
    no_customer_data("admin answer", &answer);

    // An analyst limited to `orders` cannot approve it; a full one can.
    let limited = app.user_with_grants(Role::Analyst, &only_orders()).await;
    limited
        .post(&format!("/api/v1/training/{item_id}/approve"), json!({}))
        .await
        .expect(404);
    let approver = app.login_as(Role::Analyst).await;
    let approved = approver
        .post(&format!("/api/v1/training/{item_id}/approve"), json!({}))
        .await
        .expect(200);
    assert_eq!(approved["approved_by"], approver.id.as_str(), "{approved}");

    // The admin lists and reverts everything the viewer taught.
    let url = format!("/api/v1/admin/users/{}/training", viewer.id);
    let taught = app.get(&url).await.expect(200);
    assert_eq!(taught["items"].as_array().unwrap().len(), 1, "{taught}");
    let reverted = app.delete(&url).await.expect(200);
    assert_eq!(reverted["items"][0]["id"], item_id.as_str());
    app.get("/api/v1/training?q=email&limit=100")
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .for_each(|i| assert_ne!(i["id"], item_id.as_str()));
    let answer = app.ask(question).await.expect(200);
    assert_ne!(answer["strategy"], "trained_example", "{answer}");
}

/// Finding 5: shared history honours the analyst's allowlist.
#[tokio::test]
async fn shared_history_shows_only_what_the_analysts_grant_covers() {
    let app = TestApp::spawn().await;
    let hidden = app
        .ask("How many customers are there in each country?")
        .await
        .expect(200)["query_id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = app.ask("How many orders are there?").await.expect(200)["query_id"]
        .as_str()
        .unwrap()
        .to_string();
    let analyst = app.user_with_grants(Role::Analyst, &only_orders()).await;
    let list = analyst.get("/api/v1/queries?limit=100").await.expect(200);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&shown.as_str()), "{list}");
    assert!(!ids.contains(&hidden.as_str()), "{list}");
    assert_eq!(list["total"], 1, "{list}");
    analyst
        .get(&format!("/api/v1/queries/{hidden}"))
        .await
        .expect(404);
    analyst
        .get(&format!("/api/v1/queries/{shown}"))
        .await
        .expect(200);
    analyst
        .post("/api/v1/sql/execute", json!({ "query_id": hidden }))
        .await
        .expect(404);
}

/// Finding 6: training is checked against the grant, not the connection.
#[tokio::test]
async fn training_add_is_checked_against_the_grant() {
    let app = TestApp::spawn().await;
    let analyst = app.user_with_grants(Role::Analyst, &only_orders()).await;
    let r = analyst
        .post(
            "/api/v1/training",
            json!({ "kind": "question_sql", "content": "customer e-mails", "sql": "SELECT email FROM customers" }),
        )
        .await;
    r.expect_error(422, "sql_rejected");
    analyst
        .post(
            "/api/v1/training",
            json!({ "kind": "question_sql", "content": "orders count", "sql": "SELECT count(*) FROM orders" }),
        )
        .await
        .expect(201);
}

/// Point 13: hidden reads like missing, DDL drops keys to hidden tables, and
/// the validator refuses syntax SQLite does not run.
#[tokio::test]
async fn hidden_reads_like_missing_ddl_drops_hidden_keys_and_dialects_hold() {
    let app = TestApp::spawn().await;
    let viewer = app.user_with_grants(Role::Viewer, &only_orders()).await;
    let hidden = viewer
        .post(
            "/api/v1/sql/execute",
            json!({ "sql": "SELECT * FROM customers" }),
        )
        .await;
    let missing = viewer
        .post(
            "/api/v1/sql/execute",
            json!({ "sql": "SELECT * FROM clients" }),
        )
        .await;
    assert_eq!(hidden.status, missing.status);
    assert_eq!(
        hidden.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace("customers", "clients"),
        missing.body["error"]["message"].as_str().unwrap()
    );
    assert_eq!(
        hidden.body["error"]["details"],
        missing.body["error"]["details"]
    );

    let analyst = app.user_with_grants(Role::Analyst, &only_orders()).await;
    let ddl = analyst
        .get("/api/v1/training?connection=demo&kind=ddl&limit=100")
        .await
        .expect(200);
    let items = ddl["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{ddl}");
    let text = items[0]["content"].as_str().unwrap();
    assert!(text.contains("orders"), "{text}");
    assert!(
        !text.contains("customers") && !text.contains("employees"),
        "{text}"
    );

    let r = app
        .post(
            "/api/v1/sql/execute",
            json!({ "sql": "SELECT * FROM orders ORDER BY id FETCH FIRST 5 ROWS ONLY" }),
        )
        .await;
    r.expect_error(422, "sql_rejected");
}
