//! Erasures of users' cached data still to be confirmed by the cache service (recorded by
//! [`crate::users::delete`] in the transaction that deletes the user). Any analytics replica
//! may retry them: a claim is leased, so replicas share the work and a crashed one's claims
//! come back.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

/// Claims up to `limit` erasures nobody holds, for `lease`.
pub async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "UPDATE cache_erasures AS erasure
         SET claimed_until = now() + $2 * interval '1 millisecond', attempts = erasure.attempts + 1
         WHERE erasure.user_id IN (
             SELECT user_id FROM cache_erasures
             WHERE claimed_until IS NULL OR claimed_until < now()
             ORDER BY requested_at
             LIMIT $1
             FOR UPDATE SKIP LOCKED)
         RETURNING erasure.user_id",
    )
    .bind(limit)
    .bind(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(user_id,)| user_id).collect())
}

/// The cache service confirmed the user's erasure.
pub async fn done(pool: &PgPool, user_id: Uuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM cache_erasures WHERE user_id = $1")
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Erasures waiting (a gauge).
pub async fn waiting(pool: &PgPool) -> Result<i64, StoreError> {
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM cache_erasures")
        .fetch_one(pool)
        .await?;
    Ok(count)
}
