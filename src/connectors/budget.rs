//! Resource budgets of one execution, and admission to a connection.
//!
//! The validator decides *what* may run; this module bounds *how much* one
//! statement and one user may take, so no request can exhaust the process or
//! starve other users (issue 13, findings 3 and 4):
//!
//! - [`ResultMeter`]: per-cell and per-result byte caps, checked while rows
//!   stream, so nothing is buffered past the cap (`result_too_large`).
//! - [`Budget::max_steps`] (SQLite progress handler) and the `EXPLAIN`
//!   estimates (`max_explain_cost`, `max_explain_rows`; PostgreSQL/MySQL) stop
//!   runaway statements early (`query_too_expensive`) instead of holding a
//!   connection until the timeout.
//! - [`Admission`]: a per-user cap on concurrent queries of a connection, never
//!   more than half its pool (a fair share), and a bounded wait — for one of
//!   the user's own slots, then for a free connection — then `429` with
//!   `Retry-After`.
//!
//! Budgets come from `[budgets.defaults]`, are replaced per connection
//! (`[connections.NAME.budgets]`) and tightened per role
//! (`[budgets.roles.ROLE]`). `docs/SECURITY.md` ("Budgets") lists them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use super::ConnectorError;
pub use crate::domain::budget::{Budget, BudgetOverride, RoleBudgets};

/// The SQLite progress handler runs every this many VM instructions.
pub const PROGRESS_OPS: u64 = 1000;

/// Counts the bytes of a result as it streams and refuses a value or a
/// result over its cap before it is kept.
#[derive(Debug)]
pub struct ResultMeter {
    used: u64,
    max_result: u64,
    max_cell: u64,
}

impl ResultMeter {
    pub fn new(budget: &Budget) -> Self {
        Self {
            used: 0,
            max_result: budget.max_result_bytes,
            max_cell: budget.max_cell_bytes,
        }
    }

    /// Account for one value of `len` bytes; call before converting or
    /// keeping it.
    pub fn cell(&mut self, len: usize) -> Result<(), ConnectorError> {
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        if len > self.max_cell {
            return Err(ConnectorError::TooLarge(format!(
                "a value of the result is larger than the {} byte limit per value",
                self.max_cell
            )));
        }
        self.used = self.used.saturating_add(len);
        if self.used > self.max_result {
            return Err(ConnectorError::TooLarge(format!(
                "the result is larger than the {} byte limit; select fewer rows or columns",
                self.max_result
            )));
        }
        Ok(())
    }

    /// Account for a converted JSON value (by its serialized size).
    pub fn value(&mut self, v: &serde_json::Value) -> Result<(), ConnectorError> {
        self.cell(json_size(v))
    }
}

/// The serialized size of a JSON value, closely enough to bound memory.
pub fn json_size(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    match v {
        Value::Null => 4,
        Value::Bool(_) => 5,
        Value::Number(_) => 8,
        Value::String(s) => s.len().saturating_add(2),
        Value::Array(a) => a
            .iter()
            .fold(2usize, |n, v| n.saturating_add(json_size(v) + 1)),
        Value::Object(o) => o.iter().fold(2usize, |n, (k, v)| {
            n.saturating_add(k.len() + 4).saturating_add(json_size(v))
        }),
    }
}

/// Who runs a query, for admission and per-role budgets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    /// `None`: the service itself (CLI, eval); it takes a slot but has no user cap.
    pub user_id: Option<&'a str>,
    /// Role name (`viewer`, `analyst`, `admin`) for `[budgets.roles.*]`.
    pub role: Option<&'a str>,
}

/// Slots of one connection (its pool size) and the queries each user holds.
pub struct Admission {
    slots: Semaphore,
    size: u32,
    /// Each running user's own slots (the cap at their first query); the
    /// entry goes when the user's last query ends.
    per_user: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Held while a query runs; frees its slot and the user's count on drop.
pub struct Permit<'a> {
    _slot: SemaphorePermit<'a>,
    _user: Option<UserCount<'a>>,
}

struct UserCount<'a> {
    admission: &'a Admission,
    user: String,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for UserCount<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut map = self
            .admission
            .per_user
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Only the map holds it: nobody runs or waits for this user.
        if map
            .get(&self.user)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            map.remove(&self.user);
        }
    }
}

impl Admission {
    /// Admission to a connection whose pool holds `size` connections.
    pub fn new(size: u32) -> Self {
        let size = size.max(1);
        Self {
            slots: Semaphore::new(size as usize),
            size,
            per_user: Mutex::new(HashMap::new()),
        }
    }

