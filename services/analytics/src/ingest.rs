//! Ingestion: validates an event with the domain rules, stores it idempotently, invalidates the
//! user's cached views, and answers the stored record as the REST contract shows it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_domain::{records, time, validation};

use crate::accounts::{field_error, timezone_of};
use crate::cache_client::ViewCache;
use crate::store::screen_time::{self, ScreenTimeRow};

/// A stored record and whether this call stored it (false: the event_id was seen before).
pub struct Recorded {
    pub record_json: Vec<u8>,
    pub created: bool,
}

pub struct ScreenTimeInput {
    pub user_id: Uuid,
    pub event_id: Option<String>,
    pub app_name: String,
    pub duration_minutes: f64,
    pub category: String,
    pub timestamp: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct Ingest {
    pool: PgPool,
    cache: ViewCache,
}

impl Ingest {
    pub fn new(pool: PgPool, cache: ViewCache) -> Self {
        Self { pool, cache }
    }

    pub async fn record_screen_time(
        &self,
        input: ScreenTimeInput,
    ) -> Result<Recorded, ServiceError> {
        let now = Utc::now();
        let event_id = parse_event_id(input.event_id.as_deref())?;
        let category = match input.category.trim() {
            "" => "other".to_owned(),
            category => category.to_owned(),
        };
        let start = input
            .timestamp
            .unwrap_or_else(|| now - time::minutes_duration(input.duration_minutes.max(0.0)));
        let record = records::ScreenTime {
            app_name: input.app_name,
            category,
            start,
            duration_minutes: input.duration_minutes,
        };
        validation::validate_screen_time(&record, now).map_err(field_error)?;
        let timezone = timezone_of(&self.pool, input.user_id).await?;

        let row = ScreenTimeRow {
            id: Uuid::new_v4(),
            user_id: input.user_id,
            event_id,
            ended_at: record.start + time::minutes_duration(record.duration_minutes),
            app_name: record.app_name,
            category: record.category,
            started_at: record.start,
            duration_minutes: record.duration_minutes,
            created_at: now,
        };
        let (stored, created) = screen_time::insert_idempotent(&self.pool, &row).await?;
        if created {
            self.cache.invalidate_user(&input.user_id.to_string()).await;
        }
        let record_json = json!({
            "id": stored.id,
            "event_id": stored.event_id,
            "type": "screen-time",
            "user_id": stored.user_id,
            "app_name": stored.app_name,
            "category": stored.category,
            "timestamp": rfc3339(stored.started_at),
            "date": time::local_date(stored.started_at, timezone).to_string(),
            "hour": time::local_hour(stored.started_at, timezone),
            "duration_minutes": stored.duration_minutes,
            "created_at": rfc3339(stored.created_at),
        });
        Ok(Recorded {
            record_json: serde_json::to_vec(&record_json)
                .map_err(|error| ServiceError::internal(&error))?,
            created,
        })
    }
}

/// The client's event id, or a fresh one when none was sent.
fn parse_event_id(raw: Option<&str>) -> Result<Uuid, ServiceError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(Uuid::new_v4()),
        Some(text) => Uuid::parse_str(text)
            .map_err(|_| ServiceError::invalid("event_id", "event_id must be a UUID")),
    }
}

pub fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}
