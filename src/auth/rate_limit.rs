//! Rate limiting: token buckets per caller, and failure counters for login
//! brute force.
//!
//! Without Redis the state lives in this process, so a deployment of N
//! replicas effectively allows N times each limit. With `redis_url` set the
//! state lives in Redis ([`SharedLimits`]) and every replica draws from the
//! same buckets and counters. Each decision is one Lua script run atomically
//! by Redis (EVALSHA, loaded on first use): reading the bucket in Rust and
//! writing it back would let two replicas spend the same token. The scripts
//! take the time from Redis (`TIME`), so replicas with skewed clocks agree.
//!
//! Redis going away must not turn limits off, nor stall requests: on the
//! first failed command the limiter falls back to the in-process state, logs
//! the outage once (and its end once), readiness reports `rate_limit` as
//! degraded, and Redis is tried again at most every [`RETRY_AFTER`]. Keys are
//! `insight:rl:…` and always carry a TTL, so idle callers leave nothing behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Longest a limiter command may take before it counts as a failure: a
/// limiter that waits on a sick Redis would slow down every request.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
/// How long to stay on the in-process fallback before trying Redis again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Namespace of every key the limiter writes.
const KEY_PREFIX: &str = "insight:rl:";
/// Longer caller keys (usernames come from the request) are hashed.
const MAX_KEY_LEN: usize = 128;

/// What a limiter said about one request, for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again (`RateLimit-Reset`).
    pub reset_secs: u64,
    /// Seconds until one more request is allowed (`Retry-After`), when refused.
    pub retry_after_secs: u64,
}

/// A bucket of `capacity` tokens that refills completely in `period`
/// (`per_minute` limits are `period = 60 s`).
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub capacity: u32,
    pub period: Duration,
}

impl Quota {
    pub fn per_minute(n: u32) -> Self {
        Self {
            capacity: n,
            period: Duration::from_secs(60),
        }
    }

    fn capacity_f64(&self) -> f64 {
        self.capacity.max(1) as f64
    }

    /// Tokens per second.
    fn rate(&self) -> f64 {
        self.capacity_f64() / self.period.as_secs_f64().max(0.001)
    }
}

/// Token buckets keyed by caller (`user:…`, `key:…`, `ip:…`), shared through
/// Redis when it is configured and reachable, in process otherwise.
#[derive(Default)]
pub struct RateLimiter {
    local: LocalBuckets,
    shared: Option<Arc<SharedLimits>>,
}

impl RateLimiter {
    pub fn new(shared: Option<Arc<SharedLimits>>) -> Self {
        Self {
            local: LocalBuckets::default(),
            shared,
        }
    }

    /// Take one token from `key`'s bucket of `per_minute` tokens.
    pub async fn check(&self, key: &str, per_minute: u32) -> Decision {
        self.check_quota(key, Quota::per_minute(per_minute)).await
    }

    pub async fn check_quota(&self, key: &str, quota: Quota) -> Decision {
        if let Some(shared) = self.shared.as_ref().filter(|s| s.due()) {
            match shared.take_token(key, quota).await {
                Ok(d) => {
                    shared.on_success();
                    return d;
                }
                Err(e) => shared.on_failure(&e),
            }
        }
        self.local.check_at(key, quota, Instant::now())
    }
}

/// Counts failures per key in a fixed window (from the first failure); used
/// for login attempts per username and per IP. Shared through Redis like
/// [`RateLimiter`].
#[derive(Default)]
pub struct FailureCounter {
    local: LocalFailures,
    shared: Option<Arc<SharedLimits>>,
}

impl FailureCounter {
    pub fn new(shared: Option<Arc<SharedLimits>>) -> Self {
        Self {
            local: LocalFailures::default(),
            shared,
        }
    }

    /// `Some(retry_after)` when `key` already has `max` failures in the
    /// window. Failures counted in process during a Redis outage still
    /// count after it, until their window ends.
    pub async fn blocked(&self, key: &str, max: u32, window: Duration) -> Option<Duration> {
        let local = self.local.blocked(key, max, window);
        if let Some(shared) = self.shared.as_ref().filter(|s| s.due()) {
            match shared.failures(key).await {
                Ok((n, ttl)) => {
                    shared.on_success();
                    if n >= u64::from(max) {
                        return Some(ttl.max(local.unwrap_or_default()));
                    }
                }
                Err(e) => shared.on_failure(&e),
            }
        }
        local
    }

    pub async fn fail(&self, key: &str, window: Duration) {
        if let Some(shared) = self.shared.as_ref().filter(|s| s.due()) {
            match shared.add_failure(key, window).await {
                Ok(()) => {
                    shared.on_success();
                    return;
                }
                Err(e) => shared.on_failure(&e),
            }
        }
        self.local.fail(key, window);
    }

