//! Sign-in, tokens and API keys, and the attacks on them.

use base64::Engine as _;
use insight::auth::jwt::Claims;
use insight::domain::Role;
use serde_json::{Value, json};

use crate::util::{TEST_PASSWORD, TestApp};

#[tokio::test]
async fn login_me_refresh_rotation_and_logout() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let r = app.login(&viewer.username, TEST_PASSWORD).await.expect(200);
    assert_eq!(r["token_type"], "bearer");
    assert!(r["expires_in"].as_u64().unwrap() > 0);
    let access = r["access_token"].as_str().unwrap().to_string();
    let refresh1 = r["refresh_token"].as_str().unwrap().to_string();

    let me = app
        .with_token(&access)
        .get("/api/v1/auth/me")
        .await
        .expect(200);
    assert_eq!(me["username"], viewer.username.as_str());
    assert_eq!(me["role"], "viewer");

    // Rotation: the first refresh token is spent by its use.
    let r2 = app
        .anonymous()
        .post("/api/v1/auth/refresh", json!({ "refresh_token": refresh1 }))
        .await
        .expect(200);
    let refresh2 = r2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh1, refresh2);
    app.with_token(r2["access_token"].as_str().unwrap())
        .get("/api/v1/auth/me")
        .await
        .expect(200);

    // Reusing the spent token revokes the family: refresh2 dies too.
    let reuse = app
        .anonymous()
        .post("/api/v1/auth/refresh", json!({ "refresh_token": refresh1 }))
        .await;
    reuse.expect_error(401, "unauthorized");
    app.anonymous()
        .post("/api/v1/auth/refresh", json!({ "refresh_token": refresh2 }))
        .await
        .expect(401);

    // Logout revokes a fresh family.
    let r3 = app.login(&viewer.username, TEST_PASSWORD).await.expect(200);
    let refresh3 = r3["refresh_token"].as_str().unwrap();
    viewer
        .post("/api/v1/auth/logout", json!({ "refresh_token": refresh3 }))
        .await
        .expect(204);
    app.anonymous()
        .post("/api/v1/auth/refresh", json!({ "refresh_token": refresh3 }))
        .await
        .expect(401);

    let audit = app.get("/api/v1/admin/audit?limit=100").await.expect(200);
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"auth.login"), "{actions:?}");
    assert!(actions.contains(&"auth.refresh_reuse"), "{actions:?}");
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_look_the_same() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let a = app.login(&viewer.username, "not-the-password").await;
    let b = app.login("nobody-here", "not-the-password").await;
    assert_eq!(a.status.as_u16(), 401);
    assert_eq!(b.status.as_u16(), 401);
    assert_eq!(a.body["error"]["message"], b.body["error"]["message"]);
    let audit = app.get("/api/v1/admin/audit?limit=100").await.expect(200);
    let failed = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.login_failed")
        .count();
    assert_eq!(failed, 2);
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn forged_expired_and_confused_tokens_are_rejected() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let jwt = app.state.auth.jwt();
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, role: Role| Claims {
        iss: "insight".into(),
        aud: "insight-api".into(),
        sub: viewer.id.clone(),
        role,
        iat: now - 10,
        exp,
        jti: "t".into(),
        epoch: 0,
    };
    let expired = jwt.sign(&claims(now - 600, Role::Viewer)).unwrap();
    let good = jwt.sign(&claims(now + 600, Role::Viewer)).unwrap();
    // Tampered: claim admin in the payload, keep the viewer's signature.
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    parts[1] = b64(&serde_json::to_value(claims(now + 600, Role::Admin)).unwrap());
    let tampered = parts.join(".");
    let body = b64(&serde_json::to_value(claims(now + 600, Role::Admin)).unwrap());
    let none = format!("{}.{body}.", b64(&json!({"alg": "none", "typ": "JWT"})));
    let rs256 = format!(
        "{}.{body}.{}",
        b64(&json!({"alg": "RS256", "typ": "JWT"})),
        parts[2]
    );
    let wrong_secret = insight::auth::jwt::JwtKeys::new(
        &secrecy::SecretString::from("some-other-secret-some-other-secret"),
        "insight",
        "insight-api",
        600,
    )
    .issue(&viewer.id, Role::Admin)
    .unwrap();
    for (name, token) in [
        ("expired", expired),
        ("tampered", tampered),
        ("alg none", none),
        ("RS256 confusion", rs256),
        ("wrong secret", wrong_secret),
        ("garbage", "not.a.token".to_string()),
    ] {
        let r = app.with_token(&token).get("/api/v1/auth/me").await;
        r.expect_error_in(name, 401, "unauthorized");
    }
    // The genuine token works, and a viewer's token never reaches admin routes.
    app.with_token(&good)
        .get("/api/v1/auth/me")
        .await
        .expect(200);
    app.with_token(&good)
        .get("/api/v1/admin/users")
        .await
        .expect(403);
}

