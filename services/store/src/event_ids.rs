//! The `event_ids` table: which record a client's event id names, across every event kind.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::StoreError;

/// An event id to register for a new record.
#[derive(Debug, Clone, Copy)]
pub struct NewEventId<'a> {
    pub user_id: Uuid,
    pub event_id: Uuid,
    /// The table the record goes to (session, screen-time, ...).
    pub kind: &'a str,
    pub record_id: Uuid,
    pub occurred_at: DateTime<Utc>,
}

/// Registers event ids for new records, of one user or several; returns the (user, event id)
/// pairs that were free, each once. The others name records stored before. A pair repeated in
/// `entries` goes to its first entry. Concurrent callers should pass entries sorted by
/// (user, event id), so that they wait for each other's claims in one order (no deadlock).
pub async fn claim(
    connection: &mut PgConnection,
    entries: &[NewEventId<'_>],
) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as::<_, (Uuid, Uuid)>(
        "INSERT INTO event_ids (user_id, event_id, kind, record_id, occurred_at)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::timestamptz[])
         ON CONFLICT (user_id, event_id) DO NOTHING
         RETURNING user_id, event_id",
    )
    .bind(
        entries
            .iter()
            .map(|entry| entry.user_id)
            .collect::<Vec<_>>(),
    )
    .bind(
        entries
            .iter()
            .map(|entry| entry.event_id)
            .collect::<Vec<_>>(),
    )
    .bind(entries.iter().map(|entry| entry.kind).collect::<Vec<_>>())
    .bind(
        entries
            .iter()
            .map(|entry| entry.record_id)
            .collect::<Vec<_>>(),
    )
    .bind(
        entries
            .iter()
            .map(|entry| entry.occurred_at)
            .collect::<Vec<_>>(),
    )
    .fetch_all(connection)
    .await?)
}

/// The record an event id names: its kind, id and start.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Named {
    pub kind: String,
    pub record_id: Uuid,
    /// Empty only for ids registered before this was kept (their records went then).
    pub occurred_at: Option<DateTime<Utc>>,
}

/// The record stored under an event id, if any.
pub async fn find(
    pool: &PgPool,
    user_id: Uuid,
    event_id: Uuid,
) -> Result<Option<Named>, StoreError> {
    Ok(sqlx::query_as::<_, Named>(
        "SELECT kind, record_id, occurred_at FROM event_ids WHERE user_id = $1 AND event_id = $2",
    )
    .bind(user_id)
    .bind(event_id)
    .fetch_optional(pool)
    .await?)
}