    /// Forget `key`'s failures, everywhere: a stale in-process count must not
    /// outlive a reset.
    pub async fn reset(&self, key: &str) {
        self.local.reset(key);
        if let Some(shared) = self.shared.as_ref().filter(|s| s.due()) {
            match shared.clear_failures(key).await {
                Ok(()) => shared.on_success(),
                Err(e) => shared.on_failure(&e),
            }
        }
    }
}

/// Token bucket: refill by elapsed time, take one token if there is one,
/// keep the key only until the bucket would be full again (a full bucket is
/// the same as no key). Returns {allowed, remaining, ms until full, ms until
/// the next token when refused}.
const TAKE_TOKEN: &str = r"
local capacity = tonumber(ARGV[1])
local period_ms = tonumber(ARGV[2])
local rate = capacity / period_ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
local full_ms = math.ceil((capacity - tokens) / rate)
local retry_ms = 0
if allowed == 0 then
  retry_ms = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.max(full_ms, 1))
return {allowed, math.floor(tokens), full_ms, retry_ms}
";

/// Count one failure; the window starts with the first one.
const ADD_FAILURE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
";

/// {failures in the window, ms left in it}.
const FAILURES: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
";

/// The Redis side of the limiter, shared by the rate limiter and the
/// failure counters (one connection, one outage state).
pub struct SharedLimits {
    conn: ConnectionManager,
    take_token: redis::Script,
    add_failure: redis::Script,
    failures: redis::Script,
    /// `true` while Redis is considered down.
    degraded: AtomicBool,
    /// When Redis last failed, to space out retries.
    failed_at: Mutex<Option<Instant>>,
}

impl SharedLimits {
    /// Connect to Redis. A malformed URL is an error; a server that is down
    /// at startup is not: the limiter starts on the in-process fallback and
    /// keeps trying.
    pub async fn connect(url: &str) -> Result<Self, String> {
        let client = crate::cache::redis::client(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let connected = tokio::time::timeout(
            Duration::from_secs(3),
            ConnectionManager::new_with_config(client.clone(), config.clone()),
        )
        .await;
        let (conn, down) = match connected {
            Ok(Ok(conn)) => (conn, None),
            Ok(Err(e)) => (lazy(client, config)?, Some(e.to_string())),
            Err(_) => (lazy(client, config)?, Some("no answer from Redis".into())),
        };
        let me = Self {
            conn,
            take_token: redis::Script::new(TAKE_TOKEN),
            add_failure: redis::Script::new(ADD_FAILURE),
            failures: redis::Script::new(FAILURES),
            degraded: AtomicBool::new(false),
            failed_at: Mutex::new(None),
        };
        if let Some(e) = down {
            tracing::warn!(error = %e, "Redis unavailable at startup: rate limiting in process until it is back");
            me.degraded.store(true, Ordering::Relaxed);
            *me.failed_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
        Ok(me)
    }

    /// Is the limiter running on its in-process fallback?
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// For readiness: fails while Redis is down (and notices a recovery).
    pub async fn ping(&self) -> Result<(), String> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let result =
            match tokio::time::timeout(COMMAND_TIMEOUT, cmd.query_async::<String>(&mut conn)).await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("Redis did not answer in time".to_string()),
            };
        match result {
            Ok(()) => {
                self.on_success();
                Ok(())
            }
            Err(e) => {
                self.on_failure(&e);
                Err(format!("Redis: {e}; limiting in process (per instance)"))
            }
        }
    }

    fn due(&self) -> bool {
        if !self.degraded.load(Ordering::Relaxed) {
            return true;
        }
        let guard = self.failed_at.lock().unwrap_or_else(|p| p.into_inner());
        guard.is_none_or(|at| at.elapsed() >= RETRY_AFTER)
    }

    fn on_failure(&self, e: &str) {
        *self.failed_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %e, "Redis unavailable: rate limiting in process until it is back");
        }
    }

    fn on_success(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("Redis is back: shared rate limiting resumed");
        }
    }

    async fn invoke<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        key: String,
        args: &[u64],
    ) -> Result<T, String> {
        let mut conn = self.conn.clone();
        let mut invocation = script.key(key);
        for a in args {
            invocation.arg(*a);
        }
        match tokio::time::timeout(COMMAND_TIMEOUT, invocation.invoke_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("Redis did not answer in time".into()),
        }
    }

    async fn take_token(&self, key: &str, quota: Quota) -> Result<Decision, String> {
        let period_ms = (quota.period.as_millis() as u64).max(1);
        let (allowed, remaining, full_ms, retry_ms): (i64, i64, i64, i64) = self
            .invoke(
                &self.take_token,
                redis_key("bucket", key),
                &[u64::from(quota.capacity.max(1)), period_ms],
            )
            .await?;
        let allowed = allowed == 1;
        Ok(Decision {
            allowed,
            limit: quota.capacity,
            remaining: remaining.clamp(0, i64::from(u32::MAX)) as u32,
            reset_secs: ceil_secs(full_ms),
            retry_after_secs: if allowed {
                0
            } else {
                ceil_secs(retry_ms).max(1)
            },
        })
    }

    async fn add_failure(&self, key: &str, window: Duration) -> Result<(), String> {
        let window_ms = (window.as_millis() as u64).max(1);
        self.invoke::<i64>(&self.add_failure, redis_key("fail", key), &[window_ms])
            .await
            .map(|_| ())
    }

    /// Failures in the window and the time left in it.
    async fn failures(&self, key: &str) -> Result<(u64, Duration), String> {
        let (n, ttl_ms): (i64, i64) = self
            .invoke(&self.failures, redis_key("fail", key), &[])
            .await?;
        Ok((n.max(0) as u64, Duration::from_millis(ttl_ms.max(0) as u64)))
    }

    async fn clear_failures(&self, key: &str) -> Result<(), String> {
        let mut conn = self.conn.clone();
        let cmd = redis::Cmd::del(redis_key("fail", key));
        match tokio::time::timeout(COMMAND_TIMEOUT, cmd.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("Redis did not answer in time".into()),
        }
    }
}

