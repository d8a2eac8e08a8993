//! Ingestion: validates events with the domain rules, stores them idempotently (one statement
//! per table, a batch in one transaction), invalidates the user's cached views, and answers the
//! stored record as the REST contract shows it.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_common::error::ItemError;
use wellbeing_common::{ErrorCode, ServiceError};
use wellbeing_domain::validation::FieldError;
use wellbeing_proto::analytics::v1::track_event::Kind;

use crate::accounts::{field_error, timezone_of};
use crate::events::{EventRow, prepare};
use crate::view_cache::ViewCache;
use wellbeing_store::{self as store, StoreError};

/// The most events one batch may carry.
pub const MAX_BATCH_EVENTS: usize = 1000;

/// A stored record and whether this call stored it (false: the event_id was seen before).
pub struct Recorded {
    pub record_json: Vec<u8>,
    pub created: bool,
}

/// What a batch did.
pub struct BatchOutcome {
    pub accepted: u32,
    pub duplicates: u32,
}

#[derive(Clone)]
pub struct Ingest {
    pool: PgPool,
    cache: ViewCache,
    /// `RETENTION_DAYS`: events older than this are refused (they would be removed anyway).
    retention: Option<chrono::Duration>,
}

impl Ingest {
    pub fn new(pool: PgPool, cache: ViewCache, retention_days: u32) -> Self {
        Self {
            pool,
            cache,
            retention: (retention_days > 0)
                .then(|| chrono::Duration::days(i64::from(retention_days))),
        }
    }

    /// Fills, checks and stamps one event, refusing one older than the retention period.
    fn prepare(
        &self,
        user_id: Uuid,
        event: Kind,
        now: DateTime<Utc>,
    ) -> Result<EventRow, FieldError> {
        let row = prepare(user_id, event, now)?;
        if let Some(retention) = self.retention
            && row.occurred_at() < now - retention
        {
            return Err(FieldError {
                field: row.time_field(),
                detail: format!(
                    "older than the retention period ({} days): such data is not kept",
                    retention.num_days()
                ),
            });
        }
        Ok(row)
    }

    /// Stores one event, or finds the one stored before under the same `event_id`.
    pub async fn record(&self, user_id: Uuid, event: Kind) -> Result<Recorded, ServiceError> {
        let timezone = timezone_of(&self.pool, user_id).await?;
        let prepared = self
            .prepare(user_id, event, Utc::now())
            .map_err(field_error)?;
        let mut transaction = self.pool.begin().await.map_err(StoreError::from)?;
        let mut stored = insert(&mut transaction, user_id, std::slice::from_ref(&prepared)).await?;
        mark_days(&mut transaction, user_id, timezone, &stored).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        let created = !stored.is_empty();
        let record = match stored.pop() {
            Some(record) => record,
            None => self
                .find_existing(user_id, &prepared)
                .await?
                .ok_or_else(|| {
                    ServiceError::new(ErrorCode::Conflict, "the event is being stored, retry")
                })?,
        };
        if created {
            self.cache.invalidate_user(&user_id.to_string()).await;
        }
        let record_json = serde_json::to_vec(&record.to_json(timezone))
            .map_err(|error| ServiceError::internal(&error))?;
        Ok(Recorded {
            record_json,
            created,
        })
    }

