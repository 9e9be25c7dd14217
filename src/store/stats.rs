//! Usage figures for the admin dashboard, computed from the history and the
//! feedback: questions and answers per day, answer rate, 👍 ratio, p95
//! latency, the most asked-about tables and LLM token use.
//!
//! The SQL is plain and portable (`$n` placeholders, `substr` on the RFC 3339
//! text timestamps for day buckets, no date functions), so the PostgreSQL
//! store can run it unchanged; percentiles and the JSON columns are worked
//! out in Rust.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};

/// One day of the window (UTC), including days without questions.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DayStats {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub questions: u64,
    pub answered: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TableStats {
    pub table: String,
    /// Answered questions whose SQL read this table.
    pub questions: u64,
}

/// The dashboard's figures for the last `days` days (today included).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct UsageStats {
    pub days: u32,
    /// First day of the window, `YYYY-MM-DD`.
    pub since: String,
    pub questions: u64,
    pub answered: u64,
    /// `answered / questions`; `null` without questions.
    pub answer_rate: Option<f64>,
    pub thumbs_up: u64,
    pub thumbs_down: u64,
    /// `👍 / (👍 + 👎)`; `null` without feedback.
    pub thumbs_up_ratio: Option<f64>,
    /// 95th percentile of the total time of answered questions.
    pub p95_latency_ms: Option<u64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub per_day: Vec<DayStats>,
    /// At most ten, most used first.
    pub top_tables: Vec<TableStats>,
}

