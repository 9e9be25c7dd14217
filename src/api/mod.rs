//! HTTP API: the router (one list of routes), middleware and extractors, and
//! one module per resource. Handlers are thin: extract, call one engine
//! function, map to a response type kept beside the handler. Business logic
//! lives in `engine`, never here.

pub mod ask;
pub mod connections;
pub mod extract;
pub mod health;
pub mod middleware;
pub mod openapi;
pub mod queries;
pub mod sql;
pub mod training;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::{delete, get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi as _;

use crate::app::AppState;

/// Every route of the service, in one place.
pub fn routes() -> Router<AppState> {
    let v1 = Router::new()
        .route("/ask", post(ask::ask))
        .route("/ask/stream", post(ask::ask_stream))
        .route("/sql/generate", post(sql::generate))
        .route("/sql/validate", post(sql::validate))
        .route("/sql/execute", post(sql::execute))
        .route("/queries", get(queries::list))
        .route("/queries/{id}", get(queries::get))
        .route("/queries/{id}/feedback", post(queries::feedback))
        .route("/training", get(training::list).post(training::add))
        .route("/training/{id}", delete(training::delete))
        .route("/training/{id}/approve", post(training::approve))
        .route("/connections", get(connections::list));
    Router::new()
        .nest("/api/v1", v1)
        .route("/health", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/metrics/json", get(health::metrics_json))
        .route("/openapi.json", get(openapi_json))
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/docs")
                .url("/docs/openapi.json", openapi::ApiDoc::openapi()),
        )
}

async fn openapi_json() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::document_json(),
    )
}

/// The full application: routes plus middleware, ready to serve.
pub fn router(state: AppState) -> Router {
    crate::observability::metrics::install();
    let server = &state.config.server;
    let cors = cors_layer(&server.cors_origins);
    routes()
        .with_state(state.clone())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(server.request_timeout_secs.max(1)),
        ))
        .layer(RequestBodyLimitLayer::new(server.body_limit_bytes))
        .layer(cors)
        .layer(axum::middleware::from_fn(middleware::correlation::layer))
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            middleware::correlation::HEADER,
        ])
        .expose_headers([middleware::correlation::HEADER])
        .max_age(Duration::from_secs(600))
}

/// Serve `state` on `listener` until `shutdown` resolves, then give in-flight
/// requests `grace` to finish. Tests bind port 0 and pass their own signal.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let app = router(state);
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
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
