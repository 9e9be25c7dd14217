//! Rate limits and login failure counters shared through Redis, as two
//! replicas would share them: the shared Redis from the test script for the
//! limits themselves, and a private `redis-server` this test starts and
//! kills to check the in-process fallback and the return to Redis.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use insight::auth::rate_limit::{FailureCounter, Quota, RateLimiter, SharedLimits, redis_key};
use insight::domain::Role;

use crate::util::TestApp;

fn redis_url() -> Option<String> {
    crate::util::service_url("INSIGHT_TEST_REDIS_URL", "Redis")
}

/// One replica's view of Redis: its own connection and outage state.
async fn replica(url: &str) -> Arc<SharedLimits> {
    Arc::new(SharedLimits::connect(url).await.expect("redis url"))
}

async fn pttl(url: &str, key: &str) -> i64 {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn two_replicas_share_one_bucket_and_it_refills() {
    let Some(url) = redis_url() else { return };
    let a = RateLimiter::new(Some(replica(&url).await));
    let b = RateLimiter::new(Some(replica(&url).await));
    let key = format!("test:{}", uuid::Uuid::new_v4());
    // 4 tokens, one more every second.
    let quota = Quota {
        capacity: 4,
        period: Duration::from_secs(4),
    };
    let mut allowed = 0;
    let mut last = None;
    for i in 0..10 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        let d = limiter.check_quota(&key, quota).await;
        assert_eq!(d.limit, 4);
        if d.allowed {
            allowed += 1;
        }
        last = Some(d);
    }
    assert_eq!(allowed, 4, "the two replicas together allow the limit once");
    let refused = last.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    assert_eq!(refused.retry_after_secs, 1, "{refused:?}");
    assert!((1..=4).contains(&refused.reset_secs), "{refused:?}");
    let ttl = pttl(&url, &redis_key("bucket", &key)).await;
    assert!(ttl > 0 && ttl <= 4000, "the bucket key expires: {ttl}");

    // One token comes back after a second, for either replica.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(b.check_quota(&key, quota).await.allowed, "refilled");
    assert!(!a.check_quota(&key, quota).await.allowed, "only one token");
    // Another caller has its own bucket.
    let other = format!("test:{}", uuid::Uuid::new_v4());
    assert!(a.check_quota(&other, quota).await.allowed);
}