/// Nearest-rank percentile of `values` (sorted in place).
pub fn percentile(values: &mut [u64], p: f64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn count(v: i64) -> u64 {
    v.max(0) as u64
}

impl Store {
    /// Figures for the `days` days ending today (UTC), `days` in 1..=366.
    pub async fn usage_stats(&self, days: u32) -> Result<UsageStats, StoreError> {
        let days = days.clamp(1, 366);
        let today = chrono::Utc::now().date_naive();
        let first = today - chrono::Days::new(u64::from(days - 1));
        let since = first.format("%Y-%m-%d").to_string();
        // RFC 3339 UTC text sorts as time: every timestamp of the window
        // compares >= its first day's date.
        let per_day_rows = sqlx::query(
            "SELECT substr(created_at, 1, 10) AS day, COUNT(*) AS questions, \
             CAST(SUM(CASE WHEN status = 'answered' THEN 1 ELSE 0 END) AS BIGINT) AS answered, \
             CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, \
             CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens \
             FROM queries WHERE created_at >= $1 GROUP BY substr(created_at, 1, 10)",
        )
        .bind(&since)
        .fetch_all(self.pool())
        .await?;
        let mut by_day: BTreeMap<String, DayStats> = BTreeMap::new();
        for r in &per_day_rows {
            let day: String = r.try_get("day")?;
            by_day.insert(
                day.clone(),
                DayStats {
                    day,
                    questions: count(r.try_get("questions")?),
                    answered: count(r.try_get::<Option<i64>, _>("answered")?.unwrap_or(0)),
                    prompt_tokens: count(
                        r.try_get::<Option<i64>, _>("prompt_tokens")?.unwrap_or(0),
                    ),
                    completion_tokens: count(
                        r.try_get::<Option<i64>, _>("completion_tokens")?
                            .unwrap_or(0),
                    ),
                },
            );
        }
        let per_day: Vec<DayStats> = first
            .iter_days()
            .take(days as usize)
            .map(|d| {
                let day = d.format("%Y-%m-%d").to_string();
                by_day.remove(&day).unwrap_or(DayStats {
                    day,
                    questions: 0,
                    answered: 0,
                    prompt_tokens: 0,
                    completion_tokens: 0,
                })
            })
            .collect();

        let feedback = sqlx::query(
            "SELECT rating, COUNT(*) AS n FROM feedback WHERE created_at >= $1 GROUP BY rating",
        )
        .bind(&since)
        .fetch_all(self.pool())
        .await?;
        let (mut up, mut down) = (0, 0);
        for r in &feedback {
            let n = count(r.try_get("n")?);
            match r.try_get::<String, _>("rating")?.as_str() {
                "up" => up += n,
                _ => down += n,
            }
        }

        let answered_rows = sqlx::query(
            "SELECT tables_json, timings_json FROM queries \
             WHERE created_at >= $1 AND status = 'answered'",
        )
        .bind(&since)
        .fetch_all(self.pool())
        .await?;
        let mut latencies = Vec::with_capacity(answered_rows.len());
        let mut tables: HashMap<String, u64> = HashMap::new();
        for r in &answered_rows {
            let timings: serde_json::Value =
                serde_json::from_str(&r.try_get::<String, _>("timings_json")?).unwrap_or_default();
            if let Some(total) = timings["total"].as_u64() {
                latencies.push(total);
            }
            let used: Vec<String> =
                serde_json::from_str(&r.try_get::<String, _>("tables_json")?).unwrap_or_default();
            for t in used {
                *tables.entry(t.to_ascii_lowercase()).or_default() += 1;
            }
        }
        let mut top_tables: Vec<TableStats> = tables
            .into_iter()
            .map(|(table, questions)| TableStats { table, questions })
            .collect();
        top_tables.sort_by(|a, b| b.questions.cmp(&a.questions).then(a.table.cmp(&b.table)));
        top_tables.truncate(10);

        let questions = per_day.iter().map(|d| d.questions).sum();
        let answered = per_day.iter().map(|d| d.answered).sum();
        Ok(UsageStats {
            days,
            since,
            questions,
            answered,
            answer_rate: ratio(answered, questions),
            thumbs_up: up,
            thumbs_down: down,
            thumbs_up_ratio: ratio(up, up + down),
            p95_latency_ms: percentile(&mut latencies, 95.0),
            prompt_tokens: per_day.iter().map(|d| d.prompt_tokens).sum(),
            completion_tokens: per_day.iter().map(|d| d.completion_tokens).sum(),
            per_day,
            top_tables,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewQuery, QueryStatus};

    #[test]
    fn nearest_rank_percentile() {
        assert_eq!(percentile(&mut [], 95.0), None);
        assert_eq!(percentile(&mut [7], 95.0), Some(7));
        let mut v: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut v, 95.0), Some(95));
        assert_eq!(percentile(&mut v, 50.0), Some(50));
    }

    fn query(id: &str, status: QueryStatus, total_ms: u64, tables: &[&str]) -> NewQuery {
        NewQuery {
            id: id.into(),
            user_id: None,
            connection: "demo".into(),
            question: "q".into(),
            sql: Some("SELECT 1".into()),
            status,
            error_code: None,
            error_message: None,
            row_count: Some(1),
            truncated: false,
            tables: tables.iter().map(|t| (*t).to_string()).collect(),
            sources: serde_json::json!([]),
            timings: serde_json::json!({ "total": total_ms }),
            provider: Some("builtin".into()),
            model: None,
            strategy: None,
            prompt_tokens: 100,
            completion_tokens: 10,
            attempts: 1,
            correlation_id: None,
            trust: None,
        }
    }

    #[tokio::test]
    async fn figures_come_from_history_and_feedback() {
        let store = Store::in_memory().await.unwrap();
        let empty = store.usage_stats(7).await.unwrap();
        assert_eq!(empty.per_day.len(), 7);
        assert_eq!((empty.questions, empty.answer_rate), (0, None));
        assert_eq!(empty.p95_latency_ms, None);

        for (i, ms) in [10, 20, 30, 400].iter().enumerate() {
            let tables: &[&str] = if i == 0 {
                &["customers", "orders"]
            } else {
                &["customers"]
            };
            store
                .insert_query(&query(&format!("a{i}"), QueryStatus::Answered, *ms, tables))
                .await
                .unwrap();
        }
        store
            .insert_query(&query("r", QueryStatus::Rejected, 5, &[]))
            .await
            .unwrap();
        for (q, rating) in [("a0", "up"), ("a1", "up"), ("a2", "up"), ("a3", "down")] {
            store
                .insert_feedback(&crate::store::NewFeedback {
                    query_id: q.into(),
                    user_id: None,
                    rating: rating.into(),
                    corrected_sql: None,
                    comment: None,
                    status: crate::store::FeedbackStatus::Recorded,
                    training_item_id: None,
                })
                .await
                .unwrap();
        }
        let s = store.usage_stats(30).await.unwrap();
        assert_eq!((s.questions, s.answered), (5, 4));
        assert_eq!(s.answer_rate, Some(0.8));
        assert_eq!((s.thumbs_up, s.thumbs_down), (3, 1));
        assert_eq!(s.thumbs_up_ratio, Some(0.75));
        assert_eq!(s.p95_latency_ms, Some(400));
        assert_eq!((s.prompt_tokens, s.completion_tokens), (500, 50));
        assert_eq!(s.per_day.len(), 30);
        let today = s.per_day.last().unwrap();
        assert_eq!(
            today.day,
            chrono::Utc::now()
                .date_naive()
                .format("%Y-%m-%d")
                .to_string()
        );
        assert_eq!((today.questions, today.answered), (5, 4));
        assert_eq!(
            s.top_tables,
            vec![
                TableStats {
                    table: "customers".into(),
                    questions: 4
                },
                TableStats {
                    table: "orders".into(),
                    questions: 1
                },
            ]
        );
    }
}
