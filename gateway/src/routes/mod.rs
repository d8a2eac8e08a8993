//! The REST routes, by concern. Each handler parses, calls one upstream, and answers; no domain
//! arithmetic lives here.

pub mod auth;
pub mod ops;
pub mod reads;
pub mod track;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn api() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/me", get(auth::me))
        .route("/analytics/track/screen-time", post(track::screen_time))
        .route("/analytics/quick-stats", get(reads::quick_stats))
}

pub fn operations() -> Router<AppState> {
    Router::new()
        .route("/health", get(ops::health))
        .route("/livez", get(ops::livez))
        .route("/readyz", get(ops::readyz))
}
