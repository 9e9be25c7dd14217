//! Our own extractors, so bad input gets our error body (never axum's plain
//! text), and the request principal a handler acts for.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::api::middleware::correlation::CorrelationId;
use crate::engine::pipeline::RequestContext;
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

/// Who is calling, for history ownership and auditing. This is the seam for
/// authentication: today every caller is anonymous (`user_id: None`); the
/// auth layer will fill the user from a token or API key.
pub struct Principal(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let correlation_id = parts.extensions.get::<CorrelationId>().map(|c| c.0.clone());
        Ok(Principal(RequestContext {
            user_id: None,
            correlation_id,
        }))
    }
}