/// A manager that connects on first use (Redis is down right now).
fn lazy(
    client: redis::Client,
    config: ConnectionManagerConfig,
) -> Result<ConnectionManager, String> {
    ConnectionManager::new_lazy_with_config(client, config).map_err(|e| e.to_string())
}

/// `insight:rl:<what>:<caller key>`, the caller key hashed when long.
pub fn redis_key(what: &str, key: &str) -> String {
    if key.len() <= MAX_KEY_LEN {
        format!("{KEY_PREFIX}{what}:{key}")
    } else {
        format!("{KEY_PREFIX}{what}:h:{}", super::secure::sha256_hex(key))
    }
}

fn ceil_secs(ms: i64) -> u64 {
    (ms.max(0) as u64).div_ceil(1000)
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The in-process token buckets (the default, and the fallback).
#[derive(Default)]
struct LocalBuckets {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl LocalBuckets {
    fn check_at(&self, key: &str, quota: Quota, now: Instant) -> Decision {
        let capacity = quota.capacity_f64();
        let rate = quota.rate();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // Drop buckets that have refilled: they carry no state.
            map.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < capacity
            });
        }
        let b = map.entry(key.to_string()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(capacity);
        b.updated = now;
        let allowed = b.tokens >= 1.0;
        if allowed {
            b.tokens -= 1.0;
        }
        let reset_secs = ((capacity - b.tokens) / rate).ceil() as u64;
        let retry_after_secs = if allowed {
            0
        } else {
            ((1.0 - b.tokens) / rate).ceil().max(1.0) as u64
        };
        Decision {
            allowed,
            limit: quota.capacity,
            remaining: b.tokens.floor() as u32,
            reset_secs,
            retry_after_secs,
        }
    }
}

/// The in-process failure counters (the default, and the fallback).
#[derive(Default)]
struct LocalFailures {
    map: Mutex<HashMap<String, (Instant, u32)>>,
}

impl LocalFailures {
    fn blocked(&self, key: &str, max: u32, window: Duration) -> Option<Duration> {
        let now = Instant::now();
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((start, n)) if *n >= max && now.duration_since(*start) < window => {
                Some(window - now.duration_since(*start))
            }
            _ => None,
        }
    }

    fn fail(&self, key: &str, window: Duration) {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let e = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(e.0) >= window {
            *e = (now, 0);
        }
        e.1 += 1;
    }

    fn reset(&self, key: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_n_then_refuses_then_refills() {
        let l = LocalBuckets::default();
        let q = Quota::per_minute(3);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(l.check_at("u", q, t0).allowed, "request {i}");
        }
        let d = l.check_at("u", q, t0);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(d.retry_after_secs >= 1 && d.retry_after_secs <= 20, "{d:?}");
        assert!(l.check_at("other", q, t0).allowed, "per key");
        assert!(l.check_at("u", q, t0 + Duration::from_secs(21)).allowed);
    }

    #[tokio::test]
    async fn without_redis_the_limiter_is_in_process() {
        let l = RateLimiter::default();
        assert!(l.check("u", 1).await.allowed);
        let d = l.check("u", 1).await;
        assert!(!d.allowed);
        assert_eq!(d.limit, 1);
    }

    #[tokio::test]
    async fn failures_block_after_max() {
        let f = FailureCounter::default();
        let w = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(f.blocked("a", 3, w).await.is_none());
            f.fail("a", w).await;
        }
        assert!(f.blocked("a", 3, w).await.is_some());
        f.reset("a").await;
        assert!(f.blocked("a", 3, w).await.is_none());
    }

    #[test]
    fn keys_are_namespaced_and_bounded() {
        assert_eq!(redis_key("bucket", "user:1"), "insight:rl:bucket:user:1");
        let long = redis_key("fail", &"x".repeat(10_000));
        assert!(long.starts_with("insight:rl:fail:h:"), "{long}");
        assert!(long.len() < 100, "{long}");
    }
}
