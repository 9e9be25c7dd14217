//! Issue 13, part C: lockout per (username, address), `insight user
//! unlock`, sessions revoked at once (logout, disable), bounded paging,
//! readiness details for admins only, and SQLite connections fenced in.

use insight::config::Config;
use insight::domain::Role;
use serde_json::{Value, json};

use crate::util::{Running, TEST_PASSWORD, TestApp, insight_cmd, serve_router};

/// Behind a trusted proxy (the test client is 127.0.0.1), so each request
/// can claim its own client address.
fn behind_proxy(c: &mut Config) {
    let env = [(
        "INSIGHT_AUTH__TRUSTED_PROXIES".to_string(),
        "[\"127.0.0.1\"]".to_string(),
    )];
    c.auth.trusted_proxies = Config::load_from(None, &env)
        .expect("config")
        .auth
        .trusted_proxies;
}

fn str_of(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key}: {v}"))
        .to_string()
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out() {
    let app = TestApp::builder()
        .config(|c| {
            behind_proxy(c);
            c.auth.login.max_failures_per_username = 3;
            c.auth.login.max_failures_per_ip = 5;
        })
        .spawn()
        .await;
    let owner = app.login_as(Role::Analyst).await;
    let stranger = "203.0.113.9";
    for _ in 0..3 {
        app.login_from(stranger, &owner.username, "wrong-password")
            .await
            .expect(401);
    }
    // The stranger is locked out of this name, even with the password...
    let r = app
        .login_from(stranger, &owner.username, TEST_PASSWORD)
        .await;
    assert_eq!(r.status.as_u16(), 429, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    // ...its owner, from their own address, is not.
    app.login_from("198.51.100.7", &owner.username, TEST_PASSWORD)
        .await
        .expect(200);

    // The per-address limit counts failures on every name.
    let spray = "203.0.113.50";
    for i in 0..5 {
        app.login_from(spray, &format!("nobody-{i}"), "wrong-password")
            .await
            .expect(401);
    }
    let r = app.login_from(spray, &owner.username, TEST_PASSWORD).await;
    assert_eq!(r.status.as_u16(), 429, "{}", r.body);
    app.login_from("198.51.100.7", &owner.username, TEST_PASSWORD)
        .await
        .expect(200);
}

#[tokio::test]
async fn user_unlock_forgets_failed_logins() {
    let app = TestApp::builder()
        .config(|c| c.auth.login.max_failures_per_username = 2)
        .spawn()
        .await;
    let viewer = app.login_as(Role::Viewer).await;
    for _ in 0..2 {
        app.login_from("127.0.0.1", &viewer.username, "wrong-password")
            .await
            .expect(401);
    }
    app.login_from("127.0.0.1", &viewer.username, TEST_PASSWORD)
        .await
        .expect(429);
    let unlock = |name: &str| {
        insight_cmd(app.dir.path())
            .env("INSIGHT_DATA_DIR", app.dir.path())
            .args(["user", "unlock", name])
            .output()
            .unwrap()
    };
    let out = unlock(&viewer.username);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unlocked"));
    app.login_from("127.0.0.1", &viewer.username, TEST_PASSWORD)
        .await
        .expect(200);
    let out = unlock("no-such-user");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no user named `no-such-user`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let audit = app.get("/api/v1/admin/audit?limit=100").await.expect(200);
    assert!(audit.to_string().contains("user.unlock"), "{audit}");
}

#[tokio::test]
async fn logout_revokes_the_access_token_at_once() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let pair = app
        .login_from("127.0.0.1", &viewer.username, TEST_PASSWORD)
        .await
        .expect(200);
    let session = app.with_token(&str_of(&pair, "access_token"));
    session.get("/api/v1/auth/me").await.expect(200);
    session
        .post(
            "/api/v1/auth/logout",
            json!({ "refresh_token": pair["refresh_token"] }),
        )
        .await
        .expect(204);
    let r = session.get("/api/v1/auth/me").await;
    r.expect_error(401, "unauthorized");
    // Signing in again works at once.
    let again = app
        .login_from("127.0.0.1", &viewer.username, TEST_PASSWORD)
        .await
        .expect(200);
    app.with_token(&str_of(&again, "access_token"))
        .get("/api/v1/auth/me")
        .await
        .expect(200);
}

