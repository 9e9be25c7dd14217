//! Our own extractors, so bad input gets our error body (never axum's plain
//! text), and the request principal a handler acts for.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::api::middleware::correlation::CorrelationId;
use crate::app::AppState;
use crate::auth::Identity;
use crate::domain::ConnectionId;
use crate::engine::pipeline::{RequestContext, Scope};
use crate::error::ApiError;

/// JSON body extractor whose rejections are `ApiError::BadRequest`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::bad_request("Send a JSON body with `Content-Type: application/json`.")
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(format!(
            "The body is not valid JSON: {}",
            inner(&e.body_text())
        )),
        JsonRejection::JsonDataError(e) => ApiError::bad_request(format!(
            "The body does not match the expected shape: {}",
            inner(&e.body_text())
        )),
        JsonRejection::BytesRejection(_) => ApiError::PayloadTooLarge,
        other => ApiError::bad_request(other.body_text()),
    }
}

/// axum prefixes serde's message with its own sentence; keep serde's part.
fn inner(text: &str) -> String {
    text.split_once(": ")
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_else(|| text.to_string())
}

/// Query-string extractor whose rejections are `ApiError::BadRequest`.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::bad_request(
                format!("Invalid query string: {}", inner(&e.body_text())),
            )),
            Err(other) => Err(ApiError::bad_request(other.body_text())),
        }
    }
}

/// Who is calling, for history ownership and auditing. The access
/// middleware (`api::access`) authenticated the caller and left an
/// [`Identity`]; without one (a route that skipped it) the caller is refused.
/// Handlers that act on a connection take [`Scoped`] instead.
pub struct Principal(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let correlation_id = parts.extensions.get::<CorrelationId>().map(|c| c.0.clone());
        let identity = parts
            .extensions
            .get::<Identity>()
            .ok_or(ApiError::Unauthorized)?;
        Ok(Principal(RequestContext {
            user_id: Some(identity.user_id.clone()),
            correlation_id,
            allowed_tables: None,
            // Every grant goes along: the engine's gate applies the one for
            // whatever connection the SQL turns out to run on.
            caller: Some(crate::engine::gate::Caller {
                role: identity.role,
                grants: identity.grants.clone(),
            }),
        }))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Identity>()
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }
}

/// A request body that names the connection it acts on (`None`: the
/// default one).
pub trait Connected {
    fn connection(&self) -> Option<&ConnectionId>;
}

/// A JSON body acting on a connection, with the caller bound to that
/// connection: the [`Principal`]'s context resolved once by
/// [`crate::engine::pipeline::Engine::scope`]. A connection the caller has
/// no grant for answers `404`, as if it did not exist. Rejections come in
/// the order a handler would meet them: `401`, then a bad body (`400`),
/// then the connection (`404`).
pub struct Scoped<T>(pub Scope, pub T);

impl<T> FromRequest<AppState> for Scoped<T>
where
    T: DeserializeOwned + Connected,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Principal(rc) = Principal::from_request_parts(&mut parts, state).await?;
        let ApiJson(body) =
            ApiJson::<T>::from_request(Request::from_parts(parts, body), state).await?;
        let scope = state.engine.scope(rc, body.connection())?;
        Ok(Scoped(scope, body))
    }
}
