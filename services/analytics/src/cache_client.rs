//! The analytics side of the cache service: short deadlines, and every failure treated as a miss
//! so that a broken cache slows reads down instead of failing them.

use std::time::Duration;

use bytes::Bytes;
use tonic::transport::Channel;
use wellbeing_proto::cache::v1::cache_client::CacheClient;
use wellbeing_proto::cache::v1::{
    EraseUserRequest, GetRequest, InvalidateUserRequest, SetRequest, ViewKey,
};

/// A cache call slower than this is abandoned and the view computed directly.
const CACHE_DEADLINE: Duration = Duration::from_millis(150);

#[derive(Clone)]
pub struct ViewCache {
    client: CacheClient<Channel>,
    ttl_seconds: u32,
}

impl ViewCache {
    pub fn new(channel: Channel, ttl_seconds: u32) -> Self {
        Self {
            client: CacheClient::new(channel),
            ttl_seconds,
        }
    }

    /// The cached bytes of a view, or `None` on a miss or any cache failure.
    pub async fn get(&self, key: &ViewKey) -> Option<Bytes> {
        let mut request = tonic::Request::new(GetRequest {
            key: Some(key.clone()),
        });
        request.set_timeout(CACHE_DEADLINE);
        match self.client.clone().get(request).await {
            Ok(response) => {
                let response = response.into_inner();
                response.found.then_some(response.value)
            }
            Err(status) => {
                tracing::warn!(code = ?status.code(), view = %key.view, "cache get failed, computing directly");
                None
            }
        }
    }

    /// Stores a view; failures are logged and otherwise ignored.
    pub async fn set(&self, key: ViewKey, value: Bytes) {
        let mut request = tonic::Request::new(SetRequest {
            key: Some(key),
            value,
            ttl_seconds: self.ttl_seconds,
        });
        request.set_timeout(CACHE_DEADLINE);
        if let Err(status) = self.client.clone().set(request).await {
            tracing::warn!(code = ?status.code(), "cache set failed");
        }
    }

    /// Makes every cached view of the user unreachable. A failure leaves views stale for at most
    /// the cache TTL, so it is logged loudly.
    pub async fn invalidate_user(&self, user_id: &str) {
        let mut request = tonic::Request::new(InvalidateUserRequest {
            user_id: user_id.to_owned(),
        });
        request.set_timeout(CACHE_DEADLINE);
        if let Err(status) = self.client.clone().invalidate_user(request).await {
            tracing::error!(code = ?status.code(), user_id, "cache invalidation failed; views may be stale until their ttl");
        }
    }

    /// Deletes every cached view of an erased user. Erasure must not wait on a slow cache, so a
    /// failure is logged; the views are unreachable anyway (their user is gone) and expire by TTL.
    pub async fn erase_user(&self, user_id: &str) {
        let mut request = tonic::Request::new(EraseUserRequest {
            user_id: user_id.to_owned(),
        });
        request.set_timeout(std::time::Duration::from_secs(5));
        if let Err(status) = self.client.clone().erase_user(request).await {
            tracing::error!(code = ?status.code(), user_id, "cache erasure failed; views expire by their ttl");
        }
    }
}
