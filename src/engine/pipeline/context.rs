//! The request as the pipeline sees it: who asks ([`RequestContext`]: user,
//! correlation id, role and grants) and, once a connection is named, the
//! [`Scope`] that binds them to it. [`Engine::scope`] resolves the default
//! connection, checks the caller's grant and finds the connection in the
//! registry, once per request; everything downstream takes the `Scope`.

use std::sync::Arc;

use super::{Engine, PipelineError};
use crate::connectors::ConnectionHandle;
use crate::domain::ConnectionId;
use crate::engine::gate::{Caller, Reach};

/// Who is asking and under which correlation id; auth fills `user_id`.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub user_id: Option<String>,
    pub correlation_id: Option<String>,
    /// The caller's table allowlist on the connection (from their grant),
    /// lower-case; narrows the connection's own policy. `None`: no narrowing.
    pub allowed_tables: Option<Vec<String>>,
    /// The authenticated caller (role and every grant), which the gate
    /// ([`crate::engine::gate`]) applies to all SQL it checks. `None`: a
    /// trusted internal caller (CLI, jobs), limited by the connection only.
    pub caller: Option<Caller>,
}

impl RequestContext {
    /// Who runs a query, for admission and budgets (`connectors::budget`):
    /// the user and their role's name (`None`: the service itself).
    pub fn budget_caller(&self) -> crate::connectors::Caller<'_> {
        crate::connectors::Caller {
            user_id: self.user_id.as_deref(),
            role: self.role().map(crate::domain::Role::as_str),
        }
    }
}

/// A request bound to its connection: the caller's context and the
/// connection they reach, resolved once by [`Engine::scope`]. Only the
/// engine makes one, so holding a `Scope` means the caller's grant covers
/// the connection.
#[derive(Clone)]
pub struct Scope {
    pub(in crate::engine) rc: RequestContext,
    pub(in crate::engine) conn: Arc<ConnectionHandle>,
}

impl Scope {
    /// Who asks.
    pub fn rc(&self) -> &RequestContext {
        &self.rc
    }

    /// The connection they reach.
    pub fn conn(&self) -> &Arc<ConnectionHandle> {
        &self.conn
    }

    /// The connection's name.
    pub fn connection(&self) -> &str {
        self.conn.id.as_str()
    }
}

impl Engine {
    /// Bind `rc` to `connection` (or the default one). A connection the
    /// caller has no grant for is [`PipelineError::UnknownConnection`], as
    /// if it did not exist; the grant's table allowlist is applied by the
    /// gate from `rc.caller` wherever SQL is checked.
    pub fn scope(
        &self,
        rc: RequestContext,
        connection: Option<&ConnectionId>,
    ) -> Result<Scope, PipelineError> {
        let default;
        let name = match connection {
            Some(id) => id.as_str(),
            None => {
                default = self.settings().default_connection;
                default.as_str()
            }
        };
        if rc
            .caller
            .as_ref()
            .is_some_and(|c| c.reach(name) == Reach::Nothing)
        {
            return Err(PipelineError::UnknownConnection(name.to_string()));
        }
        let conn = match connection {
            Some(id) => self.connections.get(id),
            None => ConnectionId::parse(name)
                .ok()
                .and_then(|id| self.connections.get(&id)),
        };
        let conn = conn.ok_or_else(|| PipelineError::UnknownConnection(name.to_string()))?;
        Ok(Scope { rc, conn })
    }

    /// Resolve a connection name (or the default one) without a caller:
    /// for trusted paths (CLI, jobs) and checks that bring their own rules.
    pub fn connection(
        &self,
        name: Option<&ConnectionId>,
    ) -> Result<Arc<ConnectionHandle>, PipelineError> {
        let id = match name {
            Some(id) => id.clone(),
            None => ConnectionId::parse(&self.settings().default_connection).map_err(|_| {
                PipelineError::UnknownConnection(self.settings().default_connection)
            })?,
        };
        self.connections
            .get(&id)
            .ok_or_else(|| PipelineError::UnknownConnection(id.to_string()))
    }
}
