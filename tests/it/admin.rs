//! The admin API: users, connections (DSN encrypted at rest, never shown)
//! and the audit log.

use insight::domain::Role;
use serde_json::json;

use crate::util::TestApp;

#[tokio::test]
async fn admins_manage_users_and_never_destroy_them() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            "/api/v1/admin/users",
            json!({ "username": "carol", "role": "viewer" }),
        )
        .await
        .expect(201);
    let id = created["id"].as_str().unwrap().to_string();
    let password = created["password"].as_str().expect("generated password");
    assert!(password.len() >= 12);
    assert!(created.get("password_hash").is_none());
    let login = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            json!({ "username": "carol", "password": password }),
        )
        .await
        .expect(200);
    assert!(login["access_token"].is_string());

    app.post(
        "/api/v1/admin/users",
        json!({ "username": "carol", "role": "viewer", "password": "another-long-password" }),
    )
    .await
    .expect(409);
    app.post(
        "/api/v1/admin/users",
        json!({ "username": "dave", "role": "viewer", "password": "short" }),
    )
    .await
    .expect(400);

    let updated = app
        .patch(
            &format!("/api/v1/admin/users/{id}"),
            json!({ "role": "analyst" }),
        )
        .await
        .expect(200);
    assert_eq!(updated["role"], "analyst");
    app.delete(&format!("/api/v1/admin/users/{id}"))
        .await
        .expect(204);
    let users = app.get("/api/v1/admin/users").await.expect(200);
    let carol = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id.as_str())
        .expect("still listed");
    assert_eq!(carol["disabled"], true);
    // An admin cannot lock themselves out.
    app.delete(&format!("/api/v1/admin/users/{}", app.admin.id))
        .await
        .expect(400);

    let audit = app.get("/api/v1/admin/audit?limit=2").await.expect(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);
    assert!(audit["total"].as_u64().unwrap() >= 3);
    let all = app
        .get("/api/v1/admin/audit?limit=100")
        .await
        .expect(200)
        .to_string();
    for action in ["user.create", "user.role_change", "user.disable"] {
        assert!(all.contains(action), "{action}: {all}");
    }
}

#[tokio::test]
async fn connection_dsns_are_encrypted_and_never_returned() {
    let app = TestApp::spawn().await;
    let db = app.dir.path().join("demo.db");
    // The password part is what must never show: SQLite ignores it.
    let dsn = format!("sqlite://{}?password=hunter2-dsn-secret", db.display());
    let created = app
        .post(
            "/api/v1/admin/connections",
            json!({ "id": "copy", "dialect": "sqlite", "dsn": dsn, "description": "a copy" }),
        )
        .await
        .expect(201);
    assert!(!created.to_string().contains("hunter2"), "{created}");
    assert_eq!(created["has_dsn"], true);
    let listed = app.get("/api/v1/admin/connections").await.expect(200);
    assert!(!listed.to_string().contains("hunter2"));
    // At rest: ciphertext, not the DSN.
    let stored = app.state.engine.store.get_connection("copy").await.unwrap();
    let raw = stored.dsn_encrypted.unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("hunter2"));
    assert!(!String::from_utf8_lossy(&raw).contains("sqlite"));
    // It is registered and usable.
    app.post(
        "/api/v1/sql/execute",
        json!({ "connection": "copy", "sql": "SELECT count(*) FROM customers" }),
    )
    .await
    .expect(200);
    // Ids are unique across config and stored connections.
    app.post(
        "/api/v1/admin/connections",
        json!({ "id": "demo", "dialect": "sqlite", "dsn": "sqlite:///tmp/x.db" }),
    )
    .await
    .expect(409);
    let patched = app
        .patch(
            "/api/v1/admin/connections/copy",
            json!({ "description": "renamed" }),
        )
        .await
        .expect(200);
    assert_eq!(patched["description"], "renamed");
    app.delete("/api/v1/admin/connections/copy")
        .await
        .expect(204);
    app.delete("/api/v1/admin/connections/copy")
        .await
        .expect(404);
    let r = app
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "copy", "sql": "SELECT 1" }),
        )
        .await;
    assert_eq!(
        r.status.as_u16(),
        404,
        "deleted connections are gone: {}",
        r.body
    );
    let listed = app.get("/api/v1/connections").await.expect(200);
    assert!(
        !listed.as_array().unwrap().iter().any(|c| c["id"] == "copy"),
        "and no longer listed: {listed}"
    );
    let audit = app
        .get("/api/v1/admin/audit?limit=100")
        .await
        .expect(200)
        .to_string();
    assert!(audit.contains("connection.create") && audit.contains("connection.delete"));
    assert!(!audit.contains("hunter2"));
}

