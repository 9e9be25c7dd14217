//! The one list of routes. Every route of the main listener that has an
//! OpenAPI entry is declared once, in [`declared`], with what it needs beside
//! it: the [`Access`] of an `/api/v1` route, or its place (public health
//! checks, metrics). Path and method come from the handler's
//! `#[utoipa::path]` (through `utoipa_axum::routes!`), so the router, the
//! permission table ([`super::access::ROUTES`]) and the OpenAPI paths
//! ([`super::openapi::ApiDoc`]) are all derived from this list and cannot
//! disagree.

use axum::Router;
use axum::http::Method;
use utoipa::openapi::PathItem;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use super::access::{Access, PREFIX};
use super::{admin, ask, auth, charts, connections, health, ops, queries, sql, training};
use crate::app::AppState;
use crate::auth::Action;

/// A handler with its OpenAPI entry, as `utoipa_axum::routes!` makes it.
pub type Documented = UtoipaMethodRouter<AppState>;

/// An `/api/v1` route's method, path (relative to [`PREFIX`]) and access.
pub type RouteAccess = (Method, String, Access);

/// The declared routes, split by where they are served, and what is derived
/// from them.
#[derive(Default)]
pub struct RouteList {
    /// `/api/v1`: served behind the access layer.
    pub api: Router<AppState>,
    /// Public routes outside `/api/v1` (health): no credentials, no limit.
    pub public: Router<AppState>,
    /// Metrics: on the main listener, or on their own listener when
    /// `server.metrics_addr` is set.
    pub metrics: Router<AppState>,
    /// The access of every `/api/v1` method and path, in declaration order.
    pub access: Vec<RouteAccess>,
    /// The OpenAPI paths and the schemas they use, in declaration order.
    pub doc: utoipa::openapi::OpenApi,
}

impl RouteList {
    /// An `/api/v1` route and the access it needs.
    ///
    /// # Panics
    /// If the handler's documented path is not under `/api/v1` (it would be
    /// served without the access layer).
    pub fn api(mut self, access: Access, route: Documented) -> Self {
        for (path, item) in &route.1.paths {
            let rel = path.strip_prefix(PREFIX).unwrap_or(path);
            self.access
                .extend(methods(item).map(|m| (m, rel.to_string(), access)));
        }
        let api = std::mem::take(&mut self.api);
        self.api = self.add(api, route, true);
        self
    }

    /// A public route outside `/api/v1`.
    ///
    /// # Panics
    /// If the handler's documented path is under `/api/v1`: every route
    /// there is declared with its access ([`RouteList::api`]).
    pub fn public(mut self, route: Documented) -> Self {
        let public = std::mem::take(&mut self.public);
        self.public = self.add(public, route, false);
        self
    }

    /// A metrics route: on the main listener, or on the metrics listener
    /// when `server.metrics_addr` is set.
    ///
    /// # Panics
    /// As [`RouteList::public`].
    pub fn metrics(mut self, route: Documented) -> Self {
        let metrics = std::mem::take(&mut self.metrics);
        self.metrics = self.add(metrics, route, false);
        self
    }

    /// Route `route` on `router` and add its entry to the document.
    fn add(
        &mut self,
        mut router: Router<AppState>,
        route: Documented,
        api: bool,
    ) -> Router<AppState> {
        let (schemas, paths, method_router) = route;
        for path in paths.paths.keys() {
            assert!(
                path.starts_with(PREFIX) == api,
                "{path}: the routes under {PREFIX}, and only they, are declared with their access"
            );
            router = router.route(path, method_router.clone());
        }
        self.doc.paths.merge(paths);
        self.doc
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
        router
    }
}

/// The HTTP methods a documented path item has operations for.
fn methods(item: &PathItem) -> impl Iterator<Item = Method> + '_ {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter(|(_, op)| op.is_some())
    .map(|(m, _)| m)
}

