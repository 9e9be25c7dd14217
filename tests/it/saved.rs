//! Saved questions, dashboards and share links (issue 18): owners only,
//! every run under the *reader's* current grant, refused tiles carry no
//! rows, SQL or question, share links need a signed-in user.

use insight::domain::Role;
use insight::store::grants::Grant;
use serde_json::{Value, json};

use crate::util::{TestApp, TestUser, error_code};

const CUSTOMERS: &str = "SELECT name, email FROM customers ORDER BY name";
const ORDERS: &str = "SELECT COUNT(*) AS orders FROM orders";

fn demo(tables: Option<&[&str]>) -> Vec<Grant> {
    vec![Grant {
        connection: "demo".into(),
        allowed_tables: tables.map(|t| t.iter().map(|s| s.to_string()).collect()),
    }]
}

async fn save(user: &TestUser, title: &str, sql: &str) -> String {
    let r = user
        .post(
            "/api/v1/saved",
            json!({ "title": title, "question": title, "sql": sql, "connection": "demo" }),
        )
        .await
        .expect(201);
    r["id"].as_str().unwrap().to_string()
}

fn no_customer_data(body: &Value) {
    let text = body.to_string().to_lowercase();
    assert!(!text.contains("@example.com"), "leaked e-mails: {text}");
    assert!(!text.contains("from customers"), "leaked the SQL: {text}");
}

