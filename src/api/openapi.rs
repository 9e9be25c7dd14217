//! The API contract: an OpenAPI 3.1 document generated from the handlers'
//! annotations and the request/response types, served at `/openapi.json`,
//! with an interactive page at `/docs` whose assets are embedded in the
//! binary (nothing is fetched from a CDN). The committed `openapi.json` is
//! kept equal to the generated one by a test.

use std::sync::LazyLock;

use utoipa::{Modify, OpenApi};

use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

/// Everything in the document but the paths: those come from the route list
/// ([`super::route_list::declared`]), each from its handler's `#[utoipa::path]`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Insight Engine API",
        description = "Ask databases questions in plain language: checked SQL, rows, and learning from feedback.\n\nEvery error is `{\"error\": {\"code\", \"message\", \"correlation_id\", \"details\"?}}`; every response carries `X-Correlation-ID`.",
        license(name = "Apache-2.0")
    ),
    components(schemas(crate::error::ErrorBody, crate::sql::RejectCode)),
    tags(
        (name = "ask", description = "Questions in, answers out"),
        (name = "sql", description = "Generate, validate and run SQL"),
        (name = "queries", description = "History and feedback"),
        (name = "training", description = "What retrieval and the generators learn from"),
        (name = "connections", description = "Target databases"),
        (name = "operations", description = "Health and metrics"),
        (name = "auth", description = "Sign in, tokens and API keys"),
        (name = "admin", description = "Users, grants, connections, the audit log, jobs and backups (admins)"),
    )
)]
struct Contract;

/// The whole document: info, tags and shared schemas, the declared routes'
/// paths and the schemas they use, and the security each route's access
/// calls for.
pub struct ApiDoc;

impl OpenApi for ApiDoc {
    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = Contract::openapi();
        doc.merge(super::route_list::declared().doc);
        Security.modify(&mut doc);
        doc
    }
}

/// Security schemes, and on every protected `/api/v1` operation: the
/// requirement plus the `401`/`403`/`429` answers the access layer gives.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or ik_ API key")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let rel = path.strip_prefix(super::access::PREFIX);
            for (method, op) in [
                (axum::http::Method::GET, item.get.as_mut()),
                (axum::http::Method::POST, item.post.as_mut()),
                (axum::http::Method::PUT, item.put.as_mut()),
                (axum::http::Method::PATCH, item.patch.as_mut()),
                (axum::http::Method::DELETE, item.delete.as_mut()),
            ] {
                let (Some(rel), Some(op)) = (rel, op) else {
                    continue;
                };
                let anonymous = matches!(
                    super::access::access_for(&method, rel),
                    Some(super::access::Access::Anonymous)
                );
                let responses = &mut op.responses.responses;
                responses.entry("429".into()).or_insert_with(|| {
                    error("Rate limited; see `Retry-After` and `RateLimit-*`").into()
                });
                // Our extractors answer any malformed body, query string or
                // path with 400, and a connection or object the caller cannot
                // see with 404: every operation can give both.
                responses.entry("400".into()).or_insert_with(|| {
                    error("Malformed request: body, query string or path").into()
                });
                responses.entry("404".into()).or_insert_with(|| {
                    error("No such object or connection (or not visible to the caller)").into()
                });
                if anonymous {
                    continue;
                }
                op.security = Some(vec![
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                    SecurityRequirement::new("api_key", Vec::<String>::new()),
                ]);
                responses.entry("401".into()).or_insert_with(|| {
                    error("Not signed in, or the credentials are invalid").into()
                });
                responses
                    .entry("403".into())
                    .or_insert_with(|| error("The caller's role may not do this").into());
            }
        }
    }
}

/// The document as pretty JSON (what `/openapi.json` serves and the
/// committed file holds).
pub fn document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        doc.to_pretty_json().unwrap_or_else(|_| "{}".to_string())
    });
    &JSON
}
