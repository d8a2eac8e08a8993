//! The `users` table.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
}

pub struct NewUser<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub timezone: &'a str,
}

/// Inserts a user; [`StoreError::AlreadyExists`] when the email is taken.
pub async fn insert(pool: &PgPool, user: NewUser<'_>) -> Result<UserRow, StoreError> {
    let row = sqlx::query_as::<_, UserRow>(
        "INSERT INTO users (id, username, email, password_hash, timezone, aggregates_timezone)
         VALUES ($1, $2, $3, $4, $5, $5)
         RETURNING id, username, email, password_hash, timezone, created_at",
    )
    .bind(user.id)
    .bind(user.username)
    .bind(user.email)
    .bind(user.password_hash)
    .bind(user.timezone)
    .fetch_one(pool)
    .await?;
    Ok(row)
}

pub async fn find_by_email(pool: &PgPool, email: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(sqlx::query_as::<_, UserRow>(
        "SELECT id, username, email, password_hash, timezone, created_at FROM users WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(pool)
    .await?)
}

pub async fn find_by_id(pool: &PgPool, id: Uuid) -> Result<Option<UserRow>, StoreError> {
    Ok(sqlx::query_as::<_, UserRow>(
        "SELECT id, username, email, password_hash, timezone, created_at FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// The user's timezone name, or `None` when the user does not exist (erased).
pub async fn timezone(pool: &PgPool, id: Uuid) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar::<_, String>("SELECT timezone FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Changes the username and/or timezone; `None` when the user does not exist. A new timezone
/// asks the aggregator, in the same statement, to rebuild the user's day aggregates in it.
pub async fn update_profile(
    pool: &PgPool,
    id: Uuid,
    username: Option<&str>,
    timezone: Option<&str>,
) -> Result<Option<UserRow>, StoreError> {
    Ok(sqlx::query_as::<_, UserRow>(
        "WITH updated AS (
             UPDATE users SET username = COALESCE($2, username), timezone = COALESCE($3, timezone),
                 -- A new zone: writes stop adding deltas until the rebuild is done.
                 aggregates_timezone = CASE WHEN $3 IS NOT NULL AND $3 <> timezone THEN NULL
                                            ELSE aggregates_timezone END
             WHERE id = $1
             RETURNING id, username, email, password_hash, timezone, created_at, aggregates_timezone
         ),
         rebuild AS (
             INSERT INTO aggregate_rebuilds (user_id)
             SELECT id FROM updated WHERE aggregates_timezone IS DISTINCT FROM timezone
             ON CONFLICT (user_id) DO UPDATE SET requested_at = now(), claimed_until = NULL
         )
         SELECT id, username, email, password_hash, timezone, created_at FROM updated",
    )
    .bind(id)
    .bind(username)
    .bind(timezone)
    .fetch_optional(pool)
    .await?)
}

/// The rows of a user that no foreign key cascades from (see the migration
/// `20261124000006_ingest_without_row_checks.sql`): erasure deletes them itself.
const ERASE_UNCHAINED: [&str; 7] = [
    "DELETE FROM event_ids WHERE user_id = $1",
    "DELETE FROM screen_time WHERE user_id = $1",
    "DELETE FROM sessions WHERE user_id = $1",
    "DELETE FROM focus_sessions WHERE user_id = $1",
    "DELETE FROM breaks WHERE user_id = $1",
    "DELETE FROM notifications WHERE user_id = $1",
    "DELETE FROM distractions WHERE user_id = $1",
];

/// Erases a user and every row of theirs, in one transaction: the user's row first (which waits
/// for ingestion transactions holding it and keeps new ones out), then the event tables; the
/// other tables follow by ON DELETE CASCADE. False when absent.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, StoreError> {
    let mut transaction = pool.begin().await?;
    // An erasure finishes however much there is to delete.
    sqlx::query("SET LOCAL statement_timeout = 0")
        .execute(&mut *transaction)
        .await?;
    let result = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *transaction)
        .await?;
    for statement in ERASE_UNCHAINED {
        sqlx::query(statement)
            .bind(id)
            .execute(&mut *transaction)
            .await?;
    }
    let erased = result.rows_affected() > 0;
    if erased {
        // Its cached data is erased after the commit; until the cache service confirms, the
        // erasure is remembered here (crate::cache_erasures).
        sqlx::query("INSERT INTO cache_erasures (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(id)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(erased)
}
