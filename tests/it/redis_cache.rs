//! The Redis cache against real Redis servers: the shared one from the test
//! script, and a private `redis-server` this test starts and kills to check
//! the fallback.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use insight::cache::redis::RedisCache;

use crate::util::TestApp;

fn redis_url() -> Option<String> {
    crate::util::service_url("INSIGHT_TEST_REDIS_URL", "Redis")
}

#[tokio::test]
async fn redis_cache_sets_gets_expires_and_deletes() {
    let Some(url) = redis_url() else { return };
    let cache = RedisCache::connect(&url).await.unwrap();
    let key = format!("insight-test:{}", uuid::Uuid::new_v4());
    cache
        .try_set(&key, b"hello".to_vec(), Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(
        cache.try_get(&key).await.unwrap().as_deref(),
        Some(&b"hello"[..])
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(cache.try_get(&key).await.unwrap(), None, "expired");
    cache
        .try_set(&key, b"x".to_vec(), Duration::from_secs(30))
        .await
        .unwrap();
    cache.try_delete(&key).await.unwrap();
    assert_eq!(cache.try_get(&key).await.unwrap(), None);
    cache.try_ping().await.unwrap();
}

struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut me = Self {
            port,
            child: Some(child),
        };
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(me);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        me.stop();
        None
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

    async fn keys(&self) -> usize {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let n: i64 = redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap();
        n as usize
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

use crate::util::free_port;

#[tokio::test]
async fn the_service_keeps_answering_when_redis_dies_and_uses_it_again_when_back() {
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
    let port = free_port();
    let mut redis = PrivateRedis::start(port).expect("private redis starts");
    let url = redis.url();
    let app = TestApp::builder()
        .config(move |c| c.redis_url = Some(url.into()))
        .spawn()
        .await;

    let first = app.ask("How many products are there?").await.expect(200);
    assert_eq!(first["cached"], false);
    assert!(
        redis.keys().await >= 1,
        "the generated SQL is cached in Redis"
    );
    let again = app.ask("How many products are there?").await.expect(200);
    assert_eq!(again["cached"], true, "{again}");
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["checks"]["cache"]["status"], "ok", "{ready}");

    // Redis dies: answers keep coming, readiness says degraded.
    redis.stop();
    let r = app.ask("How many employees are there?").await.expect(200);
    assert_eq!(r["row_count"], 1);
    let r = app.ask("How many employees are there?").await.expect(200);
    assert_eq!(
        r["cached"], true,
        "the in-process fallback caches meanwhile: {r}"
    );
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["checks"]["cache"]["status"], "degraded");

    // Redis is back: after the retry interval the shared cache is used again.
    let redis = PrivateRedis::start(port).expect("private redis restarts");
    assert_eq!(redis.keys().await, 0, "a fresh server");
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["checks"]["cache"]["status"], "ok", "{ready}");
    app.ask("How many orders are there?").await.expect(200);
    assert!(redis.keys().await >= 1, "new entries land in Redis again");
    let cache = &app.state.engine.cache;
    assert_eq!(cache.name(), "redis");
}
