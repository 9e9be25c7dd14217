//! `TestApp`: a real instance of the service on 127.0.0.1:0 with a temporary
//! data dir (SQLite app store, generated demo database), plus helpers that
//! read like the API.
//!
//! Every `/api/v1` route needs a signed-in caller: `TestApp`'s own helpers and
//! `app.client` act as an admin created at spawn; `app.login_as(Role::Viewer)`
//! and `app.anonymous()` give callers with other rights; `app.login(…)` is
//! the real sign-in round trip and `app.with_token(…)` a caller holding any
//! token. `mock_llm` is the one mock LLM peer; `process` runs the real
//! binary.

#![allow(dead_code)]

pub mod mock_llm;
mod process;

pub use process::{Running, insight_cmd, run_with_stdin};

use std::sync::Arc;

use insight::app::{App, AppOverrides, AppState};
use insight::config::Config;
use insight::domain::Role;
use insight::engine::llm::LlmProvider;
use insight::store::grants::Grant;
use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;

pub struct TestApp {
    pub base: String,
    /// Sends `Authorization: Bearer <admin access token>` on every request.
    pub client: reqwest::Client,
    pub admin: TestUser,
    pub state: AppState,
    pub dir: TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Assert the status, printing the body when it differs.
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }

    /// Assert an error reply: the status, the common error body shape
    /// ([`error_code`]) and its `error.code`, printing the body when any
    /// differs.
    pub fn expect_error(&self, status: u16, code: &str) {
        self.expect_error_in("", status, code);
    }

    /// [`Reply::expect_error`] with `context` (the case of a table, the
    /// request) in the failure message.
    pub fn expect_error_in(&self, context: impl std::fmt::Display, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), error_code(&self.body).as_str()),
            (status, code),
            "{context}: unexpected error reply; body: {}",
            self.body
        );
    }
}

type ConfigEdit = Box<dyn FnOnce(&mut Config)>;

#[derive(Default)]
pub struct TestAppBuilder {
    configure: Vec<ConfigEdit>,
    llm: Option<Arc<dyn LlmProvider>>,
}

impl TestAppBuilder {
    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    pub fn llm(mut self, llm: Arc<dyn LlmProvider>) -> Self {
        self.llm = Some(llm);
        self
    }

    pub async fn spawn(self) -> TestApp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::load_from(None, &[]).expect("default config");
        config.data_dir = dir.path().to_path_buf();
        // Generous limits so suites are not throttled; rate-limit tests lower them.
        let r = &mut config.auth.rate_limit;
        r.viewer_per_minute = 100_000;
        r.analyst_per_minute = 100_000;
        r.admin_per_minute = 100_000;
        r.anonymous_per_minute = 100_000;
        for f in self.configure {
            f(&mut config);
        }
        insight::config::secrets::ensure_dev_secrets(&mut config).expect("dev secrets");
        let app = App::build(
            config,
            AppOverrides {
                llm: self.llm,
                store: None,
            },
        )
        .await
        .expect("app builds");
        let state = AppState(Arc::new(app));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            let _ = insight::api::serve(
                listener,
                serve_state,
                async move {
                    let _ = rx.await;
                },
                std::time::Duration::from_secs(5),
            )
            .await;
        });
        let base = format!("http://{addr}");
        let admin = TestUser::create(&state, &base, "admin", Role::Admin, &[]).await;
        TestApp {
            client: admin.client.clone(),
            admin,
            base,
            state,
            dir,
            shutdown: Some(tx),
        }
    }
}

/// A user of the test app with a signed-in client.
pub struct TestUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub token: String,
    pub client: reqwest::Client,
    base: String,
}

/// The password every `TestUser` gets (for login tests).
pub const TEST_PASSWORD: &str = "correct-horse-battery-staple";

fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

/// One Argon2id hash of `TEST_PASSWORD`, shared by all test users (hashing
/// is deliberately slow).
fn test_password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| insight::auth::passwords::hash_blocking(TEST_PASSWORD).expect("hash"))
}

