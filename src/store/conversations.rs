//! Conversations on `/api/v1/ask`: who owns one and its turns in order, each
//! with the question as asked and the standalone question it was rewritten
//! into. Ownership is checked by the engine, which compares
//! [`Conversation::user_id`] with the caller; this module only stores.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::writer::Write;
use super::{Store, StoreError, now};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: String,
    /// The user who started it; `None` for an unauthenticated caller.
    pub user_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One answered question of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turn {
    /// 1, 2, … in the order asked.
    pub seq: i64,
    pub query_id: Option<String>,
    /// As the user asked it ("and by country?").
    pub question: String,
    /// What the pipeline answered (equal to `question` for the first turn).
    pub standalone_question: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct NewTurn<'a> {
    pub query_id: Option<&'a str>,
    pub question: &'a str,
    pub standalone_question: &'a str,
}

impl Store {
    pub async fn find_conversation(&self, id: &str) -> Result<Option<Conversation>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, created_at, updated_at FROM conversations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Conversation {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
    }

    /// Append a turn, creating the conversation (owned by `user_id`) with its
    /// first turn. Two turns racing for the same number: the loser gets
    /// [`StoreError::Conflict`].
    pub async fn add_turn(
        &self,
        conversation_id: &str,
        user_id: Option<&str>,
        turn: &NewTurn<'_>,
    ) -> Result<Turn, StoreError> {
        let row = TurnRow {
            conversation_id: conversation_id.to_string(),
            user_id: user_id.map(str::to_string),
            query_id: turn.query_id.map(str::to_string),
            question: turn.question.to_string(),
            standalone_question: turn.standalone_question.to_string(),
            at: now(),
        };
        let at = row.at.clone();
        let seq = self
            .writer
            .submit_counted(Write::Turn(Box::new(row)))
            .await?;
        Ok(Turn {
            seq: i64::try_from(seq).unwrap_or(i64::MAX),
            query_id: turn.query_id.map(str::to_string),
            question: turn.question.to_string(),
            standalone_question: turn.standalone_question.to_string(),
            created_at: at,
        })
    }

    /// The last `limit` turns of a conversation, oldest first.
    pub async fn recent_turns(
        &self,
        conversation_id: &str,
        limit: u32,
    ) -> Result<Vec<Turn>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, query_id, question, standalone_question, created_at \
             FROM conversation_turns WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(conversation_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let mut turns = rows
            .iter()
            .map(|r| {
                Ok(Turn {
                    seq: r.try_get("seq")?,
                    query_id: r.try_get("query_id")?,
                    question: r.try_get("question")?,
                    standalone_question: r.try_get("standalone_question")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        turns.reverse();
        Ok(turns)
    }
}

/// A turn as the group-commit writer appends it (see `writer.rs`).
#[derive(Debug)]
pub(crate) struct TurnRow {
    conversation_id: String,
    user_id: Option<String>,
    query_id: Option<String>,
    question: String,
    standalone_question: String,
    at: String,
}

impl TurnRow {
    /// Create or touch the conversation and append the turn; its number.
    /// Runs inside the writer's transaction.
    pub(crate) async fn insert(&self, conn: &mut AnyConnection) -> Result<u64, sqlx::Error> {
        sqlx::query(
            "INSERT INTO conversations (id, user_id, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at",
        )
        .bind(&self.conversation_id)
        .bind(&self.user_id)
        .bind(&self.at)
        .execute(&mut *conn)
        .await?;
        let seq: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(MAX(seq), 0) + 1 AS BIGINT) FROM conversation_turns \
             WHERE conversation_id = $1",
        )
        .bind(&self.conversation_id)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO conversation_turns (conversation_id, seq, query_id, question, \
             standalone_question, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&self.conversation_id)
        .bind(seq)
        .bind(&self.query_id)
        .bind(&self.question)
        .bind(&self.standalone_question)
        .bind(&self.at)
        .execute(&mut *conn)
        .await?;
        Ok(u64::try_from(seq).unwrap_or(0))
    }
}