/// Every documented route of the main listener, in the order of the OpenAPI
/// document's paths. A new route goes here, and only here.
pub fn declared() -> RouteList {
    use Access::{Anonymous, Requires};
    use Action::{
        ApproveTraining, Ask, ExecuteSql, GenerateSql, GiveFeedback, ListConnections,
        ManageConnections, ManageGrants, ManageOperations, ManageSettings, ManageTraining,
        ManageUsers, ReadAudit, ReadHistory, Session, ValidateSql,
    };
    RouteList::default()
        .api(Requires(Ask), routes!(ask::ask))
        .api(Requires(Ask), routes!(ask::ask_stream))
        .api(Requires(GenerateSql), routes!(sql::generate))
        .api(Requires(ValidateSql), routes!(sql::validate))
        .api(Requires(ExecuteSql), routes!(sql::execute))
        .api(Requires(Ask), routes!(sql::explain))
        .api(Requires(ExecuteSql), routes!(sql::fix))
        .api(Requires(ReadHistory), routes!(queries::list))
        .api(Requires(ReadHistory), routes!(queries::get))
        .api(Requires(GiveFeedback), routes!(queries::feedback))
        .api(Requires(ManageTraining), routes!(training::list))
        .api(Requires(ManageTraining), routes!(training::add))
        .api(Requires(ManageTraining), routes!(training::delete))
        .api(Requires(ApproveTraining), routes!(training::approve))
        .api(Requires(ManageTraining), routes!(training::edit))
        .api(Requires(ManageUsers), routes!(training::by_author))
        .api(Requires(ManageUsers), routes!(training::revert_author))
        .api(Requires(ListConnections), routes!(connections::list))
        .public(routes!(health::live))
        .public(routes!(health::ready))
        .metrics(routes!(health::metrics))
        .metrics(routes!(health::metrics_json))
        .api(Anonymous, routes!(auth::login))
        .api(Anonymous, routes!(auth::refresh))
        .api(Requires(Session), routes!(auth::logout))
        .api(Requires(Session), routes!(auth::me))
        .api(Requires(Session), routes!(auth::create_key))
        .api(Requires(Session), routes!(auth::list_keys))
        .api(Requires(Session), routes!(auth::revoke_key))
        .api(Requires(Session), routes!(auth::change_password))
        .api(Requires(ManageUsers), routes!(admin::list_users))
        .api(Requires(ManageUsers), routes!(admin::create_user))
        .api(Requires(ManageUsers), routes!(admin::update_user))
        .api(Requires(ManageUsers), routes!(admin::delete_user))
        .api(Requires(ManageGrants), routes!(admin::get_grants))
        .api(Requires(ManageGrants), routes!(admin::put_grants))
        .api(Requires(ManageUsers), routes!(admin::reset_password))
        .api(
            Requires(ManageConnections),
            routes!(admin::list_connections),
        )
        .api(
            Requires(ManageConnections),
            routes!(admin::create_connection),
        )
        .api(
            Requires(ManageConnections),
            routes!(admin::update_connection),
        )
        .api(
            Requires(ManageConnections),
            routes!(admin::delete_connection),
        )
        .api(Requires(ReadAudit), routes!(admin::audit_log))
        .api(Requires(ReadAudit), routes!(admin::stats))
        .api(Requires(ManageSettings), routes!(admin::get_settings))
        .api(Requires(ManageSettings), routes!(admin::update_settings))
        .api(Requires(ManageOperations), routes!(ops::list_jobs))
        .api(Requires(ManageOperations), routes!(ops::get_job))
        .api(Requires(ManageOperations), routes!(ops::enqueue_job))
        .api(Requires(ManageOperations), routes!(ops::list_backups))
        .api(Requires(ManageOperations), routes!(ops::create_backup))
        .api(Requires(Ask), routes!(charts::render))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "declared with their access")]
    fn a_route_outside_the_prefix_cannot_be_declared_with_access() {
        let _ = RouteList::default().api(Access::Anonymous, routes!(health::live));
    }

    #[test]
    #[should_panic(expected = "declared with their access")]
    fn an_api_route_cannot_be_declared_public() {
        let _ = RouteList::default().public(routes!(ask::ask));
    }

    #[test]
    fn each_method_of_a_path_has_its_own_entry() {
        let list = RouteList::default()
            .api(
                Access::Requires(Action::ManageUsers),
                routes!(admin::list_users),
            )
            .api(Access::Anonymous, routes!(admin::create_user));
        assert_eq!(
            list.access,
            vec![
                (
                    Method::GET,
                    "/admin/users".to_string(),
                    Access::Requires(Action::ManageUsers)
                ),
                (Method::POST, "/admin/users".to_string(), Access::Anonymous),
            ]
        );
        let item = &list.doc.paths.paths["/api/v1/admin/users"];
        assert!(item.get.is_some() && item.post.is_some());
    }
}