#[tokio::test]
async fn saved_questions_are_the_owners_to_list_rename_switch_run_and_delete() {
    let app = TestApp::spawn().await;
    let alice = app.login_as(Role::Viewer).await;
    let bob = app.login_as(Role::Viewer).await;
    let answer = alice
        .ask("How many customers are there in each country?")
        .await
        .expect(200);
    let query_id = answer["query_id"].as_str().unwrap();
    let saved = alice
        .post("/api/v1/saved", json!({ "query_id": query_id }))
        .await
        .expect(201);
    let id = saved["id"].as_str().unwrap().to_string();
    assert_eq!(saved["question"], answer["question"]);
    assert_eq!(
        saved["title"], answer["question"],
        "the title defaults to the question"
    );
    assert_eq!(saved["chart"], "auto");
    assert_eq!(saved["connection"], "demo");

    let list = alice.get("/api/v1/saved").await.expect(200);
    assert_eq!(list["total"], 1);
    assert_eq!(bob.get("/api/v1/saved").await.expect(200)["total"], 0);

    let path = format!("/api/v1/saved/{id}");
    let renamed = alice
        .patch(
            &path,
            json!({ "title": "  Customers by country ", "chart": "table" }),
        )
        .await
        .expect(200);
    assert_eq!(renamed["title"], "Customers by country");
    assert_eq!(renamed["chart"], "table");
    let r = alice.patch(&path, json!({ "title": "   " })).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let r = alice.patch(&path, json!({ "chart": "pie" })).await;
    assert_eq!(error_code(&r.body), "bad_request");

    // Someone else's saved question does not exist for them.
    for r in [
        bob.get(&path).await,
        bob.patch(&path, json!({ "title": "mine" })).await,
        bob.post(&format!("{path}/run"), json!({})).await,
        bob.post(&format!("{path}/share"), json!({})).await,
        bob.delete(&path).await,
    ] {
        r.expect_error(404, "not_found");
    }

    let tile = alice
        .post(&format!("{path}/run"), json!({}))
        .await
        .expect(200);
    assert_eq!(tile["status"], "ok", "{tile}");
    assert!(tile["row_count"].as_u64().unwrap() > 1);
    assert!(tile["chart"].is_null(), "`table` shows no chart: {tile}");
    let bar = alice
        .patch(&path, json!({ "chart": "bar" }))
        .await
        .expect(200);
    assert_eq!(bar["chart"], "bar");
    let tile = alice
        .post(&format!("{path}/run"), json!({}))
        .await
        .expect(200);
    assert_eq!(tile["chart"]["mark"], "bar", "{tile}");
    // The chart downloads as SVG from the tile's spec.
    let svg = alice
        .client
        .post(format!("{}/api/v1/charts/svg", app.base))
        .json(&json!({ "spec": tile["chart"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(svg.status().as_u16(), 200);
    assert!(svg.text().await.unwrap().starts_with("<svg"));

    alice.delete(&path).await.expect(204);
    assert_eq!(alice.get(&path).await.status.as_u16(), 404);
    assert_eq!(alice.get("/api/v1/saved").await.expect(200)["total"], 0);
}

#[tokio::test]
async fn saving_needs_sql_the_saver_may_run() {
    let app = TestApp::spawn().await;
    let limited = app
        .user_with_grants(Role::Viewer, &demo(Some(&["orders"])))
        .await;
    let r = limited
        .post(
            "/api/v1/saved",
            json!({ "sql": CUSTOMERS, "question": "emails", "connection": "demo" }),
        )
        .await;
    r.expect_error(422, "sql_rejected");
    no_customer_data(&r.body);
    // An answer someone else got is not theirs to save.
    let admin_answer = app.ask("How many customers are there?").await.expect(200);
    let r = limited
        .post(
            "/api/v1/saved",
            json!({ "query_id": admin_answer["query_id"] }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    let r = limited
        .post("/api/v1/saved", json!({ "query_id": "x", "sql": ORDERS }))
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert_eq!(
        app.state
            .engine
            .store
            .list_saved_questions(&limited.id, Default::default())
            .await
            .unwrap()
            .1,
        0
    );
}

#[tokio::test]
async fn a_dashboard_refreshes_under_the_viewers_current_grant() {
    let app = TestApp::spawn().await;
    let vera = app.login_as(Role::Viewer).await;
    let customers = save(&vera, "Contact list", CUSTOMERS).await;
    let orders = save(&vera, "Order count", ORDERS).await;
    let board = vera
        .post("/api/v1/dashboards", json!({ "title": "Mine" }))
        .await
        .expect(201);
    let board_path = format!("/api/v1/dashboards/{}", board["id"].as_str().unwrap());
    let updated = vera
        .patch(&board_path, json!({ "tiles": [customers, orders] }))
        .await
        .expect(200);
    assert_eq!(updated["tiles"], json!([customers, orders]));
    let view = vera
        .post(&format!("{board_path}/refresh"), json!({}))
        .await
        .expect(200);
    let statuses: Vec<&str> = view["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "ok"], "{view}");

    // The admin narrows her grant to `orders`: the next refresh refuses the
    // customers tile, with no rows, SQL or question, and still runs the other.
    app.put(
        &format!("/api/v1/admin/users/{}/grants", vera.id),
        json!([{ "connection": "demo", "allowed_tables": ["orders"] }]),
    )
    .await
    .expect(200);
    let view = vera
        .post(&format!("{board_path}/refresh"), json!({}))
        .await
        .expect(200);
    let tiles = view["tiles"].as_array().unwrap();
    assert_eq!(tiles[0]["status"], "refused", "{view}");
    assert_eq!(tiles[0]["error"]["code"], "refused");
    assert_eq!(tiles[0]["rows"], json!([]));
    assert!(tiles[0]["sql"].is_null() && tiles[0]["question"].is_null());
    assert_eq!(tiles[1]["status"], "ok", "{view}");
    no_customer_data(&view);
    // The single run refuses the same way.
    let tile = vera
        .post(&format!("/api/v1/saved/{customers}/run"), json!({}))
        .await
        .expect(200);
    assert_eq!(tile["status"], "refused");
    no_customer_data(&tile);

    // Without any grant on the connection: refused, saying so.
    app.put(
        &format!("/api/v1/admin/users/{}/grants", vera.id),
        json!([]),
    )
    .await
    .expect(200);
    let view = vera
        .post(&format!("{board_path}/refresh"), json!({}))
        .await
        .expect(200);
    for t in view["tiles"].as_array().unwrap() {
        assert_eq!(t["status"], "refused", "{view}");
        assert!(
            t["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no access to the connection")
        );
    }

    // Only one's own saved questions can be pinned; no repeats.
    let other = app.login_as(Role::Viewer).await;
    let theirs = save(&other, "Theirs", ORDERS).await;
    let r = vera.patch(&board_path, json!({ "tiles": [theirs] })).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let r = vera
        .patch(&board_path, json!({ "tiles": [orders, orders] }))
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert_eq!(other.get(&board_path).await.status.as_u16(), 404);
    assert_eq!(
        other
            .post(&format!("{board_path}/refresh"), json!({}))
            .await
            .status
            .as_u16(),
        404
    );
    // Deleting a saved question unpins it.
    vera.delete(&format!("/api/v1/saved/{customers}"))
        .await
        .expect(204);
    assert_eq!(
        vera.get(&board_path).await.expect(200)["tiles"],
        json!([orders])
    );
    vera.delete(&board_path).await.expect(204);
    assert_eq!(vera.get(&board_path).await.status.as_u16(), 404);
}

#[tokio::test]
async fn a_share_link_opens_fresh_rows_only_under_the_readers_grant() {
    let app = TestApp::spawn().await;
    let customers = save(&app.admin, "Contact list", CUSTOMERS).await;
    let orders = save(&app.admin, "Order count", ORDERS).await;
    let link = app
        .post(&format!("/api/v1/saved/{customers}/share"), json!({}))
        .await
        .expect(200);
    let token = link["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 32);
    assert_eq!(link["url"], format!("/ui/shared/{token}"));
    // Sharing again keeps the link.
    let again = app
        .post(&format!("/api/v1/saved/{customers}/share"), json!({}))
        .await
        .expect(200);
    assert_eq!(again["token"], link["token"]);
    let shared = format!("/api/v1/shared/{token}");

    let full = app.login_as(Role::Viewer).await;
    let view = full.get(&shared).await.expect(200);
    assert_eq!(view["kind"], "question");
    assert_eq!(view["tiles"][0]["status"], "ok", "{view}");
    assert!(
        view.to_string().contains("@example.com"),
        "fresh rows for a reader who may see them"
    );

    let limited = app
        .user_with_grants(Role::Viewer, &demo(Some(&["orders"])))
        .await;
    let view = limited.get(&shared).await.expect(200);
    assert_eq!(view["tiles"][0]["status"], "refused", "{view}");
    no_customer_data(&view);
    let nobody = app.user_with_grants(Role::Analyst, &[]).await;
    let view = nobody.get(&shared).await.expect(200);
    assert_eq!(view["tiles"][0]["status"], "refused", "{view}");
    no_customer_data(&view);

    // No anonymous data.
    let r = app.anonymous().get(&shared).await;
    assert_eq!(r.status.as_u16(), 401);
    no_customer_data(&r.body);
    for bad in [
        "0123456789abcdef0123456789abcdef",
        "not-a-token",
        "%27%20OR%201%3D1",
    ] {
        let r = full.get(&format!("/api/v1/shared/{bad}")).await;
        assert_eq!(r.status.as_u16(), 404, "{bad}: {}", r.body);
    }

    // A shared dashboard: each tile under the reader's grant.
    let board = app
        .post("/api/v1/dashboards", json!({ "title": "Shop" }))
        .await
        .expect(201);
    let board_path = format!("/api/v1/dashboards/{}", board["id"].as_str().unwrap());
    app.patch(&board_path, json!({ "tiles": [customers, orders] }))
        .await
        .expect(200);
    let link = app
        .post(&format!("{board_path}/share"), json!({}))
        .await
        .expect(200);
    let board_shared = format!("/api/v1/shared/{}", link["token"].as_str().unwrap());
    let view = limited.get(&board_shared).await.expect(200);
    assert_eq!(view["kind"], "dashboard");
    assert_eq!(view["title"], "Shop");
    assert_eq!(view["tiles"][0]["status"], "refused", "{view}");
    assert_eq!(view["tiles"][1]["status"], "ok", "{view}");
    no_customer_data(&view);

    // Unsharing kills the links.
    app.delete(&format!("/api/v1/saved/{customers}/share"))
        .await;
    assert_eq!(full.get(&shared).await.status.as_u16(), 404);
    app.delete(&format!("{board_path}/share")).await;
    assert_eq!(full.get(&board_shared).await.status.as_u16(), 404);
    // Sharing is audited.
    let audit = app.get("/api/v1/admin/audit?limit=100").await.expect(200);
    assert!(audit.to_string().contains("saved.shared"), "{audit}");
}

/// The store's side on each backend (PostgreSQL when
/// `INSIGHT_TEST_POSTGRES_URL` is set): tiles in order, share tokens looked
/// up, cascades on delete.
#[tokio::test]
async fn saved_questions_and_dashboards_are_stored_on_both_backends() {
    let mut stores = vec![crate::store::sqlite_store().await];
    stores.extend(crate::store::postgres_store().await);
    for s in &stores {
        let user = s.create_user("owner", "h", Role::Viewer).await.unwrap();
        let new = |title: &'static str| insight::store::saved::NewSavedQuestion {
            user_id: &user.id,
            title,
            question: "q",
            sql: ORDERS,
            connection: "demo",
            chart: "auto",
        };
        let a = s.create_saved_question(&new("a")).await.unwrap();
        let b = s.create_saved_question(&new("b")).await.unwrap();
        s.set_saved_question_share(&a.id, Some("0123456789abcdef0123456789abcdef"))
            .await
            .unwrap();
        let found = s
            .saved_question_by_token("0123456789abcdef0123456789abcdef")
            .await
            .unwrap();
        assert_eq!(found.id, a.id);
        let changed = s
            .update_saved_question(&b.id, Some("b2"), Some("line"))
            .await
            .unwrap();
        assert_eq!(
            (changed.title.as_str(), changed.chart.as_str()),
            ("b2", "line")
        );
        let (items, total) = s
            .list_saved_questions(&user.id, Default::default())
            .await
            .unwrap();
        assert_eq!((items.len(), total), (2, 2));

        let d = s.create_dashboard(&user.id, "board").await.unwrap();
        let tiles = [b.id.clone(), a.id.clone()];
        let d = s.update_dashboard(&d.id, None, Some(&tiles)).await.unwrap();
        assert_eq!(d.tiles, tiles);
        s.set_dashboard_share(&d.id, Some("fedcba9876543210fedcba9876543210"))
            .await
            .unwrap();
        let shared = s
            .dashboard_by_token("fedcba9876543210fedcba9876543210")
            .await
            .unwrap();
        assert_eq!(shared.tiles, tiles);
        s.delete_saved_question(&b.id).await.unwrap();
        let left = s.get_dashboard(&d.id).await.unwrap().tiles;
        assert_eq!(left.as_slice(), std::slice::from_ref(&a.id));
        s.delete_dashboard(&d.id).await.unwrap();
        assert!(matches!(
            s.get_dashboard(&d.id).await,
            Err(insight::store::StoreError::NotFound)
        ));
        assert!(
            s.get_saved_question(&a.id).await.is_ok(),
            "a dashboard's questions stay"
        );
    }
}
