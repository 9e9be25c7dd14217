//! `GET /health` (liveness: the process answers) and `GET /health/ready`
//! (readiness: each dependency checked in parallel with a short timeout).
//!
//! `ready` answers 503 while the instance drains after SIGTERM, and when the
//! app store — without which nothing works — is down; a failing target connection, cache, shared rate limiter
//! (`rate_limit`, present when limits live in Redis) or LLM provider gives
//! 200 with `"status": "degraded"` and the failing check named.
//!
//! Who sees what: an anonymous (or non-admin) caller gets the overall status
//! only — enough for a load balancer or a probe. The checks, with connection
//! ids, file paths and driver errors, go to admins (bearer token or API key)
//! and to the metrics listener (`server.metrics_addr`), which API clients
//! cannot reach.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;

use crate::app::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Liveness {
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_secs: u64,
}

#[utoipa::path(get, path = "/health", operation_id = "liveness", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Liveness)))]
pub async fn live(State(app): State<AppState>) -> axum::Json<Liveness> {
    axum::Json(Liveness {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: app.started_at.elapsed().as_secs(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Degraded,
    Down,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Check {
    pub status: CheckStatus,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A required dependency takes the whole service down when it fails.
    pub required: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub status: CheckStatus,
    /// Each dependency; only for admins and on the metrics listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<BTreeMap<String, Check>>,
}

async fn check<F, E>(required: bool, fut: F) -> Check
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let result = tokio::time::timeout(CHECK_TIMEOUT, fut).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let fail = if required {
        CheckStatus::Down
    } else {
        CheckStatus::Degraded
    };
    match result {
        Ok(Ok(())) => Check {
            status: CheckStatus::Ok,
            latency_ms,
            error: None,
            required,
        },
        Ok(Err(e)) => Check {
            status: fail,
            latency_ms,
            error: Some(e.to_string()),
            required,
        },
        Err(_) => Check {
            status: fail,
            latency_ms,
            error: Some(format!("no answer within {CHECK_TIMEOUT:?}")),
            required,
        },
    }
}

/// How long an LLM reachability result is reused.
const LLM_CHECK_TTL: Duration = Duration::from_secs(10);

async fn cached_llm_ping(app: &crate::app::App) -> Result<(), String> {
    let mut guard = app.llm_health.lock().await;
    if let Some((at, result)) = guard.as_ref()
        && at.elapsed() < LLM_CHECK_TTL
    {
        return result.clone();
    }
    let result = match tokio::time::timeout(CHECK_TIMEOUT, app.engine.llm.ping()).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
    };
    *guard = Some((Instant::now(), result.clone()));
    result
}

#[utoipa::path(get, path = "/health/ready", operation_id = "readiness", tag = "operations",
    responses(
        (status = 200, description = "`ok` or `degraded` (an optional dependency failed); `checks` only for an admin's bearer token or API key", body = Readiness),
        (status = 503, description = "`down`: the app store or the in-process vector index failed", body = Readiness),
    ))]
pub async fn ready(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Readiness>) {
    let (code, mut readiness) = readiness(&app).await;
    if !is_admin(&app, &headers).await {
        readiness.checks = None;
    }
    (code, axum::Json(readiness))
}

/// `/health/ready` on the metrics listener: always with the checks.
pub async fn ready_details(State(app): State<AppState>) -> (StatusCode, axum::Json<Readiness>) {
    let (code, readiness) = readiness(&app).await;
    (code, axum::Json(readiness))
}

/// Do the headers carry an admin's live credentials? Anything else (none,
/// invalid, another role) is an anonymous probe, never an error.
async fn is_admin(app: &AppState, headers: &HeaderMap) -> bool {
    let Some(cred) = crate::api::access::credential(headers) else {
        return false;
    };
    matches!(
        app.auth.authenticate(cred).await,
        Ok(identity) if identity.role == crate::domain::Role::Admin
    )
}

async fn readiness(app: &AppState) -> (StatusCode, Readiness) {
    if app.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return draining();
    }
    let e = &app.engine;
    let store = check(true, e.ping_store());
    // In process: required (`len`); a remote index (Chroma): its heartbeat,
    // and a failure only degrades the service.
    let loaded = app.index_loaded.load(std::sync::atomic::Ordering::Relaxed);
    let index = check(e.index.required(), async {
        e.index.ping().await.map_err(|e| e.to_string())?;
        if loaded {
            Ok(())
        } else {
            Err("reachable, but the training items are not indexed yet (re-indexing)".to_string())
        }
    });
    let cache = check(false, e.cache.ping());
    let left = app.reembed_left.load(std::sync::atomic::Ordering::Relaxed);
    let embedder = check(false, async {
        if left == 0 {
            Ok(())
        } else {
            Err(format!(
                "re-embedding: {left} training item(s) left for embedder {}; they are not retrievable until done",
                e.embedder.id()
            ))
        }
    });
    let shared_limits = app.auth.shared_limits();
    let limits = async {
        match shared_limits {
            Some(s) => Some(check(false, s.ping()).await),
            None => None,
        }
    };
    let llm = check(false, cached_llm_ping(app));
    let conns = e.connections.all();
    let conn_checks =
        futures::future::join_all(conns.iter().map(|c| check(false, c.connector.ping())));
    let (store, index, cache, limits, llm, conn_checks, embedder) =
        tokio::join!(store, index, cache, limits, llm, conn_checks, embedder);

    let mut checks = BTreeMap::new();
    checks.insert("app_store".to_string(), store);
    checks.insert("vector_index".to_string(), index);
    checks.insert("cache".to_string(), cache);
    checks.insert("embedder".to_string(), embedder);
    if let Some(limits) = limits {
        // Only with Redis: in process, limits cannot fail.
        checks.insert("rate_limit".to_string(), limits);
    }
    checks.insert(format!("llm:{}", e.llm.name()), llm);
    for (c, result) in conns.iter().zip(conn_checks) {
        checks.insert(format!("connection:{}", c.id), result);
    }
    let status = if checks.values().any(|c| c.status == CheckStatus::Down) {
        CheckStatus::Down
    } else if checks.values().any(|c| c.status != CheckStatus::Ok) {
        CheckStatus::Degraded
    } else {
        CheckStatus::Ok
    };
    let code = if status == CheckStatus::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Readiness {
            status,
            checks: Some(checks),
        },
    )
}

/// After SIGTERM (see `api::serve`): 503 with a `shutdown` check, so the
/// instance leaves the load balancer's rotation while it still serves.
fn draining() -> (StatusCode, Readiness) {
    let check = Check {
        status: CheckStatus::Down,
        latency_ms: 0,
        error: Some("shutting down: draining in-flight traffic".into()),
        required: true,
    };
    let checks = BTreeMap::from([("shutdown".to_string(), check)]);
    let body = Readiness {
        status: CheckStatus::Down,
        checks: Some(checks),
    };
    (StatusCode::SERVICE_UNAVAILABLE, body)
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics_text", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn metrics() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::observability::metrics::render(),
    )
}

/// `GET /metrics/json`: the same figures as JSON.
#[utoipa::path(get, path = "/metrics/json", operation_id = "metrics_json", tag = "operations",
    responses((status = 200, description = "The same figures as JSON", body = Object)))]
pub async fn metrics_json() -> axum::Json<serde_json::Value> {
    axum::Json(crate::observability::metrics::render_json())
}
