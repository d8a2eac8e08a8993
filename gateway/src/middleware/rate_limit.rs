//! Rate limits, with tower_governor (a keyed GCRA limiter per gateway, kept in the state so that
//! several gateways in one process do not share counters):
//!
//! - the API: `RATE_LIMIT_PER_MINUTE` per caller, with bursts up to `RATE_LIMIT_BURST`; the
//!   caller is the user of a valid access token, else the client address (sign-in attempts);
//! - `/health`: 100 requests a minute per client address.
//!
//! A refusal is our error body (`code: rate_limited`, 429) with `Retry-After`; every answer of a
//! limited route carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds
//! until the allowance is whole again).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use governor::middleware::StateInformationMiddleware;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;
use uuid::Uuid;
use wellbeing_common::ErrorCode;

use crate::auth::{TokenKeys, bearer_token};
use crate::client_address::TrustedProxies;
use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::state::AppState;

/// `/health` allowance: the contract's 100 a minute per client address.
pub const HEALTH_PER_MINUTE: u32 = 100;

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
/// What tower_governor names them; renamed to the IETF names above.
const CRATE_LIMIT: &str = "x-ratelimit-limit";
const CRATE_REMAINING: &str = "x-ratelimit-remaining";
const CRATE_AFTER: &str = "x-ratelimit-after";

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    User(Uuid),
    Address(IpAddr),
}

/// The user of a valid access token, else the client address. The token is verified (not just
/// decoded): a forged subject must neither escape its own limit nor spend another user's. The
/// sign-in routes always count the address: a token attached to a login must not move the
/// guesses into that token's bucket, away from the address's.
#[derive(Clone)]
pub struct CallerKey {
    tokens: Arc<TokenKeys>,
    proxies: Arc<TrustedProxies>,
}

impl KeyExtractor for CallerKey {
    type Key = Caller;

    fn extract<T>(&self, request: &Request<T>) -> Result<Caller, GovernorError> {
        let signing_in = SIGN_IN_PATHS
            .iter()
            .any(|path| request.uri().path().ends_with(path));
        let user = bearer_token(request.headers())
            .filter(|_| !signing_in)
            .and_then(|token| self.tokens.verify(token).ok())
            .map(|verified| verified.user);
        Ok(match user {
            Some(user) => Caller::User(user),
            None => Caller::Address(self.proxies.client_of(request)),
        })
    }
}

/// The routes that take credentials rather than a token.
const SIGN_IN_PATHS: [&str; 3] = ["/auth/login", "/auth/register", "/auth/refresh"];

/// The client address only.
#[derive(Clone)]
pub struct AddressKey {
    proxies: Arc<TrustedProxies>,
}

impl KeyExtractor for AddressKey {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        Ok(self.proxies.client_of(request))
    }
}

type Limiter<K> = Arc<GovernorConfig<K, StateInformationMiddleware>>;

/// The limiters of one gateway.
#[derive(Clone)]
pub struct RateLimits {
    api: Limiter<CallerKey>,
    api_period: Duration,
    health: Limiter<AddressKey>,
    health_period: Duration,
}

impl RateLimits {
    pub fn new(config: &GatewayConfig, tokens: Arc<TokenKeys>) -> Self {
        let api_period = per_request(config.rate_limit_per_minute);
        let health_period = per_request(HEALTH_PER_MINUTE);
        let proxies = Arc::new(config.trusted_proxies.clone());
        Self {
            api: limiter(
                CallerKey {
                    tokens,
                    proxies: proxies.clone(),
                },
                api_period,
                config.rate_limit_burst,
            ),
            api_period,
            health: limiter(AddressKey { proxies }, health_period, HEALTH_PER_MINUTE),
            health_period,
        }
    }

    /// Limits every route of `router` per caller.
    pub fn limit_api(&self, router: Router<AppState>) -> Router<AppState> {
        let period = self.api_period;
        router
            .layer(GovernorLayer::new(self.api.clone()).error_handler(refusal))
            .layer(axum::middleware::map_response(move |response: Response| {
                std::future::ready(standard_headers(response, period))
            }))
    }

