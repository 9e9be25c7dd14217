//! Issue 18, passwords: change your own (the current password required,
//! wrong guesses locked out like logins), an admin reset through the API and
//! `insight user reset-password`, each revoking the user's sessions.

use insight::domain::Role;
use serde_json::{Value, json};

use crate::util::{TEST_PASSWORD, TestApp, insight_cmd, run_with_stdin};

fn s(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn change_own_password_needs_the_current_one_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let other_device = app.login(&viewer.username, TEST_PASSWORD).await.expect(200);
    let new = "a-brand-new-password-123";

    let r = viewer
        .post(
            "/api/v1/auth/password",
            json!({ "current_password": "not-my-password", "new_password": new }),
        )
        .await;
    r.expect_error(403, "forbidden");
    assert!(r.body["error"]["correlation_id"].is_string(), "{}", r.body);

    let r = viewer
        .post(
            "/api/v1/auth/password",
            json!({ "current_password": TEST_PASSWORD, "new_password": "short" }),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = viewer
        .post(
            "/api/v1/auth/password",
            json!({ "current_password": TEST_PASSWORD, "new_password": TEST_PASSWORD }),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.to_string().contains("differ"), "{}", r.body);
    let r = viewer
        .post("/api/v1/auth/password", json!({ "new_password": new }))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    let pair = viewer
        .post(
            "/api/v1/auth/password",
            json!({ "current_password": TEST_PASSWORD, "new_password": new }),
        )
        .await
        .expect(200);
    // The old token, the other device's access and refresh tokens: all dead.
    assert_eq!(viewer.get("/api/v1/auth/me").await.status, 401);
    let other = app.with_token(&s(&other_device, "access_token"));
    assert_eq!(other.get("/api/v1/auth/me").await.status, 401);
    let r = app
        .anonymous()
        .post(
            "/api/v1/auth/refresh",
            json!({ "refresh_token": s(&other_device, "refresh_token") }),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    // The pair handed back works; the old password does not, the new one does.
    app.with_token(&s(&pair, "access_token"))
        .get("/api/v1/auth/me")
        .await
        .expect(200);
    app.login(&viewer.username, TEST_PASSWORD).await.expect(401);
    app.login(&viewer.username, new).await.expect(200);
    let audit = app.get("/api/v1/admin/audit?limit=100").await.expect(200);
    assert!(
        audit.to_string().contains("user.password_change"),
        "{audit}"
    );
}

#[tokio::test]
async fn wrong_current_passwords_are_locked_out_like_logins() {
    let app = TestApp::builder()
        .config(|c| c.auth.login.max_failures_per_username = 2)
        .spawn()
        .await;
    let viewer = app.login_as(Role::Viewer).await;
    let body = json!({ "current_password": "guess-guess-guess", "new_password": "a-brand-new-password-123" });
    for _ in 0..2 {
        let r = viewer.post("/api/v1/auth/password", body.clone()).await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
    let r = viewer
        .post(
            "/api/v1/auth/password",
            json!({ "current_password": TEST_PASSWORD, "new_password": "a-brand-new-password-123" }),
        )
        .await;
    r.expect_error(429, "rate_limited");
}

#[tokio::test]
async fn admin_reset_revokes_every_credential_of_the_user() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let key = viewer
        .post("/api/v1/auth/api-keys", json!({ "name": "laptop" }))
        .await;
    assert_eq!(key.status, 201, "{}", key.body);
    let key = s(&key.body, "key");
    let session = app.login(&viewer.username, TEST_PASSWORD).await.expect(200);

    // Only admins; not their own account; unknown users are 404.
    let analyst = app.login_as(Role::Analyst).await;
    let path = format!("/api/v1/admin/users/{}/password", viewer.id);
    assert_eq!(analyst.post(&path, json!({})).await.status, 403);
    assert_eq!(viewer.post(&path, json!({})).await.status, 403);
    let admin_id = s(&app.get("/api/v1/auth/me").await.expect(200), "user_id");
    let r = app
        .post(
            &format!("/api/v1/admin/users/{admin_id}/password"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .post("/api/v1/admin/users/no-such-user/password", json!({}))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = app.post(&path, json!({ "password": "short" })).await;
    assert_eq!(r.status, 400, "{}", r.body);

    let reset = app.post(&path, json!({})).await.expect(200);
    let generated = s(&reset, "password");
    assert_eq!(generated.len(), 24, "{reset}");
    assert_eq!(s(&reset, "id"), viewer.id);
    assert_eq!(viewer.get("/api/v1/auth/me").await.status, 401);
    let by_key = reqwest::Client::new()
        .get(format!("{}/api/v1/auth/me", app.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(by_key.status(), 401, "API keys are revoked too");
    let r = app
        .anonymous()
        .post(
            "/api/v1/auth/refresh",
            json!({ "refresh_token": s(&session, "refresh_token") }),
        )
        .await;
    assert_eq!(r.status, 401);
    app.login(&viewer.username, TEST_PASSWORD).await.expect(401);
    app.login(&viewer.username, &generated).await.expect(200);

    // A chosen password is not echoed back.
    let reset = app
        .post(&path, json!({ "password": "chosen-by-the-admin-1" }))
        .await
        .expect(200);
    assert!(reset.get("password").is_none(), "{reset}");
    app.login(&viewer.username, "chosen-by-the-admin-1")
        .await
        .expect(200);
    let audit = app.get("/api/v1/admin/audit?limit=100").await.expect(200);
    assert!(audit.to_string().contains("user.password_reset"), "{audit}");
    assert!(!audit.to_string().contains("chosen-by-the-admin-1"));
}

#[tokio::test]
async fn cli_reset_password_sets_it_and_revokes_sessions() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let reset = |name: &str, stdin: &str| {
        run_with_stdin(
            insight_cmd(app.dir.path())
                .env("INSIGHT_DATA_DIR", app.dir.path())
                .args(["user", "reset-password", name]),
            stdin,
        )
    };
    let out = reset(&viewer.username, "set-from-the-terminal\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("sessions and API keys are revoked"),
        "{stdout}"
    );
    assert!(!stdout.contains("set-from-the-terminal"), "never echoed");
    assert_eq!(viewer.get("/api/v1/auth/me").await.status, 401);
    app.login(&viewer.username, "set-from-the-terminal")
        .await
        .expect(200);

    let out = reset(&viewer.username, "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("password (shown once): "), "{stdout}");

    let out = reset(&viewer.username, "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12"));
    let out = reset("no-such-user", "long-enough-password\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named `no-such-user`"));
}
