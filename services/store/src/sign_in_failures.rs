//! Failed sign-ins per account name (`sign_in_failures`), for the per-account login throttle:
//! after [`FREE_FAILURES`] failures in a row, each further failure locks the name for twice as
//! long as the one before (1 s, 2 s, 4 s, ... at most [`LONGEST_LOCK`]); a success clears it,
//! and failures [`FORGOTTEN_AFTER`] old no longer count. Names are stored as hashes.

use std::time::Duration;

use sqlx::PgPool;

use crate::StoreError;

/// Failures in a row before the first lock.
pub const FREE_FAILURES: i32 = 5;
/// The longest lock.
pub const LONGEST_LOCK: Duration = Duration::from_secs(15 * 60);
/// A failure older than this no longer counts.
pub const FORGOTTEN_AFTER: Duration = Duration::from_secs(60 * 60);

/// How long the name is still locked, if it is.
pub async fn locked_for(pool: &PgPool, name: &[u8]) -> Result<Option<Duration>, StoreError> {
    let left: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM locked_until - now())::float8 FROM sign_in_failures
         WHERE email_sha256 = $1 AND locked_until > now()",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(left.map(|seconds| Duration::from_secs_f64(seconds.max(0.0))))
}

/// Counts a failure of the name, locking it from the [`FREE_FAILURES`]th on.
pub async fn record_failure(pool: &PgPool, name: &[u8]) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sign_in_failures AS f (email_sha256, failures, last_failure_at, locked_until)
         VALUES ($1, 1, now(), now())
         ON CONFLICT (email_sha256) DO UPDATE SET
             failures = CASE WHEN f.last_failure_at < now() - $2 * interval '1 second' THEN 1
                             ELSE f.failures + 1 END,
             last_failure_at = now()",
    )
    .bind(name)
    .bind(FORGOTTEN_AFTER.as_secs_f64())
    .execute(pool)
    .await?;
    // The lock follows from the count just stored.
    sqlx::query(
        "UPDATE sign_in_failures
         SET locked_until = now() + least(power(2, failures - $2), $3) * interval '1 second'
         WHERE email_sha256 = $1 AND failures >= $2",
    )
    .bind(name)
    .bind(FREE_FAILURES)
    .bind(LONGEST_LOCK.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

/// A success: the name's failures are forgotten.
pub async fn clear(pool: &PgPool, name: &[u8]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sign_in_failures WHERE email_sha256 = $1")
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes the rows of names whose failures are forgotten and whose lock has ended; answers
/// how many.
pub async fn forget_old(pool: &PgPool) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM sign_in_failures
         WHERE last_failure_at < now() - $1 * interval '1 second' AND locked_until < now()",
    )
    .bind(FORGOTTEN_AFTER.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
