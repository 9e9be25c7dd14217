//! HTTP API: the router (built from the one route list in [`route_list`]),
//! middleware and extractors, and one module per resource. Handlers are
//! thin: extract, call one engine function, map to a response type kept
//! beside the handler. Business logic lives in `engine`, never here.

pub mod access;
pub mod admin;
pub mod ask;
pub mod auth;
pub mod charts;
pub mod connections;
pub mod dashboards;
pub mod extract;
pub mod health;
pub mod middleware;
pub mod openapi;
pub mod ops;
pub mod queries;
pub mod route_list;
pub mod saved;
pub mod sql;
pub mod training;
pub mod uploads;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;

/// Every route of the main listener: the declared ones
/// ([`route_list::declared`], each `/api/v1` route with its access beside
/// it), the pages, and the document itself.
///
/// The access middleware runs on every `/api/v1` route as a route layer, so
/// it sees the matched path and never runs for an unknown path.
pub fn routes(state: AppState) -> Router<AppState> {
    let metrics_here = state.config.server.metrics_addr.is_none();
    let declared = route_list::declared();
    let app = declared
        .api
        .route_layer(axum::middleware::from_fn_with_state(state, access::layer))
        .merge(declared.public)
        .merge(crate::ui::routes());
    // With `server.metrics_addr` set, metrics live on their own listener
    // (see `metrics_router`), out of reach of API clients.
    let app = if metrics_here {
        app.merge(declared.metrics)
    } else {
        app
    };
    // The docs page reads the document `/openapi.json` serves (rendered once,
    // on first use) instead of a built `OpenApi` of its own, which its router
    // kept for the process's life (about 2 MiB of heap; issue 16).
    app.route("/openapi.json", get(openapi_json))
        .route("/docs/openapi.json", get(openapi_json))
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/docs")
                .config(utoipa_swagger_ui::Config::from("/openapi.json")),
        )
}

async fn openapi_json() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::document_json(),
    )
}

/// The separate metrics listener's app (`server.metrics_addr`): metrics, and
/// readiness with every check's details (out of reach of API clients).
pub fn metrics_router(state: AppState) -> Router {
    crate::observability::metrics::install();
    route_list::declared()
        .metrics
        .route("/health/ready", get(health::ready_details))
        .with_state(state)
}

/// The full application: routes plus middleware, ready to serve.
pub fn router(state: AppState) -> Router {
    crate::observability::metrics::install();
    let server = &state.config.server;
    let cors = cors_layer(&server.cors_origins);
    routes(state.clone())
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::security_headers,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(server.request_timeout_secs.max(1)),
        ))
        // Bodies are read through extractors capped at `server.body_limit_bytes`
        // (`DefaultBodyLimit`); only the CSV upload route raises its own cap
        // to `uploads.max_bytes`, so the outer limit is the larger of the two.
        .layer(axum::extract::DefaultBodyLimit::max(
            server.body_limit_bytes,
        ))
        .layer(RequestBodyLimitLayer::new(
            server
                .body_limit_bytes
                .max(state.config.uploads.max_bytes as usize),
        ))
        .layer(cors)
        .layer(axum::middleware::from_fn(middleware::correlation::layer))
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    // `*` (refused in production by the config check) allows any origin,
    // never with credentials; otherwise only the listed origins.
    let allow = if origins.iter().any(|o| o.trim() == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
                .collect::<Vec<_>>(),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            axum::http::HeaderName::from_static("x-api-key"),
            middleware::correlation::HEADER,
        ])
        .expose_headers([
            middleware::correlation::HEADER,
            header::RETRY_AFTER,
            axum::http::HeaderName::from_static("ratelimit-limit"),
            axum::http::HeaderName::from_static("ratelimit-remaining"),
            axum::http::HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Serve `state` on `listener` until `shutdown` resolves, then drain: for
/// `server.drain_secs` the server keeps serving while `/health/ready`
/// answers 503 (so load balancers and Kubernetes endpoints stop routing here)
/// and responses carry `Connection: close` (so kept-alive clients reconnect
/// elsewhere); then it stops accepting and gives in-flight requests `grace`
/// to finish. Tests bind port 0 and pass their own signal.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let drain = Duration::from_secs(state.config.server.drain_secs);
    let app = router(state.clone()).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        close_while_draining,
    ));
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        state
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if !drain.is_zero() {
            tracing::info!(
                drain_secs = drain.as_secs(),
                "draining: /health/ready answers 503, still serving"
            );
            tokio::time::sleep(drain).await;
        }
        tracing::info!("no longer accepting connections: finishing in-flight requests");
        let _ = stopped_tx.send(());
    });
    let mut server = tokio::spawn(async move { server.await });
    tokio::select! {
        joined = &mut server => return joined.map_err(std::io::Error::other)?,
        _ = stopped_rx => {}
    }
    match tokio::time::timeout(grace, server).await {
        Ok(joined) => joined.map_err(std::io::Error::other)?,
        Err(_) => {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "in-flight requests did not finish in time"
            );
            Ok(())
        }
    }
}

/// While draining, ask HTTP/1.1 clients to close their connection after
/// each response: a kept-alive connection would otherwise keep reaching this
/// instance after it has left the load balancer's rotation.
async fn close_while_draining(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut resp = next.run(req).await;
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The worker's own port (`insight worker`): liveness, readiness and
/// metrics, nothing else. It listens on `server.metrics_addr`, or on
/// `server.host:server.port` when that is unset. Like the metrics listener
/// it serves no API client, so readiness shows its checks.
pub fn worker_router(state: AppState) -> Router {
    crate::observability::metrics::install();
    Router::new()
        .route("/health", get(health::live))
        .route("/health/ready", get(health::ready_details))
        .merge(route_list::declared().metrics)
        .with_state(state)
}
