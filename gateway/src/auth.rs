//! Access tokens: HS256 JWTs minted here after analytics has checked a password or a refresh
//! token. Identity on every protected route comes from the token alone, and from its session
//! (`sid`) not having ended ([`crate::ended_sessions`]).

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// The session (refresh-token family) the token was issued in.
    sid: Uuid,
    iat: i64,
    exp: i64,
    /// Only `access` tokens open the API (a refresh token is opaque and never a JWT).
    typ: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: Duration,
    /// Tokens verified recently, by their exact text (signature included), with what they say
    /// and when they expire: a phone sends the same token with every request until it refreshes,
    /// and checking the signature and parsing the claims again was about a tenth of the
    /// gateway's time in the phone mixes (twice per request: the rate limiter and the route).
    verified: moka::sync::Cache<Box<str>, (Verified, i64)>,
}

/// Tokens remembered as verified (a few hundred bytes each).
const VERIFIED_TOKENS: u64 = 10_000;

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(access_ttl)
                .build(),
        }
    }

    /// A signed access token for `user_id` in session `session_id`, issued at `issued_at` (Unix
    /// seconds; the refresh token's issue time, so that the same pair answered again is the
    /// same token).
    pub fn issue(
        &self,
        user_id: &str,
        session_id: Uuid,
        issued_at: i64,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user_id.to_owned(),
            sid: session_id,
            iat: issued_at,
            exp: issued_at + self.ttl_secs(),
            typ: "access".to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| ApiError(wellbeing_common::ServiceError::internal(&error)))
    }

    /// An access token's lifetime in seconds.
    pub fn ttl_secs(&self) -> i64 {
        i64::try_from(self.access_ttl.as_secs()).unwrap_or(900)
    }

    /// The user a token speaks for, and its session; any defect (signature, algorithm, expiry,
    /// type, no session) is a 401. Whether the session has ended is the caller's check.
    pub fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        self.verify_at(token, chrono::Utc::now().timestamp())
    }

    /// [`TokenKeys::verify`] at Unix time `now` for a token verified before; a token seen for the
    /// first time is checked in full against the clock.
    fn verify_at(&self, token: &str, now: i64) -> Result<Verified, ApiError> {
        if let Some((verified, exp)) = self.verified.get(token) {
            // The same expiry rule, with the same leeway, as the full check.
            return if exp >= now - i64::try_from(self.validation.leeway).unwrap_or(0) {
                Ok(verified)
            } else {
                Err(ApiError::unauthenticated("invalid or expired access token"))
            };
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::unauthenticated("invalid or expired access token"))?;
        if data.claims.typ != "access" {
            return Err(ApiError::unauthenticated("not an access token"));
        }
        let user = Uuid::parse_str(&data.claims.sub)
            .map_err(|_| ApiError::unauthenticated("invalid access token"))?;
        let verified = Verified {
            user,
            session: data.claims.sid,
        };
        self.verified
            .insert(token.into(), (verified, data.claims.exp));
        Ok(verified)
    }
}

/// What a valid access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub user: Uuid,
    pub session: Uuid,
}

/// The authenticated caller of a protected route.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Uuid);

/// The authenticated caller and the session their access token was issued in (the routes that
/// act on the caller's own session: password change, the sessions list).
#[derive(Debug, Clone, Copy)]
pub struct CurrentSession {
    pub user: AuthUser,
    pub session_id: Uuid,
}

impl AuthUser {
    /// Older clients send a `user_id`; it is accepted only when it is the caller's own.
    pub fn check_claimed(&self, claimed: Option<&str>) -> Result<(), ApiError> {
        match claimed {
            None => Ok(()),
            Some(claimed) if Uuid::parse_str(claimed.trim()).ok() == Some(self.0) => Ok(()),
            Some(_) => Err(ApiError::forbidden(
                "user_id does not match the authenticated user",
            )),
        }
    }

    pub fn id(&self) -> String {
        self.0.to_string()
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        CurrentSession::from_request_parts(parts, state)
            .await
            .map(|current| current.user)
    }
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?;
        header_value
            .to_str()
            .map_err(|_| ApiError::unauthenticated("malformed authorization header"))?;
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| ApiError::unauthenticated("expected: Authorization: Bearer <token>"))?;
        let verified = state.tokens.verify(token)?;
        if state.ended_sessions.has_ended(&verified.session) {
            return Err(ApiError::unauthenticated(
                "this session has ended; sign in again",
            ));
        }
        Ok(Self {
            user: AuthUser(verified.user),
            session_id: verified.session,
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header, unverified.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let text = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    text.strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &[u8]) -> TokenKeys {
        TokenKeys::new(secret, Duration::from_secs(900))
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn an_issued_token_verifies_to_its_user_and_session() {
        let keys = keys(b"0123456789abcdef0123456789abcdef");
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        let token = keys.issue(&user.to_string(), session, now()).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), Verified { user, session });
    }

    #[test]
    fn the_same_claims_and_issue_time_sign_the_same_token() {
        let keys = keys(b"0123456789abcdef0123456789abcdef");
        let (user, session, at) = (Uuid::new_v4().to_string(), Uuid::new_v4(), now());
        let first = keys.issue(&user, session, at).unwrap();
        assert_eq!(first, keys.issue(&user, session, at).unwrap());
        assert_ne!(first, keys.issue(&user, session, at + 1).unwrap());
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let keys = keys(b"0123456789abcdef0123456789abcdef");
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        // Expires 30 s from now.
        let token = keys.issue(&user.to_string(), session, now() - 870).unwrap();
        assert!(keys.verify(&token).is_ok());
        assert!(keys.verified.get(token.as_str()).is_some(), "remembered");
        assert!(
            keys.verify_at(&token, now() + 30).is_ok(),
            "within the leeway"
        );
        assert!(keys.verify_at(&token, now() + 40).is_err(), "past it");
    }

    #[test]
    fn a_remembered_token_vouches_for_no_other_text() {
        let keys = keys(b"0123456789abcdef0123456789abcdef");
        let token = keys
            .issue(&Uuid::new_v4().to_string(), Uuid::new_v4(), now())
            .unwrap();
        assert!(keys.verify(&token).is_ok());
        let mut forged = token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert!(keys.verify(&forged).is_err());
    }

    #[test]
    fn a_token_without_a_session_is_refused() {
        let claims = serde_json::json!({"sub": Uuid::new_v4(), "iat": now(), "exp": now() + 600, "typ": "access"});
        let secret = b"0123456789abcdef0123456789abcdef";
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert!(keys(secret).verify(&token).is_err());
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let token = keys(b"0123456789abcdef0123456789abcdef")
            .issue(&Uuid::new_v4().to_string(), Uuid::new_v4(), now())
            .unwrap();
        let other = keys(b"ffffffffffffffffffffffffffffffff");
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = engine.encode(
            format!(
                r#"{{"sub":"{}","iat":0,"exp":9999999999,"typ":"access"}}"#,
                Uuid::new_v4()
            )
            .as_bytes(),
        );
        let token = format!("{header}.{claims}.");
        assert!(
            keys(b"0123456789abcdef0123456789abcdef")
                .verify(&token)
                .is_err()
        );
    }

    #[test]
    fn a_claimed_user_id_must_be_the_callers() {
        let user = AuthUser(Uuid::new_v4());
        assert!(user.check_claimed(None).is_ok());
        assert!(user.check_claimed(Some(&user.id())).is_ok());
        let error = user
            .check_claimed(Some(&Uuid::new_v4().to_string()))
            .unwrap_err();
        assert_eq!(error.0.code, wellbeing_common::ErrorCode::Forbidden);
    }
}
