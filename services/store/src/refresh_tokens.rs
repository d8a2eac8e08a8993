//! The `refresh_tokens` table: rotation with reuse detection.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;

pub async fn insert(
    pool: &PgPool,
    token_hash: &[u8],
    user_id: Uuid,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(family_id)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// What presenting a refresh token led to.
pub enum Rotation {
    /// The token was valid; it is now used and `user_id` may have a new one in `family_id`.
    Rotated { user_id: Uuid, family_id: Uuid },
    /// Unknown or expired token.
    Invalid,
    /// The token had been used before: its whole family has been revoked.
    Reused,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    user_id: Uuid,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

/// Marks a token used, in one transaction with the insertion of its successor.
pub async fn rotate(
    pool: &PgPool,
    presented_hash: &[u8],
    successor_hash: &[u8],
    successor_expires_at: DateTime<Utc>,
) -> Result<Rotation, StoreError> {
    let mut transaction = pool.begin().await?;
    let found: Option<TokenRow> = sqlx::query_as(
        "SELECT user_id, family_id, expires_at, used_at FROM refresh_tokens
         WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(presented_hash)
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(TokenRow {
        user_id,
        family_id,
        expires_at,
        used_at,
    }) = found
    else {
        return Ok(Rotation::Invalid);
    };
    if used_at.is_some() {
        sqlx::query("DELETE FROM refresh_tokens WHERE family_id = $1")
            .bind(family_id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        return Ok(Rotation::Reused);
    }
    if expires_at <= Utc::now() {
        return Ok(Rotation::Invalid);
    }
    sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1")
        .bind(presented_hash)
        .execute(&mut *transaction)
        .await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(successor_hash)
    .bind(user_id)
    .bind(family_id)
    .bind(successor_expires_at)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(Rotation::Rotated { user_id, family_id })
}

/// What the export shows of the user's sign-in sessions (never the token hashes).
#[derive(Debug, sqlx::FromRow, serde::Serialize)]
pub struct RefreshTokenInfo {
    pub family_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

pub async fn of_user(pool: &PgPool, user_id: Uuid) -> Result<Vec<RefreshTokenInfo>, StoreError> {
    Ok(sqlx::query_as::<_, RefreshTokenInfo>(
        "SELECT family_id, created_at, expires_at, used_at FROM refresh_tokens
         WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}
