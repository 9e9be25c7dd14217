//! Resource budgets of one execution as settings: what each limit is, its
//! default and its documented range, and how connection and role overrides
//! combine. Enforced by `connectors::budget`; listed in `docs/SECURITY.md`
//! ("Budgets"). Kept in the domain so config and connectors share it.

use serde::{Deserialize, Serialize};

/// Limits of one execution beyond the row cap and the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Budget {
    /// Bytes of one result (JSON text size of its values), 1 KiB – 1 GiB.
    pub max_result_bytes: u64,
    /// Bytes of one value, 16 B – 256 MiB (and at most `max_result_bytes`).
    pub max_cell_bytes: u64,
    /// SQLite virtual-machine instructions of one statement, 100 000 – 10^12.
    pub max_steps: u64,
    /// PostgreSQL planner cost (`EXPLAIN` total cost) of one statement, 10 – 10^15.
    pub max_explain_cost: f64,
    /// Rows the planner expects one statement to produce or examine
    /// (PostgreSQL: plan rows; MySQL/MariaDB: product of `EXPLAIN` rows), 10 – 10^15.
    pub max_explain_rows: f64,
    /// Queries one user may run at once on one connection, 1 – 64; never
    /// more than half the connection's pool (at least one).
    pub max_concurrent_per_user: u32,
    /// How long a query waits for a free connection slot before `429`, 0 – 60000 ms.
    pub queue_wait_ms: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_result_bytes: 16 * 1024 * 1024,
            max_cell_bytes: 1024 * 1024,
            max_steps: 20_000_000,
            max_explain_cost: 1e8,
            max_explain_rows: 1e8,
            max_concurrent_per_user: 2,
            queue_wait_ms: 2000,
        }
    }
}

/// Some of a [`Budget`]'s fields; unset fields keep the value underneath.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetOverride {
    pub max_result_bytes: Option<u64>,
    pub max_cell_bytes: Option<u64>,
    pub max_steps: Option<u64>,
    pub max_explain_cost: Option<f64>,
    pub max_explain_rows: Option<f64>,
    pub max_concurrent_per_user: Option<u32>,
    pub queue_wait_ms: Option<u64>,
}

/// Per-role overrides (`[budgets.roles.viewer]` …); they only tighten.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleBudgets {
    pub viewer: BudgetOverride,
    pub analyst: BudgetOverride,
    pub admin: BudgetOverride,
}

impl RoleBudgets {
    /// The override for a role by its name (`viewer`, `analyst`, `admin`).
    pub fn get(&self, role: &str) -> Option<&BudgetOverride> {
        match role {
            "viewer" => Some(&self.viewer),
            "analyst" => Some(&self.analyst),
            "admin" => Some(&self.admin),
            _ => None,
        }
    }

    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut out = self.viewer.problems(&format!("{prefix}.viewer"));
        out.extend(self.analyst.problems(&format!("{prefix}.analyst")));
        out.extend(self.admin.problems(&format!("{prefix}.admin")));
        out
    }
}

/// Documented range of each budget: (name, min, max).
const U64_RANGES: [(&str, u64, u64); 4] = [
    ("max_result_bytes", 1024, 1 << 30),
    ("max_cell_bytes", 16, 256 << 20),
    ("max_steps", 100_000, 1_000_000_000_000),
    ("queue_wait_ms", 0, 60_000),
];
const F64_RANGES: [(&str, f64, f64); 2] = [
    ("max_explain_cost", 10.0, 1e15),
    ("max_explain_rows", 10.0, 1e15),
];
const CONCURRENCY_RANGE: (u32, u32) = (1, 64);

fn check_u64(out: &mut Vec<String>, prefix: &str, name: &str, v: u64) {
    if let Some((_, lo, hi)) = U64_RANGES.iter().find(|(n, _, _)| *n == name)
        && !(*lo..=*hi).contains(&v)
    {
        out.push(format!(
            "{prefix}.{name}: must be between {lo} and {hi} (got {v})"
        ));
    }
}

fn check_f64(out: &mut Vec<String>, prefix: &str, name: &str, v: f64) {
    if let Some((_, lo, hi)) = F64_RANGES.iter().find(|(n, _, _)| *n == name)
        && !(v.is_finite() && (*lo..=*hi).contains(&v))
    {
        out.push(format!(
            "{prefix}.{name}: must be between {lo} and {hi:e} (got {v})"
        ));
    }
}

fn check_concurrency(out: &mut Vec<String>, prefix: &str, v: u32) {
    let (lo, hi) = CONCURRENCY_RANGE;
    if !(lo..=hi).contains(&v) {
        out.push(format!(
            "{prefix}.max_concurrent_per_user: must be between {lo} and {hi} (got {v})"
        ));
    }
}

