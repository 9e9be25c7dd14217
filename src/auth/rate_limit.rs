//! In-process rate limiting: token buckets per caller, and failure counters
//! for login brute force. State lives in memory (one instance per process);
//! a multi-instance deployment divides limits by the instance count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by caller (`user:…`, `key:…`, `ip:…`). A bucket holds
/// `per_minute` tokens and refills at `per_minute` per minute.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn check(&self, key: &str, per_minute: u32) -> Decision {
        self.check_at(key, per_minute, Instant::now())
    }

    pub fn check_at(&self, key: &str, per_minute: u32, now: Instant) -> Decision {
        let capacity = per_minute.max(1) as f64;
        let rate = capacity / 60.0;
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
            limit: per_minute,
            remaining: b.tokens.floor() as u32,
            reset_secs,
            retry_after_secs,
        }
    }
}

/// Counts failures per key in a fixed window; used for login attempts per
/// username and per IP. Success does not reset the IP counter (an attacker
/// with one valid account must not reset it), only the username's.
#[derive(Default)]
pub struct FailureCounter {
    map: Mutex<HashMap<String, (Instant, u32)>>,
}

impl FailureCounter {
    /// `Some(retry_after)` when `key` already has `max` failures in the window.
    pub fn blocked(&self, key: &str, max: u32, window: Duration) -> Option<Duration> {
        let now = Instant::now();
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((start, n)) if *n >= max && now.duration_since(*start) < window => {
                Some(window - now.duration_since(*start))
            }
            _ => None,
        }
    }

    pub fn fail(&self, key: &str, window: Duration) {
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

    pub fn reset(&self, key: &str) {
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
        let l = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(l.check_at("u", 3, t0).allowed, "request {i}");
        }
        let d = l.check_at("u", 3, t0);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(d.retry_after_secs >= 1 && d.retry_after_secs <= 20, "{d:?}");
        assert!(l.check_at("other", 3, t0).allowed, "per key");
        assert!(l.check_at("u", 3, t0 + Duration::from_secs(21)).allowed);
    }

    #[test]
    fn failures_block_after_max() {
        let f = FailureCounter::default();
        let w = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(f.blocked("a", 3, w).is_none());
            f.fail("a", w);
        }
        assert!(f.blocked("a", 3, w).is_some());
        f.reset("a");
        assert!(f.blocked("a", 3, w).is_none());
    }
}
