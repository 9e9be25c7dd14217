//! Feedback on answers: 👍/👎, an optional corrected SQL and a comment, with
//! what became of it (trained, pending approval, or only recorded).

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::Row;

use super::writer::Write;
use super::{Store, StoreError, new_id, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackStatus {
    /// Became an active `question_sql` training item.
    Trained,
    /// Waits for an analyst's approval before it is trained.
    Pending,
    /// Kept for the record (a 👎 without a working correction).
    Recorded,
    Rejected,
}

impl FeedbackStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackStatus::Trained => "trained",
            FeedbackStatus::Pending => "pending",
            FeedbackStatus::Recorded => "recorded",
            FeedbackStatus::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "trained" => Self::Trained,
            "pending" => Self::Pending,
            "rejected" => Self::Rejected,
            _ => Self::Recorded,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewFeedback {
    pub query_id: String,
    pub user_id: Option<String>,
    pub rating: String,
    pub corrected_sql: Option<String>,
    pub comment: Option<String>,
    pub status: FeedbackStatus,
    pub training_item_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedbackRecord {
    pub id: String,
    pub query_id: String,
    pub user_id: Option<String>,
    pub rating: String,
    pub corrected_sql: Option<String>,
    pub comment: Option<String>,
    pub status: FeedbackStatus,
    pub training_item_id: Option<String>,
    pub created_at: String,
}

/// A feedback row as the writer inserts it.
#[derive(Debug)]
pub(crate) struct FeedbackRow {
    id: String,
    created_at: String,
    feedback: NewFeedback,
}

impl FeedbackRow {
    pub(super) async fn insert(&self, conn: &mut AnyConnection) -> Result<u64, sqlx::Error> {
        let f = &self.feedback;
        let done = sqlx::query(
            "INSERT INTO feedback (id, query_id, user_id, rating, corrected_sql, comment, status, \
             training_item_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&self.id)
        .bind(&f.query_id)
        .bind(&f.user_id)
        .bind(&f.rating)
        .bind(&f.corrected_sql)
        .bind(&f.comment)
        .bind(f.status.as_str())
        .bind(&f.training_item_id)
        .bind(&self.created_at)
        .execute(conn)
        .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// Record feedback through the group-commit writer; returns once it is
    /// committed.
    pub async fn insert_feedback(&self, f: &NewFeedback) -> Result<FeedbackRecord, StoreError> {
        let row = FeedbackRow {
            id: new_id(),
            created_at: now(),
            feedback: f.clone(),
        };
        let record = FeedbackRecord {
            id: row.id.clone(),
            query_id: f.query_id.clone(),
            user_id: f.user_id.clone(),
            rating: f.rating.clone(),
            corrected_sql: f.corrected_sql.clone(),
            comment: f.comment.clone(),
            status: f.status,
            training_item_id: f.training_item_id.clone(),
            created_at: row.created_at.clone(),
        };
        self.writer.submit(Write::Feedback(Box::new(row))).await?;
        Ok(record)
    }

    pub async fn feedback_for_query(
        &self,
        query_id: &str,
    ) -> Result<Vec<FeedbackRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, query_id, user_id, rating, corrected_sql, comment, status, training_item_id, \
             created_at FROM feedback WHERE query_id = $1 ORDER BY created_at, id",
        )
        .bind(query_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FeedbackRecord {
                    id: r.try_get("id")?,
                    query_id: r.try_get("query_id")?,
                    user_id: r.try_get("user_id")?,
                    rating: r.try_get("rating")?,
                    corrected_sql: r.try_get("corrected_sql")?,
                    comment: r.try_get("comment")?,
                    status: FeedbackStatus::parse(&r.try_get::<String, _>("status")?),
                    training_item_id: r.try_get("training_item_id")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
