//! Best-effort key/value cache for results that are expensive to recompute
//! (generated SQL per question, schema snapshots).
//!
//! The cache is an optimisation, never a source of truth: a read that fails
//! is a miss and a write that fails is dropped, so the [`Cache`] methods used
//! on the request path return no errors. Only [`Cache::ping`] reports the
//! backend's health, for readiness checks. Values are opaque bytes so the
//! in-process cache and the shared Redis one ([`redis`], when `redis_url` is
//! set) implement the same trait; the typed [`get_json`] / [`set_json`]
//! helpers sit on top of it.
//!
//! Keys are built with [`cache_key`], which hashes their parts so a key stays
//! short whatever the question's length. This module must not know what it
//! caches: callers own their key namespaces and value formats.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub mod redis;

/// Why a cache operation failed. Request-path methods swallow these (a cache
/// failure must not fail a question); they surface from [`Cache::ping`] and
/// [`set_json`].
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache backend unavailable: {0}")]
    Unavailable(String),
    #[error("cache value could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A byte cache with per-entry time to live.
#[async_trait]
pub trait Cache: Send + Sync {
    /// The value stored under `key`, or `None` if absent, expired or the
    /// backend could not be reached.
    async fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Store `value` under `key` for `ttl`, replacing any previous value. A zero
    /// `ttl` removes the key instead: "cache for no time" means "don't cache".
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration);
    async fn delete(&self, key: &str);
    /// Check that the backend answers, for readiness probes.
    async fn ping(&self) -> Result<(), CacheError>;
    /// Short backend name for logs and health output ("memory", "redis").
    fn name(&self) -> &str;
}

/// Decode the JSON value stored under `key`. A value that no longer decodes
/// (written by an older release with another shape) is treated as a miss.
pub async fn get_json<T: DeserializeOwned>(cache: &dyn Cache, key: &str) -> Option<T> {
    let bytes = cache.get(key).await?;
    match serde_json::from_slice(&bytes) {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::debug!(cache.backend = cache.name(), error = %err, "undecodable cache value ignored");
            None
        }
    }
}

/// Store `value` as JSON under `key` for `ttl`. Fails only if `value` cannot be
/// encoded, which is a bug in its `Serialize` impl rather than a cache problem.
pub async fn set_json<T: Serialize + ?Sized>(
    cache: &dyn Cache,
    key: &str,
    value: &T,
    ttl: Duration,
) -> Result<(), CacheError> {
    let bytes = serde_json::to_vec(value)?;
    cache.set(key, bytes, ttl).await;
    Ok(())
}

/// Build a bounded cache key from `parts`: the first part in clear (a
/// namespace, so keys can be told apart when inspecting a shared backend)
/// followed by a 128-bit hash of all parts.
///
/// Each part is length-prefixed before hashing so `["ab", "c"]` and
/// `["a", "bc"]` give different keys. The hash is SHA-256 cut to 128 bits:
/// stable across processes and releases (instances sharing a backend agree
/// on keys) and collision-resistant, so a user cannot craft a question whose
/// key collides with another question's and plant an answer for it.
pub fn cache_key(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update((parts.len() as u64).to_le_bytes());
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let hash = hex::encode(&digest[..16]);
    let namespace: String = parts
        .first()
        .map(|p| {
            p.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .take(32)
                .collect()
        })
        .unwrap_or_default();
    format!("insight:{namespace}:{hash}")
}

/// Counters of a [`MemoryCache`] since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Approximate: the underlying cache applies evictions and expirations
    /// lazily.
    pub entries: u64,
}

/// A stored value with the ttl it was set with.
#[derive(Clone)]
struct Entry {
    bytes: Arc<[u8]>,
    ttl: Duration,
}

/// Gives every entry the ttl it was stored with; a replaced entry restarts
/// its clock, a read does not extend it.
struct PerEntryTtl;

