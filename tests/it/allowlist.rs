//! Connection grants and per-connection table allowlists: a viewer reaches
//! only granted connections and, with an allowlist, only its tables — even
//! with hand-written SQL (subquery, CTE, join, view).

use insight::domain::Role;
use insight::store::grants::Grant;
use serde_json::json;

use crate::util::TestApp;

#[tokio::test]
async fn hand_written_sql_cannot_leave_the_allowlist() {
    let app = TestApp::spawn().await;
    // A second SQLite connection with a view over `orders`.
    // SQLite connections created through the API live under <data_dir>/databases.
    std::fs::create_dir_all(app.dir.path().join("databases")).unwrap();
    let db = app.dir.path().join("databases/shop.db");
    std::fs::copy(app.dir.path().join("demo.db"), &db).unwrap();
    {
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&db);
        let mut conn = sqlx::ConnectOptions::connect(&opts).await.unwrap();
        sqlx::query("CREATE VIEW all_orders AS SELECT * FROM orders")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    app.post(
        "/api/v1/admin/connections",
        json!({ "id": "shop", "dialect": "sqlite", "dsn": format!("sqlite://{}", db.display()) }),
    )
    .await
    .expect(201);
    let viewer = app
        .user_with_grants(
            Role::Viewer,
            &[Grant {
                connection: "shop".into(),
                allowed_tables: Some(vec!["customers".into()]),
            }],
        )
        .await;

    viewer
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "shop", "sql": "SELECT count(*) FROM customers" }),
        )
        .await
        .expect(200);
    let listed = viewer.get("/api/v1/connections").await.expect(200);
    let tables: Vec<&str> = listed[0]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["customers"], "{listed}");
    for sql in [
        "SELECT * FROM orders",
        "SELECT * FROM ORDERS",
        "SELECT * FROM main.orders",
        "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders)",
        "SELECT (SELECT count(*) FROM orders) FROM customers",
        "WITH x AS (SELECT * FROM orders) SELECT * FROM x",
        "WITH customers AS (SELECT * FROM orders) SELECT * FROM customers",
        "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id",
        "SELECT * FROM all_orders",
        "SELECT name FROM customers UNION SELECT status FROM orders",
        "SELECT * FROM sqlite_master",
    ] {
        let r = viewer
            .post(
                "/api/v1/sql/execute",
                json!({ "connection": "shop", "sql": sql }),
            )
            .await;
        r.expect_error_in(sql, 422, "sql_rejected");
    }
    // Generated SQL is held to the same allowlist.
    let r = viewer
        .post(
            "/api/v1/ask",
            json!({ "connection": "shop", "question": "How many orders are there?" }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    // An analyst with the same grant validates against the same allowlist.
    let analyst = app
        .user_with_grants(
            Role::Analyst,
            &[Grant {
                connection: "shop".into(),
                allowed_tables: Some(vec!["customers".into()]),
            }],
        )
        .await;
    let report = analyst
        .post(
            "/api/v1/sql/validate",
            json!({ "connection": "shop", "sql": "SELECT * FROM orders" }),
        )
        .await
        .expect(200);
    assert_eq!(report["valid"], false, "{report}");
    // The admin (no grant needed, no allowlist) reads everything.
    app.post(
        "/api/v1/sql/execute",
        json!({ "connection": "shop", "sql": "SELECT * FROM all_orders" }),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn ungranted_connections_do_not_exist_for_the_caller() {
    let app = TestApp::spawn().await;
    let nobody = app.user_with_grants(Role::Viewer, &[]).await;
    let r = nobody.ask("How many customers are there?").await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    nobody
        .post("/api/v1/sql/execute", json!({ "sql": "SELECT 1" }))
        .await
        .expect(404);
    let list = nobody.get("/api/v1/connections").await.expect(200);
    assert_eq!(list, json!([]));
    let granted = app.login_as(Role::Viewer).await;
    let list = granted.get("/api/v1/connections").await.expect(200);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn analysts_manage_training_only_on_granted_connections() {
    let app = TestApp::spawn().await;
    let item = app
        .post(
            "/api/v1/training",
            json!({ "kind": "documentation", "content": "Revenue means the sum of order totals." }),
        )
        .await
        .expect(201);
    let id = item["id"].as_str().unwrap().to_string();

    let outsider = app.user_with_grants(Role::Analyst, &[]).await;
    let listed = outsider.get("/api/v1/training").await.expect(200);
    assert_eq!(listed["total"], 0);
    outsider
        .get("/api/v1/training?connection=demo")
        .await
        .expect(404);
    outsider
        .post(
            "/api/v1/training",
            json!({ "kind": "documentation", "content": "x y z" }),
        )
        .await
        .expect(404);
    outsider
        .delete(&format!("/api/v1/training/{id}"))
        .await
        .expect(404);

    let analyst = app.login_as(Role::Analyst).await;
    let listed = analyst.get("/api/v1/training").await.expect(200);
    assert!(listed["total"].as_u64().unwrap() >= 1);
    analyst
        .delete(&format!("/api/v1/training/{id}"))
        .await
        .expect(204);
}

#[tokio::test]
async fn an_allowlisted_analyst_sees_only_training_about_their_tables() {
    let app = TestApp::spawn().await;
    let mut ids = std::collections::BTreeMap::new();
    for (name, body) in [
        (
            "stock",
            json!({ "kind": "documentation", "content": "Stock is kept per row of products." }),
        ),
        (
            "cancelled",
            json!({ "kind": "documentation", "content": "A cancelled order has status 'cancelled'." }),
        ),
        (
            "per_product",
            json!({ "kind": "question_sql", "content": "cancelled orders per product",
                    "sql": "SELECT p.name, COUNT(*) FROM order_items oi JOIN products p ON p.id = oi.product_id GROUP BY p.name" }),
        ),
        (
            "count",
            json!({ "kind": "question_sql", "content": "how many orders",
                    "sql": "SELECT COUNT(*) FROM orders" }),
        ),
    ] {
        let item = app.post("/api/v1/training", body).await.expect(201);
        ids.insert(name, item["id"].as_str().unwrap().to_string());
    }
    let everything = app
        .get("/api/v1/training?connection=demo&limit=100")
        .await
        .expect(200);
    let all_total = everything["total"].as_u64().unwrap();

    let analyst = app
        .user_with_grants(
            Role::Analyst,
            &[Grant {
                connection: "demo".into(),
                allowed_tables: Some(vec!["orders".into()]),
            }],
        )
        .await;
    let mine = analyst.get("/api/v1/training?limit=100").await.expect(200);
    let items = mine["items"].as_array().unwrap();
    assert_eq!(mine["total"].as_u64().unwrap(), items.len() as u64);
    assert!(
        items.len() as u64 >= 3 && (items.len() as u64) < all_total,
        "{mine}"
    );
    let shown: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert!(shown.contains(&ids["cancelled"].as_str()) && shown.contains(&ids["count"].as_str()));
    assert!(
        !shown.contains(&ids["stock"].as_str()) && !shown.contains(&ids["per_product"].as_str())
    );
    let ddl: Vec<&str> = items
        .iter()
        .filter(|i| i["kind"] == "ddl")
        .map(|i| i["content"].as_str().unwrap())
        .collect();
    assert_eq!(ddl.len(), 1, "only the DDL of orders: {ddl:?}");
    assert!(ddl[0].starts_with("CREATE TABLE orders"), "{ddl:?}");

    // Pages are cut after the filter: totals agree and pages do not overlap.
    let first = analyst
        .get("/api/v1/training?limit=1&offset=0")
        .await
        .expect(200);
    let second = analyst
        .get("/api/v1/training?limit=1&offset=1")
        .await
        .expect(200);
    assert_eq!(first["total"], mine["total"]);
    assert_eq!(first["items"][0]["id"], items[0]["id"]);
    assert_eq!(second["items"][0]["id"], items[1]["id"]);

    // Items about other tables are not theirs to delete; their own are.
    let hidden = analyst
        .delete(&format!("/api/v1/training/{}", ids["stock"]))
        .await;
    hidden.expect_error(404, "not_found");
    analyst
        .delete(&format!("/api/v1/training/{}", ids["cancelled"]))
        .await
        .expect(204);
    // The admin still sees the rest.
    let after = app
        .get("/api/v1/training?connection=demo&limit=100")
        .await
        .expect(200);
    assert_eq!(after["total"].as_u64().unwrap(), all_total - 1);
}
