//! The published API contract: generated from the code, committed, offline docs.

use crate::util::TestApp;

#[tokio::test]
async fn committed_openapi_json_matches_the_code() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let served = resp.text().await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "OpenAPI 3.1"
    );
    for path in [
        "/api/v1/ask",
        "/api/v1/ask/stream",
        "/api/v1/sql/generate",
        "/api/v1/sql/validate",
        "/api/v1/sql/execute",
        "/api/v1/queries",
        "/api/v1/queries/{id}",
        "/api/v1/queries/{id}/feedback",
        "/api/v1/training",
        "/api/v1/training/{id}",
        "/api/v1/training/{id}/approve",
        "/api/v1/connections",
        "/health",
        "/health/ready",
        "/metrics",
        "/metrics/json",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the document"
        );
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());

    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&file, format!("{served}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    if let Some((line, (was, now))) = first_difference(&committed, &served) {
        panic!(
            "openapi.json is out of date (line {line}: committed {was:?}, served {now:?}): \
             run `UPDATE_OPENAPI=1 cargo test --test it openapi` and commit it"
        );
    }
}

/// The first line (1-based) where `a` and `b` differ, trailing whitespace of
/// the whole text aside; a missing line shows as `""`.
fn first_difference<'t>(a: &'t str, b: &'t str) -> Option<(usize, (&'t str, &'t str))> {
    let (mut a, mut b) = (a.trim_end().lines(), b.trim_end().lines());
    (1..).find_map(|n| match (a.next(), b.next()) {
        (None, None) => Some(None),
        (x, y) if x != y => Some(Some((n, (x.unwrap_or(""), y.unwrap_or(""))))),
        _ => None,
    })?
}

#[test]
fn first_difference_names_the_line() {
    assert_eq!(first_difference("a\nb\n", "a\nb"), None);
    assert_eq!(first_difference("a\nb", "a\nc"), Some((2, ("b", "c"))));
    assert_eq!(first_difference("a", "a\nc"), Some((2, ("", "c"))));
}

#[tokio::test]
async fn docs_page_works_offline() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the docs page must not load anything from the internet: {html}"
    );
    let js = app
        .client
        .get(format!("{}/docs/swagger-ui-bundle.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status().as_u16(), 200, "assets are embedded");
    // The page reads the document the API serves; the old address still answers it.
    let text = |path: &'static str| {
        let request = app.client.get(format!("{}{path}", app.base)).send();
        async move { request.await.unwrap().text().await.unwrap() }
    };
    let init = text("/docs/swagger-initializer.js").await;
    assert!(init.contains("\"/openapi.json\""), "{init}");
    let served = text("/openapi.json").await;
    assert!(served.contains("\"openapi\""));
    assert_eq!(text("/docs/openapi.json").await, served);
}
