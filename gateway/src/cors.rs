//! Cross-origin requests from a web build of the app (`CORS_ALLOWED_ORIGINS`). Only the listed
//! origins, compared exactly, get CORS headers; with none listed (the default) no answer carries
//! any, so a page elsewhere cannot read the API with a user's token. Tokens travel in
//! `Authorization`, never in cookies, so credentials are not allowed.
//!
//! tower-http's layer still answers another origin's preflight with the allowed methods and
//! headers (without `Access-Control-Allow-Origin`, so the browser refuses anyway); a middleware
//! around it removes every CORS header from answers to other origins, so they learn nothing.
//!
//! The browser may read the headers the SDK acts on: `ETag` (revalidation), `Retry-After`
//! (back-off), the trace ids (bug reports) and the timing and rate-limit headers.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorsOrigins {
    origins: Arc<[HeaderValue]>,
}

impl FromStr for CorsOrigins {
    type Err = String;

    /// Comma-separated exact origins (`https://app.example.com`, `http://localhost:8081`);
    /// empty: none.
    fn from_str(text: &str) -> Result<Self, String> {
        let origins = text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(parse_origin)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origins: origins.into(),
        })
    }
}

/// One origin as a browser sends it in `Origin`: scheme, host and optional port, nothing more
/// (a path or a trailing slash would never match, so it is refused rather than ignored).
fn parse_origin(item: &str) -> Result<HeaderValue, String> {
    let refuse = |why: &str| format!("{item:?} is not an origin ({why})");
    let rest = item
        .strip_prefix("https://")
        .or_else(|| item.strip_prefix("http://"))
        .ok_or_else(|| refuse("it must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '*', '@', ' ']) {
        return Err(refuse(
            "it must be scheme://host[:port], without path or wildcard",
        ));
    }
    let authority = rest
        .parse::<axum::http::uri::Authority>()
        .map_err(|_| refuse("its host or port is invalid"))?;
    // `Authority` accepts any digits as a port; a browser's origin never carries one over 65535.
    let after_host = rest.rsplit_once(']').map_or(rest, |(_, tail)| tail);
    if let Some((_, port)) = after_host.rsplit_once(':')
        && (port.parse::<u16>().is_err() || authority.port_u16().is_none())
    {
        return Err(refuse("its port is invalid"));
    }
    HeaderValue::from_str(item).map_err(|_| refuse("it is not a valid header value"))
}

impl CorsOrigins {
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    fn allows(&self, origin: Option<&HeaderValue>) -> bool {
        origin.is_some_and(|origin| self.origins.contains(origin))
    }

    /// `router` answering the listed origins' preflights and marking their answers; unchanged
    /// when no origin is listed (then nothing is added to any answer).
    pub fn apply<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        if self.is_empty() {
            return router;
        }
        router
            .layer(self.layer())
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                hide_from_other_origins,
            ))
    }

    fn layer(&self) -> CorsLayer {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(self.origins.iter().cloned()))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                HeaderName::from_static("traceparent"),
            ])
            .expose_headers([
                header::ETAG,
                header::RETRY_AFTER,
                HeaderName::from_static("traceparent"),
                HeaderName::from_static("x-trace-id"),
                HeaderName::from_static("x-response-time"),
                HeaderName::from_static("x-process-time"),
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
            ])
            .max_age(PREFLIGHT_MAX_AGE)
    }
}

/// Removes the CORS headers from an answer to an origin that is not listed.
async fn hide_from_other_origins(
    State(origins): State<CorsOrigins>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = origins.allows(request.headers().get(header::ORIGIN));
    let mut response = next.run(request).await;
    if !allowed {
        let names: Vec<HeaderName> = response
            .headers()
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in names {
            response.headers_mut().remove(name);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_origins_are_accepted_and_anything_else_refused() {
        let parsed: CorsOrigins = " https://app.example.com, http://127.0.0.1:8081 ,"
            .parse()
            .expect("two origins");
        assert_eq!(parsed.origins.len(), 2);
        assert!("".parse::<CorsOrigins>().expect("none").is_empty());
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://*.example.com",
            "ftp://app.example.com",
            "https://app.example.com:99999",
            "https://",
        ] {
            assert!(bad.parse::<CorsOrigins>().is_err(), "{bad}");
        }
    }
}
