//! The `notifications` table: notifications received.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::StoreError;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct NotificationRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub app_name: String,
    pub priority: i32,
    pub was_interacted: bool,
    pub created_at: DateTime<Utc>,
}

/// Inserts rows in one statement and returns them. The caller has claimed their event ids
/// (`event_ids::claim`), which is what keeps a re-sent event from being stored twice.
pub async fn insert_many(
    connection: &mut PgConnection,
    rows: &[NotificationRow],
) -> Result<Vec<NotificationRow>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as::<_, NotificationRow>(
        "INSERT INTO notifications (id, user_id, event_id, occurred_at, app_name, priority, was_interacted, created_at)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::text[], $6::int4[], $7::bool[], $8::timestamptz[])
         RETURNING id, user_id, event_id, occurred_at, app_name, priority, was_interacted, created_at",
    )
    .bind(rows.iter().map(|row| row.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.user_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.event_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.occurred_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.app_name.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.priority).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.was_interacted).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.created_at).collect::<Vec<_>>())
    .fetch_all(connection)
    .await?)
}

pub async fn find_by_event_id(
    pool: &PgPool,
    user_id: Uuid,
    event_id: Uuid,
) -> Result<Option<NotificationRow>, StoreError> {
    Ok(sqlx::query_as::<_, NotificationRow>(
        "SELECT id, user_id, event_id, occurred_at, app_name, priority, was_interacted, created_at
         FROM notifications WHERE user_id = $1 AND event_id = $2",
    )
    .bind(user_id)
    .bind(event_id)
    .fetch_optional(pool)
    .await?)
}

/// Records of one user that happened in `[from, to)`.
pub async fn overlapping(
    pool: &PgPool,
    user_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<NotificationRow>, StoreError> {
    Ok(sqlx::query_as::<_, NotificationRow>(
        "SELECT id, user_id, event_id, occurred_at, app_name, priority, was_interacted, created_at
         FROM notifications
         WHERE user_id = $1 AND occurred_at >= $2 AND occurred_at < $3
         ORDER BY occurred_at, id",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?)
}

/// Every record of the user (for the export).
pub async fn all_of_user(pool: &PgPool, user_id: Uuid) -> Result<Vec<NotificationRow>, StoreError> {
    Ok(sqlx::query_as::<_, NotificationRow>(
        "SELECT id, user_id, event_id, occurred_at, app_name, priority, was_interacted, created_at
         FROM notifications WHERE user_id = $1 ORDER BY occurred_at, id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}
