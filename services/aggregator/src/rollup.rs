//! Recomputing one (user, local day) from its raw events, with the same domain functions the
//! read path uses, so a rollup equals the direct computation.

use chrono::NaiveDate;
use chrono_tz::Tz;
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_domain::apps::day_app_usage;
use wellbeing_domain::summary::daily_summary;
use wellbeing_domain::time;
use wellbeing_store::{StoreError, events, users};

/// A day recomputed, ready to store.
pub struct ComputedDay {
    pub timezone: Tz,
    pub summary: serde_json::Value,
    pub apps: serde_json::Value,
    pub events: usize,
}

/// Recomputes a day; `None` when the user no longer exists.
pub async fn compute_day(
    pool: &PgPool,
    user_id: Uuid,
    day: NaiveDate,
) -> Result<Option<ComputedDay>, StoreError> {
    let Some(timezone_name) = users::timezone(pool, user_id).await? else {
        return Ok(None);
    };
    let timezone = time::parse_timezone(&timezone_name).unwrap_or(Tz::UTC);
    let (from, to) = time::day_range(day, timezone);
    let raw = events::between(pool, user_id, from, to).await?;
    let summary = daily_summary(day, timezone, &raw);
    let apps = day_app_usage(day, timezone, &raw.screen_time);
    Ok(Some(ComputedDay {
        timezone,
        summary: serde_json::to_value(&summary).unwrap_or_default(),
        apps: serde_json::to_value(&apps).unwrap_or_default(),
        events: events::count(&raw),
    }))
}
