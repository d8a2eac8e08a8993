//! Accounts: registration with argon2id password hashes, sign-in and password changes. Sessions
//! (refresh tokens) live in [`crate::sessions`]; access tokens (JWTs) are minted by the gateway:
//! this module only proves who someone is.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use uuid::Uuid;
use wellbeing_common::{ErrorCode, ServiceError};
use wellbeing_domain::validation;

use wellbeing_store::StoreError;
use wellbeing_store::sessions::Ended;
use wellbeing_store::sign_in_failures;
use wellbeing_store::users::{self, NewUser, UserRow};

use crate::sessions::{IssuedRefreshToken, Sessions, new_token_text};

pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub timezone: &'a str,
}

#[derive(Clone)]
pub struct Accounts {
    pool: PgPool,
    sessions: Sessions,
    /// Password hashes computed at once: one per core. Each argon2id computation holds 19 MiB
    /// for its duration, so a burst of 1,200 logins used to take the process past any memory
    /// limit; the rest wait, and a caller whose deadline passes while waiting is dropped
    /// before its hash starts.
    hashing: Arc<Semaphore>,
}

impl Accounts {
    pub fn new(pool: PgPool, sessions: Sessions) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            pool,
            sessions,
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

    /// Checks the password and opens a session labelled with the device's name (else its
    /// User-Agent). Unknown emails cost the same time as wrong passwords, so the answer does
    /// not reveal which accounts exist.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        device_name: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<IssuedRefreshToken, ServiceError> {
        let device = validation::device_label(device_name, user_agent).map_err(field_error)?;
        let email = validation::normalize_email(email);
        let user = users::find_by_email(&self.pool, &email).await?;
        let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
        if !self.password_matches(&email, password, stored_hash).await? {
            return Err(ServiceError::new(
                ErrorCode::Unauthenticated,
                "incorrect email or password",
            ));
        }
        let user = user.ok_or_else(account_gone)?;
        self.sessions.open(user.id, &device).await
    }

    /// Changes the caller's password (checked against the current one, under the same
    /// per-account throttle as sign-in), ends every other session and gives this one a new
    /// refresh token. Answers it and the sessions ended.
    pub async fn change_password(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        current_password: &str,
        new_password: &str,
    ) -> Result<(IssuedRefreshToken, Vec<Ended>), ServiceError> {
        let user = self.user(user_id).await?;
        validation::validate_new_password("new_password", new_password, &user.email)
            .map_err(field_error)?;
        let matches = self
            .password_matches(&user.email, current_password, Some(user.password_hash))
            .await?;
        if !matches {
            return Err(ServiceError {
                field: Some("current_password".to_owned()),
                ..ServiceError::new(ErrorCode::Unauthenticated, "incorrect current password")
            });
        }
        let new_password = new_password.to_owned();
        let password_hash = self.hashing(move || hash_password(&new_password)).await??;
        let changed = self
            .sessions
            .change_password(user_id, session_id, &password_hash)
            .await?;
        tracing::info!(%user_id, ended = changed.1.len(), "password changed");
        Ok(changed)
    }

    /// Whether `password` is the account's (`stored_hash`; none: an unknown email, checked
    /// against a dummy hash for the same time). Counts failures per account and refuses while
    /// the account is locked: the per-account throttle comes before any hashing, and names with
    /// and without an account alike, so its answer reveals nothing.
    async fn password_matches(
        &self,
        email: &str,
        password: &str,
        stored_hash: Option<String>,
    ) -> Result<bool, ServiceError> {
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
        let known = stored_hash.is_some();
        let password = password.to_owned();
        let matches = self
            .hashing(move || verify_password(&password, stored_hash))
            .await?
            && known;
        if matches {
            sign_in_failures::clear(&self.pool, &name).await?;
        } else {
            sign_in_failures::record_failure(&self.pool, &name).await?;
        }
        Ok(matches)
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
