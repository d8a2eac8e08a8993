//! The REST routes, by concern. Each handler parses, calls one upstream, and answers; no domain
//! arithmetic lives here.
//!
//! - [`auth`], [`sessions`], [`account`]: sign-in, sign-out and the caller's sessions, the
//!   caller's account, export and erasure.
//! - [`track`], [`batch`] (with [`events`]): ingestion, one event or a buffered batch.
//! - [`reads`]: derived views, with ETags; [`cache`]: the caller's cache; [`goals`]; [`privacy`].
//! - [`query`], [`parse`]: shape checks of query strings, timestamps and dates.
//! - [`batch_get`]: up to 20 GETs of the caller's own data in one request.
//! - [`ops`], [`metrics`]: health, readiness, metrics and the OpenAPI document, without a token;
//!   [`docs`]: the API reference page rendered from that document.

pub mod account;
pub mod auth;
pub mod batch;
pub mod batch_get;
pub mod cache;
pub mod docs;
pub mod events;
pub mod goals;
pub mod metrics;
pub mod ops;
pub mod parse;
pub mod privacy;
pub mod query;
pub mod reads;
pub mod sessions;
pub mod track;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::middleware::rate_limit::RateLimits;
use crate::state::AppState;

/// Where [`api`] is mounted.
pub const API_PREFIX: &str = "/api/v1";

/// One route: a method, a path (under [`API_PREFIX`] for [`api_routes`]) and its handler. The
/// router is built from these tables, so [`served`] (which the OpenAPI tests compare with the
/// document) cannot drift from what the gateway answers.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    service: MethodRouter<AppState>,
}

fn route<H, T>(method: Method, path: &'static str, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
    Route {
        method,
        path,
        service: on(filter, handler),
    }
}

/// The routes under [`API_PREFIX`].
pub fn api_routes() -> Vec<Route> {
    use Method as M;
    vec![
        // accounts
        route(M::POST, "/auth/register", auth::register),
        route(M::POST, "/auth/login", auth::login),
        route(M::POST, "/auth/refresh", auth::refresh),
        route(M::GET, "/auth/me", auth::me),
        route(M::PATCH, "/auth/me", account::update_me),
        route(M::POST, "/auth/logout", sessions::logout),
        route(M::POST, "/auth/logout-all", sessions::logout_all),
        route(M::POST, "/auth/password", sessions::change_password),
        route(M::GET, "/auth/sessions", sessions::list_sessions),
        route(M::DELETE, "/auth/sessions/{id}", sessions::end_session),
        route(M::DELETE, "/me", account::erase),
        route(M::GET, "/me/export", account::export),
        // ingestion
        route(M::POST, "/analytics/track/session", track::session),
        route(M::POST, "/analytics/track/screen-time", track::screen_time),
        route(
            M::POST,
            "/analytics/track/focus-session",
            track::focus_session,
        ),
        route(M::POST, "/analytics/track/break", track::break_taken),
        route(
            M::POST,
            "/analytics/track/notification",
            track::notification,
        ),
        route(M::POST, "/analytics/track/distraction", track::distraction),
        route(M::POST, "/analytics/track/batch", batch::track_batch),
        // reads
        route(M::GET, "/analytics/summary/daily", reads::daily_summary),
        route(M::GET, "/analytics/summary/weekly", reads::weekly_summary),
        route(M::GET, "/analytics/apps/usage", reads::apps_usage),
        route(M::GET, "/analytics/dashboard", reads::dashboard),
        route(M::GET, "/analytics/quick-stats", reads::quick_stats),
        route(M::GET, "/analytics/insights", reads::insights),
        route(M::GET, "/analytics/insights/productivity", reads::insights),
        route(M::GET, "/analytics/insights/patterns", reads::patterns),
        route(M::GET, "/analytics/insights/peak-hours", reads::peak_hours),
        route(M::GET, "/analytics/insights/comparison", reads::comparison),
        route(M::GET, "/wellbeing/score", reads::wellbeing_score),
        route(
            M::GET,
            "/analytics/insights/wellbeing-score",
            reads::wellbeing_score,
        ),
        route(
            M::GET,
            "/analytics/summary/daily-optimized",
            reads::daily_optimized,
        ),
        route(
            M::GET,
            "/analytics/summary/weekly-optimized",
            reads::weekly_optimized,
        ),
        route(
            M::GET,
            "/analytics/insights-optimized",
            reads::insights_optimized,
        ),
        route(M::GET, "/analytics/cache", cache::cache_stats),
        route(M::DELETE, "/analytics/cache", cache::drop_cache),
        // goals
        route(M::POST, "/analytics/goals", goals::create_goal),
        route(M::GET, "/analytics/goals", goals::list_goals),
        route(M::PUT, "/analytics/goals/{id}", goals::update_goal),
        route(M::DELETE, "/analytics/goals/{id}", goals::delete_goal),
        // privacy
        route(M::PUT, "/privacy/state", privacy::report_state),
        route(M::GET, "/privacy/score", privacy::score),
        route(M::GET, "/privacy/score/history", privacy::history),
        route(M::GET, "/privacy/score/trend", privacy::trend),
        // several reads at once
        route(M::POST, "/batch", batch_get::batch_get),
    ]
}

/// The operations routes, at the root and without a token.
pub fn operation_routes() -> Vec<Route> {
    vec![
        route(Method::GET, HEALTH_PATH, ops::health),
        route(Method::GET, "/livez", ops::livez),
        route(Method::GET, "/readyz", ops::readyz),
        route(Method::GET, "/metrics", metrics::metrics),
        route(Method::GET, "/openapi.json", ops::openapi),
        route(Method::GET, "/docs", docs::page),
        route(Method::GET, docs::SCRIPT_PATH, docs::script),
    ]
}

/// The one operations route with a rate limit (per client address).
pub const HEALTH_PATH: &str = "/health";

/// The routes under [`API_PREFIX`], limited per caller.
pub fn api(limits: &RateLimits) -> Router<AppState> {
    let router = into_router(api_routes()).method_not_allowed_fallback(crate::method_not_allowed);
    limits.limit_api(router)
}

pub fn operations(limits: &RateLimits) -> Router<AppState> {
    let routes = operation_routes().into_iter().map(|mut route| {
        if route.path == HEALTH_PATH {
            route.service = limits.limit_health(route.service);
        }
        route
    });
    into_router(routes.collect()).method_not_allowed_fallback(crate::method_not_allowed)
}

/// Routes sharing a path are merged into one method router by axum.
fn into_router(routes: Vec<Route>) -> Router<AppState> {
    routes.into_iter().fold(Router::new(), |router, route| {
        router.route(route.path, route.service)
    })
}

/// Every method and full path the gateway serves, in table order.
pub fn served() -> Vec<(Method, String)> {
    let api = api_routes()
        .into_iter()
        .map(|route| (route.method, format!("{API_PREFIX}{}", route.path)));
    let operations = operation_routes()
        .into_iter()
        .map(|route| (route.method, route.path.to_owned()));
    api.chain(operations).collect()
}