impl TestUser {
    /// Create a user in the store with `grants`, and sign a token for it
    /// (no login round trip).
    pub async fn create(
        state: &AppState,
        base: &str,
        username: &str,
        role: Role,
        grants: &[Grant],
    ) -> TestUser {
        let store = &state.engine.store;
        let hash = tokio::task::spawn_blocking(test_password_hash)
            .await
            .expect("hash task");
        let user = store
            .create_user(username, hash, role)
            .await
            .expect("create user");
        if !grants.is_empty() {
            store.set_grants(&user.id, grants).await.expect("grants");
        }
        let token = state.auth.jwt().issue(&user.id, role).expect("token");
        TestUser {
            client: bearer_client(&token),
            id: user.id,
            username: user.username,
            role,
            token,
            base: base.to_string(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        send(self.client.get(format!("{}{path}", self.base))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        send(self.client.post(format!("{}{path}", self.base)).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        send(self.client.put(format!("{}{path}", self.base)).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        send(
            self.client
                .patch(format!("{}{path}", self.base))
                .json(&body),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        send(self.client.delete(format!("{}{path}", self.base))).await
    }

    pub async fn ask(&self, question: &str) -> Reply {
        self.post("/api/v1/ask", serde_json::json!({ "question": question }))
            .await
    }
}

async fn send(req: reqwest::RequestBuilder) -> Reply {
    TestApp::reply(req.send().await.expect("request")).await
}

impl TestApp {
    /// A new user with `role`, granted the demo connection, signed in.
    pub async fn login_as(&self, role: Role) -> TestUser {
        let grant = Grant {
            connection: "demo".into(),
            allowed_tables: None,
        };
        self.user_with_grants(role, &[grant]).await
    }

    /// A new user with `role` and exactly `grants`, signed in.
    pub async fn user_with_grants(&self, role: Role, grants: &[Grant]) -> TestUser {
        let name = format!(
            "{}-{}",
            role,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        TestUser::create(&self.state, &self.base, &name, role, grants).await
    }

    /// `POST /api/v1/auth/login` as an anonymous caller.
    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.anonymous()
            .post(
                "/api/v1/auth/login",
                serde_json::json!({ "username": username, "password": password }),
            )
            .await
    }

    /// `POST /api/v1/auth/login` claiming the client `address` through
    /// `X-Forwarded-For` (honoured when the app trusts 127.0.0.1 as a proxy).
    pub async fn login_from(&self, address: &str, username: &str, password: &str) -> Reply {
        send(
            reqwest::Client::new()
                .post(format!("{}/api/v1/auth/login", self.base))
                .header("x-forwarded-for", address)
                .json(&serde_json::json!({ "username": username, "password": password })),
        )
        .await
    }

    /// A caller sending `Authorization: Bearer <token>`.
    pub fn with_token(&self, token: &str) -> TestUser {
        TestUser {
            client: bearer_client(token),
            token: token.to_string(),
            ..self.anonymous()
        }
    }

    /// A caller without credentials.
    pub fn anonymous(&self) -> TestUser {
        TestUser {
            id: String::new(),
            username: String::new(),
            role: Role::Viewer,
            token: String::new(),
            client: reqwest::Client::new(),
            base: self.base.clone(),
        }
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    pub async fn spawn() -> TestApp {
        Self::builder().spawn().await
    }

    pub async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        Self::reply(resp).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        Self::reply(resp).await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Reply {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        Self::reply(resp).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.admin.put(path, body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.admin.patch(path, body).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        let resp = self
            .client
            .delete(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        Self::reply(resp).await
    }

    /// `POST /api/v1/ask` on the demo connection.
    pub async fn ask(&self, question: &str) -> Reply {
        self.post("/api/v1/ask", serde_json::json!({ "question": question }))
            .await
    }

    /// Run SQL directly on the demo database (read-write, outside the service),
    /// to check what the service did or did not change.
    pub async fn demo_scalar(&self, sql: &'static str) -> i64 {
        let path = self.dir.path().join("demo.db");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true);
        let mut conn = sqlx::ConnectOptions::connect(&opts)
            .await
            .expect("open demo db");
        sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .expect("scalar")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Assert the common error body shape and return `error.code`.
pub fn error_code(body: &Value) -> String {
    let err = &body["error"];
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error message missing: {body}"
    );
    assert!(
        err["correlation_id"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "correlation id missing: {body}"
    );
    err["code"].as_str().expect("error code").to_string()
}

/// The URL of a test server from `var` (set by `scripts/services.sh`), or
/// `None` with a notice saying how to get it. Under `CI=true` a missing
/// server is a failure, never a skip.
pub fn service_url(var: &str, server: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{var} is not set: CI must run the {server} tests against a real server"
            );
            eprintln!("skipping: set {var} or run ./scripts/test, which starts {server}");
            None
        }
    }
}

/// Log in to a running `insight serve` at `base`; the access token.
pub async fn login(http: &reqwest::Client, base: &str, username: &str, password: &str) -> String {
    let reply: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login request")
        .json()
        .await
        .expect("login reply");
    reply["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {reply}"))
        .to_string()
}

/// Serve `router` on a free local port until the test ends; its address.
pub async fn serve_router(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// A port nothing listens on right now (for a process the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The data of the first `event` in a server-sent event stream's `text`,
/// parsed as JSON; panics (showing the stream) when there is none.
pub fn sse_event(text: &str, event: &str) -> Value {
    let marker = format!("event: {event}");
    let data = text
        .lines()
        .skip_while(|l| *l != marker)
        .nth(1)
        .and_then(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no {event} event: {text}"));
    serde_json::from_str(data).unwrap_or_else(|e| panic!("{event} event is not JSON ({e}): {data}"))
}

/// Every log line of a test's `tracing` subscriber ([`LogCapture::install`]),
/// for tests that read the logs.
#[derive(Clone, Default)]
pub struct LogCapture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Capture every log line up to `level` on this thread until the guard
    /// drops (a current-thread runtime: the server's tasks log here too).
    pub fn install(level: tracing::Level) -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// How many times `needle` occurs in the captured lines.
    pub fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
