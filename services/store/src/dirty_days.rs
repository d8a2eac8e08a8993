//! The work queue of dirty (user, local day) pairs: days whose aggregate a write could not
//! update by a delta, or that were asked to be recomputed. Reads compute a dirty day from raw
//! records; the aggregator recomputes it (see `20261205000001_day_aggregates.sql`).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::StoreError;

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

/// Marks the given (user, local day) pairs.
pub async fn mark(
    connection: &mut PgConnection,
    days: &[(Uuid, NaiveDate)],
) -> Result<(), StoreError> {
    let (users, days): (Vec<Uuid>, Vec<NaiveDate>) = days.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO dirty_days (user_id, day)
         SELECT * FROM UNNEST($1::uuid[], $2::date[]) ORDER BY 1, 2
         ON CONFLICT (user_id, day) DO UPDATE SET version = dirty_days.version + 1, marked_at = now()",
    )
    .bind(users)
    .bind(days)
    .execute(connection)
    .await?;
    Ok(())
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

/// Clears the marks of the user's `days` (inside the transaction that recomputed them while
/// holding the user's row, so no write could mark them meanwhile).
pub async fn clear(
    connection: &mut PgConnection,
    user_id: Uuid,
    days: &[NaiveDate],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM dirty_days WHERE user_id = $1 AND day = ANY($2)")
        .bind(user_id)
        .bind(days)
        .execute(connection)
        .await?;
    Ok(())
}

/// Every dirty day of the user.
pub async fn of_user(
    connection: &mut PgConnection,
    user_id: Uuid,
) -> Result<Vec<NaiveDate>, StoreError> {
    Ok(sqlx::query_scalar::<_, NaiveDate>(
        "SELECT day FROM dirty_days WHERE user_id = $1 ORDER BY day",
    )
    .bind(user_id)
    .fetch_all(connection)
    .await?)
}
