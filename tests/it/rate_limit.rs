//! Rate limits: token buckets per user (or key) by role, per IP for
//! anonymous routes; the N+1th request gets 429 with Retry-After.

use insight::domain::Role;
use serde_json::json;

use crate::util::TestApp;

#[tokio::test]
async fn the_n_plus_first_request_is_429_and_limits_are_per_user() {
    let app = TestApp::builder()
        .config(|c| c.auth.rate_limit.viewer_per_minute = 5)
        .spawn()
        .await;
    let alice = app.login_as(Role::Viewer).await;
    let bob = app.login_as(Role::Viewer).await;
    for i in 0..5 {
        let r = alice.get("/api/v1/auth/me").await;
        assert_eq!(r.status.as_u16(), 200, "request {i}");
        assert_eq!(r.headers["ratelimit-limit"], "5");
        assert_eq!(
            r.headers["ratelimit-remaining"].to_str().unwrap(),
            (4 - i).to_string()
        );
    }
    let r = alice.get("/api/v1/auth/me").await;
    r.expect_error(429, "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.headers["ratelimit-remaining"], "0");
    // Bob has his own bucket; admins have their own, larger limit.
    bob.get("/api/v1/auth/me").await.expect(200);
    app.get("/api/v1/auth/me").await.expect(200);
}

#[tokio::test]
async fn an_api_key_has_its_own_bucket() {
    let app = TestApp::builder()
        .config(|c| c.auth.rate_limit.viewer_per_minute = 3)
        .spawn()
        .await;
    let alice = app.login_as(Role::Viewer).await;
    let key = alice
        .post("/api/v1/auth/api-keys", json!({ "name": "k" }))
        .await
        .expect(201)["key"]
        .as_str()
        .unwrap()
        .to_string();
    alice.get("/api/v1/auth/me").await.expect(200);
    alice.get("/api/v1/auth/me").await.expect(200);
    alice.get("/api/v1/auth/me").await.expect(429);
    let r = app
        .anonymous()
        .client
        .get(format!("{}/api/v1/auth/me", app.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn anonymous_routes_are_limited_per_ip() {
    let app = TestApp::builder()
        .config(|c| c.auth.rate_limit.anonymous_per_minute = 3)
        .spawn()
        .await;
    let anon = app.anonymous();
    for _ in 0..3 {
        let r = anon
            .post("/api/v1/auth/refresh", json!({ "refresh_token": "nope" }))
            .await;
        assert_eq!(r.status.as_u16(), 401);
    }
    let r = anon
        .post("/api/v1/auth/refresh", json!({ "refresh_token": "nope" }))
        .await;
    assert_eq!(r.status.as_u16(), 429);
    assert!(r.headers.contains_key("retry-after"));
}

async fn refresh_from(app: &TestApp, forwarded_for: &str) -> u16 {
    app.anonymous()
        .client
        .post(format!("{}/api/v1/auth/refresh", app.base))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "refresh_token": "nope" }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let trusted = TestApp::builder()
        .config(|c| {
            c.auth.rate_limit.anonymous_per_minute = 2;
            c.auth.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        })
        .spawn()
        .await;
    assert_eq!(refresh_from(&trusted, "198.51.100.1").await, 401);
    assert_eq!(refresh_from(&trusted, "198.51.100.1").await, 401);
    assert_eq!(refresh_from(&trusted, "198.51.100.1").await, 429);
    assert_eq!(
        refresh_from(&trusted, "198.51.100.2").await,
        401,
        "another client"
    );

    // Without a trusted proxy the header is ignored: one bucket for the peer.
    let direct = TestApp::builder()
        .config(|c| c.auth.rate_limit.anonymous_per_minute = 2)
        .spawn()
        .await;
    assert_eq!(refresh_from(&direct, "198.51.100.1").await, 401);
    assert_eq!(refresh_from(&direct, "198.51.100.2").await, 401);
    assert_eq!(
        refresh_from(&direct, "198.51.100.3").await,
        429,
        "spoofing does not help"
    );
}
