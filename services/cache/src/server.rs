//! The tonic service over a [`Backend`]. A backend failure on a read counts as an error and
//! answers a miss, so callers compute the view themselves instead of failing.

use tonic::{Request, Response, Status};
use wellbeing_proto::cache::v1::cache_server::Cache;
use wellbeing_proto::cache::v1::{
    DeleteRequest, DeleteResponse, EraseUserRequest, EraseUserResponse, GetRequest, GetResponse,
    InvalidateUserRequest, InvalidateUserResponse, SetRequest, SetResponse, StatsRequest,
    StatsResponse, ViewKey,
};

use crate::backend::{Backend, BackendError};
use crate::keys::KeySpace;
use crate::stats::CacheStats;

/// A generation outlives every view made under it (views live `CACHE_TTL`, minutes), so when it
/// finally expires and restarts at 0 no view of an older generation 0 can still exist.
const GENERATION_TTL_SECONDS: u32 = 7 * 24 * 3600;

pub struct CacheService {
    pub backend: Backend,
    pub keys: KeySpace,
    pub stats: std::sync::Arc<CacheStats>,
    pub default_ttl_seconds: u32,
}

impl CacheService {
    /// The current key of a view (reads the user's generation).
    async fn view_key(&self, key: &ViewKey) -> Result<String, BackendError> {
        let generation = self
            .backend
            .counter(&self.keys.generation(&key.user_id))
            .await?;
        Ok(self
            .keys
            .view(&key.user_id, generation, &key.view, &key.params))
    }

    fn failed(&self, operation: &'static str, error: BackendError) -> Status {
        self.stats.error();
        tracing::warn!(operation, %error, "cache backend failed");
        Status::unavailable("cache backend unavailable")
    }
}

fn required_key(key: Option<ViewKey>) -> Result<ViewKey, Status> {
    match key {
        Some(key) if !key.user_id.is_empty() && !key.view.is_empty() => Ok(key),
        _ => Err(Status::invalid_argument(
            "key.user_id and key.view are required",
        )),
    }
}

#[tonic::async_trait]
impl Cache for CacheService {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let key = required_key(request.into_inner().key)?;
        let found = match self.view_key(&key).await {
            Ok(storage_key) => self.backend.get(&storage_key).await,
            Err(error) => Err(error),
        };
        match found {
            Ok(Some(value)) => {
                self.stats.hit();
                Ok(Response::new(GetResponse { found: true, value }))
            }
            Ok(None) => {
                self.stats.miss();
                Ok(Response::new(GetResponse::default()))
            }
            Err(error) => {
                // Counted as a miss too: the caller will compute the view.
                self.stats.miss();
                self.stats.error();
                tracing::warn!(operation = "get", %error, "cache backend failed");
                Ok(Response::new(GetResponse::default()))
            }
        }
    }

    async fn set(&self, request: Request<SetRequest>) -> Result<Response<SetResponse>, Status> {
        let request = request.into_inner();
        let key = required_key(request.key)?;
        let ttl = match request.ttl_seconds {
            0 => self.default_ttl_seconds,
            ttl => ttl,
        };
        let storage_key = self
            .view_key(&key)
            .await
            .map_err(|error| self.failed("set", error))?;
        self.backend
            .set(&storage_key, request.value, ttl)
            .await
            .map_err(|error| self.failed("set", error))?;
        self.stats.set();
        Ok(Response::new(SetResponse {}))
    }

    async fn delete(
        &self,
        request: Request<DeleteRequest>,
    ) -> Result<Response<DeleteResponse>, Status> {
        let key = required_key(request.into_inner().key)?;
        let storage_key = self
            .view_key(&key)
            .await
            .map_err(|error| self.failed("delete", error))?;
        let deleted = self
            .backend
            .delete(&storage_key)
            .await
            .map_err(|error| self.failed("delete", error))?;
        Ok(Response::new(DeleteResponse { deleted }))
    }

    async fn invalidate_user(
        &self,
        request: Request<InvalidateUserRequest>,
    ) -> Result<Response<InvalidateUserResponse>, Status> {
        let user_id = request.into_inner().user_id;
        if user_id.is_empty() {
            return Err(Status::invalid_argument("user_id is required"));
        }
        let generation = self
            .backend
            .increment(&self.keys.generation(&user_id), GENERATION_TTL_SECONDS)
            .await
            .map_err(|error| self.failed("invalidate_user", error))?;
        Ok(Response::new(InvalidateUserResponse { generation }))
    }

    async fn erase_user(
        &self,
        request: Request<EraseUserRequest>,
    ) -> Result<Response<EraseUserResponse>, Status> {
        let user_id = request.into_inner().user_id;
        if user_id.is_empty() {
            return Err(Status::invalid_argument("user_id is required"));
        }
        // Bump first, so no view of the user can be served even while the scan runs.
        self.backend
            .increment(&self.keys.generation(&user_id), GENERATION_TTL_SECONDS)
            .await
            .map_err(|error| self.failed("erase_user", error))?;
        let deleted = self
            .backend
            .delete_matching(&self.keys.user_pattern(&user_id))
            .await
            .map_err(|error| self.failed("erase_user", error))?;
        Ok(Response::new(EraseUserResponse { deleted }))
    }

    async fn stats(
        &self,
        _request: Request<StatsRequest>,
    ) -> Result<Response<StatsResponse>, Status> {
        let keys = match self.backend.key_count().await {
            Ok(keys) => keys,
            Err(error) => {
                self.stats.error();
                tracing::warn!(operation = "stats", %error, "cache backend failed");
                0
            }
        };
        let snapshot = self.stats.snapshot();
        Ok(Response::new(StatsResponse {
            hits: snapshot.hits,
            misses: snapshot.misses,
            hit_rate_percent: snapshot.hit_rate_percent(),
            errors: snapshot.errors,
            backend: self.backend.name().to_owned(),
            keys,
            sets: snapshot.sets,
        }))
    }
}
