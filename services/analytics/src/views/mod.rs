//! Derived read views, served cache-aside: a hit returns the stored bytes untouched; a miss
//! computes the view from PostgreSQL with the domain functions, stores the bytes, and returns
//! them. Views are JSON bytes from here to the phone, so no hop parses and re-serialises them.
//!
//! - [`summaries`]: daily, weekly, apps usage, quick stats, dashboard.
//! - [`insights`]: insights, patterns, peak hours, comparison, wellbeing score.
//! - [`privacy`]: privacy score, history and trend.
//! - goals are listed by [`crate::goals`].

pub mod connections;
pub mod days;
pub mod insights;
pub mod privacy;
pub mod summaries;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_domain::{records, time};
use wellbeing_proto::cache::v1::ViewKey;

use crate::accounts::timezone_of;
use crate::view_cache::ViewCache;
use connections::{ReadConnection, ReadConnections};
use wellbeing_store::{self as store, StoreError};

/// A view ready to send.
pub struct View {
    pub json: Bytes,
    pub cached: bool,
    pub etag: String,
    /// Until when a copy may be served without asking again (Unix ms; 0: keep no copy).
    pub fresh_until_unix_ms: i64,
}

#[derive(Clone)]
pub struct Views {
    pool: PgPool,
    replica: Option<ReadReplica>,
    cache: ViewCache,
    /// The connections reads keep, on the primary and on the replica.
    reads: Arc<ReadConnections>,
    replica_reads: Option<Arc<ReadConnections>>,
}

/// A PostgreSQL read replica (`DATABASE_READ_URL`) for the aggregates, events and snapshots views
/// read. A user who wrote less than `grace` ago reads the primary, so a replica's lag never hides
/// their own write (nor gets cached as their view).
#[derive(Clone)]
pub struct ReadReplica {
    pub pool: PgPool,
    pub grace: Duration,
}

/// Who is asking, in which zone, and what "today" is for them.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub user_id: Uuid,
    pub timezone: Tz,
    pub today: NaiveDate,
}

impl Views {
    pub fn new(pool: PgPool, replica: Option<ReadReplica>, cache: ViewCache) -> Self {
        let reads = Arc::new(ReadConnections::new(pool.clone(), crate::ingest::WRITERS));
        let replica_reads = replica
            .as_ref()
            .map(|replica| Arc::new(ReadConnections::new(replica.pool.clone(), 0)));
        Self {
            pool,
            replica,
            cache,
            reads,
            replica_reads,
        }
    }

    /// A connection to read the user's view data on: the replica's, unless there is none or the
    /// user wrote within its grace period.
    pub async fn read_connection(&self, user_id: Uuid) -> Result<ReadConnection<'_>, StoreError> {
        let reads = match (&self.replica, &self.replica_reads) {
            (Some(replica), Some(replica_reads))
                if !self
                    .cache
                    .written_within(&user_id.to_string(), replica.grace) =>
            {
                replica_reads
            }
            _ => &self.reads,
        };
        Ok(reads.take().await?)
    }

    /// After a profile change (a new timezone): the user's views and kept zone are dropped
    /// on every replica.
    pub async fn profile_changed(&self, user_id: Uuid) {
        self.cache.invalidate_user(&user_id.to_string()).await;
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The caller in their current timezone; unauthenticated when the account is gone.
    pub async fn viewer(&self, user_id: Uuid) -> Result<Viewer, ServiceError> {
        let timezone = self
            .cache
            .timezone(&user_id.to_string(), || timezone_of(&self.pool, user_id))
            .await?;
        Ok(Viewer {
            user_id,
            timezone,
            today: time::local_date(Utc::now(), timezone),
        })
    }

    /// Cache-aside around `compute`. The key names the user's zone too, so a timezone change
    /// never serves a view computed in the old one.
    pub async fn cached<T, F, Fut>(
        &self,
        viewer: &Viewer,
        view: &str,
        params: &str,
        compute: F,
    ) -> Result<View, ServiceError>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let key = ViewKey {
            user_id: viewer.user_id.to_string(),
            view: view.to_owned(),
            params: format!("tz={};today={};{params}", viewer.timezone, viewer.today),
        };
        let view = self
            .cache
            .get_or_compute(key, || async move {
                let value = compute().await?;
                serde_json::to_vec(&value)
                    .map(Bytes::from)
                    .map_err(|error| ServiceError::internal(&error))
            })
            .await?;
        // A copy stays right until the user's data changes (an invalidation) or their day
        // ends, when "today" names another date.
        let fresh_until_unix_ms = if self.cache.is_enabled() {
            time::day_range(viewer.today, viewer.timezone)
                .1
                .timestamp_millis()
        } else {
            0
        };
        Ok(View {
            json: view.json,
            cached: view.from_cache,
            etag: view.etag,
            fresh_until_unix_ms,
        })
    }

    /// The caller's cache statistics.
    pub async fn cache_stats(&self, user_id: Uuid) -> Result<View, ServiceError> {
        self.viewer(user_id).await?;
        let stats = self.cache.user_stats(&user_id.to_string()).await;
        let json = Bytes::from(
            serde_json::to_vec(&stats).map_err(|error| ServiceError::internal(&error))?,
        );
        Ok(View {
            etag: crate::view_cache::etag_of(&json),
            json,
            cached: false,
            fresh_until_unix_ms: 0,
        })
    }

    /// Every record of the user that touches `[from, to)`.
    pub async fn events_between(
        &self,
        user_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<records::DayEvents, StoreError> {
        let mut reader = self.read_connection(user_id).await?;
        let events = store::events::between(reader.connection(), user_id, from, to).await;
        reader.keep_if_ok(events)
    }

    /// Every record touching the local days `first..=last`.
    pub async fn events_of_days(
        &self,
        viewer: &Viewer,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<records::DayEvents, StoreError> {
        let (from, _) = time::day_range(first, viewer.timezone);
        let (_, to) = time::day_range(last, viewer.timezone);
        self.events_between(viewer.user_id, from, to).await
    }
}

/// A `YYYY-MM-DD` parameter, or `default` when absent; impossible dates are a 422 naming it.
pub fn date_param(
    field: &str,
    raw: Option<&str>,
    default: NaiveDate,
) -> Result<NaiveDate, ServiceError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(default),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            ServiceError::invalid(
                field,
                format!("{field} must be a real date written YYYY-MM-DD"),
            )
        }),
    }
}

/// A count parameter within `range`, `default` when 0 (absent).
pub fn count_param(
    field: &str,
    raw: u32,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ServiceError> {
    let value = if raw == 0 { default } else { raw };
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ServiceError::invalid(
            field,
            format!(
                "{field} must be between {} and {}",
                range.start(),
                range.end()
            ),
        ))
    }
}
