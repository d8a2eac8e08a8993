//! `/api/v1/analytics/*` reads of derived views: bytes from analytics, enveloped, with ETags.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use wellbeing_proto::analytics::v1::QuickStatsRequest;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::respond::derived_view;
use crate::state::AppState;
use crate::upstream::timed;

/// The `user_id` older clients put in the query string.
#[derive(Deserialize)]
pub struct ClaimedUser {
    user_id: Option<String>,
}

pub async fn quick_stats(
    State(state): State<AppState>,
    user: AuthUser,
    Query(claimed): Query<ClaimedUser>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    user.check_claimed(claimed.user_id.as_deref())?;
    let request = state
        .upstreams
        .request(QuickStatsRequest { user_id: user.id() });
    let view = timed(state.upstreams.analytics().quick_stats(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}
