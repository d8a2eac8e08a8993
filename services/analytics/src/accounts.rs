//! Accounts: registration with argon2id password hashes, login, and refresh-token rotation.
//! Access tokens (JWTs) are minted by the gateway; this module only proves who someone is.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use uuid::Uuid;
use wellbeing_common::{ErrorCode, ServiceError};
use wellbeing_domain::validation;

use wellbeing_store::StoreError;
use wellbeing_store::refresh_tokens::{self, Rotation};
use wellbeing_store::sign_in_failures;
use wellbeing_store::users::{self, NewUser, UserRow};

/// A fresh refresh token, as handed to the client.
pub struct IssuedRefreshToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub timezone: &'a str,
}

#[derive(Clone)]
pub struct Accounts {
    pool: PgPool,
    refresh_token_ttl: chrono::Duration,
    /// Password hashes computed at once: one per core. Each argon2id computation holds 19 MiB
    /// for its duration, so a burst of 1,200 logins used to take the process past any memory
    /// limit; the rest wait, and a caller whose deadline passes while waiting is dropped
    /// before its hash starts.
    hashing: Arc<Semaphore>,
}

impl Accounts {
    pub fn new(pool: PgPool, refresh_token_ttl: chrono::Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            pool,
            refresh_token_ttl,
            hashing: Arc::new(Semaphore::new(cores)),
        }
    }

    /// Runs one password hash computation when a core is free for it.
    async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let permit = self
            .hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(|error| ServiceError::internal(&error))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|join_error| ServiceError::internal(&join_error))
    }

    /// Creates an account. The email is stored lower-cased; a taken email is a conflict.
    pub async fn register(&self, registration: Registration<'_>) -> Result<UserRow, ServiceError> {
        let username = registration.username.trim();
        validation::validate_username(username).map_err(field_error)?;
        validation::validate_email(registration.email).map_err(field_error)?;
        validation::validate_new_password("password", registration.password, registration.email)
            .map_err(field_error)?;
        let timezone = match registration.timezone.trim() {
            "" => "UTC",
            zone => zone,
        };
        validation::validate_timezone(timezone).map_err(field_error)?;
        let email = validation::normalize_email(registration.email);

        let password = registration.password.to_owned();
        let password_hash = self.hashing(move || hash_password(&password)).await??;
        let new_user = NewUser {
            id: Uuid::new_v4(),
            username,
            email: &email,
            password_hash: &password_hash,
            timezone,
        };
        match users::insert(&self.pool, new_user).await {
            Ok(row) => Ok(row),
            Err(StoreError::AlreadyExists) => Err(ServiceError {
                field: Some("email".to_owned()),
                ..ServiceError::new(
                    ErrorCode::Conflict,
                    "an account with this email already exists",
                )
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// Checks the password and opens a session. Unknown emails cost the same time as wrong
    /// passwords, so the answer does not reveal which accounts exist.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(UserRow, IssuedRefreshToken), ServiceError> {
        let email = validation::normalize_email(email);
        // The per-account throttle, before any hashing: names with and without an account
        // alike, so its answer reveals nothing.
        let name = Sha256::digest(email.as_bytes()).to_vec();
        if let Some(left) = sign_in_failures::locked_for(&self.pool, &name).await? {
            return Err(ServiceError {
                retry_after_secs: Some(left.as_secs() + 1),
                ..ServiceError::new(
                    ErrorCode::RateLimited,
                    "too many failed sign-ins for this account; retry after the number of \
                     seconds in Retry-After",
                )
            });
        }
        let user = users::find_by_email(&self.pool, &email).await?;
        let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
        let password = password.to_owned();
        let matches = self
            .hashing(move || verify_password(&password, stored_hash))
            .await?;
        let Some(user) = user.filter(|_| matches) else {
            sign_in_failures::record_failure(&self.pool, &name).await?;
            return Err(ServiceError::new(
                ErrorCode::Unauthenticated,
                "incorrect email or password",
            ));
        };
        sign_in_failures::clear(&self.pool, &name).await?;
        let token = self.issue_refresh_token(user.id, Uuid::new_v4()).await?;
        Ok((user, token))
    }

    /// Exchanges a refresh token for its successor. A token presented twice revokes its family.
    pub async fn refresh(
        &self,
        presented: &str,
    ) -> Result<(Uuid, IssuedRefreshToken), ServiceError> {
        let successor = new_token_text();
        let expires_at = Utc::now() + self.refresh_token_ttl;
        let rotation = refresh_tokens::rotate(
            &self.pool,
            &token_hash(presented),
            &token_hash(&successor),
            expires_at,
        )
        .await?;
        match rotation {
            Rotation::Rotated { user_id, .. } => Ok((
                user_id,
                IssuedRefreshToken {
                    token: successor,
                    expires_at,
                },
            )),
            Rotation::Reused => {
                tracing::warn!("refresh token reused; its family was revoked");
                Err(ServiceError::new(
                    ErrorCode::Unauthenticated,
                    "this refresh token was already used; sign in again",
                ))
            }
            Rotation::Invalid => Err(ServiceError::new(
                ErrorCode::Unauthenticated,
                "invalid or expired refresh token",
            )),
        }
    }

    /// The account of a token's subject; unauthenticated when it no longer exists.
    pub async fn user(&self, user_id: Uuid) -> Result<UserRow, ServiceError> {
        users::find_by_id(&self.pool, user_id)
            .await?
            .ok_or_else(account_gone)
    }

    /// Changes the username and/or timezone.
    pub async fn update_profile(
        &self,
        user_id: Uuid,
        username: Option<&str>,
        timezone: Option<&str>,
    ) -> Result<UserRow, ServiceError> {
        let username = username.map(str::trim);
        if let Some(username) = username {
            validation::validate_username(username).map_err(field_error)?;
        }
        let timezone = timezone.map(str::trim);
        if let Some(timezone) = timezone {
            validation::validate_timezone(timezone).map_err(field_error)?;
        }
        // A new zone also queues the rebuild of the user's day aggregates in it (same statement).
        users::update_profile(&self.pool, user_id, username, timezone)
            .await?
            .ok_or_else(account_gone)
    }

    async fn issue_refresh_token(
        &self,
        user_id: Uuid,
        family_id: Uuid,
    ) -> Result<IssuedRefreshToken, ServiceError> {
        let token = new_token_text();
        let expires_at = Utc::now() + self.refresh_token_ttl;
        refresh_tokens::insert(
            &self.pool,
            &token_hash(&token),
            user_id,
            family_id,
            expires_at,
        )
        .await?;
        Ok(IssuedRefreshToken { token, expires_at })
    }
}

/// The error for a token whose user was erased.
pub fn account_gone() -> ServiceError {
    ServiceError::new(ErrorCode::Unauthenticated, "this account no longer exists")
}

/// The user's timezone; unauthenticated when the account was erased.
pub async fn timezone_of(pool: &PgPool, user_id: Uuid) -> Result<chrono_tz::Tz, ServiceError> {
    let name = users::timezone(pool, user_id)
        .await?
        .ok_or_else(account_gone)?;
    Ok(wellbeing_domain::time::parse_timezone(&name).unwrap_or(chrono_tz::Tz::UTC))
}

/// Maps a domain validation failure to the 422 that names the field.
pub fn field_error(error: validation::FieldError) -> ServiceError {
    ServiceError::invalid(error.field.to_string(), error.detail)
}

/// A hash of a random password, verified against when the email is unknown so that the answer
/// takes as long as for a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(new_token_text().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

/// An argon2id hash of the password (CPU and 19 MiB for its duration: see [`Accounts::hashing`]).
fn hash_password(password: &str) -> Result<String, ServiceError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| ServiceError::new(ErrorCode::Internal, "internal error"))
}

/// Whether the password matches the stored hash; an unknown account is checked against a dummy
/// hash, so that the answer takes as long.
fn verify_password(password: &str, stored_hash: Option<String>) -> bool {
    let stored_hash = stored_hash.unwrap_or_else(|| dummy_hash().to_owned());
    PasswordHash::new(&stored_hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

fn new_token_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
