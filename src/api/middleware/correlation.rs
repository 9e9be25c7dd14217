//! Correlation ids: accept a client's `X-Correlation-ID` when it is sane
//! (see [`is_valid`]), otherwise generate one; put it in the request span,
//! the task-local of [`crate::observability::correlation`] (so error bodies
//! can carry it), and the response header. A W3C `traceparent` header makes
//! the request span continue the caller's trace. The same layer rewrites
//! error responses that did not come from our handlers (axum rejections,
//! 404/405 fallbacks, timeouts, body limits) into our JSON error body, so
//! every error looks the same.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

pub const HEADER: HeaderName = HeaderName::from_static("x-correlation-id");

pub use crate::observability::correlation::{CorrelationId, current_correlation_id, is_valid};

pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(CorrelationId(id.clone()));
    let method = req.method().clone();
    let path = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        // Raw paths of unmatched requests would make unbounded label values.
        .unwrap_or_else(|| "unmatched".to_string());
    let span = tracing::info_span!(
        "request",
        correlation_id = %id,
        http.method = %method,
        http.route = %path,
        trace_id = tracing::field::Empty,
        // Filled by the `Principal` extractor once the caller is known.
        user.id = tracing::field::Empty,
    );
    if let Some(traceparent) = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        crate::observability::otlp::continue_trace(&span, traceparent);
    }
    if let Some(t) = crate::observability::otlp::trace_id_of(&span) {
        span.record("trace_id", t.as_str());
    }
    let started = std::time::Instant::now();
    let id_for_scope = id.clone();
    let mut resp = crate::observability::correlation::scope(
        id_for_scope,
        async move {
            let resp = next.run(req).await;
            normalise_error(resp).await
        }
        .instrument(span.clone()),
    )
    .await;
    let elapsed = started.elapsed();
    crate::observability::metrics::http_request(
        method.as_str(),
        &path,
        resp.status().as_u16(),
        elapsed,
    );
    let _enter = span.enter();
    tracing::info!(
        http.status = resp.status().as_u16(),
        duration_ms = elapsed.as_millis() as u64,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    resp
}

/// Replace a non-JSON error response with our error body.
async fn normalise_error(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    // Keep the rejection's own text (axum explains what was wrong), bounded.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "No such route.".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "This method is not allowed on this route.".to_string(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "The request body is larger than the limit.".to_string(),
        ),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "The request took too long.".to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "Send JSON with `Content-Type: application/json`.".to_string(),
        ),
        s if s.is_server_error() => (
            "internal",
            "Something went wrong on our side. Report the correlation id if it persists."
                .to_string(),
        ),
        _ => (
            "bad_request",
            if text.is_empty() {
                "The request is invalid.".to_string()
            } else {
                text
            },
        ),
    };
    let mut out = crate::error::error_response(status, code, message, None);
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}
