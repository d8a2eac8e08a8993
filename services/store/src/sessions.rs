//! The `auth_sessions` table (sign-in sessions; `sessions` is the phone's usage): one row per
//! sign-in (a refresh-token family), which the person can list and end. An ended session keeps its row, with `revoked_at`, for as long as access
//! tokens issued in it may still be presented (the gateways refuse them by session id); the
//! aggregator's upkeep then removes it with its whole family ([`remove_dead`]).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;
use crate::refresh_tokens::insert_token;

/// A new session and its first refresh token.
pub struct NewSession<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub device: &'a str,
    /// The absolute end of the session.
    pub expires_at: DateTime<Utc>,
}

/// A refresh token just stored: when it was issued and when it expires.
#[derive(Debug, Clone, Copy)]
pub struct Issued {
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Opens a session with its first refresh token, alive for `idle_ttl` (at most to the
/// session's end).
pub async fn open(
    pool: &PgPool,
    session: NewSession<'_>,
    token_hash: &[u8],
    idle_ttl: chrono::Duration,
) -> Result<Issued, StoreError> {
    let mut transaction = pool.begin().await?;
    sqlx::query(
        "INSERT INTO auth_sessions (id, user_id, device, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(session.id)
    .bind(session.user_id)
    .bind(session.device)
    .bind(session.expires_at)
    .execute(&mut *transaction)
    .await?;
    let (issued_at, expires_at) = insert_token(
        &mut transaction,
        token_hash,
        session.user_id,
        session.id,
        idle_ttl,
    )
    .await?;
    transaction.commit().await?;
    Ok(Issued {
        issued_at,
        expires_at,
    })
}

/// A live session as its owner sees it (no token, no hash).
#[derive(Debug, sqlx::FromRow, serde::Serialize)]
pub struct SessionRow {
    pub id: Uuid,
    pub device: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The condition of a live session `s`: not ended, not past its absolute end, and holding an
/// unused refresh token that has not expired (past that, it ended by idleness).
const LIVE: &str = "s.revoked_at IS NULL AND s.expires_at > now() AND EXISTS (
        SELECT 1 FROM refresh_tokens t
        WHERE t.family_id = s.id AND t.used_at IS NULL AND t.expires_at > now())";

/// The user's live sessions, most recently used first.
pub async fn live_of_user(pool: &PgPool, user_id: Uuid) -> Result<Vec<SessionRow>, StoreError> {
    let statement = format!(
        "SELECT s.id, s.device, s.created_at, s.last_used_at, s.expires_at FROM auth_sessions s
         WHERE s.user_id = $1 AND {LIVE} ORDER BY s.last_used_at DESC, s.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(user_id)
        .fetch_all(pool)
        .await?)
}

/// A session that ended, and when.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Ended {
    pub id: Uuid,
    pub revoked_at: DateTime<Utc>,
}

/// Ends one live session of the user; `None` when the user has no such live session (another
/// user's, an unknown or an ended one).
pub async fn end(
    pool: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Option<Ended>, StoreError> {
    let statement = format!(
        "UPDATE auth_sessions s SET revoked_at = now()
         WHERE s.id = $1 AND s.user_id = $2 AND {LIVE}
         RETURNING s.id, s.revoked_at"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(pool)
        .await?)
}

/// Ends the session of the user that a refresh token (any of its family, used or not)
/// belongs to; ending an ended session again answers when it ended. `None`: the user has no
/// token with this hash.
pub async fn end_by_token(
    pool: &PgPool,
    user_id: Uuid,
    token_hash: &[u8],
) -> Result<Option<Ended>, StoreError> {
    Ok(sqlx::query_as(
        "UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now())
         WHERE id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2)
         RETURNING id, revoked_at",
    )
    .bind(token_hash)
    .bind(user_id)
    .fetch_optional(pool)
    .await?)
}

/// Ends every session of the user not ended yet, but `except`.
pub async fn end_all(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    except: Option<Uuid>,
) -> Result<Vec<Ended>, StoreError> {
    Ok(sqlx::query_as(
        "UPDATE auth_sessions SET revoked_at = now()
         WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2)
         RETURNING id, revoked_at",
    )
    .bind(user_id)
    .bind(except)
    .fetch_all(executor)
    .await?)
}

/// Sessions ended within the last `within` (whatever their user): the gateways' deny-list.
pub async fn ended_within(
    pool: &PgPool,
    within: std::time::Duration,
) -> Result<Vec<Ended>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, revoked_at FROM auth_sessions
         WHERE revoked_at > now() - make_interval(secs => $1)",
    )
    .bind(within.as_secs_f64())
    .fetch_all(pool)
    .await?)
}

/// A password change: the new hash, every other session of the user ended, and the current
/// session's refresh tokens replaced by one new token, in one transaction. `None` when the
/// current session is not live any more (nothing is changed then).
pub async fn change_password(
    pool: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    password_hash: &str,
    new_token_hash: &[u8],
    idle_ttl: chrono::Duration,
) -> Result<Option<(Issued, Vec<Ended>)>, StoreError> {
    let mut transaction = pool.begin().await?;
    let current: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM auth_sessions
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
         FOR UPDATE",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(&mut *transaction)
    .await?;
    if current.is_none() {
        return Ok(None);
    }
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(password_hash)
        .execute(&mut *transaction)
        .await?;
    let ended = end_all(&mut *transaction, user_id, Some(session_id)).await?;
    sqlx::query(
        "UPDATE refresh_tokens SET used_at = now() WHERE family_id = $1 AND used_at IS NULL",
    )
    .bind(session_id)
    .execute(&mut *transaction)
    .await?;
    let (issued_at, expires_at) = insert_token(
        &mut transaction,
        new_token_hash,
        user_id,
        session_id,
        idle_ttl,
    )
    .await?;
    transaction.commit().await?;
    Ok(Some((
        Issued {
            issued_at,
            expires_at,
        },
        ended,
    )))
}

/// Sessions removed per statement, so that a large backlog never holds long locks.
const REMOVAL_BATCH: i64 = 5_000;

/// Removes dead sessions with their whole refresh-token family (the foreign key cascades):
/// those that ended more than `ended_kept` ago (once no access token of theirs can be alive),
/// and those past their absolute end or idle (no unused refresh token left alive). A live
/// family keeps every row, so a reused old token is still recognised. Answers the sessions
/// removed.
pub async fn remove_dead(
    pool: &PgPool,
    ended_kept: std::time::Duration,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    loop {
        let batch = sqlx::query(
            "DELETE FROM auth_sessions WHERE id IN (
                SELECT s.id FROM auth_sessions s
                WHERE s.revoked_at < now() - make_interval(secs => $1)
                   OR (s.revoked_at IS NULL AND (s.expires_at <= now() OR NOT EXISTS (
                        SELECT 1 FROM refresh_tokens t
                        WHERE t.family_id = s.id AND t.used_at IS NULL AND t.expires_at > now())))
                LIMIT $2)",
        )
        .bind(ended_kept.as_secs_f64())
        .bind(REMOVAL_BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        removed += batch;
        if batch < REMOVAL_BATCH as u64 {
            return Ok(removed);
        }
    }
}
