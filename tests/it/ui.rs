//! The web UI's server side: pages and assets with their own CSP, charts
//! drawn as SVG from the spec an answer carries (or from rows), and the admin
//! dashboard's figures. The pages themselves are tested in a real browser by
//! `scripts/ui-test`.

use insight::domain::Role;
use serde_json::json;

use crate::util::TestApp;

fn header<'a>(r: &'a crate::util::Reply, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn pages_and_assets_are_served_with_a_policy_without_inline_script() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    for path in ["/", "/ui", "/ui/login", "/ui/ask", "/ui/admin/users"] {
        let r = anon.get(path).await;
        assert_eq!(r.status.as_u16(), 200, "{path}");
        assert!(
            header(&r, "content-type").starts_with("text/html"),
            "{path}"
        );
        let csp = header(&r, "content-security-policy");
        assert_eq!(csp, insight::ui::PAGE_CSP, "{path}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(header(&r, "x-frame-options"), "DENY");
        let html = r.body.as_str().unwrap();
        assert!(html.contains("<script type=\"module\" src=\"/assets/app.js\">"));
    }
    for (asset, kind) in [
        ("app.js", "text/javascript"),
        ("api.js", "text/javascript"),
        ("pages.js", "text/javascript"),
        ("admin.js", "text/javascript"),
        ("dom.js", "text/javascript"),
        ("app.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
        ("thumb.svg", "image/svg+xml"),
    ] {
        let r = anon.get(&format!("/assets/{asset}")).await;
        assert_eq!(r.status.as_u16(), 200, "{asset}");
        assert!(header(&r, "content-type").starts_with(kind), "{asset}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    }
    assert_eq!(anon.get("/assets/nope.js").await.status.as_u16(), 404);
    assert_eq!(anon.get("/assets/../Cargo.toml").await.status.as_u16(), 404);
    // The JSON API keeps its load-nothing policy.
    let r = anon.get("/api/v1/auth/me").await;
    assert_eq!(
        header(&r, "content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[tokio::test]
async fn an_answers_chart_is_drawn_as_svg() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let answer = viewer
        .ask("How many customers are there in each country?")
        .await
        .expect(200);
    assert_eq!(answer["chart"]["mark"], "bar");

    let r = viewer
        .post("/api/v1/charts/svg", json!({ "spec": answer["chart"] }))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert!(header(&r, "content-type").starts_with("image/svg+xml"));
    let svg = r.body.as_str().unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    let bars = svg.matches("<rect class=\"mark\"").count();
    assert_eq!(bars as u64, answer["row_count"].as_u64().unwrap());
    let first_country = answer["rows"][0][0].as_str().unwrap();
    assert!(svg.contains(first_country), "labels drawn");

    // The same chart from the rows (reopened history, edited SQL).
    let from_rows = viewer
        .post(
            "/api/v1/charts/svg",
            json!({ "columns": answer["columns"], "rows": answer["rows"] }),
        )
        .await
        .expect(200);
    assert_eq!(from_rows.as_str().unwrap(), svg);
}

#[tokio::test]
async fn chart_input_is_checked_and_text_escaped() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    // Rows no chart fits: 204, nothing drawn.
    let r = viewer
        .post(
            "/api/v1/charts/svg",
            json!({ "columns": [{"name": "name", "type": "TEXT"}, {"name": "email", "type": "TEXT"}],
                    "rows": [["a", "b"]] }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);

    for (body, needle) in [
        (json!({}), "either `spec`"),
        (
            json!({ "spec": {"mark": "bar"}, "rows": [] }),
            "either `spec`",
        ),
        (
            json!({ "spec": {"mark": "arc", "data": {"values": []}} }),
            "`arc`",
        ),
        (
            json!({ "spec": {"mark": "bar", "data": {"values": [{"a": 1}]}} }),
            "encoding.x.field",
        ),
        (json!({ "spec": [1, 2] }), "JSON object"),
        (json!({ "spec": {}, "colour": "red" }), "colour"),
    ] {
        let r = viewer.post("/api/v1/charts/svg", body.clone()).await;
        assert_eq!(r.status.as_u16(), 400, "{body}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "bad_request");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{body}: {}",
            r.body
        );
        assert!(r.body["error"]["correlation_id"].is_string());
    }

    let hostile = json!({ "spec": {
        "mark": "bar",
        "data": {"values": [{"k": "<script>alert(1)</script>", "n\"><img src=x>": 1}, {"k": "a&b", "n\"><img src=x>": 2}]},
        "encoding": {"x": {"field": "k", "type": "nominal"}, "y": {"field": "n\"><img src=x>", "type": "quantitative"}},
    }});
    let svg = viewer
        .post("/api/v1/charts/svg", hostile)
        .await
        .expect(200)
        .as_str()
        .unwrap()
        .to_string();
    assert!(!svg.contains("<script") && !svg.contains("<img"), "{svg}");
    assert!(
        svg.contains("&lt;script&gt;") && svg.contains("a&amp;b"),
        "{svg}"
    );
    assert_eq!(svg.matches("<rect class=\"mark\"").count(), 2, "{svg}");
    assert!(svg.contains("n&quot;&gt;&lt;img src=x&gt;"), "{svg}");

    let r = app
        .anonymous()
        .post("/api/v1/charts/svg", json!({ "spec": {} }))
        .await;
    assert_eq!(r.status.as_u16(), 401);
}

#[tokio::test]
async fn the_dashboard_counts_questions_feedback_and_tables() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let first = viewer
        .ask("How many customers are there in each country?")
        .await
        .expect(200);
    viewer.ask("How many products are there?").await.expect(200);
    let qid = first["query_id"].as_str().unwrap();
    viewer
        .post(
            &format!("/api/v1/queries/{qid}/feedback"),
            json!({ "rating": "up" }),
        )
        .await
        .expect(201);

    let s = app.get("/api/v1/admin/stats?days=7").await.expect(200);
    assert_eq!(s["days"], 7);
    assert_eq!(s["questions"], 2, "{s}");
    assert_eq!(s["answered"], 2);
    assert_eq!(s["answer_rate"], 1.0);
    assert_eq!(
        (s["thumbs_up"].as_u64(), s["thumbs_down"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(s["thumbs_up_ratio"], 1.0);
    assert!(s["p95_latency_ms"].is_u64(), "{s}");
    let per_day = s["per_day"].as_array().unwrap();
    assert_eq!(per_day.len(), 7);
    assert_eq!(per_day[6]["questions"], 2);
    let tables: Vec<&str> = s["top_tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(
        tables.contains(&"customers") && tables.contains(&"products"),
        "{s}"
    );
    // The default window is 30 days; bad windows are refused with a reason.
    let d = app.get("/api/v1/admin/stats").await.expect(200);
    assert_eq!(d["per_day"].as_array().unwrap().len(), 30);
    for bad in ["days=0", "days=367", "days=x", "window=3"] {
        let r = app.get(&format!("/api/v1/admin/stats?{bad}")).await;
        assert_eq!(r.status.as_u16(), 400, "{bad}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "bad_request");
    }
    // Only admins see the figures.
    for role in [Role::Viewer, Role::Analyst] {
        let user = app.login_as(role).await;
        let r = user.get("/api/v1/admin/stats").await;
        assert_eq!(r.status.as_u16(), 403, "{role}");
        assert_eq!(r.body["error"]["code"], "forbidden");
    }
}
