//! Ingestion: validates events with the domain rules, stores them idempotently, invalidates the
//! users' cached views, and answers the stored record as the REST contract shows it. Single
//! events and small batches of concurrent requests share transactions ([`group`]), each still
//! all or nothing; a large batch is a transaction of its own. Both run the same statement
//! ([`write`]).

mod group;
mod write;

/// Connections the write lanes keep to themselves.
pub use group::WRITERS;

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_common::error::ItemError;
use wellbeing_common::{ErrorCode, ServiceError};
use wellbeing_domain::validation::{self, FieldError};
use wellbeing_proto::analytics::v1::track_event::Kind;

use crate::accounts::{account_gone, field_error};
use crate::events::{EventRow, prepare};
use crate::view_cache::ViewCache;
use crate::views::days::RecentWeek;
use wellbeing_local_views::Stamp;
use wellbeing_store::event_tables::{
    BreakRow, DistractionRow, EventTable, FocusSessionRow, NotificationRow, ScreenTimeRow,
    SessionRow, find,
};
use wellbeing_store::ingest::DayChanges;
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
    /// Single events, written in groups.
    queue: group::Queue,
    /// `RETENTION_DAYS`: events older than this are refused (they would be removed anyway); 0:
    /// the domain's fixed bound applies instead.
    retention_days: u32,
}

impl Ingest {
    /// Starts the group writer: call inside the runtime.
    pub fn new(pool: PgPool, cache: ViewCache, retention_days: u32) -> Self {
        Self {
            queue: group::Queue::start(pool.clone(), cache.clone()),
            pool,
            cache,
            retention_days,
        }
    }

    /// Fills, checks and stamps one event, refusing one older than the retention period (or the
    /// domain's bound when everything is kept).
    fn prepare(
        &self,
        user_id: Uuid,
        event: Kind,
        now: DateTime<Utc>,
    ) -> Result<EventRow, FieldError> {
        let row = prepare(user_id, event, now)?;
        validation::validate_event_age(
            row.time_field(),
            row.occurred_at(),
            now,
            self.retention_days,
        )?;
        Ok(row)
    }

    /// Stores one event, or finds the one stored before under the same `event_id`. Answers
    /// once it is committed and the user's views are invalidated.
    pub async fn record(&self, user_id: Uuid, event: Kind) -> Result<Recorded, ServiceError> {
        let prepared = self
            .prepare(user_id, event, Utc::now())
            .map_err(field_error)?;
        let assumed = self.zone_of(user_id).await?;
        let group::Committed {
            mut rows,
            created,
            timezone,
        } = self.queue.write(user_id, vec![prepared], assumed).await?;
        let (row, created) = (rows.remove(0), created[0]);
        let record = if created {
            row
        } else {
            self.find_existing(user_id, &row).await?.ok_or_else(|| {
                ServiceError::new(ErrorCode::Conflict, "the event is being stored, retry")
            })?
        };
        let record_json = serde_json::to_vec(&record.to_record(timezone))
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
        if prepared.is_empty() {
            // Nothing to store; still, only an existing account may send it.
            crate::accounts::timezone_of(&self.pool, user_id).await?;
            return Ok(BatchOutcome {
                accepted: 0,
                duplicates: 0,
            });
        }
        let zone = self.zone_of(user_id).await?;
        let accepted = if group::Queue::takes(prepared.len()) {
            let committed = self.queue.write(user_id, prepared, zone).await?;
            committed.created.iter().filter(|created| **created).count()
        } else {
            self.write_alone(user_id, &prepared, zone).await?
        };
        Ok(BatchOutcome {
            accepted: u32::try_from(accepted).unwrap_or(u32::MAX),
            duplicates: u32::try_from(total - accepted).unwrap_or(u32::MAX),
        })
    }

