//! The work queue of dirty (user, local day) pairs and the per-day rollups. See the migration
//! `20261124000003_rollups_and_work_queue.sql` for the protocol.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::StoreError;

/// Marks (user, local day) pairs dirty (inside the caller's transaction). A day already marked
/// gets a new version, so a worker computing the old one will not clear it. `marks` must not
/// repeat a pair (one statement cannot update a row twice) and should be sorted, so that
/// concurrent writers lock rows in one order (no deadlock).
pub async fn mark_dirty(
    connection: &mut PgConnection,
    marks: &[(Uuid, NaiveDate)],
) -> Result<(), StoreError> {
    if marks.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO dirty_days (user_id, day)
         SELECT * FROM UNNEST($1::uuid[], $2::date[])
         ON CONFLICT (user_id, day) DO UPDATE SET version = dirty_days.version + 1",
    )
    .bind(marks.iter().map(|mark| mark.0).collect::<Vec<_>>())
    .bind(marks.iter().map(|mark| mark.1).collect::<Vec<_>>())
    .execute(connection)
    .await?;
    Ok(())
}

/// Marks every day of a user that has a rollup (after a timezone change, all of them are off).
pub async fn mark_all_rolled_up(pool: &PgPool, user_id: Uuid) -> Result<u64, StoreError> {
    let result = sqlx::query(
        "INSERT INTO dirty_days (user_id, day)
         SELECT user_id, day FROM daily_rollups WHERE user_id = $1
         ON CONFLICT (user_id, day) DO UPDATE SET version = dirty_days.version + 1",
    )
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Marks a range of days of a user (a manual recomputation).
pub async fn mark_range(
    pool: &PgPool,
    user_id: Uuid,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<u64, StoreError> {
    let result = sqlx::query(
        "INSERT INTO dirty_days (user_id, day)
         SELECT $1, day::date FROM generate_series($2::date, $3::date, interval '1 day') AS days (day)
         ON CONFLICT (user_id, day) DO UPDATE SET version = dirty_days.version + 1",
    )
    .bind(user_id)
    .bind(first)
    .bind(last)
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// A dirty day held by a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Claim {
    pub user_id: Uuid,
    pub day: NaiveDate,
    pub version: i64,
}

/// Takes up to `limit` dirty days nobody holds (or whose holder's lease ran out), oldest mark
/// first; concurrent workers skip each other's rows instead of waiting.
pub async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> Result<Vec<Claim>, StoreError> {
    Ok(sqlx::query_as::<_, Claim>(
        "UPDATE dirty_days AS dirty
         SET claimed_until = now() + $2 * interval '1 millisecond', attempts = dirty.attempts + 1
         FROM (
             SELECT user_id, day FROM dirty_days
             WHERE claimed_until IS NULL OR claimed_until < now()
             ORDER BY marked_at
             LIMIT $1
             FOR UPDATE SKIP LOCKED
         ) AS free
         WHERE dirty.user_id = free.user_id AND dirty.day = free.day
         RETURNING dirty.user_id, dirty.day, dirty.version",
    )
    .bind(limit)
    .bind(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?)
}

/// A computed day, ready to store.
pub struct Rollup<'a> {
    pub timezone: &'a str,
    pub summary: serde_json::Value,
    pub apps: serde_json::Value,
    pub events: i32,
}

/// Stores a day's rollup and clears its mark, in one transaction; if the day was marked again
/// meanwhile, the mark stays (released for the next claim). Returns whether it was cleared.
pub async fn complete(
    pool: &PgPool,
    claim: &Claim,
    rollup: &Rollup<'_>,
) -> Result<bool, StoreError> {
    let mut transaction = pool.begin().await?;
    sqlx::query(
        "INSERT INTO daily_rollups (user_id, day, timezone, summary, apps, events, computed_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (user_id, day) DO UPDATE
         SET timezone = EXCLUDED.timezone, summary = EXCLUDED.summary, apps = EXCLUDED.apps,
             events = EXCLUDED.events, computed_at = EXCLUDED.computed_at",
    )
    .bind(claim.user_id)
    .bind(claim.day)
    .bind(rollup.timezone)
    .bind(&rollup.summary)
    .bind(&rollup.apps)
    .bind(rollup.events)
    .execute(&mut *transaction)
    .await?;
    let cleared =
        sqlx::query("DELETE FROM dirty_days WHERE user_id = $1 AND day = $2 AND version = $3")
            .bind(claim.user_id)
            .bind(claim.day)
            .bind(claim.version)
            .execute(&mut *transaction)
            .await?
            .rows_affected()
            > 0;
    if !cleared {
        sqlx::query("UPDATE dirty_days SET claimed_until = NULL WHERE user_id = $1 AND day = $2")
            .bind(claim.user_id)
            .bind(claim.day)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(cleared)
}

/// Gives a claim back without computing it (the user is gone, or the worker is stopping).
pub async fn release(pool: &PgPool, claim: &Claim) -> Result<(), StoreError> {
    sqlx::query("UPDATE dirty_days SET claimed_until = NULL WHERE user_id = $1 AND day = $2")
        .bind(claim.user_id)
        .bind(claim.day)
        .execute(pool)
        .await?;
    Ok(())
}

/// Drops the mark of a day whose user no longer exists (the cascade normally did it already).
pub async fn forget(pool: &PgPool, claim: &Claim) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM dirty_days WHERE user_id = $1 AND day = $2")
        .bind(claim.user_id)
        .bind(claim.day)
        .execute(pool)
        .await?;
    Ok(())
}

/// Items waiting and the mark time of the oldest.
pub async fn queue_depth(pool: &PgPool) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    Ok(sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
        "SELECT count(*), min(marked_at) FROM dirty_days",
    )
    .fetch_one(pool)
    .await?)
}

/// A stored day, usable for reads.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredRollup {
    pub day: NaiveDate,
    pub summary: serde_json::Value,
    pub apps: serde_json::Value,
}

/// The rollups of `first..=last` that are safe to read: computed in `timezone` and not dirty.
pub async fn clean(
    pool: &PgPool,
    user_id: Uuid,
    first: NaiveDate,
    last: NaiveDate,
    timezone: &str,
) -> Result<Vec<StoredRollup>, StoreError> {
    Ok(sqlx::query_as::<_, StoredRollup>(
        "SELECT rollup.day, rollup.summary, rollup.apps FROM daily_rollups AS rollup
         WHERE rollup.user_id = $1 AND rollup.day BETWEEN $2 AND $3 AND rollup.timezone = $4
           AND NOT EXISTS (
               SELECT 1 FROM dirty_days AS dirty
               WHERE dirty.user_id = rollup.user_id AND dirty.day = rollup.day
           )
         ORDER BY rollup.day",
    )
    .bind(user_id)
    .bind(first)
    .bind(last)
    .bind(timezone)
    .fetch_all(pool)
    .await?)
}

/// The timezones users are in.
pub async fn zones(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar::<_, String>("SELECT DISTINCT timezone FROM users")
            .fetch_all(pool)
            .await?,
    )
}

/// Users in `zone` with a rolled-up day since `since` (the recently active ones).
pub async fn active_users_in_zone(
    pool: &PgPool,
    zone: &str,
    since: NaiveDate,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(sqlx::query_scalar::<_, Uuid>(
        "SELECT DISTINCT rollup.user_id FROM daily_rollups AS rollup
         JOIN users ON users.id = rollup.user_id
         WHERE users.timezone = $1 AND rollup.day >= $2",
    )
    .bind(zone)
    .bind(since)
    .fetch_all(pool)
    .await?)
}
