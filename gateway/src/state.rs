//! What every handler shares: the upstream clients and the token keys.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::TokenKeys;
use crate::upstream::Upstreams;

#[derive(Clone)]
pub struct AppState {
    pub upstreams: Upstreams,
    pub tokens: Arc<TokenKeys>,
    pub slow_request_threshold: Duration,
}
