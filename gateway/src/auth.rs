//! Access tokens: HS256 JWTs minted here after analytics has checked a password or a refresh
//! token. Identity on every protected route comes from the token alone.

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
}

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
        }
    }

    /// A signed access token for `user_id`.
    pub fn issue(&self, user_id: &str) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            iat: now,
            exp: now + i64::try_from(self.access_ttl.as_secs()).unwrap_or(900),
            typ: "access".to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| ApiError(wellbeing_common::ServiceError::internal(&error)))
    }

    /// The user a token speaks for; any defect (signature, algorithm, expiry, type) is a 401.
    pub fn verify(&self, token: &str) -> Result<Uuid, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::unauthenticated("invalid or expired access token"))?;
        if data.claims.typ != "access" {
            return Err(ApiError::unauthenticated("not an access token"));
        }
        Uuid::parse_str(&data.claims.sub)
            .map_err(|_| ApiError::unauthenticated("invalid access token"))
    }
}

/// The authenticated caller of a protected route.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Uuid);

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
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?;
        header_value
            .to_str()
            .map_err(|_| ApiError::unauthenticated("malformed authorization header"))?;
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| ApiError::unauthenticated("expected: Authorization: Bearer <token>"))?;
        state.tokens.verify(token).map(AuthUser)
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

    #[test]
    fn an_issued_token_verifies_to_its_user() {
        let keys = keys(b"0123456789abcdef0123456789abcdef");
        let user = Uuid::new_v4();
        let token = keys.issue(&user.to_string()).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), user);
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let token = keys(b"0123456789abcdef0123456789abcdef")
            .issue(&Uuid::new_v4().to_string())
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