#[tokio::test]
async fn re_enabling_a_user_revives_no_old_credential() {
    let app = TestApp::spawn().await;
    let viewer = app.login_as(Role::Viewer).await;
    let key = str_of(
        &viewer
            .post("/api/v1/auth/api-keys", json!({ "name": "script" }))
            .await
            .expect(201),
        "key",
    );
    let pair = app
        .login_from("127.0.0.1", &viewer.username, TEST_PASSWORD)
        .await
        .expect(200);
    let user = format!("/api/v1/admin/users/{}", viewer.id);
    app.patch(&user, json!({ "disabled": true }))
        .await
        .expect(200);
    app.patch(&user, json!({ "disabled": false }))
        .await
        .expect(200);
    app.with_token(&str_of(&pair, "access_token"))
        .get("/api/v1/auth/me")
        .await
        .expect(401);
    viewer.get("/api/v1/auth/me").await.expect(401);
    app.with_token(&key)
        .get("/api/v1/auth/me")
        .await
        .expect(401);
    app.anonymous()
        .post(
            "/api/v1/auth/refresh",
            json!({ "refresh_token": pair["refresh_token"] }),
        )
        .await
        .expect(401);
    // The user signs in afresh.
    let fresh = app
        .login_from("127.0.0.1", &viewer.username, TEST_PASSWORD)
        .await
        .expect(200);
    app.with_token(&str_of(&fresh, "access_token"))
        .get("/api/v1/auth/me")
        .await
        .expect(200);
}

#[tokio::test]
async fn paging_parameters_are_bounded_on_every_list() {
    let app = TestApp::spawn().await;
    app.ask("How many customers are there?").await.expect(200);
    let viewer = app.login_as(Role::Viewer).await;
    viewer.ask("How many orders are there?").await.expect(200);
    for list in [
        "/api/v1/queries",
        "/api/v1/training",
        "/api/v1/admin/users",
        "/api/v1/admin/audit",
        "/api/v1/admin/jobs",
    ] {
        for bad in [
            "offset=18446744073709551615",
            "offset=1000001",
            "offset=-1",
            "limit=0",
            "limit=101",
        ] {
            let r = app.get(&format!("{list}?{bad}")).await;
            r.expect_error_in(format_args!("{list}?{bad}"), 400, "bad_request");
        }
        let last = app.get(&format!("{list}?offset=1000000")).await.expect(200);
        assert_eq!(last["items"].as_array().map(Vec::len), Some(0), "{list}");
    }
    // A viewer's own history too (and before: u64::MAX wrapped to page one).
    viewer
        .get("/api/v1/queries?offset=18446744073709551615")
        .await
        .expect(400);
    let page = viewer.get("/api/v1/queries?offset=1").await.expect(200);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
}

