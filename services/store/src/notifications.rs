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

/// Inserts rows in one statement (nothing is read back: the caller holds the rows). The caller
/// has claimed their event ids (`event_ids::claim`), which keeps a re-sent event from being
/// stored twice.
pub async fn insert_many(
    connection: &mut PgConnection,
    rows: &[&NotificationRow],
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(sqlx::query(
        "INSERT INTO notifications (id, user_id, event_id, occurred_at, app_name, priority, was_interacted, created_at)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::text[], $6::int4[], $7::bool[], $8::timestamptz[])",
    )
    .bind(rows.iter().map(|row| row.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.user_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.event_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.occurred_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.app_name.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.priority).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.was_interacted).collect::<Vec<_>>())
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
) -> Result<Option<NotificationRow>, StoreError> {
    Ok(sqlx::query_as::<_, NotificationRow>(
        "SELECT id, user_id, event_id, occurred_at, app_name, priority, was_interacted, created_at
         FROM notifications WHERE id = $1 AND occurred_at = $2 AND user_id = $3",
    )
    .bind(id)
    .bind(at)
    .bind(user_id)
    .fetch_optional(pool)
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
