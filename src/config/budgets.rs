//! Resource budgets (`[budgets]`): the defaults of every connection, the
//! per-role tightening and SQLite's process-wide heap limit. Per-connection
//! overrides live in `[connections.NAME.budgets]`. What each budget bounds and
//! how it is enforced: `connectors::budget` and `docs/SECURITY.md` ("Budgets").

use serde::Deserialize;

use crate::domain::budget::{Budget, RoleBudgets};

/// SQLite heap limit range, MiB.
pub const SQLITE_HEAP_LIMIT_MIB: (u64, u64) = (32, 65_536);

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetsConfig {
    /// Budgets of every connection that does not override them.
    pub defaults: Budget,
    /// Per-role overrides (`[budgets.roles.viewer]` …); they only tighten.
    pub roles: RoleBudgets,
    /// `PRAGMA hard_heap_limit` of the process's SQLite (app store and every
    /// SQLite target share it), MiB.
    pub sqlite_heap_limit_mib: u64,
}

impl Default for BudgetsConfig {
    fn default() -> Self {
        Self {
            defaults: Budget::default(),
            roles: RoleBudgets::default(),
            sqlite_heap_limit_mib: 256,
        }
    }
}

impl BudgetsConfig {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut out = self.defaults.problems("budgets.defaults");
        out.extend(self.roles.problems("budgets.roles"));
        let (lo, hi) = SQLITE_HEAP_LIMIT_MIB;
        if !(lo..=hi).contains(&self.sqlite_heap_limit_mib) {
            out.push(format!(
                "budgets.sqlite_heap_limit_mib (INSIGHT_BUDGETS__SQLITE_HEAP_LIMIT_MIB): must be between {lo} and {hi} (got {})",
                self.sqlite_heap_limit_mib
            ));
        }
        out
    }

    /// The heap limit in bytes.
    pub fn sqlite_heap_limit_bytes(&self) -> u64 {
        self.sqlite_heap_limit_mib.saturating_mul(1024 * 1024)
    }
}
