//! The web UI: one HTML shell served at `/` and `/ui/...`, our own
//! JavaScript modules and one stylesheet, all embedded in the binary
//! (nothing from a CDN, no Node.js to build or run), plus the server-side
//! SVG chart renderer ([`svg`]), which the API's `POST /api/v1/charts/svg`
//! (`api::charts`) serves.
//!
//! The pages are drawn in the browser from the same `/api/v1` JSON API every
//! other client uses; the shell holds no data and needs no session. The
//! access token lives in `sessionStorage` and is sent as a bearer token, so
//! there is no cookie session and no CSRF surface. Pages get their own
//! Content-Security-Policy ([`PAGE_CSP`]): scripts and styles only from this
//! origin, never inline.

pub mod svg;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;

/// The policy for pages and their assets: our own scripts, styles and
/// images only; API calls to this origin; no inline script or style, no
/// plugins, no framing, no `<base>` tricks, forms post only here.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// Whether `path` is served by the UI (and gets [`PAGE_CSP`]).
pub fn is_ui_path(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with("/ui/") || path.starts_with("/assets/")
}

const SHELL: &str = include_str!("assets/index.html");

/// Embedded assets: name, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/dom.js"),
    ),
    (
        "pages.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/pages.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin.js"),
    ),
    (
        "thumb.svg",
        "image/svg+xml",
        include_str!("assets/thumb.svg"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("assets/favicon.svg"),
    ),
];

/// The UI's routes: the shell for every page path, and the assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(shell))
        .route("/ui", get(shell))
        .route("/ui/{*page}", get(shell))
        .route("/assets/{name}", get(asset))
}

/// The same shell for every page; the script routes on the path. Revalidated
/// on every load so a new binary's UI is picked up at once.
async fn shell() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SHELL,
    )
        .into_response()
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not found",
        )
            .into_response();
    };
    let mut resp = (*body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_paths_are_recognised() {
        for p in ["/", "/ui", "/ui/ask", "/ui/admin/users", "/assets/app.js"] {
            assert!(is_ui_path(p), "{p}");
        }
        for p in ["/api/v1/ask", "/docs/", "/health", "/uix", "/openapi.json"] {
            assert!(!is_ui_path(p), "{p}");
        }
    }

    #[test]
    fn the_policy_allows_no_inline_script() {
        assert!(!PAGE_CSP.contains("unsafe-inline"));
        assert!(!PAGE_CSP.contains("unsafe-eval"));
        assert!(PAGE_CSP.contains("script-src 'self'"));
    }

    #[test]
    fn the_shell_loads_only_our_own_assets() {
        assert!(!SHELL.contains("http://") && !SHELL.contains("https://"));
        assert!(!SHELL.contains("<script>"), "no inline script");
        assert!(!SHELL.contains("style="), "no inline style");
        for (name, _, body) in ASSETS {
            if name.ends_with(".js") {
                for html_sink in [
                    "innerHTML",
                    "outerHTML",
                    "insertAdjacentHTML",
                    "document.write",
                ] {
                    assert!(
                        !body.contains(html_sink),
                        "{name}: build DOM nodes, no {html_sink}"
                    );
                }
                assert!(!body.contains("eval("), "{name}");
            }
        }
    }
}
