//! Resource budgets (`[budgets]`): the defaults of every connection and the
//! per-role tightening. Per-connection overrides live in
//! `[connections.NAME.budgets]`. What each budget bounds and how it is
//! enforced: `connectors::budget` and `docs/SECURITY.md` ("Budgets").

use serde::Deserialize;

use crate::domain::budget::{Budget, RoleBudgets};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetsConfig {
    /// Budgets of every connection that does not override them.
    pub defaults: Budget,
    /// Per-role overrides (`[budgets.roles.viewer]` …); they only tighten.
    pub roles: RoleBudgets,
}

impl BudgetsConfig {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut out = self.defaults.problems("budgets.defaults");
        out.extend(self.roles.problems("budgets.roles"));
        out
    }
}