    /// A large batch in a statement of its own (its own transaction: committed when it
    /// returns); answers how many events were stored.
    async fn write_alone(
        &self,
        user_id: Uuid,
        prepared: &[EventRow],
        zone: chrono_tz::Tz,
    ) -> Result<usize, ServiceError> {
        let rows: Vec<&EventRow> = prepared.iter().collect();
        let user = user_id.to_string();
        let stamp_before = self.cache.stamp(&user);
        let mut connection = self.pool.acquire().await.map_err(StoreError::from)?;
        let sent_at = Instant::now();
        let written =
            write::write(&mut connection, &rows, &HashMap::from([(user_id, zone)])).await?;
        drop(connection);
        if written.zones.is_empty() {
            return Err(account_gone());
        }
        let accepted = written.stored();
        if accepted > 0 {
            self.cache.invalidate_user(&user).await;
        }
        if let Some(zone) = written.zones.get(&user_id) {
            let write = OwnWrite {
                user_id,
                zone: *zone,
                before: stamp_before,
                invalidated: accepted > 0,
                sent_at,
                changes: written.changes.get(&user_id),
            };
            write.keep_what_it_read(&self.cache).await;
        }
        Ok(accepted)
    }

    /// The zone a write assumes for the user ([`ViewCache::zone_for_write`]); the write's
    /// statement checks it against the stored one.
    async fn zone_of(&self, user_id: Uuid) -> Result<chrono_tz::Tz, ServiceError> {
        self.cache
            .zone_for_write(&user_id.to_string(), || {
                crate::accounts::timezone_of(&self.pool, user_id)
            })
            .await
    }

    /// The record stored before under the event id of `event`, whatever its kind.
    async fn find_existing(
        &self,
        user_id: Uuid,
        event: &EventRow,
    ) -> Result<Option<EventRow>, StoreError> {
        let pool = &self.pool;
        let named = store::event_ids::find(pool, user_id, event.event_id()).await?;
        let Some(store::event_ids::Named {
            kind,
            record_id: id,
            occurred_at: Some(at),
        }) = named
        else {
            return Ok(None);
        };
        // Each kind as `event_ids` names it (the tables' own descriptions); a kind this version
        // does not know finds nothing.
        let kind = kind.as_str();
        Ok(if kind == SessionRow::TABLE.kind {
            find::<SessionRow>(pool, user_id, id, at)
                .await?
                .map(EventRow::Session)
        } else if kind == ScreenTimeRow::TABLE.kind {
            find::<ScreenTimeRow>(pool, user_id, id, at)
                .await?
                .map(EventRow::ScreenTime)
        } else if kind == FocusSessionRow::TABLE.kind {
            find::<FocusSessionRow>(pool, user_id, id, at)
                .await?
                .map(EventRow::FocusSession)
        } else if kind == BreakRow::TABLE.kind {
            find::<BreakRow>(pool, user_id, id, at)
                .await?
                .map(EventRow::Break)
        } else if kind == NotificationRow::TABLE.kind {
            find::<NotificationRow>(pool, user_id, id, at)
                .await?
                .map(EventRow::Notification)
        } else if kind == DistractionRow::TABLE.kind {
            find::<DistractionRow>(pool, user_id, id, at)
                .await?
                .map(EventRow::Distraction)
        } else {
            None
        })
    }
}

/// A write of one user by this process, as seen once it is committed and the user invalidated.
struct OwnWrite<'a> {
    user_id: Uuid,
    /// The user's zone as the write's statement read it.
    zone: chrono_tz::Tz,
    /// The user's stamp before the write.
    before: Stamp,
    /// Whether the write invalidated the user (it stored something).
    invalidated: bool,
    /// When its statement was sent.
    sent_at: Instant,
    /// What it did to the user's days, when known.
    changes: Option<&'a DayChanges>,
}

impl OwnWrite<'_> {
    /// Keeps what the write read and did for the user's next requests, where that is exact: the
    /// zone (the next write and read need no lookup) and the recent week brought up to date (the
    /// next views need no read of the days). Without this, each write made the next requests
    /// read both from PostgreSQL again.
    async fn keep_what_it_read(&self, cache: &ViewCache) {
        let user = self.user_id.to_string();
        cache
            .keep_zone_read_by_write(&user, self.zone, self.before, self.invalidated)
            .await;
        if let (true, Some(changes)) = (self.invalidated, self.changes) {
            RecentWeek::carry_over_write(
                cache,
                self.user_id,
                self.zone,
                self.before,
                self.sent_at,
                changes,
            )
            .await;
        }
    }
}

/// RFC 3339 with microseconds and `Z`, as every answer writes instants.
pub fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
