//! Graceful shutdown of the real binary: SIGTERM stops accepting, lets the
//! in-flight request finish, and the process exits cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_insight"))
        .args(["serve", "--port", "0"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("INSIGHT_DATA_DIR", dir.path().join("data"))
        .env("INSIGHT_ADMIN_PASSWORD", "shutdown-test-admin-password")
        .env("INSIGHT_QUERY__TIMEOUT_SECS", "20")
        // The in-flight query below is slow on purpose: above the default
        // SQLite step budget, which would stop it early.
        .env("INSIGHT_BUDGETS__DEFAULTS__MAX_STEPS", "1000000000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("server printed its address");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    // The first start created `admin` with INSIGHT_ADMIN_PASSWORD.
    let token = crate::util::login(
        &reqwest::Client::new(),
        &base,
        "admin",
        "shutdown-test-admin-password",
    )
    .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    // A query that takes a while (counting a large recursive sequence).
    let slow = tokio::spawn({
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .post(format!("{base}/api/v1/sql/execute"))
                .json(&serde_json::json!({"sql": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000000) SELECT count(*) FROM n"}))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let resp = slow
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["rows"][0][0], 3_000_000);
    // New connections are refused once the server has stopped.
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(client.get(format!("{base}/health")).send().await.is_err());
}