    /// Validates every event first; stores all of them in one transaction, or none.
    pub async fn record_batch(
        &self,
        user_id: Uuid,
        events: Vec<Option<Kind>>,
    ) -> Result<BatchOutcome, ServiceError> {
        if events.len() > MAX_BATCH_EVENTS {
            return Err(ServiceError::invalid(
                "events",
                format!("a batch carries at most {MAX_BATCH_EVENTS} events"),
            ));
        }
        let timezone = timezone_of(&self.pool, user_id).await?;
        let now = Utc::now();
        let total = events.len();
        let mut prepared = Vec::with_capacity(total);
        let mut errors = Vec::new();
        for (index, event) in events.into_iter().enumerate() {
            let Some(event) = event else {
                errors.push(ItemError {
                    index,
                    field: "type".to_owned(),
                    detail: "the event has no type".to_owned(),
                });
                continue;
            };
            match self.prepare(user_id, event, now) {
                Ok(event) => prepared.push(event),
                Err(error) => errors.push(ItemError {
                    index,
                    field: error.field.to_owned(),
                    detail: error.detail,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError {
                errors,
                ..ServiceError::new(
                    ErrorCode::ValidationFailed,
                    "some events are invalid; nothing was stored",
                )
            });
        }
        let mut transaction = self.pool.begin().await.map_err(StoreError::from)?;
        let stored = insert(&mut transaction, user_id, &prepared).await?;
        mark_days(&mut transaction, user_id, timezone, &stored).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        let accepted = stored.len();
        if accepted > 0 {
            self.cache.invalidate_user(&user_id.to_string()).await;
        }
        Ok(BatchOutcome {
            accepted: u32::try_from(accepted).unwrap_or(u32::MAX),
            duplicates: u32::try_from(total - accepted).unwrap_or(u32::MAX),
        })
    }

    /// The record stored before under the event id of `event`, whatever its kind.
    async fn find_existing(
        &self,
        user_id: Uuid,
        event: &EventRow,
    ) -> Result<Option<EventRow>, StoreError> {
        let pool = &self.pool;
        let event_id = event.event_id();
        let Some(kind) = store::event_ids::kind_of(pool, user_id, event_id).await? else {
            return Ok(None);
        };
        Ok(match kind.as_str() {
            "session" => store::sessions::find_by_event_id(pool, user_id, event_id)
                .await?
                .map(EventRow::Session),
            "screen-time" => store::screen_time::find_by_event_id(pool, user_id, event_id)
                .await?
                .map(EventRow::ScreenTime),
            "focus-session" => store::focus_sessions::find_by_event_id(pool, user_id, event_id)
                .await?
                .map(EventRow::FocusSession),
            "break" => store::breaks::find_by_event_id(pool, user_id, event_id)
                .await?
                .map(EventRow::Break),
            "notification" => store::notifications::find_by_event_id(pool, user_id, event_id)
                .await?
                .map(EventRow::Notification),
            _ => store::distractions::find_by_event_id(pool, user_id, event_id)
                .await?
                .map(EventRow::Distraction),
        })
    }
}

/// Inserts prepared events, one statement per table; returns what was newly stored.
async fn insert(
    connection: &mut sqlx::PgConnection,
    user_id: Uuid,
    events: &[EventRow],
) -> Result<Vec<EventRow>, StoreError> {
    // Event ids are unique per user across kinds: only events whose id is still free are new
    // (the first of repeats within the batch wins).
    let entries: Vec<(Uuid, &str, Uuid, DateTime<Utc>)> = events
        .iter()
        .map(|event| {
            (
                event.event_id(),
                event.kind(),
                event.id(),
                event.occurred_at(),
            )
        })
        .collect();
    let mut free: std::collections::HashSet<Uuid> =
        store::event_ids::claim(connection, user_id, &entries)
            .await?
            .into_iter()
            .collect();
    let events: Vec<&EventRow> = events
        .iter()
        .filter(|event| free.remove(&event.event_id()))
        .collect();
    let mut sessions = Vec::new();
    let mut screen_time = Vec::new();
    let mut focus_sessions = Vec::new();
    let mut breaks = Vec::new();
    let mut notifications = Vec::new();
    let mut distractions = Vec::new();
    for event in events {
        match event {
            EventRow::Session(row) => sessions.push(row.clone()),
            EventRow::ScreenTime(row) => screen_time.push(row.clone()),
            EventRow::FocusSession(row) => focus_sessions.push(row.clone()),
            EventRow::Break(row) => breaks.push(row.clone()),
            EventRow::Notification(row) => notifications.push(row.clone()),
            EventRow::Distraction(row) => distractions.push(row.clone()),
        }
    }
    let mut stored = Vec::new();
    let inserted = store::sessions::insert_many(connection, &sessions).await?;
    stored.extend(inserted.into_iter().map(EventRow::Session));
    let inserted = store::screen_time::insert_many(connection, &screen_time).await?;
    stored.extend(inserted.into_iter().map(EventRow::ScreenTime));
    let inserted = store::focus_sessions::insert_many(connection, &focus_sessions).await?;
    stored.extend(inserted.into_iter().map(EventRow::FocusSession));
    let inserted = store::breaks::insert_many(connection, &breaks).await?;
    stored.extend(inserted.into_iter().map(EventRow::Break));
    let inserted = store::notifications::insert_many(connection, &notifications).await?;
    stored.extend(inserted.into_iter().map(EventRow::Notification));
    let inserted = store::distractions::insert_many(connection, &distractions).await?;
    stored.extend(inserted.into_iter().map(EventRow::Distraction));
    Ok(stored)
}

/// Marks the local days the new rows touch as dirty, in the insert's transaction (the outbox
/// the aggregator works from).
async fn mark_days(
    connection: &mut sqlx::PgConnection,
    user_id: Uuid,
    timezone: chrono_tz::Tz,
    stored: &[EventRow],
) -> Result<(), StoreError> {
    let mut days: Vec<chrono::NaiveDate> = stored
        .iter()
        .flat_map(|row| row.local_days(timezone))
        .collect();
    days.sort_unstable();
    days.dedup();
    store::rollups::mark_dirty(connection, user_id, &days).await
}

/// RFC 3339 with microseconds and `Z`, as every answer writes instants.
pub fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