impl Budget {
    /// Each value out of its range, named `{prefix}.{field}`.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        check_u64(&mut out, prefix, "max_result_bytes", self.max_result_bytes);
        check_u64(&mut out, prefix, "max_cell_bytes", self.max_cell_bytes);
        check_u64(&mut out, prefix, "max_steps", self.max_steps);
        check_u64(&mut out, prefix, "queue_wait_ms", self.queue_wait_ms);
        check_f64(&mut out, prefix, "max_explain_cost", self.max_explain_cost);
        check_f64(&mut out, prefix, "max_explain_rows", self.max_explain_rows);
        check_concurrency(&mut out, prefix, self.max_concurrent_per_user);
        if out.is_empty() && self.max_cell_bytes > self.max_result_bytes {
            out.push(format!(
                "{prefix}.max_cell_bytes: must be at most {prefix}.max_result_bytes"
            ));
        }
        out
    }

    /// This budget with the set fields of `o` replacing its own.
    pub fn replaced_by(mut self, o: &BudgetOverride) -> Self {
        self.max_result_bytes = o.max_result_bytes.unwrap_or(self.max_result_bytes);
        self.max_cell_bytes = o.max_cell_bytes.unwrap_or(self.max_cell_bytes);
        self.max_steps = o.max_steps.unwrap_or(self.max_steps);
        self.max_explain_cost = o.max_explain_cost.unwrap_or(self.max_explain_cost);
        self.max_explain_rows = o.max_explain_rows.unwrap_or(self.max_explain_rows);
        self.max_concurrent_per_user = o
            .max_concurrent_per_user
            .unwrap_or(self.max_concurrent_per_user);
        self.queue_wait_ms = o.queue_wait_ms.unwrap_or(self.queue_wait_ms);
        self
    }

    /// This budget tightened by `o`: each set field can only lower a limit.
    pub fn narrowed_by(mut self, o: &BudgetOverride) -> Self {
        let min = |a: u64, b: Option<u64>| b.map_or(a, |b| a.min(b));
        let minf = |a: f64, b: Option<f64>| b.map_or(a, |b| a.min(b));
        self.max_result_bytes = min(self.max_result_bytes, o.max_result_bytes);
        self.max_cell_bytes = min(self.max_cell_bytes, o.max_cell_bytes);
        self.max_steps = min(self.max_steps, o.max_steps);
        self.max_explain_cost = minf(self.max_explain_cost, o.max_explain_cost);
        self.max_explain_rows = minf(self.max_explain_rows, o.max_explain_rows);
        self.max_concurrent_per_user = o
            .max_concurrent_per_user
            .map_or(self.max_concurrent_per_user, |b| {
                self.max_concurrent_per_user.min(b)
            });
        self.queue_wait_ms = min(self.queue_wait_ms, o.queue_wait_ms);
        self
    }
}

impl BudgetOverride {
    /// Each set value out of its range, named `{prefix}.{field}`.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (name, v) in [
            ("max_result_bytes", self.max_result_bytes),
            ("max_cell_bytes", self.max_cell_bytes),
            ("max_steps", self.max_steps),
            ("queue_wait_ms", self.queue_wait_ms),
        ] {
            if let Some(v) = v {
                check_u64(&mut out, prefix, name, v);
            }
        }
        for (name, v) in [
            ("max_explain_cost", self.max_explain_cost),
            ("max_explain_rows", self.max_explain_rows),
        ] {
            if let Some(v) = v {
                check_f64(&mut out, prefix, name, v);
            }
        }
        if let Some(v) = self.max_concurrent_per_user {
            check_concurrency(&mut out, prefix, v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_name_the_setting() {
        let b = Budget {
            max_steps: 0,
            max_explain_cost: f64::NAN,
            max_concurrent_per_user: 0,
            ..Budget::default()
        };
        let p = b.problems("budgets.defaults").join("\n");
        assert!(p.contains("budgets.defaults.max_steps"), "{p}");
        assert!(p.contains("budgets.defaults.max_explain_cost"), "{p}");
        assert!(
            p.contains("budgets.defaults.max_concurrent_per_user"),
            "{p}"
        );
        assert!(Budget::default().problems("x").is_empty());
        let o = BudgetOverride {
            max_result_bytes: Some(u64::MAX),
            ..Default::default()
        };
        assert!(o.problems("c")[0].starts_with("c.max_result_bytes"));
    }

    #[test]
    fn roles_only_tighten() {
        let base = Budget::default();
        let loose = BudgetOverride {
            max_steps: Some(u64::MAX),
            max_concurrent_per_user: Some(1),
            ..Default::default()
        };
        let b = base.narrowed_by(&loose);
        assert_eq!(b.max_steps, base.max_steps);
        assert_eq!(b.max_concurrent_per_user, 1);
        assert_eq!(base.replaced_by(&loose).max_steps, u64::MAX);
    }
}
