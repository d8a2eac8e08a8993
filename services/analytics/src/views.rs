//! Derived read views, served cache-aside: a hit returns the stored bytes untouched; a miss
//! computes the view from PostgreSQL with the domain functions, stores the bytes, and returns them.
//! Views are JSON bytes from here to the phone, so no hop parses and re-serialises them.

use bytes::Bytes;
use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_domain::{records, scores, summary, time};
use wellbeing_proto::cache::v1::ViewKey;

use crate::accounts::timezone_of;
use crate::cache_client::ViewCache;
use crate::store::screen_time;

/// A view ready to send.
pub struct View {
    pub json: Bytes,
    pub cached: bool,
    pub etag: String,
}

#[derive(Clone)]
pub struct Views {
    pool: PgPool,
    cache: ViewCache,
}

/// The `data` of `GET /api/v1/analytics/quick-stats`.
#[derive(Debug, Serialize)]
struct QuickStats {
    today_screen_time: f64,
    today_focus_time: f64,
    /// Null until the phone has reported a privacy state.
    privacy_score: Option<f64>,
    wellbeing_score: f64,
    notifications_today: u64,
    goals_on_track: u64,
}

impl Views {
    pub fn new(pool: PgPool, cache: ViewCache) -> Self {
        Self { pool, cache }
    }

    /// Quick stats of the user's local today.
    pub async fn quick_stats(&self, user_id: Uuid) -> Result<View, ServiceError> {
        let timezone = timezone_of(&self.pool, user_id).await?;
        let today = time::local_date(Utc::now(), timezone);
        let key = view_key(user_id, "quick-stats", &format!("date={today}"));
        self.cached(key, || async move {
            let day = self.day_events(user_id, today, timezone).await?;
            let daily = summary::daily_summary(today, timezone, &day);
            let wellbeing = scores::wellbeing_from_summary(&daily);
            Ok(QuickStats {
                today_screen_time: daily.total_screen_time_minutes,
                today_focus_time: daily.total_focus_time_minutes,
                privacy_score: None,
                wellbeing_score: wellbeing.score,
                notifications_today: u64::from(daily.notifications_received),
                goals_on_track: 0,
            })
        })
        .await
    }

    /// Cache-aside around `compute`.
    async fn cached<T, F, Fut>(&self, key: ViewKey, compute: F) -> Result<View, ServiceError>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        if let Some(json) = self.cache.get(&key).await {
            return Ok(View {
                etag: etag_of(&json),
                json,
                cached: true,
            });
        }
        let value = compute().await?;
        let json = Bytes::from(
            serde_json::to_vec(&value).map_err(|error| ServiceError::internal(&error))?,
        );
        self.cache.set(key, json.clone()).await;
        Ok(View {
            etag: etag_of(&json),
            json,
            cached: false,
        })
    }

    /// Every record that touches the local day.
    async fn day_events(
        &self,
        user_id: Uuid,
        date: NaiveDate,
        timezone: Tz,
    ) -> Result<records::DayEvents, ServiceError> {
        let (from, to) = time::day_range(date, timezone);
        let screen_time = screen_time::overlapping(&self.pool, user_id, from, to)
            .await?
            .into_iter()
            .map(|row| records::ScreenTime {
                app_name: row.app_name,
                category: row.category,
                start: row.started_at,
                duration_minutes: row.duration_minutes,
            })
            .collect();
        Ok(records::DayEvents {
            screen_time,
            ..Default::default()
        })
    }
}

fn view_key(user_id: Uuid, view: &str, params: &str) -> ViewKey {
    ViewKey {
        user_id: user_id.to_string(),
        view: view.to_owned(),
        params: params.to_owned(),
    }
}

/// A strong ETag: the first 128 bits of the SHA-256 of the bytes.
fn etag_of(json: &[u8]) -> String {
    let digest = Sha256::digest(json);
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("\"{hex}\"")
}
