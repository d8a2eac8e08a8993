//! Recomputing day aggregates from raw records, with the same domain functions the write path
//! uses for its deltas, so a recomputed day equals the sum of its deltas.
//!
//! - [`days`]: days a write could not update by a delta (`dirty_days`), or that were asked for.
//!   Done while holding the user's row, so no write of theirs can slip between the raw read and
//!   the replacement.
//! - [`rebuild`]: every day of a user, after a timezone change. The bulk is done without the
//!   lock (writes meanwhile add no deltas and mark their days instead); a short final step under
//!   the lock recomputes those days and declares the aggregates complete.
//! - [`check`]: one day compared with its raw records and repaired if it differs (the sweep).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use wellbeing_domain::aggregate::{Days, aggregate};
use wellbeing_domain::time;
use wellbeing_store::aggregates::{self, Extras};
use wellbeing_store::{StoreError, dirty_days, events};

/// Days recomputed per statement while rebuilding.
const REBUILD_CHUNK_DAYS: i64 = 14;

/// What a recomputation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recomputed {
    pub days: u64,
    pub events: u64,
}

/// How a recomputation of marked days ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done(Recomputed),
    /// The user no longer exists.
    Gone,
    /// A rebuild of the user is pending; it will take these days too.
    AwaitingRebuild,
}

/// Reads the raw records of `first..=last` and computes their aggregates.
async fn from_raw(
    connection: &mut PgConnection,
    user_id: Uuid,
    timezone: Tz,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<(Days, u64), StoreError> {
    let (from, _) = time::day_range(first, timezone);
    let (_, to) = time::day_range(last, timezone);
    let raw = events::between(&mut *connection, user_id, from, to).await?;
    Ok((aggregate(timezone, &raw), events::count(&raw) as u64))
}

/// Recomputes the user's `days` (and every day between the first and the last) from raw
/// records, replaces their aggregates and clears their marks, in one transaction holding the
/// user's row.
pub async fn days(pool: &PgPool, user_id: Uuid, days: &[NaiveDate]) -> Result<Outcome, StoreError> {
    let (Some(first), Some(last)) = (days.iter().min().copied(), days.iter().max().copied()) else {
        return Ok(Outcome::Done(Recomputed::default()));
    };
    let mut transaction = pool.begin().await?;
    let Some(zones) = aggregates::lock_writers(&mut transaction, user_id).await? else {
        return Ok(Outcome::Gone);
    };
    if zones.aggregates_timezone.as_deref() != Some(zones.timezone.as_str()) {
        return Ok(Outcome::AwaitingRebuild);
    }
    let timezone = time::parse_timezone(&zones.timezone).unwrap_or(Tz::UTC);
    let (computed, events) = from_raw(&mut transaction, user_id, timezone, first, last).await?;
    aggregates::replace(&mut transaction, user_id, first, last, &computed).await?;
    let range: Vec<NaiveDate> = first.iter_days().take_while(|day| *day <= last).collect();
    dirty_days::clear(&mut transaction, user_id, &range).await?;
    transaction.commit().await?;
    Ok(Outcome::Done(Recomputed {
        days: range.len() as u64,
        events,
    }))
}

/// Checks one day against its raw records under the user's lock; repairs it when it differs.
/// Returns whether it differed (`None`: not checkable now, the user is gone or being rebuilt).
pub async fn check(
    pool: &PgPool,
    user_id: Uuid,
    day: NaiveDate,
) -> Result<Option<bool>, StoreError> {
    let mut transaction = pool.begin().await?;
    let Some(zones) = aggregates::lock_writers(&mut transaction, user_id).await? else {
        return Ok(None);
    };
    if zones.aggregates_timezone.as_deref() != Some(zones.timezone.as_str()) {
        return Ok(None);
    }
    let timezone = time::parse_timezone(&zones.timezone).unwrap_or(Tz::UTC);
    let stored = aggregates::read_period(&mut *transaction, user_id, day, day, Extras::default())
        .await?
        .unwrap_or_default();
    if stored.dirty.contains(&day) {
        // Marked: reads already compute it from raw records and the worker will recompute it.
        return Ok(None);
    }
    let (computed, _) = from_raw(&mut transaction, user_id, timezone, day, day).await?;
    let stored_day = stored.days.get(&day).cloned().unwrap_or_default();
    let raw_day = computed.get(&day).cloned().unwrap_or_default();
    if stored_day == raw_day {
        return Ok(Some(false));
    }
    tracing::warn!(%day, "a day aggregate differed from its raw records; repaired");
    aggregates::replace(&mut transaction, user_id, day, day, &computed).await?;
    transaction.commit().await?;
    Ok(Some(true))
}

/// Rebuilds every day aggregate of the user in their current zone. Returns `false` when the zone
/// changed meanwhile (the rebuild was asked again and will run again).
pub async fn rebuild(
    pool: &PgPool,
    user_id: Uuid,
    requested_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(zones) = aggregates::zones(pool, user_id).await? else {
        return Ok(true);
    };
    if zones.aggregates_timezone.as_deref() == Some(zones.timezone.as_str()) {
        // Complete already (asked twice): writes are adding deltas, so nothing may be replaced
        // without the lock. Nothing to do.
        let mut transaction = pool.begin().await?;
        aggregates::finish_rebuild(&mut transaction, user_id, requested_at).await?;
        transaction.commit().await?;
        return Ok(true);
    }
    let zone_name = zones.timezone;
    let timezone = time::parse_timezone(&zone_name).unwrap_or(Tz::UTC);
    let mut written: BTreeSet<NaiveDate> = BTreeSet::new();

    // The bulk, without the lock: each chunk replaced from what its raw records say now.
    if let Some((earliest, latest)) = aggregates::raw_extent(pool, user_id).await? {
        let first = time::local_date(earliest, timezone);
        let last = time::local_date(latest, timezone);
        let mut chunk_first = first;
        while chunk_first <= last {
            let chunk_last = (chunk_first + Duration::days(REBUILD_CHUNK_DAYS - 1)).min(last);
            let mut transaction = pool.begin().await?;
            let (computed, _) =
                from_raw(&mut transaction, user_id, timezone, chunk_first, chunk_last).await?;
            aggregates::replace(
                &mut transaction,
                user_id,
                chunk_first,
                chunk_last,
                &computed,
            )
            .await?;
            transaction.commit().await?;
            written.extend(chunk_first.iter_days().take_while(|day| *day <= chunk_last));
            chunk_first = chunk_last + Duration::days(1);
        }
    }

    // The rest under the lock: days written meanwhile, then the aggregates are complete.
    let mut transaction = pool.begin().await?;
    let Some(zones) = aggregates::lock_writers(&mut transaction, user_id).await? else {
        return Ok(true);
    };
    if zones.timezone != zone_name {
        return Ok(false);
    }
    let marked = dirty_days::of_user(&mut transaction, user_id).await?;
    if let (Some(first), Some(last)) = (marked.first().copied(), marked.last().copied()) {
        let (computed, _) = from_raw(&mut transaction, user_id, timezone, first, last).await?;
        aggregates::replace(&mut transaction, user_id, first, last, &computed).await?;
        written.extend(first.iter_days().take_while(|day| *day <= last));
        dirty_days::clear(&mut transaction, user_id, &marked).await?;
    }
    let kept: Vec<NaiveDate> = written.into_iter().collect();
    aggregates::delete_except(&mut transaction, user_id, &kept).await?;
    aggregates::mark_complete(&mut transaction, user_id, &zone_name).await?;
    aggregates::finish_rebuild(&mut transaction, user_id, requested_at).await?;
    transaction.commit().await?;
    Ok(true)
}