    /// The most queries one user may run at once here: the budget's cap,
    /// never more than half the pool (at least one).
    pub fn user_cap(&self, budget: &Budget) -> u32 {
        budget.max_concurrent_per_user.min((self.size / 2).max(1))
    }

    /// Take a slot for `caller`, waiting at most `budget.queue_wait_ms`.
    pub async fn enter(
        &self,
        caller: Caller<'_>,
        budget: &Budget,
    ) -> Result<Permit<'_>, ConnectorError> {
        let wait = Duration::from_millis(budget.queue_wait_ms);
        let deadline = Instant::now() + wait;
        let user = match caller.user_id {
            Some(user) => {
                let cap = self.user_cap(budget);
                let mine = {
                    let mut map = self.per_user.lock().unwrap_or_else(|p| p.into_inner());
                    map.entry(user.to_string())
                        .or_insert_with(|| Arc::new(Semaphore::new(cap as usize)))
                        .clone()
                };
                // The guard exists before the wait, so a refused waiter
                // still removes an entry nobody else holds.
                let mut count = UserCount {
                    admission: self,
                    user: user.to_string(),
                    permit: None,
                };
                match tokio::time::timeout(wait, mine.acquire_owned()).await {
                    Ok(Ok(permit)) => count.permit = Some(permit),
                    _ => {
                        return Err(ConnectorError::Busy {
                            retry_after: Duration::from_secs(1),
                            reason: format!(
                                "you are already running {cap} queries on this connection; wait for one to finish"
                            ),
                        });
                    }
                }
                Some(count)
            }
            None => None,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let slot = match tokio::time::timeout(left, self.slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            _ => {
                return Err(ConnectorError::Busy {
                    retry_after: wait.max(Duration::from_secs(1)),
                    reason: "every connection to this database is busy; try again shortly".into(),
                });
            }
        };
        Ok(Permit {
            _slot: slot,
            _user: user,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_refuses_a_big_cell_and_a_big_result() {
        let b = Budget {
            max_result_bytes: 100,
            max_cell_bytes: 40,
            ..Budget::default()
        };
        let mut m = ResultMeter::new(&b);
        assert!(matches!(m.cell(41), Err(ConnectorError::TooLarge(_))));
        let mut m = ResultMeter::new(&b);
        m.cell(40).unwrap();
        m.cell(40).unwrap();
        assert!(matches!(m.cell(40), Err(ConnectorError::TooLarge(_))));
    }

    #[tokio::test]
    async fn one_user_gets_at_most_half_the_pool_and_waits_are_bounded() {
        let a = Admission::new(4);
        let b = Budget {
            max_concurrent_per_user: 8,
            queue_wait_ms: 50,
            ..Budget::default()
        };
        let me = Caller {
            user_id: Some("u1"),
            role: None,
        };
        let p1 = a.enter(me, &b).await.unwrap();
        let _p2 = a.enter(me, &b).await.unwrap();
        let t = std::time::Instant::now();
        assert!(matches!(
            a.enter(me, &b).await,
            Err(ConnectorError::Busy { .. })
        ));
        assert!(
            t.elapsed() >= Duration::from_millis(40),
            "the user's wait is bounded, not zero"
        );
        // Others still get the other half.
        let other = Caller {
            user_id: Some("u2"),
            role: None,
        };
        let _o1 = a.enter(other, &b).await.unwrap();
        let _o2 = a.enter(other, &b).await.unwrap();
        // The pool is full: a third user waits 50 ms, then is refused.
        let third = Caller {
            user_id: Some("u3"),
            role: None,
        };
        let t = std::time::Instant::now();
        assert!(matches!(
            a.enter(third, &b).await,
            Err(ConnectorError::Busy { .. })
        ));
        assert!(t.elapsed() < Duration::from_secs(1));
        drop(p1);
        a.enter(third, &b).await.unwrap();
        // The first user's slot came back with the dropped permit.
        let u1 = a.per_user.lock().unwrap().get("u1").cloned().unwrap();
        assert_eq!(u1.available_permits(), 1);
        // A waiting user gets their own slot as soon as one frees.
        let a = Admission::new(4);
        let b = Budget {
            max_concurrent_per_user: 1,
            queue_wait_ms: 2000,
            ..Budget::default()
        };
        let held = a.enter(me, &b).await.unwrap();
        let waiter = async { a.enter(me, &b).await.map(|_| ()) };
        let release = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(held);
        };
        let (got, ()) = tokio::join!(waiter, release);
        got.unwrap();
        assert!(
            a.per_user.lock().unwrap().is_empty(),
            "entries go with the last query"
        );
    }
}
