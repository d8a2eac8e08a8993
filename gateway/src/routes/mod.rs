//! The REST routes, by concern. Each handler parses, calls one upstream, and answers; no domain
//! arithmetic lives here.
//!
//! - [`auth`], [`account`]: sign-in, the caller's account, export and erasure.
//! - [`track`], [`batch`] (with [`events`]): ingestion, one event or a buffered batch.
//! - [`reads`]: derived views, with ETags; [`goals`]; [`privacy`].
//! - [`query`], [`parse`]: shape checks of query strings, timestamps and dates.
//! - [`ops`]: health and readiness, without a token.

pub mod account;
pub mod auth;
pub mod batch;
pub mod events;
pub mod goals;
pub mod ops;
pub mod parse;
pub mod privacy;
pub mod query;
pub mod reads;
pub mod track;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::state::AppState;

pub fn api() -> Router<AppState> {
    Router::new()
        // accounts
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/me", get(auth::me).patch(account::update_me))
        .route("/me", delete(account::erase))
        .route("/me/export", get(account::export))
        // ingestion
        .route("/analytics/track/session", post(track::session))
        .route("/analytics/track/screen-time", post(track::screen_time))
        .route("/analytics/track/focus-session", post(track::focus_session))
        .route("/analytics/track/break", post(track::break_taken))
        .route("/analytics/track/notification", post(track::notification))
        .route("/analytics/track/distraction", post(track::distraction))
        .route("/analytics/track/batch", post(batch::track_batch))
        // reads
        .route("/analytics/summary/daily", get(reads::daily_summary))
        .route("/analytics/summary/weekly", get(reads::weekly_summary))
        .route("/analytics/apps/usage", get(reads::apps_usage))
        .route("/analytics/dashboard", get(reads::dashboard))
        .route("/analytics/quick-stats", get(reads::quick_stats))
        .route("/analytics/insights", get(reads::insights))
        .route("/analytics/insights/productivity", get(reads::insights))
        .route("/analytics/insights/patterns", get(reads::patterns))
        .route("/analytics/insights/peak-hours", get(reads::peak_hours))
        .route("/analytics/insights/comparison", get(reads::comparison))
        .route("/wellbeing/score", get(reads::wellbeing_score))
        .route(
            "/analytics/insights/wellbeing-score",
            get(reads::wellbeing_score),
        )
        .route(
            "/analytics/summary/daily-optimized",
            get(reads::daily_optimized),
        )
        .route(
            "/analytics/summary/weekly-optimized",
            get(reads::weekly_optimized),
        )
        .route(
            "/analytics/insights-optimized",
            get(reads::insights_optimized),
        )
        .route("/analytics/cache", delete(reads::drop_cache))
        // goals
        .route(
            "/analytics/goals",
            post(goals::create_goal).get(goals::list_goals),
        )
        .route(
            "/analytics/goals/{id}",
            put(goals::update_goal).delete(goals::delete_goal),
        )
        // privacy
        .route("/privacy/state", put(privacy::report_state))
        .route("/privacy/score", get(privacy::score))
        .route("/privacy/score/history", get(privacy::history))
        .route("/privacy/score/trend", get(privacy::trend))
}

pub fn operations() -> Router<AppState> {
    Router::new()
        .route("/health", get(ops::health))
        .route("/livez", get(ops::livez))
        .route("/readyz", get(ops::readyz))
}
