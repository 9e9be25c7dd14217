//! Secrets never reach the logs: capture every log line (at TRACE) across
//! logins, failed logins, token refresh, API keys, connection creation and
//! errors, and look for each secret.

use insight::domain::Role;
use serde_json::json;

use crate::util::{TEST_PASSWORD, TestApp};

#[tokio::test]
async fn no_password_token_key_or_dsn_password_is_logged() {
    // Current-thread runtime: the server's tasks log on this thread.
    let (capture, _guard) = crate::util::LogCapture::install(tracing::Level::TRACE);

    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let wrong = "Wrong-Password-Do-Not-Log-42";
    let mut secrets = vec![
        TEST_PASSWORD.to_string(),
        wrong.to_string(),
        app.admin.token.clone(),
    ];

    let anon = app.anonymous();
    anon.post(
        "/api/v1/auth/login",
        json!({ "username": viewer.username, "password": wrong }),
    )
    .await
    .expect(401);
    let pair = anon
        .post(
            "/api/v1/auth/login",
            json!({ "username": viewer.username, "password": TEST_PASSWORD }),
        )
        .await
        .expect(200);
    let refresh = pair["refresh_token"].as_str().unwrap().to_string();
    secrets.push(pair["access_token"].as_str().unwrap().to_string());
    secrets.push(refresh.clone());
    let rotated = anon
        .post("/api/v1/auth/refresh", json!({ "refresh_token": refresh }))
        .await
        .expect(200);
    secrets.push(rotated["refresh_token"].as_str().unwrap().to_string());
    // Reuse: the family is revoked (and logged as such, without the token).
    anon.post("/api/v1/auth/refresh", json!({ "refresh_token": refresh }))
        .await
        .expect(401);

    let key = viewer
        .post("/api/v1/auth/api-keys", json!({ "name": "k" }))
        .await
        .expect(201)["key"]
        .as_str()
        .unwrap()
        .to_string();
    secrets.push(key.clone());
    let r = app
        .anonymous()
        .client
        .get(format!("{}/api/v1/queries", app.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let dsn_password = "Dsn-Secret-Pa55word";
    secrets.push(dsn_password.to_string());
    let db = app.dir.path().join("demo.db");
    app.post(
        "/api/v1/admin/connections",
        json!({ "id": "logged", "dialect": "sqlite", "dsn": format!("sqlite://{}?password={dsn_password}", db.display()) }),
    )
    .await
    .expect(201);
    // A remote DSN that cannot connect: its error must not echo the password.
    let _ = app
        .post(
            "/api/v1/admin/connections",
            json!({ "id": "remote", "dialect": "postgres", "dsn": format!("postgres://bob:{dsn_password}@127.0.0.1:1/db") }),
        )
        .await;
    app.post(
        "/api/v1/admin/users",
        json!({ "username": "erin", "role": "viewer", "password": "Erin-Password-Secret-1" }),
    )
    .await
    .expect(201);
    secrets.push("Erin-Password-Secret-1".into());
    // Errors on the way.
    app.post(
        "/api/v1/sql/execute",
        json!({ "sql": "DELETE FROM customers" }),
    )
    .await
    .expect(422);

    let logs = capture.text();
    assert!(logs.contains("login failed"), "logs were captured: {logs}");
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "secret {s:?} found in logs:\n{logs}"
        );
    }
}
