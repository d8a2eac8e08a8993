//! The `focus_sessions` table: focus sessions.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::StoreError;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct FocusSessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub quality_score: f64,
    pub task_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Inserts rows in one statement (nothing is read back: the caller holds the rows). The caller
/// has claimed their event ids (`event_ids::claim`), which keeps a re-sent event from being
/// stored twice.
pub async fn insert_many(
    connection: &mut PgConnection,
    rows: &[&FocusSessionRow],
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(sqlx::query(
        "INSERT INTO focus_sessions (id, user_id, event_id, started_at, ended_at, quality_score, task_name, created_at)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::timestamptz[], $6::float8[], $7::text[], $8::timestamptz[])",
    )
    .bind(rows.iter().map(|row| row.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.user_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.event_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.started_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.ended_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.quality_score).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.task_name.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.created_at).collect::<Vec<_>>())
    .execute(connection)
    .await?
    .rows_affected())
}

/// The user's record `id`, which began at `at` (as `event_ids` names it): the primary key
/// finds it in its month's partition.
pub async fn find(
    pool: &PgPool,
    user_id: Uuid,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<FocusSessionRow>, StoreError> {
    Ok(sqlx::query_as::<_, FocusSessionRow>(
        "SELECT id, user_id, event_id, started_at, ended_at, quality_score, task_name, created_at
         FROM focus_sessions WHERE id = $1 AND started_at = $2 AND user_id = $3",
    )
    .bind(id)
    .bind(at)
    .bind(user_id)
    .fetch_optional(pool)
    .await?)
}

/// Records of one user that overlap `[from, to)`. Records last at most 24 hours, so the index
/// range on `started_at` is bounded by `from - 24h`.
pub async fn overlapping(
    pool: &PgPool,
    user_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<FocusSessionRow>, StoreError> {
    Ok(sqlx::query_as::<_, FocusSessionRow>(
        "SELECT id, user_id, event_id, started_at, ended_at, quality_score, task_name, created_at
         FROM focus_sessions
         WHERE user_id = $1
           AND started_at >= $2 - interval '24 hours' AND started_at < $3
           AND ended_at > $2
         ORDER BY started_at, id",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?)
}

/// Every record of the user (for the export).
pub async fn all_of_user(pool: &PgPool, user_id: Uuid) -> Result<Vec<FocusSessionRow>, StoreError> {
    Ok(sqlx::query_as::<_, FocusSessionRow>(
        "SELECT id, user_id, event_id, started_at, ended_at, quality_score, task_name, created_at
         FROM focus_sessions WHERE user_id = $1 ORDER BY started_at, id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}