#[tokio::test]
async fn grants_are_set_by_admins_and_checked() {
    let app = TestApp::spawn().await;
    let viewer = app.user_with_grants(Role::Viewer, &[]).await;
    viewer
        .ask("How many customers are there?")
        .await
        .expect(404);
    app.put(
        &format!("/api/v1/admin/users/{}/grants", viewer.id),
        json!([{ "connection": "nope", "allowed_tables": null }]),
    )
    .await
    .expect(400);
    let grants = app
        .put(
            &format!("/api/v1/admin/users/{}/grants", viewer.id),
            json!([{ "connection": "demo", "allowed_tables": null }]),
        )
        .await
        .expect(200);
    assert_eq!(grants[0]["connection"], "demo");
    viewer
        .ask("How many customers are there?")
        .await
        .expect(200);
}

#[tokio::test]
async fn rejected_sql_is_audited_without_its_text() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    viewer
        .post(
            "/api/v1/sql/execute",
            json!({ "sql": "DELETE FROM customers WHERE name = 'Secret Person'" }),
        )
        .await
        .expect(422);
    let audit = app.get("/api/v1/admin/audit?limit=100").await.expect(200);
    let event = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "sql.rejected")
        .expect("rejection audited")
        .clone();
    assert_eq!(event["actor"], viewer.id.as_str());
    assert_eq!(event["target"], "demo");
    assert!(!audit.to_string().contains("Secret Person"));
}

#[tokio::test]
async fn admins_change_runtime_settings_which_apply_now_and_after_restart() {
    let app = TestApp::spawn().await;
    let before = app.get("/api/v1/admin/settings").await.expect(200);
    assert_eq!(before["feedback_mode"], "immediate");
    assert_eq!(before["default_connection"], "demo");

    // Out-of-bounds values are refused with every problem named; nothing changes.
    let bad = app
        .patch(
            "/api/v1/admin/settings",
            json!({ "max_correction_attempts": 9, "default_connection": "nope" }),
        )
        .await;
    assert_eq!(bad.status.as_u16(), 400, "{}", bad.body);
    let msg = bad.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("max_correction_attempts") && msg.contains("default_connection"),
        "{msg}"
    );
    let r = app
        .patch("/api/v1/admin/settings", json!({ "bogus": 1 }))
        .await;
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(app.get("/api/v1/admin/settings").await.expect(200), before);

    let after = app
        .patch(
            "/api/v1/admin/settings",
            json!({ "feedback_mode": "approval", "sql_cache_ttl_secs": 0 }),
        )
        .await
        .expect(200);
    assert_eq!(after["feedback_mode"], "approval");
    assert_eq!(
        after["max_correction_attempts"],
        before["max_correction_attempts"]
    );

    // In force now: a 👍 waits for approval.
    let answer = app.ask("How many products are there?").await.expect(200);
    let fb = app
        .post(
            &format!(
                "/api/v1/queries/{}/feedback",
                answer["query_id"].as_str().unwrap()
            ),
            json!({ "rating": "up" }),
        )
        .await
        .expect(201);
    assert_eq!(fb["feedback"]["status"], "pending");

    // And after a restart (a second instance on the same data dir).
    let again = insight::app::App::build(
        app.state.config.clone(),
        insight::app::AppOverrides::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        again.engine.runtime_settings().feedback_mode,
        insight::config::FeedbackMode::Approval
    );
    assert_eq!(again.engine.runtime_settings().sql_cache_ttl_secs, 0);

    // Only admins.
    let analyst = app.login_as(Role::Analyst).await;
    assert_eq!(
        analyst
            .patch("/api/v1/admin/settings", json!({ "top_k_ddl": 3 }))
            .await
            .status
            .as_u16(),
        403
    );
    let audit = app
        .get("/api/v1/admin/audit?limit=100")
        .await
        .expect(200)
        .to_string();
    assert!(audit.contains("settings.update"));
}
