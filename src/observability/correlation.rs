//! Correlation ids: the per-request id that appears in the request span,
//! the `X-Correlation-ID` response header and every error body.
//!
//! Owned here, outside `api`, so that the error type (`crate::error`) and
//! the HTTP middleware that sets the id (`api::middleware::correlation`) both
//! depend on this module instead of on each other. It holds no HTTP types:
//! the middleware reads and writes the header, this module keeps the id for
//! the duration of the request (a task-local).

use std::future::Future;

tokio::task_local! {
    static CORRELATION_ID: String;
}

/// The current request's correlation id, when called inside a request.
pub fn current_correlation_id() -> Option<String> {
    CORRELATION_ID.try_with(|id| id.clone()).ok()
}

/// Run `fut` with `id` as the current correlation id.
pub async fn scope<F: Future>(id: String, fut: F) -> F::Output {
    CORRELATION_ID.scope(id, fut).await
}

/// Is a client-supplied id acceptable as is? 1–128 chars of
/// `[A-Za-z0-9._:-]`: safe in a header, a log line and a Sentry tag.
pub fn is_valid(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The id carried in request extensions for handlers.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_is_visible_inside_its_scope_only() {
        assert_eq!(current_correlation_id(), None);
        let seen = scope("c-1".to_string(), async { current_correlation_id() }).await;
        assert_eq!(seen.as_deref(), Some("c-1"));
        assert_eq!(current_correlation_id(), None);
    }

    #[test]
    fn client_ids_are_checked() {
        assert!(is_valid("abc-123_x.y:z"));
        assert!(!is_valid(""));
        assert!(!is_valid(&"a".repeat(129)));
        assert!(!is_valid("has space"));
        assert!(!is_valid("new\nline"));
    }
}
