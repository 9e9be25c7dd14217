//! The route × role matrix: every `/api/v1` route, called as anonymous,
//! viewer, analyst and admin. Generated from `api::access::ROUTES`, the
//! permission table derived from the route list (`api::route_list`), which
//! must list exactly the routes of the OpenAPI document, so a route
//! documented without an entry fails here.

use std::collections::BTreeSet;

use insight::api::access::{Access, PREFIX, ROUTES};
use insight::domain::Role;
use serde_json::json;
use utoipa::OpenApi as _;

use crate::util::{TestApp, TestUser};

async fn call(user: &TestUser, method: &reqwest::Method, path: &str) -> u16 {
    let url = format!("{PREFIX}{}", path.replace("{id}", "0190aaaa-no-such-id"));
    let r = match *method {
        reqwest::Method::GET => user.get(&url).await,
        reqwest::Method::POST => user.post(&url, json!({})).await,
        reqwest::Method::PUT => user.put(&url, json!([])).await,
        reqwest::Method::PATCH => user.patch(&url, json!({})).await,
        reqwest::Method::DELETE => user.delete(&url).await,
        ref other => panic!("no matrix call for {other}"),
    };
    r.status.as_u16()
}

#[test]
fn every_documented_route_has_an_access_entry_and_back() {
    let doc = serde_json::to_value(insight::api::openapi::ApiDoc::openapi()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(rel) = path.strip_prefix(PREFIX) else {
            continue;
        };
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                documented.insert((m.to_uppercase(), rel.to_string()));
            }
        }
    }
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented, listed,
        "api::access::ROUTES and the routes in the OpenAPI document differ"
    );
}

#[tokio::test]
async fn route_by_role_matrix() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let viewer = app.login_as(Role::Viewer).await;
    let analyst = app.login_as(Role::Analyst).await;
    let admin = &app.admin;
    let mut failures = Vec::new();
    for (method, path, access) in ROUTES.iter() {
        let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
        // Anonymous: only login and refresh answer (here: 400 for the empty body).
        let status = call(&anonymous, &method, path).await;
        let expected_anon_denied = matches!(access, Access::Requires(_));
        if expected_anon_denied && status != 401 {
            failures.push(format!("{method} {path} anonymous: {status}, expected 401"));
        }
        if !expected_anon_denied && matches!(status, 401 | 403) {
            failures.push(format!(
                "{method} {path} anonymous: {status}, expected access"
            ));
        }
        for user in [&viewer, &analyst, admin] {
            let status = call(user, &method, path).await;
            let allowed = match access {
                Access::Anonymous => true,
                Access::Requires(action) => user.role.can(*action),
            };
            if allowed && matches!(status, 401 | 403 | 405) {
                failures.push(format!(
                    "{method} {path} {}: {status}, expected access",
                    user.role
                ));
            }
            if !allowed && status != 403 {
                failures.push(format!(
                    "{method} {path} {}: {status}, expected 403",
                    user.role
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn public_routes_stay_public_and_carry_security_headers() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    for path in [
        "/health",
        "/health/ready",
        "/metrics",
        "/metrics/json",
        "/openapi.json",
        "/docs/",
    ] {
        let r = anon.get(path).await;
        assert_eq!(r.status.as_u16(), 200, "{path}");
        assert_eq!(r.headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(r.headers["x-frame-options"], "DENY", "{path}");
    }
    let r = anon.get("/api/v1/queries").await;
    assert_eq!(r.status.as_u16(), 401);
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(r.headers.contains_key("content-security-policy"));
}

#[tokio::test]
async fn history_is_owned_other_users_objects_are_404() {
    let app = TestApp::spawn().await;
    let alice = app.login_as(Role::Viewer).await;
    let bob = app.login_as(Role::Viewer).await;
    let analyst = app.login_as(Role::Analyst).await;
    let answer = alice.ask("How many customers are there?").await.expect(200);
    let id = answer["query_id"].as_str().expect("query id").to_string();

    alice
        .get(&format!("/api/v1/queries/{id}"))
        .await
        .expect(200);
    let r = bob.get(&format!("/api/v1/queries/{id}")).await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    bob.post(
        &format!("/api/v1/queries/{id}/feedback"),
        json!({ "rating": "up" }),
    )
    .await
    .expect(404);
    bob.post("/api/v1/sql/execute", json!({ "query_id": id }))
        .await
        .expect(404);
    let bobs = bob.get("/api/v1/queries").await.expect(200);
    assert_eq!(bobs["total"], 0, "{bobs}");
    let alices = alice.get("/api/v1/queries").await.expect(200);
    assert_eq!(alices["total"], 1);

    // Analysts see everyone's history on the connections they reach.
    analyst
        .get(&format!("/api/v1/queries/{id}"))
        .await
        .expect(200);
    let all = analyst.get("/api/v1/queries").await.expect(200);
    assert!(all["total"].as_u64().unwrap() >= 1);
    // ...and nothing on connections they were not granted.
    let outsider = app.user_with_grants(Role::Analyst, &[]).await;
    outsider
        .get(&format!("/api/v1/queries/{id}"))
        .await
        .expect(404);
    let none = outsider.get("/api/v1/queries").await.expect(200);
    assert_eq!(none["total"], 0, "{none}");
}
