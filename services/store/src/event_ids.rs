//! The `event_ids` table: which record a client's event id names, across every event kind.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::StoreError;

/// Registers event ids for new records; returns the ids that were free (each once, even when
/// repeated in `entries`). The others name records stored before.
pub async fn claim(
    connection: &mut PgConnection,
    user_id: Uuid,
    entries: &[(Uuid, &str, Uuid, DateTime<Utc>)],
) -> Result<Vec<Uuid>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar::<_, Uuid>(
        "INSERT INTO event_ids (user_id, event_id, kind, record_id, occurred_at)
         SELECT $1, event_id, kind, record_id, occurred_at
         FROM UNNEST($2::uuid[], $3::text[], $4::uuid[], $5::timestamptz[])
              AS new (event_id, kind, record_id, occurred_at)
         ON CONFLICT (user_id, event_id) DO NOTHING
         RETURNING event_id",
    )
    .bind(user_id)
    .bind(entries.iter().map(|entry| entry.0).collect::<Vec<_>>())
    .bind(entries.iter().map(|entry| entry.1).collect::<Vec<_>>())
    .bind(entries.iter().map(|entry| entry.2).collect::<Vec<_>>())
    .bind(entries.iter().map(|entry| entry.3).collect::<Vec<_>>())
    .fetch_all(connection)
    .await?)
}

/// The kind of the record stored under an event id, if any.
pub async fn kind_of(
    pool: &PgPool,
    user_id: Uuid,
    event_id: Uuid,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT kind FROM event_ids WHERE user_id = $1 AND event_id = $2",
    )
    .bind(user_id)
    .bind(event_id)
    .fetch_optional(pool)
    .await?)
}
