//! Sessions: one per sign-in, a family of refresh tokens that rotate. A session ends when its
//! owner signs out (one, or everywhere), changes the password (every other session), ends it
//! from the sessions list, or when a rotated refresh token comes back after the grace window
//! (theft is assumed: the whole session ends). It also ends by itself: idle for the refresh
//! token's lifetime, or past its absolute lifetime however often it was refreshed.
//!
//! The grace window: a phone that refreshed but lost the answer presents the same token again.
//! Within `grace` of the rotation, while the successor has not been used, it gets the same
//! successor back rather than losing its session. No token is stored: a rotation stores a
//! random salt on the rotated token's row, and the successor is
//!
//! ```text
//! successor = base64url(HMAC-SHA256(key = presented token, message = salt))
//! ```
//!
//! so presenting the old token again derives the same successor, whose hash is already stored.
//! Deriving it takes both the old token (only the client ever held it) and the salt (only the
//! database holds it): a stolen used token alone, or a copy of the table alone, gives nothing.
//! The gateway signs the access token with the successor's issue time as `iat`, so the replayed
//! pair is the same pair, byte for byte.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_common::{ErrorCode, ServiceError};
use wellbeing_store::refresh_tokens::{self, Rotation, RotationRules, Successor};
use wellbeing_store::sessions::{self, Ended, Issued, NewSession, SessionRow};

/// The longest look back the gateways may ask for (their access tokens live at most a day).
const MAX_ENDED_WITHIN_SECS: u32 = 2 * 86_400;

/// How long sessions live and how rotation forgives a lost answer.
#[derive(Debug, Clone, Copy)]
pub struct SessionRules {
    /// A refresh token's lifetime: a session unused this long ends (`REFRESH_TOKEN_TTL_DAYS`).
    pub idle_ttl: chrono::Duration,
    /// A session's absolute lifetime (`SESSION_MAX_LIFETIME_DAYS`).
    pub max_lifetime: chrono::Duration,
    /// How long a rotated refresh token answers the same pair again (`REFRESH_REUSE_GRACE_SECS`).
    pub grace: chrono::Duration,
}

/// A refresh token handed to the client, with the session it opens or continues.
pub struct IssuedRefreshToken {
    pub token: String,
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Sessions {
    pool: PgPool,
    rules: SessionRules,
}

impl Sessions {
    pub fn new(pool: PgPool, rules: SessionRules) -> Self {
        Self { pool, rules }
    }

    pub fn rules(&self) -> SessionRules {
        self.rules
    }

    /// Opens a session for a user who just proved who they are.
    pub async fn open(
        &self,
        user_id: Uuid,
        device: &str,
    ) -> Result<IssuedRefreshToken, ServiceError> {
        let token = new_token_text();
        let session_id = Uuid::new_v4();
        let session = NewSession {
            id: session_id,
            user_id,
            device,
            expires_at: Utc::now() + self.rules.max_lifetime,
        };
        let issued = sessions::open(
            &self.pool,
            session,
            &token_hash(&token),
            self.rules.idle_ttl,
        )
        .await?;
        Ok(issued_token(token, user_id, session_id, issued))
    }

