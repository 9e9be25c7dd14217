//! Redis behind the [`Cache`] trait, with a fallback that keeps the service
//! answering when Redis goes away.
//!
//! [`RedisCache`] is a thin client (a `ConnectionManager` that reconnects by
//! itself) with a short timeout on every command. [`FallbackCache`] puts it in
//! front of an in-process [`MemoryCache`]: while Redis fails, reads and writes
//! go to memory, readiness reports the cache as degraded, and the outage is
//! logged once (and its end once), not per request. Redis is tried again at
//! most every few seconds, so a dead server costs nothing per request.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Cache, CacheError, MemoryCache};

/// Longest a cache command may take before it counts as a failure.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
/// How long to stay on the fallback before trying Redis again.
const RETRY_AFTER: Duration = Duration::from_secs(3);

/// Insert `password` into a Redis URL that has none (`INSIGHT_REDIS_PASSWORD`).
pub fn url_with_password(url: &str, password: Option<&str>) -> String {
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return url.to_string();
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.contains('@') {
        return url.to_string();
    }
    let encoded: String = password
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{}", hex::encode_upper([other])),
        })
        .collect();
    format!("{scheme}://:{encoded}@{rest}")
}

/// A Redis-backed cache. Keys are namespaced by the caller (`cache_key`).
/// A Redis client for `url`: `redis://` in clear, `rediss://` over TLS
/// (rustls with the ring provider, server verified against the system's
/// certificate roots or the file named by `SSL_CERT_FILE`).
pub fn client(url: &str) -> Result<redis::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    redis::Client::open(url).map_err(|e| e.to_string())
}

#[derive(Clone)]
pub struct RedisCache {
    conn: ConnectionManager,
}

impl RedisCache {
    /// Connect (and fail fast when the server is not there). `rediss://`
    /// connects over TLS, verifying the server against the system's
    /// certificate roots (or the file named by `SSL_CERT_FILE`).
    pub async fn connect(url: &str) -> Result<Self, CacheError> {
        let client = client(url).map_err(CacheError::Unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            Duration::from_secs(3),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| CacheError::Unavailable("no answer from Redis".into()))?
        .map_err(|e| CacheError::Unavailable(e.to_string()))?;
        Ok(Self { conn })
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, CacheError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(COMMAND_TIMEOUT, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(CacheError::Unavailable(e.to_string())),
            Err(_) => Err(CacheError::Unavailable(
                "Redis did not answer in time".into(),
            )),
        }
    }

    pub async fn try_get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.run(redis::Cmd::get(key)).await
    }

    pub async fn try_set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        if ttl.is_zero() {
            return self.try_delete(key).await;
        }
        let ms = ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("PX").arg(ms);
        self.run::<()>(cmd).await
    }

    pub async fn try_delete(&self, key: &str) -> Result<(), CacheError> {
        self.run::<()>(redis::Cmd::del(key)).await
    }

    pub async fn try_ping(&self) -> Result<(), CacheError> {
        self.run::<String>(redis::cmd("PING")).await.map(|_| ())
    }
}

/// Redis first, memory while Redis is down.
pub struct FallbackCache {
    redis: RedisCache,
    memory: MemoryCache,
    /// `true` while Redis is considered down.
    degraded: AtomicBool,
    /// When Redis last failed, to space out retries.
    failed_at: Mutex<Option<Instant>>,
}

impl FallbackCache {
    pub fn new(redis: RedisCache, memory: MemoryCache) -> Self {
        Self {
            redis,
            memory,
            degraded: AtomicBool::new(false),
            failed_at: Mutex::new(None),
        }
    }

    /// Connect to Redis; when it is down at startup, start on the fallback
    /// (and keep trying) instead of refusing to start.
    pub async fn connect(url: &str, memory: MemoryCache) -> Result<Self, CacheError> {
        match RedisCache::connect(url).await {
            Ok(redis) => Ok(Self::new(redis, memory)),
            Err(e) => {
                // A malformed URL is a configuration error, not an outage.
                if client(url).is_err() {
                    return Err(e);
                }
                tracing::warn!(error = %e, "Redis unavailable at startup: caching in process until it is back");
                let client = client(url).map_err(CacheError::Unavailable)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(COMMAND_TIMEOUT));
                // A lazy manager: it connects on first use.
                let conn = ConnectionManager::new_lazy_with_config(client, config)
                    .map_err(|e| CacheError::Unavailable(e.to_string()))?;
                let cache = Self::new(RedisCache { conn }, memory);
                cache.degraded.store(true, Ordering::Relaxed);
                *cache.failed_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                Ok(cache)
            }
        }
    }

    /// Is Redis worth trying now?
    fn redis_due(&self) -> bool {
        if !self.degraded.load(Ordering::Relaxed) {
            return true;
        }
        let guard = self.failed_at.lock().unwrap_or_else(|p| p.into_inner());
        guard.is_none_or(|at| at.elapsed() >= RETRY_AFTER)
    }

    fn on_failure(&self, e: &CacheError) {
        *self.failed_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %e, "Redis unavailable: caching in process until it is back");
        }
    }

    fn on_success(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("Redis is back: shared caching resumed");
        }
    }

    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Cache for FallbackCache {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        if self.redis_due() {
            match self.redis.try_get(key).await {
                Ok(v) => {
                    self.on_success();
                    return v;
                }
                Err(e) => self.on_failure(&e),
            }
        }
        self.memory.get(key).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        if self.redis_due() {
            match self.redis.try_set(key, value.clone(), ttl).await {
                Ok(()) => {
                    self.on_success();
                    return;
                }
                Err(e) => self.on_failure(&e),
            }
        }
        self.memory.set(key, value, ttl).await;
    }

    async fn delete(&self, key: &str) {
        // Delete everywhere: a stale fallback entry must not outlive it.
        self.memory.delete(key).await;
        if self.redis_due() {
            match self.redis.try_delete(key).await {
                Ok(()) => self.on_success(),
                Err(e) => self.on_failure(&e),
            }
        }
    }

    /// Fails while Redis is down, so readiness reports `degraded`.
    async fn ping(&self) -> Result<(), CacheError> {
        match self.redis.try_ping().await {
            Ok(()) => {
                self.on_success();
                Ok(())
            }
            Err(e) => {
                self.on_failure(&e);
                Err(CacheError::Unavailable(format!(
                    "Redis: {e}; serving from the in-process cache"
                )))
            }
        }
    }

    fn name(&self) -> &str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_injected_only_when_missing() {
        assert_eq!(
            url_with_password("redis://cache:6379/0", Some("p@ss word")),
            "redis://:p%40ss%20word@cache:6379/0"
        );
        assert_eq!(
            url_with_password("redis://:x@cache:6379", Some("y")),
            "redis://:x@cache:6379"
        );
        assert_eq!(
            url_with_password("redis://cache:6379", None),
            "redis://cache:6379"
        );
        assert_eq!(
            url_with_password("redis://cache:6379", Some("")),
            "redis://cache:6379"
        );
    }
}
