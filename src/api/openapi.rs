//! The API contract: an OpenAPI 3.1 document generated from the handlers'
//! annotations and the request/response types, served at `/openapi.json`,
//! with an interactive page at `/docs` whose assets are embedded in the
//! binary (nothing is fetched from a CDN). The committed `openapi.json` is
//! kept equal to the generated one by a test.

use utoipa::OpenApi;

use super::{ask, connections, health, queries, sql, training};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Insight Engine API",
        description = "Ask databases questions in plain language: checked SQL, rows, and learning from feedback.\n\nEvery error is `{\"error\": {\"code\", \"message\", \"correlation_id\", \"details\"?}}`; every response carries `X-Correlation-ID`.",
        license(name = "Apache-2.0")
    ),
    paths(
        ask::ask, ask::ask_stream,
        sql::generate, sql::validate, sql::execute,
        queries::list, queries::get, queries::feedback,
        training::list, training::add, training::delete, training::approve,
        connections::list,
        health::live, health::ready, health::metrics, health::metrics_json,
    ),
    components(schemas(crate::error::ErrorBody, crate::engine::sql::RejectCode)),
    tags(
        (name = "ask", description = "Questions in, answers out"),
        (name = "sql", description = "Generate, validate and run SQL"),
        (name = "queries", description = "History and feedback"),
        (name = "training", description = "What retrieval and the generators learn from"),
        (name = "connections", description = "Target databases"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON (what `/openapi.json` serves and the
/// committed file holds).
pub fn document_json() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.to_pretty_json().unwrap_or_else(|_| "{}".to_string())
}