#[tokio::test]
async fn disabled_users_lose_tokens_keys_and_login() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let key = viewer
        .post("/api/v1/auth/api-keys", json!({ "name": "script" }))
        .await
        .expect(201)["key"]
        .as_str()
        .unwrap()
        .to_string();
    let pair = app.login(&viewer.username, TEST_PASSWORD).await.expect(200);
    app.patch(
        &format!("/api/v1/admin/users/{}", viewer.id),
        json!({ "disabled": true }),
    )
    .await
    .expect(200);
    viewer.get("/api/v1/auth/me").await.expect(401);
    app.with_token(&key)
        .get("/api/v1/auth/me")
        .await
        .expect(401);
    app.login(&viewer.username, TEST_PASSWORD).await.expect(401);
    app.anonymous()
        .post(
            "/api/v1/auth/refresh",
            json!({ "refresh_token": pair["refresh_token"] }),
        )
        .await
        .expect(401);
}

#[tokio::test]
async fn api_keys_are_shown_once_work_both_ways_and_revoke() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let created = viewer
        .post(
            "/api/v1/auth/api-keys",
            json!({ "name": "nightly", "expires_in_days": 30 }),
        )
        .await
        .expect(201);
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("ik_"));
    let id = created["id"].as_str().unwrap().to_string();

    let listed = viewer.get("/api/v1/auth/api-keys").await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&key), "never shown again");

    let me = app
        .with_token(&key)
        .get("/api/v1/auth/me")
        .await
        .expect(200);
    assert_eq!(me["username"], viewer.username.as_str());
    assert_eq!(me["api_key_id"], id.as_str());
    let r = app
        .anonymous()
        .client
        .get(format!("{}/api/v1/auth/me", app.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // Another user cannot revoke it; its owner can.
    let other = app.login_as(Role::Viewer).await;
    other
        .delete(&format!("/api/v1/auth/api-keys/{id}"))
        .await
        .expect(404);
    viewer
        .delete(&format!("/api/v1/auth/api-keys/{id}"))
        .await
        .expect(204);
    app.with_token(&key)
        .get("/api/v1/auth/me")
        .await
        .expect(401);
    app.with_token("ik_made_up")
        .get("/api/v1/auth/me")
        .await
        .expect(401);

    let audit = app.get("/api/v1/admin/audit?limit=100").await.expect(200);
    assert!(audit.to_string().contains("api_key.create"));
    // One revoke row, the owner's: the refused attempt writes none.
    let revokes: Vec<_> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "api_key.revoke")
        .collect();
    assert_eq!(revokes.len(), 1, "{audit}");
    assert_eq!(revokes[0]["target"], id.as_str());
    assert_eq!(revokes[0]["actor"], me["user_id"]);
}

#[tokio::test]
async fn login_brute_force_is_limited_per_username() {
    let app = TestApp::builder()
        .config(|c| c.auth.login.max_failures_per_username = 3)
        .spawn()
        .await;
    let viewer = app.login_as(Role::Viewer).await;
    for _ in 0..3 {
        app.login(&viewer.username, "wrong-password")
            .await
            .expect(401);
    }
    // Even the right password is refused while the username is locked.
    let r = app.login(&viewer.username, TEST_PASSWORD).await;
    assert_eq!(r.status.as_u16(), 429, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    // Other users are not affected.
    let other = app.login_as(Role::Viewer).await;
    app.login(&other.username, TEST_PASSWORD).await.expect(200);
}