impl moka::Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Entry,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// In-process cache, bounded by entry count (least recently used entries are
/// evicted first when full). Not shared between instances.
pub struct MemoryCache {
    inner: moka::future::Cache<String, Entry>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl MemoryCache {
    pub fn new(max_entries: u64) -> Self {
        let inner = moka::future::Cache::builder()
            .max_capacity(max_entries)
            .expire_after(PerEntryTtl)
            .build();
        Self {
            inner,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.inner.entry_count(),
        }
    }
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.inner.get(key).await {
            Some(entry) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(entry.bytes.to_vec())
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        if ttl.is_zero() {
            self.inner.invalidate(key).await;
            return;
        }
        let entry = Entry {
            bytes: value.into(),
            ttl,
        };
        self.inner.insert(key.to_owned(), entry).await;
    }

    async fn delete(&self, key: &str) {
        self.inner.invalidate(key).await;
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn name(&self) -> &str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn set_get_delete_and_counters() {
        let cache = MemoryCache::new(100);
        assert_eq!(cache.get("k").await, None);
        cache.set("k", b"v1".to_vec(), MINUTE).await;
        assert_eq!(cache.get("k").await.as_deref(), Some(&b"v1"[..]));
        cache.set("k", b"v2".to_vec(), MINUTE).await;
        assert_eq!(cache.get("k").await.as_deref(), Some(&b"v2"[..]));
        cache.delete("k").await;
        assert_eq!(cache.get("k").await, None);

        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (2, 2));
        assert_eq!(cache.name(), "memory");
        assert!(cache.ping().await.is_ok());
    }

    #[tokio::test]
    async fn entries_expire_after_their_own_ttl() {
        let cache = MemoryCache::new(100);
        cache
            .set("short", b"s".to_vec(), Duration::from_millis(50))
            .await;
        cache.set("long", b"l".to_vec(), MINUTE).await;
        assert!(cache.get("short").await.is_some());
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(cache.get("short").await, None);
        assert_eq!(cache.get("long").await.as_deref(), Some(&b"l"[..]));
    }

    #[tokio::test]
    async fn replacing_a_value_applies_the_new_ttl() {
        let cache = MemoryCache::new(100);
        cache.set("k", b"a".to_vec(), MINUTE).await;
        cache
            .set("k", b"b".to_vec(), Duration::from_millis(50))
            .await;
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(cache.get("k").await, None);
    }

    #[tokio::test]
    async fn zero_ttl_removes_the_key() {
        let cache = MemoryCache::new(100);
        cache.set("k", b"a".to_vec(), MINUTE).await;
        cache.set("k", b"b".to_vec(), Duration::ZERO).await;
        assert_eq!(cache.get("k").await, None);
    }

    #[tokio::test]
    async fn capacity_is_bounded() {
        let cache = MemoryCache::new(10);
        for i in 0..200 {
            cache.set(&format!("k{i}"), vec![0; 8], MINUTE).await;
        }
        cache.inner.run_pending_tasks().await;
        assert!(cache.stats().entries <= 10, "{:?}", cache.stats());
    }

    #[tokio::test]
    async fn json_round_trip_through_dyn_cache() {
        #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
        struct Generated {
            sql: String,
            tokens: u32,
        }
        let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(100));
        let value = Generated {
            sql: "SELECT 1".into(),
            tokens: 7,
        };
        set_json(cache.as_ref(), "g", &value, MINUTE).await.unwrap();
        let back: Option<Generated> = get_json(cache.as_ref(), "g").await;
        assert_eq!(back, Some(value));

        // A value of another shape reads as a miss rather than an error.
        cache.set("g", b"not json".to_vec(), MINUTE).await;
        assert_eq!(get_json::<Generated>(cache.as_ref(), "g").await, None);
        assert_eq!(get_json::<Generated>(cache.as_ref(), "absent").await, None);
    }

    #[test]
    fn cache_keys_are_stable_bounded_and_unambiguous() {
        let a = cache_key(&["sql", "demo", "how many customers?"]);
        assert_eq!(a, cache_key(&["sql", "demo", "how many customers?"]));
        assert!(a.starts_with("insight:sql:"));
        assert_eq!(a.len(), "insight:sql:".len() + 32);

        assert_ne!(cache_key(&["ab", "c"]), cache_key(&["a", "bc"]));
        assert_ne!(cache_key(&["a", ""]), cache_key(&["a"]));
        assert_ne!(a, cache_key(&["sql", "demo", "how many customers"]));

        let long = "x".repeat(10_000);
        assert_eq!(cache_key(&["sql", &long]).len(), a.len());
        // The namespace is sanitised and bounded too.
        let odd = cache_key(&["a b:c/d", "x"]);
        assert!(odd.starts_with("insight:abcd:"), "{odd}");
        assert_eq!(cache_key(&[]).len(), "insight::".len() + 32);
    }

    #[test]
    fn cache_key_is_pinned() {
        // Instances sharing a backend must agree on keys across releases;
        // changing the hash is a deliberate, visible decision.
        // (Value computed independently with Python's hashlib.)
        assert_eq!(
            cache_key(&["sql", "demo"]),
            "insight:sql:6dabde56d589f6a76a7b64ef81e4feb3"
        );
    }
}