#[tokio::test]
async fn readiness_details_are_for_admins_and_the_metrics_listener() {
    let app = TestApp::spawn().await;
    // A failing connection puts a path and a driver error into the checks.
    std::fs::remove_file(app.dir.path().join("demo.db")).unwrap();
    let dir = app.dir.path().display().to_string();

    let anonymous = app.anonymous().get("/health/ready").await.expect(200);
    assert_eq!(anonymous["status"], "degraded", "{anonymous}");
    assert!(anonymous.get("checks").is_none(), "{anonymous}");
    let text = anonymous.to_string();
    assert!(!text.contains("demo") && !text.contains(&dir), "{text}");
    let viewer = app.login_as(Role::Viewer).await;
    let seen = viewer.get("/health/ready").await.expect(200);
    assert!(seen.get("checks").is_none(), "{seen}");
    let forged = app
        .with_token("not-a-token")
        .get("/health/ready")
        .await
        .expect(200);
    assert!(forged.get("checks").is_none(), "{forged}");

    let admin = app.get("/health/ready").await.expect(200);
    assert_eq!(admin["checks"]["connection:demo"]["status"], "degraded");
    assert!(admin["checks"]["connection:demo"]["error"].is_string());
    let key = str_of(
        &app.post("/api/v1/auth/api-keys", json!({ "name": "probe" }))
            .await
            .expect(201),
        "key",
    );
    let by_key = reqwest::Client::new()
        .get(format!("{}/health/ready", app.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    let by_key = TestApp::reply(by_key).await.expect(200);
    assert!(by_key["checks"]["app_store"].is_object(), "{by_key}");

    // The metrics listener, out of API clients' reach, shows everything.
    let addr = serve_router(insight::api::metrics_router(app.state.clone())).await;
    let r = reqwest::get(format!("http://{addr}/health/ready"))
        .await
        .unwrap();
    let body = TestApp::reply(r).await.expect(200);
    assert_eq!(body["checks"]["connection:demo"]["status"], "degraded");
}

#[tokio::test]
async fn sqlite_connections_stay_inside_their_roots() {
    let app = TestApp::spawn().await;
    let data = app.dir.path();
    let databases = data.join("databases");
    std::fs::create_dir_all(&databases).unwrap();
    std::fs::copy(data.join("demo.db"), databases.join("shop.db")).unwrap();
    std::fs::copy(data.join("demo.db"), data.join("outside.db")).unwrap();
    std::fs::write(databases.join("notes.db"), "not a database").unwrap();
    std::os::unix::fs::symlink(data.join("insight.db"), databases.join("store.db")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", databases.join("passwd.db")).unwrap();
    let create = |id: &str, path: String| {
        app.post(
            "/api/v1/admin/connections",
            json!({ "id": id, "dialect": "sqlite", "dsn": format!("sqlite://{path}") }),
        )
    };
    let path = |p: &std::path::Path| p.display().to_string();
    for (id, target, why) in [
        ("passwd", "/etc/passwd".to_string(), "system directory"),
        (
            "environ",
            "/proc/self/environ".to_string(),
            "system directory",
        ),
        ("store", path(&data.join("insight.db")), "app store"),
        ("store_link", path(&databases.join("store.db")), "app store"),
        (
            "passwd_link",
            path(&databases.join("passwd.db")),
            "system directory",
        ),
        ("folder", path(&databases), "not a regular file"),
        (
            "notes",
            path(&databases.join("notes.db")),
            "not a SQLite database",
        ),
        ("outside", path(&data.join("outside.db")), "outside"),
        ("dotdot", path(&databases.join("../outside.db")), "outside"),
        (
            "missing",
            path(&databases.join("nope.db")),
            "does not exist",
        ),
    ] {
        let r = create(id, target).await;
        r.expect_error_in(id, 400, "bad_request");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{id}: {message}");
    }
    let listed = app.get("/api/v1/admin/connections").await.expect(200);
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");

    // Inside the root, and the demo database's own file, work.
    create("shop", path(&databases.join("shop.db")))
        .await
        .expect(201);
    create("demo_copy", path(&data.join("demo.db")))
        .await
        .expect(201);
    app.post(
        "/api/v1/sql/execute",
        json!({ "connection": "shop", "sql": "SELECT count(*) FROM customers" }),
    )
    .await
    .expect(200);
    // A DSN changed later is checked the same way.
    let r = app
        .patch(
            "/api/v1/admin/connections/shop",
            json!({ "dsn": format!("sqlite://{}", path(&data.join("insight.db"))) }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
}

/// A real `insight serve` (text logs, statements logged by sqlx at debug):
/// a username cannot forge a log line, and logged SQL carries no literal.
#[tokio::test]
async fn logs_cannot_be_forged_and_carry_no_sql_literal() {
    use std::time::Duration;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let password = "Log-Test-Admin-Password-1";
    let server = Running::serve(
        insight_cmd(dir.path())
            .args(["serve", "--port", "0"])
            .env("INSIGHT_ADMIN_PASSWORD", password)
            .env("INSIGHT_LOG_FORMAT", "text")
            .env("RUST_LOG", "info,sqlx=debug"),
    );
    let base = server.base.clone();
    let mut lines = server.lines.clone();
    let client = reqwest::Client::new();
    let forged = "eve\n2026-12-07T00:00:00.000000Z  INFO insight: FORGED login ok user.name=admin\u{1b}[2J\0";
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": forged, "password": "whatever-it-is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "admin", "password": password }))
        .send()
        .await
        .unwrap();
    let token = str_of(&r.json::<Value>().await.unwrap(), "access_token");
    let r = client
        .post(format!("{base}/api/v1/sql/execute"))
        .bearer_auth(&token)
        .json(&json!({ "sql": "SELECT count(*) FROM customers WHERE name = 'NeedleSecret' OR id = 987654321" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    lines.extend(server.lines_within(Duration::from_secs(2)));
    drop(server);

    let log = lines.join("\n");
    let failed = lines
        .iter()
        .find(|l| l.contains("login failed"))
        .unwrap_or_else(|| panic!("no `login failed` line:\n{log}"));
    assert!(failed.contains("eve\\n2026"), "{failed}");
    assert!(failed.contains("\\x1b[2J\\x00"), "{failed}");
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("FORGED") && !l.contains("login failed")),
        "a forged line:\n{log}"
    );
    assert!(!log.contains('\u{1b}') && !log.contains('\0'), "{log:?}");
    // sqlx logged the statement — without its literals.
    assert!(
        lines.iter().any(|l| l.contains("sqlx::query")
            && l.contains("customers")
            && l.contains("name = ?")),
        "the statement is logged, literals replaced:\n{log}"
    );
    assert!(!log.contains("NeedleSecret"), "{log}");
    assert!(!log.contains("987654321"), "{log}");
}

#[tokio::test]
async fn a_stored_connection_outside_the_fence_is_skipped_at_start() {
    use insight::domain::ConnectionId;
    use insight::store::connections::{StoredConnection, StoredConnectionSettings};

    let first = TestApp::spawn().await;
    let data = first.dir.path().to_path_buf();
    // Stored before the fence existed: one pointing at the app store itself,
    // one at the demo database (allowed).
    for (id, file) in [("sneaky", "insight.db"), ("fine", "demo.db")] {
        let dsn = format!("sqlite://{}", data.join(file).display());
        let sc = StoredConnection {
            id: id.into(),
            dialect: "sqlite".into(),
            description: None,
            dsn_encrypted: Some(first.state.auth.dsn_cipher.encrypt(id, &dsn).unwrap()),
            settings: StoredConnectionSettings::default(),
            created_at: String::new(),
            updated_at: String::new(),
        };
        first
            .state
            .engine
            .store
            .insert_connection(&sc)
            .await
            .unwrap();
    }
    // The next start on the same data dir registers only the allowed one.
    let mut config = Config::load_from(None, &[]).unwrap();
    config.data_dir = data;
    insight::config::secrets::ensure_dev_secrets(&mut config).unwrap();
    let next = insight::app::App::build(
        config,
        insight::app::AppOverrides {
            llm: None,
            store: None,
        },
    )
    .await
    .unwrap();
    let id = |s: &str| ConnectionId::parse(s).unwrap();
    assert!(next.engine.connections.get(&id("fine")).is_some());
    assert!(next.engine.connections.get(&id("sneaky")).is_none());
}
