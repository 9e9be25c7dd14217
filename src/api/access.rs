//! Access control at the HTTP edge: the table saying which [`Action`] each
//! `/api/v1` route needs (derived from the route list in
//! [`super::route_list`], where each route is declared with its access), and
//! the middleware that authenticates the caller, applies rate limits and
//! checks the role against that table.
//!
//! A route that is in the router but not in [`ROUTES`] (one added around the
//! route list) is refused to everyone (deny by default), and the route ×
//! role matrix test fails.

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::route_list::RouteAccess;
use crate::app::AppState;
use crate::auth::rate_limit::Decision;
use crate::auth::{Action, Credential};
use crate::config::auth::TrustedProxy;
use crate::domain::Role;
use crate::error::ApiError;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed (login, refresh); rate-limited per client IP.
    Anonymous,
    /// An authenticated caller whose role allows the action.
    Requires(Action),
}

/// Every `/api/v1` route's method, path (relative to [`PREFIX`]) and access,
/// derived from the one route list ([`super::route_list::declared`]).
pub static ROUTES: LazyLock<Vec<RouteAccess>> =
    LazyLock::new(|| super::route_list::declared().access);

pub const PREFIX: &str = "/api/v1";

/// The entry for a method and matched path (with or without the prefix).
pub fn access_for(method: &Method, path: &str) -> Option<Access> {
    let path = path.strip_prefix(PREFIX).unwrap_or(path);
    ROUTES
        .iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, a)| *a)
}

/// The client's IP: the peer, or — only when the peer is a trusted proxy —
/// the right-most address in `X-Forwarded-For` that is not itself trusted.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[TrustedProxy],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|p| p.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .copied()
        .or(Some(peer))
}

/// The credential a request carries: `Authorization: Bearer …` or `X-API-Key`.
pub(crate) fn credential(headers: &HeaderMap) -> Option<Credential<'_>> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
            return Some(Credential::Bearer(token.trim()));
        }
        return None;
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| Credential::ApiKey(k.trim()))
}

fn per_minute(app: &AppState, role: Option<Role>) -> u32 {
    let r = &app.auth.config.rate_limit;
    match role {
        None => r.anonymous_per_minute,
        Some(Role::Viewer) => r.viewer_per_minute,
        Some(Role::Analyst) => r.analyst_per_minute,
        Some(Role::Admin) => r.admin_per_minute,
    }
}

/// Take a token from `key`'s bucket; `Err` carries the refusal.
async fn limit(
    app: &AppState,
    key: &str,
    role: Option<Role>,
) -> Result<Option<Decision>, Decision> {
    if !app.auth.config.rate_limit.enabled {
        return Ok(None);
    }
    let d = app.auth.limiter.check(key, per_minute(app, role)).await;
    if d.allowed { Ok(Some(d)) } else { Err(d) }
}

/// An authentication failure, with the challenge RFC 9110 asks for on 401.
fn unauthorized(e: ApiError) -> Response {
    let mut resp = e.into_response();
    if resp.status() == axum::http::StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"insight\""),
        );
    }
    resp
}

/// `429` with `Retry-After` and the `RateLimit-*` headers.
fn refused(d: Decision) -> Response {
    metrics::counter!("insight_rate_limited_total").increment(1);
    let mut resp = ApiError::RateLimited {
        retry_after: Duration::from_secs(d.retry_after_secs),
    }
    .into_response();
    rate_headers(resp.headers_mut(), &d);
    resp
}

fn rate_headers(h: &mut HeaderMap, d: &Decision) {
    for (name, value) in [
        ("ratelimit-limit", d.limit as u64),
        ("ratelimit-remaining", d.remaining as u64),
        ("ratelimit-reset", d.reset_secs),
    ] {
        h.insert(name, HeaderValue::from(value));
    }
}

/// The middleware on every `/api/v1` route (installed with `route_layer`,
/// so the matched path is known).
pub async fn layer(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_ip(peer, req.headers(), &app.auth.config.trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));
    let Some(access) = access_for(req.method(), &path) else {
        // A known path with another method is the router's 405; anything
        // else is a route without an entry: refused to everyone.
        let rel = path.strip_prefix(PREFIX).unwrap_or(&path);
        if ROUTES.iter().any(|(_, p, _)| *p == rel) {
            return axum::http::StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        tracing::error!(http.route = %path, "route has no access entry; refusing");
        return ApiError::Forbidden("This route is not available.".into()).into_response();
    };
    let decision = match access {
        Access::Anonymous => {
            let key = format!("ip:{}", ip.map(|i| i.to_string()).unwrap_or_default());
            match limit(&app, &key, None).await {
                Ok(d) => d,
                Err(d) => return refused(d),
            }
        }
        Access::Requires(action) => {
            let Some(cred) = credential(req.headers()) else {
                return unauthorized(ApiError::Unauthorized);
            };
            let identity = match app.auth.authenticate(cred).await {
                Ok(i) => i,
                Err(e) => return unauthorized(e.into()),
            };
            let d = match limit(&app, &identity.limit_key(), Some(identity.role)).await {
                Ok(d) => d,
                Err(d) => return refused(d),
            };
            if !identity.role.can(action) {
                return ApiError::Forbidden(format!(
                    "Your role ({}) may not do this.",
                    identity.role
                ))
                .into_response();
            }
            tracing::Span::current().record("user.id", identity.user_id.as_str());
            req.extensions_mut().insert(identity);
            d
        }
    };
    let mut resp = next.run(req).await;
    if let Some(d) = decision {
        rate_headers(resp.headers_mut(), &d);
    }
    resp
}

/// Security headers on every response; `Cache-Control: no-store` on the
/// API; HSTS in production (TLS is terminated in front of the service).
pub async fn security_headers(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let production = app.config.profile == crate::config::Profile::Production;
    let is_api = req.uri().path().starts_with(PREFIX);
    let is_docs = req.uri().path().starts_with("/docs");
    let is_page = crate::ui::is_ui_path(req.uri().path());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    // Pages get the UI's policy (own scripts and styles, never inline);
    // everything else, a policy for data that loads nothing.
    if is_page {
        h.insert(
            "content-security-policy",
            HeaderValue::from_static(crate::ui::PAGE_CSP),
        );
    } else if !is_docs {
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if production {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 203.0.113.7".parse().unwrap());
        let exact: TrustedProxy = "10.0.0.1".parse().unwrap();
        assert_eq!(client_ip(Some(proxy), &h, &[]), Some(proxy));
        assert_eq!(client_ip(Some(proxy), &h, &[exact]), Some(client));
        assert_eq!(client_ip(Some(client), &h, &[exact]), Some(client));
    }

    #[test]
    fn forwarded_for_is_believed_from_a_trusted_range() {
        // An ingress controller pod at 10.42.3.17 inside the trusted range;
        // the hop before it (10.42.9.2, another proxy in the range) is
        // skipped too, and the first untrusted address is the client.
        let range: TrustedProxy = "10.42.0.0/16".parse().unwrap();
        let ingress: IpAddr = "10.42.3.17".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.7, 10.42.9.2".parse().unwrap(),
        );
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(client_ip(Some(ingress), &h, &[range]), Some(client));
        // Outside the range, the header is the caller's own claim: ignored.
        let outsider: IpAddr = "10.43.0.1".parse().unwrap();
        assert_eq!(client_ip(Some(outsider), &h, &[range]), Some(outsider));
    }

    #[test]
    fn route_table_has_no_duplicates() {
        for (i, (m, p, _)) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[i + 1..].iter().any(|(m2, p2, _)| m2 == m && p2 == p),
                "{m} {p} twice"
            );
        }
    }
}
