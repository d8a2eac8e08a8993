//! Calls to the cache service with short deadlines behind a circuit breaker; every failure is
//! an answer the caller can live with (a miss, a `false`).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use wellbeing_common::grpc::TracedChannel;
use wellbeing_proto::cache::v1::cache_client::CacheClient;
use wellbeing_proto::cache::v1::*;

use super::breaker::CircuitBreaker;

/// A read or write of a view slower than this is abandoned.
const CALL_DEADLINE: Duration = Duration::from_millis(150);
/// Invalidation and erasure matter more than speed.
const INVALIDATION_DEADLINE: Duration = Duration::from_secs(2);

pub struct RemoteCache {
    client: CacheClient<TracedChannel>,
    ttl_seconds: u32,
    breaker: CircuitBreaker,
}

fn request<T>(message: T, deadline: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline);
    request
}

impl RemoteCache {
    pub fn new(channel: TracedChannel, ttl_seconds: u32) -> Self {
        Self {
            client: CacheClient::new(channel),
            ttl_seconds,
            breaker: CircuitBreaker::default(),
        }
    }

    pub fn is_available(&self) -> bool {
        self.breaker.is_closed()
    }

    fn outcome<T>(&self, operation: &'static str, result: Result<T, tonic::Status>) -> Option<T> {
        match result {
            Ok(value) => {
                self.breaker.succeeded();
                Some(value)
            }
            Err(status) => {
                self.breaker.failed();
                tracing::warn!(operation, code = ?status.code(), "cache service call failed");
                None
            }
        }
    }

    /// The view if cached, and the version the lookup used (`None` when the cache service could
    /// not be asked): a view computed after this answer is stored under that version.
    pub async fn get(&self, key: &ViewKey) -> (Option<Bytes>, Option<Version>) {
        if !self.breaker.allows() {
            return (None, None);
        }
        let message = GetRequest {
            key: Some(key.clone()),
        };
        let result = self
            .client
            .clone()
            .get(request(message, CALL_DEADLINE))
            .await;
        let Some(response) = self.outcome("get", result) else {
            return (None, None);
        };
        let response = response.into_inner();
        (response.found.then_some(response.value), response.version)
    }

    /// Stores a view under the version its lookup returned (a write since then makes it
    /// unreachable instead of passing it off as newer).
    pub async fn set(&self, key: ViewKey, value: Bytes, version: Version) {
        if !self.breaker.allows() {
            return;
        }
        let message = SetRequest {
            key: Some(key),
            value,
            ttl_seconds: self.ttl_seconds,
            version: Some(version),
        };
        let result = self
            .client
            .clone()
            .set(request(message, CALL_DEADLINE))
            .await;
        self.outcome("set", result);
    }

    /// True when the cache service confirmed the invalidation of every user.
    pub async fn invalidate_users(&self, user_ids: &[String]) -> bool {
        let message = InvalidateUsersRequest {
            user_ids: user_ids.to_vec(),
        };
        let result = self
            .client
            .clone()
            .invalidate_users(request(message, INVALIDATION_DEADLINE))
            .await;
        self.outcome("invalidate_users", result).is_some()
    }

    pub async fn erase_user(&self, user_id: &str) -> bool {
        let message = EraseUserRequest {
            user_id: user_id.to_owned(),
        };
        let result = self
            .client
            .clone()
            .erase_user(request(message, Duration::from_secs(10)))
            .await;
        self.outcome("erase_user", result).is_some()
    }

    pub async fn record_stats(&self, pending: &HashMap<String, (u64, u64)>) -> bool {
        let deltas = pending
            .iter()
            .map(|(user_id, (hits, misses))| UserStatsDelta {
                user_id: user_id.clone(),
                hits: *hits,
                misses: *misses,
            })
            .collect();
        let message = RecordUserStatsRequest { deltas };
        let result = self
            .client
            .clone()
            .record_user_stats(request(message, INVALIDATION_DEADLINE))
            .await;
        self.outcome("record_user_stats", result).is_some()
    }

    /// `(hits, misses, backend)` of one user, or `None` when the cache service cannot answer.
    pub async fn user_stats(&self, user_id: &str) -> Option<(u64, u64, String)> {
        let message = UserStatsRequest {
            user_id: user_id.to_owned(),
        };
        let result = self
            .client
            .clone()
            .user_stats(request(message, INVALIDATION_DEADLINE))
            .await;
        let stats = self.outcome("user_stats", result)?.into_inner();
        Some((stats.hits, stats.misses, stats.backend))
    }

    /// Opens the invalidation stream (followed by [`wellbeing_local_views::LocalViews::follow`]).
    pub fn watch_invalidations(
        &self,
    ) -> impl Future<Output = Result<tonic::Response<tonic::Streaming<Invalidation>>, tonic::Status>>
    + use<> {
        let mut client = self.client.clone();
        async move {
            client
                .watch_invalidations(WatchInvalidationsRequest {})
                .await
        }
    }
}
