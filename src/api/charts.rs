//! `POST /api/v1/charts/svg`: a chart drawn on the server as SVG, either
//! from a Vega-Lite spec the API returned (`chart` of an answer) or from
//! columns and rows (the same rules as `engine::chart` pick the spec). The
//! web UI uses it for answers, reopened history and the admin dashboard, so
//! every client sees the same chart. The drawing is `ui::svg`'s.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::extract::ApiJson;
use crate::connectors::ResultColumn;
use crate::error::ApiError;
use crate::ui::svg;

/// A column as the API returns it (`{name, type}`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChartColumn {
    pub name: String,
    #[serde(rename = "type", default)]
    pub data_type: String,
}

/// Send `spec`, or `columns` and `rows` (as `/ask` and `/sql/execute` return them).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChartRequest {
    /// A Vega-Lite v5 spec as in an answer's `chart`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub spec: Option<Value>,
    #[serde(default)]
    pub columns: Option<Vec<ChartColumn>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Vec<Object>>>)]
    pub rows: Option<Vec<Vec<Value>>>,
}

/// The spec to draw: the one sent, or the one suggested for the rows;
/// `None` when no chart fits the rows.
pub fn spec_for(req: ChartRequest) -> Result<Option<Value>, ApiError> {
    match (req.spec, req.columns, req.rows) {
        (Some(spec), None, None) => Ok(Some(spec)),
        (None, Some(columns), Some(rows)) => {
            let columns: Vec<ResultColumn> = columns
                .into_iter()
                .map(|c| ResultColumn {
                    name: c.name,
                    data_type: c.data_type,
                })
                .collect();
            Ok(crate::engine::chart::suggest(&columns, &rows))
        }
        _ => Err(ApiError::bad_request(
            "send either `spec`, or `columns` and `rows`",
        )),
    }
}

#[utoipa::path(post, path = "/api/v1/charts/svg", operation_id = "render_chart", tag = "ask", request_body = ChartRequest,
    responses(
        (status = 200, description = "The chart as SVG (text escaped, no scripts)", content_type = "image/svg+xml", body = String),
        (status = 204, description = "No chart fits these rows"),
        (status = 400, description = "Malformed request, or a spec this renderer does not draw", body = crate::error::ErrorBody),
    ))]
pub async fn render(ApiJson(req): ApiJson<ChartRequest>) -> Result<Response, ApiError> {
    let Some(spec) = spec_for(req)? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let svg = svg::render(&spec).map_err(|e| ApiError::bad_request(e.0))?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg,
    )
        .into_response())
}