    /// Exchanges a refresh token for its successor (the same one again within the grace).
    pub async fn refresh(&self, presented: &str) -> Result<IssuedRefreshToken, ServiceError> {
        let mut salt = [0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        let rules = RotationRules {
            idle_ttl: self.rules.idle_ttl,
            grace: self.rules.grace,
        };
        let derive = |salt: &[u8]| token_hash(&successor_of(presented, salt));
        let rotation =
            refresh_tokens::rotate(&self.pool, &token_hash(presented), &salt, derive, rules)
                .await?;
        let successor = match rotation {
            Rotation::Rotated(successor) => successor,
            Rotation::Replayed(successor) => {
                tracing::info!(session_id = %successor.session_id, "refresh replayed within the grace window");
                successor
            }
            Rotation::Reused { session_id } => {
                tracing::warn!(%session_id, "refresh token reused; its session was ended");
                return Err(ServiceError::new(
                    ErrorCode::Unauthenticated,
                    "this refresh token was already used; sign in again",
                ));
            }
            Rotation::Invalid => return Err(invalid_refresh_token()),
        };
        let Successor {
            user_id,
            session_id,
            salt,
            issued_at,
            expires_at,
        } = successor;
        Ok(IssuedRefreshToken {
            token: successor_of(presented, &salt),
            user_id,
            session_id,
            issued_at,
            expires_at,
        })
    }

    /// Ends the caller's session that `refresh_token` belongs to (again: the same answer).
    pub async fn logout(
        &self,
        user_id: Uuid,
        refresh_token: &str,
    ) -> Result<Vec<Ended>, ServiceError> {
        sessions::end_by_token(&self.pool, user_id, &token_hash(refresh_token))
            .await?
            .map(|ended| vec![ended])
            .ok_or_else(invalid_refresh_token)
    }

    /// Ends every session of the caller.
    pub async fn logout_all(&self, user_id: Uuid) -> Result<Vec<Ended>, ServiceError> {
        Ok(sessions::end_all(&self.pool, user_id, None).await?)
    }

    /// The caller's live sessions.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<SessionRow>, ServiceError> {
        Ok(sessions::live_of_user(&self.pool, user_id).await?)
    }

    /// Ends one live session of the caller; another user's (or an ended one) is not found.
    pub async fn end(&self, user_id: Uuid, session_id: Uuid) -> Result<Vec<Ended>, ServiceError> {
        sessions::end(&self.pool, user_id, session_id)
            .await?
            .map(|ended| vec![ended])
            .ok_or_else(|| ServiceError::not_found("no such session"))
    }

    /// Sessions ended within the last `within_seconds` (at most two days).
    pub async fn ended_within(&self, within_seconds: u32) -> Result<Vec<Ended>, ServiceError> {
        let within =
            std::time::Duration::from_secs(u64::from(within_seconds.min(MAX_ENDED_WITHIN_SECS)));
        Ok(sessions::ended_within(&self.pool, within).await?)
    }

    /// The password change's store work: the new hash, every other session ended, this one's
    /// refresh token replaced. Unauthenticated when this session is not live any more.
    pub async fn change_password(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        password_hash: &str,
    ) -> Result<(IssuedRefreshToken, Vec<Ended>), ServiceError> {
        let token = new_token_text();
        let (issued, ended) = sessions::change_password(
            &self.pool,
            user_id,
            session_id,
            password_hash,
            &token_hash(&token),
            self.rules.idle_ttl,
        )
        .await?
        .ok_or_else(|| ServiceError::new(ErrorCode::Unauthenticated, "this session has ended"))?;
        Ok((issued_token(token, user_id, session_id, issued), ended))
    }
}

fn issued_token(
    token: String,
    user_id: Uuid,
    session_id: Uuid,
    issued: Issued,
) -> IssuedRefreshToken {
    IssuedRefreshToken {
        token,
        user_id,
        session_id,
        issued_at: issued.issued_at,
        expires_at: issued.expires_at,
    }
}

fn invalid_refresh_token() -> ServiceError {
    ServiceError::new(
        ErrorCode::Unauthenticated,
        "invalid or expired refresh token",
    )
}

/// The successor of `presented` under `salt` (see the module's documentation).
fn successor_of(presented: &str, salt: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(presented.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(salt);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// 32 random bytes, base64url: an opaque token.
pub(crate) fn new_token_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a token: its SHA-256.
fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_successor_is_derived_again_from_the_same_token_and_salt_only() {
        let token = new_token_text();
        let salt = [7u8; 32];
        let successor = successor_of(&token, &salt);
        assert_eq!(successor, successor_of(&token, &salt));
        assert_ne!(successor, successor_of(&token, &[8u8; 32]));
        assert_ne!(successor, successor_of(&new_token_text(), &salt));
        assert_ne!(successor, token);
        assert_eq!(successor.len(), 43, "32 bytes, base64url without padding");
    }
}
