//! The `screen_time` table.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScreenTimeRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub app_name: String,
    pub category: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub duration_minutes: f64,
    pub created_at: DateTime<Utc>,
}

/// Stores a record unless the user already stored one with the same `event_id`. Returns the
/// stored row and whether it is new.
pub async fn insert_idempotent(
    pool: &PgPool,
    row: &ScreenTimeRow,
) -> Result<(ScreenTimeRow, bool), StoreError> {
    let inserted = sqlx::query_as::<_, ScreenTimeRow>(
        "INSERT INTO screen_time (id, user_id, event_id, app_name, category, started_at, ended_at, duration_minutes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (user_id, event_id) DO NOTHING
         RETURNING id, user_id, event_id, app_name, category, started_at, ended_at, duration_minutes, created_at",
    )
    .bind(row.id)
    .bind(row.user_id)
    .bind(row.event_id)
    .bind(&row.app_name)
    .bind(&row.category)
    .bind(row.started_at)
    .bind(row.ended_at)
    .bind(row.duration_minutes)
    .fetch_optional(pool)
    .await?;
    if let Some(inserted) = inserted {
        return Ok((inserted, true));
    }
    let existing = sqlx::query_as::<_, ScreenTimeRow>(
        "SELECT id, user_id, event_id, app_name, category, started_at, ended_at, duration_minutes, created_at
         FROM screen_time WHERE user_id = $1 AND event_id = $2",
    )
    .bind(row.user_id)
    .bind(row.event_id)
    .fetch_one(pool)
    .await?;
    Ok((existing, false))
}

/// Records of one user that overlap `[from, to)`. Records last at most 24 hours, so the index
/// range on `started_at` is bounded by `from - 24h`.
pub async fn overlapping(
    pool: &PgPool,
    user_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ScreenTimeRow>, StoreError> {
    Ok(sqlx::query_as::<_, ScreenTimeRow>(
        "SELECT id, user_id, event_id, app_name, category, started_at, ended_at, duration_minutes, created_at
         FROM screen_time
         WHERE user_id = $1
           AND started_at >= $2 - interval '24 hours' AND started_at < $3
           AND ended_at > $2
         ORDER BY started_at",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?)
}