    /// Limits one route per client address (`/health`).
    pub fn limit_health(&self, route: MethodRouter<AppState>) -> MethodRouter<AppState> {
        let period = self.health_period;
        route
            .layer(GovernorLayer::new(self.health.clone()).error_handler(refusal))
            .layer(axum::middleware::map_response(move |response: Response| {
                std::future::ready(standard_headers(response, period))
            }))
    }

    /// Forgets callers whose allowance is whole again, so the tables do not grow for ever.
    pub fn forget_idle_callers(&self) {
        self.api.limiter().retain_recent();
        self.api.limiter().shrink_to_fit();
        self.health.limiter().retain_recent();
        self.health.limiter().shrink_to_fit();
    }
}

/// The interval at which one request's allowance comes back.
fn per_request(per_minute: u32) -> Duration {
    Duration::from_secs(60) / per_minute.max(1)
}

fn limiter<K: KeyExtractor>(key: K, period: Duration, burst: u32) -> Limiter<K> {
    let config = GovernorConfigBuilder::default()
        .period(period)
        .burst_size(burst.max(1))
        .key_extractor(key)
        .use_headers()
        .finish()
        .expect("a period and a burst above zero");
    Arc::new(config)
}

/// The 429 in our error body. tower_governor gives the wait in whole seconds, rounded down:
/// one more second makes `Retry-After` always long enough.
fn refusal(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, headers } => {
            let mut response = ApiError::new(
                ErrorCode::RateLimited,
                "too many requests; retry after the number of seconds in Retry-After",
            )
            .into_response();
            let retry_after = HeaderValue::from(wait_time.saturating_add(1));
            let limit = headers
                .as_ref()
                .and_then(|headers| headers.get(CRATE_LIMIT).cloned());
            let out = response.headers_mut();
            out.insert(header::RETRY_AFTER, retry_after.clone());
            out.insert(REMAINING, HeaderValue::from(0));
            out.insert(RESET, retry_after);
            if let Some(limit) = limit {
                out.insert(LIMIT, limit);
            }
            response
        }
        GovernorError::UnableToExtractKey | GovernorError::Other { .. } => {
            ApiError::new(ErrorCode::Internal, "internal error").into_response()
        }
    }
}

/// Renames tower_governor's `x-ratelimit-*` headers to `RateLimit-*` and adds
/// `RateLimit-Reset`: the seconds until the allowance is whole again.
fn standard_headers(mut response: Response, period: Duration) -> Response {
    let headers = response.headers_mut();
    let limit = take_number(headers, CRATE_LIMIT);
    let remaining = take_number(headers, CRATE_REMAINING);
    headers.remove(CRATE_AFTER);
    if let (Some(limit), Some(remaining)) = (limit, remaining) {
        let missing = u32::try_from(limit.saturating_sub(remaining)).unwrap_or(u32::MAX);
        let reset = (period * missing).as_secs_f64().ceil() as u64;
        headers.insert(LIMIT, HeaderValue::from(limit));
        headers.insert(REMAINING, HeaderValue::from(remaining));
        headers.insert(RESET, HeaderValue::from(reset));
    }
    response
}

fn take_number(headers: &mut HeaderMap, name: &str) -> Option<u64> {
    headers
        .remove(name)
        .and_then(|value| value.to_str().ok()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reset_counts_the_missing_allowance() {
        let mut response = Response::new(Body::empty());
        response
            .headers_mut()
            .insert(CRATE_LIMIT, HeaderValue::from(10));
        response
            .headers_mut()
            .insert(CRATE_REMAINING, HeaderValue::from(7));
        let response = standard_headers(response, Duration::from_millis(600));
        let headers = response.headers();
        assert_eq!(headers[&LIMIT], "10");
        assert_eq!(headers[&REMAINING], "7");
        assert_eq!(headers[&RESET], "2");
        assert!(!headers.contains_key(CRATE_LIMIT));
    }

    #[test]
    fn a_refusal_is_our_error_body_with_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(CRATE_LIMIT, HeaderValue::from(3));
        let response = refusal(GovernorError::TooManyRequests {
            wait_time: 0,
            headers: Some(headers),
        });
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[&LIMIT], "3");
    }

    #[test]
    fn minutes_are_divided_among_requests() {
        assert_eq!(per_request(100), Duration::from_millis(600));
        assert_eq!(per_request(1_200), Duration::from_millis(50));
    }
}
