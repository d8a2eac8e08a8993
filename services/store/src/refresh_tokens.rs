//! The `refresh_tokens` table: rotation with reuse detection and a short grace for a rotation
//! whose answer was lost. Every statement that changes a family's tokens first locks the
//! family's `sessions` row, so rotations, sign-outs and password changes of one session take
//! turns (and always lock in the same order: session, then tokens).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;

/// What presenting a refresh token led to.
pub enum Rotation {
    /// The token was valid; it is now used and `Successor` replaces it.
    Rotated(Successor),
    /// The token had been rotated within the grace window and its successor is still unused:
    /// the same successor again (the client lost the answer).
    Replayed(Successor),
    /// Unknown or expired token, or a session that ended.
    Invalid,
    /// The token had been used before, outside the grace: its whole session has been ended.
    Reused { session_id: Uuid },
}

/// The token that replaces the presented one.
pub struct Successor {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// What derived the successor from the presented token (see [`rotate`]).
    pub salt: Vec<u8>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// How rotation behaves.
#[derive(Debug, Clone, Copy)]
pub struct RotationRules {
    /// A refresh token's own lifetime (the idle lifetime of a session).
    pub idle_ttl: chrono::Duration,
    /// How long after a rotation the rotated token may be presented again for the same answer.
    pub grace: chrono::Duration,
}

#[derive(sqlx::FromRow)]
struct PresentedRow {
    user_id: Uuid,
    family_id: Uuid,
    live: bool,
    used: bool,
    within_grace: bool,
    successor_salt: Option<Vec<u8>>,
    revoked: bool,
}

#[derive(sqlx::FromRow)]
struct IssuedRow {
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

/// Rotates the token whose hash is `presented_hash`. Its successor's hash is
/// `successor_hash(salt)`: `new_salt` for a first rotation, the stored salt for a replay, so that
/// the caller (who holds the presented token) derives the same successor again.
pub async fn rotate(
    pool: &PgPool,
    presented_hash: &[u8],
    new_salt: &[u8],
    successor_hash: impl Fn(&[u8]) -> Vec<u8>,
    rules: RotationRules,
) -> Result<Rotation, StoreError> {
    let mut transaction = pool.begin().await?;
    // The session first, alone: the token is read by the next statement, which sees what a
    // concurrent rotation committed while this one waited for the lock (a join locking the
    // session would have kept the token row as it was before the wait, and rotated it twice).
    let locked: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM auth_sessions
         WHERE id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)
         FOR UPDATE",
    )
    .bind(presented_hash)
    .fetch_optional(&mut *transaction)
    .await?;
    if locked.is_none() {
        return Ok(Rotation::Invalid);
    }
    let found: Option<PresentedRow> = sqlx::query_as(
        "SELECT t.user_id, t.family_id,
                t.expires_at > now() AND s.expires_at > now() AS live,
                t.used_at IS NOT NULL AS used,
                coalesce(t.used_at > now() - make_interval(secs => $2), false) AS within_grace,
                t.successor_salt, s.revoked_at IS NOT NULL AS revoked
         FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.family_id
         WHERE t.token_hash = $1",
    )
    .bind(presented_hash)
    .bind(rules.grace.as_seconds_f64())
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(presented) = found.filter(|presented| !presented.revoked) else {
        return Ok(Rotation::Invalid);
    };
    if presented.used {
        if presented.within_grace
            && let Some(salt) = presented.successor_salt
        {
            let successor: Option<IssuedRow> = sqlx::query_as(
                "SELECT created_at, expires_at, used_at FROM refresh_tokens
                 WHERE token_hash = $1 AND family_id = $2",
            )
            .bind(successor_hash(&salt))
            .bind(presented.family_id)
            .fetch_optional(&mut *transaction)
            .await?;
            if let Some(successor) = successor.filter(|row| row.used_at.is_none()) {
                return Ok(Rotation::Replayed(Successor {
                    user_id: presented.user_id,
                    session_id: presented.family_id,
                    salt,
                    issued_at: successor.created_at,
                    expires_at: successor.expires_at,
                }));
            }
        }
        sqlx::query("UPDATE auth_sessions SET revoked_at = now() WHERE id = $1")
            .bind(presented.family_id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        return Ok(Rotation::Reused {
            session_id: presented.family_id,
        });
    }
    if !presented.live {
        return Ok(Rotation::Invalid);
    }
    sqlx::query(
        "UPDATE refresh_tokens SET used_at = now(), successor_salt = $2 WHERE token_hash = $1",
    )
    .bind(presented_hash)
    .bind(new_salt)
    .execute(&mut *transaction)
    .await?;
    let issued = insert_token(
        &mut transaction,
        &successor_hash(new_salt),
        presented.user_id,
        presented.family_id,
        rules.idle_ttl,
    )
    .await?;
    transaction.commit().await?;
    Ok(Rotation::Rotated(Successor {
        user_id: presented.user_id,
        session_id: presented.family_id,
        salt: new_salt.to_vec(),
        issued_at: issued.0,
        expires_at: issued.1,
    }))
}

/// Inserts the next token of a session (whose row the caller has locked or just made), alive
/// for `idle_ttl` but never beyond the session's own end, and marks the session used now.
/// Answers when it was issued and when it expires.
pub(crate) async fn insert_token(
    transaction: &mut sqlx::PgConnection,
    token_hash: &[u8],
    user_id: Uuid,
    session_id: Uuid,
    idle_ttl: chrono::Duration,
) -> Result<(DateTime<Utc>, DateTime<Utc>), StoreError> {
    let (created_at, expires_at): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at)
         SELECT $1, $2, $3, least(now() + make_interval(secs => $4), expires_at)
         FROM auth_sessions WHERE id = $3
         RETURNING created_at, expires_at",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(session_id)
    .bind(idle_ttl.as_seconds_f64())
    .fetch_one(&mut *transaction)
    .await?;
    sqlx::query("UPDATE auth_sessions SET last_used_at = now() WHERE id = $1")
        .bind(session_id)
        .execute(&mut *transaction)
        .await?;
    Ok((created_at, expires_at))
}

/// What the export shows of the user's refresh tokens and their sessions (never a token or
/// its hash).
#[derive(Debug, sqlx::FromRow, serde::Serialize)]
pub struct RefreshTokenInfo {
    /// The session.
    pub family_id: Uuid,
    /// The session's device label.
    pub device: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// When the session was ended, if it was.
    pub session_ended_at: Option<DateTime<Utc>>,
}

pub async fn of_user(pool: &PgPool, user_id: Uuid) -> Result<Vec<RefreshTokenInfo>, StoreError> {
    Ok(sqlx::query_as::<_, RefreshTokenInfo>(
        "SELECT t.family_id, s.device, t.created_at, t.expires_at, t.used_at,
                s.revoked_at AS session_ended_at
         FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.family_id
         WHERE t.user_id = $1 ORDER BY t.created_at",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}
