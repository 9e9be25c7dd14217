//! Graceful shutdown of the real binary: SIGTERM stops accepting, lets the
//! in-flight request finish, and the process exits cleanly.

use std::time::{Duration, Instant};

use crate::util::{Running, insight_cmd};

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::serve(
        insight_cmd(dir.path())
            .args(["serve", "--port", "0"])
            .env("INSIGHT_ADMIN_PASSWORD", "shutdown-test-admin-password")
            .env("INSIGHT_QUERY__TIMEOUT_SECS", "20")
            // The in-flight query below is slow on purpose: above the default
            // SQLite step budget, which would stop it early.
            .env("INSIGHT_BUDGETS__DEFAULTS__MAX_STEPS", "1000000000"),
    );
    let base = server.base.clone();
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
    server.sigterm();
    let resp = slow
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["rows"][0][0], 3_000_000);
    // New connections are refused once the server has stopped.
    let status = server.wait().await;
    assert!(status.success(), "exit status {status:?}");
    assert!(client.get(format!("{base}/health")).send().await.is_err());
}

/// A rolling update as Kubernetes does it: SIGTERM, readiness turns 503
/// while the server keeps serving for `server.drain_secs`, the load balancer
/// (here: a probe loop) stops routing once it has seen the 503 plus a
/// propagation delay, and only then does the server stop accepting. Clients
/// sending traffic throughout see no failed request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_without_failing_a_request() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const DRAIN_SECS: u64 = 3;
    let dir = tempfile::tempdir().unwrap();
    let server = Running::serve(
        insight_cmd(dir.path())
            .args(["serve", "--port", "0"])
            .env("INSIGHT_ADMIN_PASSWORD", "drain-test-admin-password")
            .env("INSIGHT_SERVER__DRAIN_SECS", DRAIN_SECS.to_string())
            .env("INSIGHT_SERVER__SHUTDOWN_GRACE_SECS", "5"),
    );
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    // Traffic: four clients (kept-alive connections) in a loop.
    let routed = Arc::new(AtomicBool::new(true));
    let served = Arc::new(AtomicUsize::new(0));
    let served_after_term = Arc::new(AtomicUsize::new(0));
    let terminated = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let load: Vec<_> = (0..4)
        .map(|i| {
            let (client, base) = (client.clone(), base.clone());
            let (routed, served, failures) = (routed.clone(), served.clone(), failures.clone());
            let (terminated, served_after_term) = (terminated.clone(), served_after_term.clone());
            tokio::spawn(async move {
                let path = if i % 2 == 0 {
                    "/health"
                } else {
                    "/openapi.json"
                };
                while routed.load(Ordering::SeqCst) {
                    match client.get(format!("{base}{path}")).send().await {
                        Ok(r) if r.status().is_success() => {
                            served.fetch_add(1, Ordering::SeqCst);
                            if terminated.load(Ordering::SeqCst) {
                                served_after_term.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        Ok(r) => failures
                            .lock()
                            .unwrap()
                            .push(format!("{path}: {}", r.status())),
                        Err(e) => failures.lock().unwrap().push(format!("{path}: {e}")),
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let term_at = Instant::now();
    terminated.store(true, Ordering::SeqCst);
    server.sigterm();
    // The "load balancer": a readiness probe every 100 ms; after the first
    // 503 it keeps routing for one more second (endpoint propagation).
    let unready_after = loop {
        let r = client
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .expect("the server still answers while draining");
        if r.status().as_u16() == 503 {
            let body: serde_json::Value = r.json().await.unwrap();
            // Anonymous callers see the status only (the checks are for admins).
            assert_eq!(body["status"], "down", "{body}");
            break term_at.elapsed();
        }
        assert!(
            term_at.elapsed() < Duration::from_secs(2),
            "readiness never turned 503"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    routed.store(false, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(
        served_after_term.load(Ordering::SeqCst) > 20,
        "traffic was served after SIGTERM: {} of {}",
        served_after_term.load(Ordering::SeqCst),
        served.load(Ordering::SeqCst)
    );
    assert!(unready_after < Duration::from_secs(1), "{unready_after:?}");

    // It stops only after the drain, and exits cleanly.
    let status = server.wait().await;
    let exited_after = term_at.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        exited_after >= Duration::from_secs(DRAIN_SECS),
        "exited {exited_after:?} after SIGTERM, before the {DRAIN_SECS} s drain"
    );
    assert!(client.get(format!("{base}/health")).send().await.is_err());
}

/// `insight worker` serves liveness, readiness and metrics on its own port
/// (and nothing of the API), and leaves cleanly on SIGTERM.
#[tokio::test]
async fn worker_serves_health_and_metrics_on_its_own_port() {
    let dir = tempfile::tempdir().unwrap();
    let worker = Running::start(
        insight_cmd(dir.path())
            .arg("worker")
            .env("INSIGHT_SERVER__METRICS_ADDR", "127.0.0.1:0"),
        "health and metrics on http://",
    );
    let base = worker.base.clone();
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).send();
    let live: serde_json::Value = get("/health").await.unwrap().json().await.unwrap();
    assert_eq!(live["status"], "ok");
    let ready = get("/health/ready").await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["app_store"]["status"], "ok", "{body}");
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(metrics.contains("insight_build_info"), "{metrics}");
    // The worker's port is not an API.
    assert_eq!(get("/api/v1/auth/me").await.unwrap().status().as_u16(), 404);
    assert_eq!(get("/openapi.json").await.unwrap().status().as_u16(), 404);

    worker.sigterm();
    let status = worker.wait().await;
    assert!(status.success(), "exit status {status:?}");
    assert!(get("/health").await.is_err());
}
