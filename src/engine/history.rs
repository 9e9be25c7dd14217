//! The history as a caller may read it: their own questions, and (with
//! `ReadAllHistory`) other users' questions whose SQL passes the gate under
//! the caller's grant ([`Engine::may_see_query`]). Feedback on a visible
//! record is shown only when its corrected SQL passes the same gate.
//!
//! Records whose error came from the database show the fixed public
//! sentence, never the database's text (older records may hold it).

use super::gate::{Reach, public_db_error};
use super::pipeline::{Engine, PipelineError, RequestContext};
use crate::auth::roles::Action;
use crate::store::{FeedbackRecord, Page, QueryRecord, StoreError};

/// Records read per store query when a limited caller's history is filtered.
const SCAN_PAGE: u32 = 500;

impl Engine {
    /// One page of the history the caller may read, newest first, with the
    /// total of what they may read.
    pub async fn list_history(
        &self,
        rc: &RequestContext,
        page: Page,
    ) -> Result<(Vec<QueryRecord>, u64), PipelineError> {
        let Some(caller) = &rc.caller else {
            return Ok(public(self.store.list_queries(None, page).await?));
        };
        if !caller.can(Action::ReadAllHistory) {
            let user = rc.user_id.as_deref().unwrap_or_default();
            return Ok(public(self.store.list_queries(Some(user), page).await?));
        }
        let Some(grants) = &caller.grants else {
            return Ok(public(self.store.list_queries(None, page).await?));
        };
        let on: Vec<String> = grants.iter().map(|g| g.connection.clone()).collect();
        // Without an allowlist anywhere the store pages for us.
        let unlimited = on.iter().all(|c| {
            caller.reach(c) == Reach::All
                && self
                    .connection_named(Some(c))
                    .is_ok_and(|conn| conn.policy().allowed_tables.is_none())
        });
        if unlimited {
            return Ok(public(self.store.list_queries_on(&on, page).await?));
        }
        let mut visible = Vec::new();
        let mut offset = 0;
        loop {
            let scan = Page {
                limit: SCAN_PAGE,
                offset,
            };
            let (items, total) = self.store.list_queries_on(&on, scan).await?;
            offset += items.len() as u64;
            let done = items.is_empty() || offset >= total;
            visible.extend(items.into_iter().filter(|q| self.may_see_query(rc, q)));
            if done {
                break;
            }
        }
        let total = visible.len() as u64;
        let items = visible
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(page.limit as usize)
            .collect();
        Ok(public((items, total)))
    }

    /// One history record with the feedback the caller may see; a record
    /// they may not read is `NotFound`, as if it did not exist.
    pub async fn history_item(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<(QueryRecord, Vec<FeedbackRecord>), PipelineError> {
        let query = self.visible_query(rc, id).await?;
        let feedback = self
            .store
            .feedback_for_query(id)
            .await?
            .into_iter()
            .filter(|f| {
                (rc.user_id.is_some() && f.user_id == rc.user_id)
                    || f.corrected_sql
                        .as_deref()
                        .is_none_or(|s| self.may_see_sql(rc, &query.connection, s))
            })
            .collect();
        Ok((public_record(query), feedback))
    }

    /// The record if the caller may see it, else `NotFound`.
    pub async fn visible_query(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<QueryRecord, PipelineError> {
        let query = self.store.get_query(id).await?;
        if self.may_see_query(rc, &query) {
            Ok(query)
        } else {
            Err(PipelineError::Store(StoreError::NotFound))
        }
    }
}

fn public((items, total): (Vec<QueryRecord>, u64)) -> (Vec<QueryRecord>, u64) {
    (items.into_iter().map(public_record).collect(), total)
}

/// A record as shown: a database error's text replaced by its public form.
fn public_record(mut q: QueryRecord) -> QueryRecord {
    if q.error_code.as_deref() == Some("query_failed")
        && let Some(m) = &q.error_message
        && !m.starts_with("The database rejected the query: ")
    {
        q.error_message = Some(public_db_error(m));
    }
    q
}