#[tokio::test]
async fn two_replicas_share_login_failure_counters() {
    let Some(url) = redis_url() else { return };
    let a = FailureCounter::new(Some(replica(&url).await));
    let b = FailureCounter::new(Some(replica(&url).await));
    let key = format!("login-user:test-{}", uuid::Uuid::new_v4());
    let window = Duration::from_secs(30);
    for i in 0..3 {
        let counter = if i % 2 == 0 { &a } else { &b };
        assert!(counter.blocked(&key, 3, window).await.is_none(), "try {i}");
        counter.fail(&key, window).await;
    }
    let left = a.blocked(&key, 3, window).await.expect("blocked on a");
    assert!(left > Duration::from_secs(25) && left <= window, "{left:?}");
    assert!(b.blocked(&key, 3, window).await.is_some(), "blocked on b");
    assert!(
        b.blocked(&key, 4, window).await.is_none(),
        "under a higher max"
    );
    let ttl = pttl(&url, &redis_key("fail", &key)).await;
    assert!(ttl > 0 && ttl <= 30_000, "the counter expires: {ttl}");

    // A reset on one replica (a successful login) is seen by the other.
    b.reset(&key).await;
    assert!(a.blocked(&key, 3, window).await.is_none());

    // The window is fixed from the first failure and ends by itself.
    let short = Duration::from_millis(400);
    let key2 = format!("login-ip:test-{}", uuid::Uuid::new_v4());
    a.fail(&key2, short).await;
    b.fail(&key2, short).await;
    assert!(a.blocked(&key2, 2, short).await.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(a.blocked(&key2, 2, short).await.is_none(), "window over");
}

#[tokio::test]
async fn a_viewer_over_the_limit_gets_429_through_the_router_with_redis() {
    let Some(url) = redis_url() else { return };
    let app = TestApp::builder()
        .config(move |c| {
            c.redis_url = Some(url.into());
            c.auth.rate_limit.viewer_per_minute = 3;
        })
        .spawn()
        .await;
    assert!(app.state.auth.shared_limits().is_some(), "Redis-backed");
    let alice = app.login_as(Role::Viewer).await;
    for i in 0..3 {
        let r = alice.get("/api/v1/auth/me").await;
        assert_eq!(r.status.as_u16(), 200, "request {i}: {}", r.body);
        assert_eq!(r.headers["ratelimit-limit"], "3");
        assert_eq!(
            r.headers["ratelimit-remaining"].to_str().unwrap(),
            (2 - i).to_string()
        );
    }
    let r = alice.get("/api/v1/auth/me").await;
    r.expect_error(429, "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(r.headers["ratelimit-remaining"], "0");
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["checks"]["rate_limit"]["status"], "ok", "{ready}");
}

struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let mut me = Self {
            port,
            child: Some(child),
        };
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return me;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        me.stop();
        panic!("redis-server did not listen on port {port}");
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn limits_hold_in_process_while_redis_is_down_and_move_back_when_it_returns() {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "redis-server is not installed in CI"
        );
        eprintln!("skipping: redis-server is not installed (apt-get install redis-server)");
        return;
    }
    let port = crate::util::free_port();
    // Capture the logs: the outage and the recovery are each logged once.
    // Current-thread runtime: the server's tasks log on this thread.
    let (capture, _guard) = crate::util::LogCapture::install(tracing::Level::INFO);

    let mut redis = PrivateRedis::start(port);
    let url = redis.url();
    let app_url = url.clone();
    let app = TestApp::builder()
        .config(move |c| c.redis_url = Some(app_url.into()))
        .spawn()
        .await;
    let limiter = &app.state.auth.limiter;
    let shared = app.state.auth.shared_limits().expect("Redis-backed");
    let quota = Quota::per_minute(2);
    let key = "user:outage";

    // Redis in use: two requests, then refused.
    assert!(limiter.check_quota(key, quota).await.allowed);
    assert!(limiter.check_quota(key, quota).await.allowed);
    assert!(!limiter.check_quota(key, quota).await.allowed);
    assert!(pttl(&url, &redis_key("bucket", key)).await > 0);
    assert!(!shared.is_degraded());

    // Redis dies: checks keep answering, from the in-process buckets (which
    // start full), and they still limit.
    redis.stop();
    let started = std::time::Instant::now();
    assert!(limiter.check_quota(key, quota).await.allowed);
    assert!(limiter.check_quota(key, quota).await.allowed);
    let d = limiter.check_quota(key, quota).await;
    assert!(!d.allowed, "still limited in process: {d:?}");
    assert!(d.retry_after_secs >= 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a dead Redis does not stall checks: {:?}",
        started.elapsed()
    );
    assert!(shared.is_degraded());
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(
        ready["checks"]["rate_limit"]["status"], "degraded",
        "{ready}"
    );

    // Redis returns (empty): within a few retry intervals the limiter uses
    // it again, and readiness is back to ok.
    let _redis = PrivateRedis::start(port);
    let mut back = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        limiter.check_quota("user:probe", quota).await;
        if !shared.is_degraded() && pttl(&url, &redis_key("bucket", "user:probe")).await > 0 {
            back = true;
            break;
        }
    }
    assert!(back, "the limiter went back to Redis");
    // The fresh server has a full bucket for the key.
    assert!(limiter.check_quota(key, quota).await.allowed);
    assert!(pttl(&url, &redis_key("bucket", key)).await > 0, "in Redis");
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["checks"]["rate_limit"]["status"], "ok", "{ready}");
    assert_eq!(capture.count("shared rate limiting resumed"), 1);
    assert_eq!(
        capture.count("rate limiting in process until it is back"),
        1
    );
}
