//! The tonic service over a [`Backend`]. Reads never fail because Redis is down: the backend
//! falls back to the in-process store, so callers see a miss at worst.

use std::pin::Pin;
use std::sync::Arc;

use prost::Message as _;
use tokio::sync::broadcast;
use tokio_stream::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tonic::{Request, Response, Status};
use wellbeing_proto::cache::v1::cache_server::Cache;
use wellbeing_proto::cache::v1::*;

use crate::backend::{Backend, BackendError};
use crate::keys::KeySpace;
use crate::stats::{CacheStats, hit_rate_percent};
use wellbeing_proto::cache::v1::invalidation::Scope;

/// A generation outlives every view made under it (views live `CACHE_TTL`, minutes), so when it
/// finally expires and restarts at 0 no view of an older generation 0 can still exist.
const GENERATION_TTL_SECONDS: u32 = 7 * 24 * 3600;
/// A user's read counters are kept this long after their last change.
const USER_STATS_TTL_SECONDS: u32 = 30 * 24 * 3600;
/// The most users one invalidation call names (a group of writes holds at most 128 units).
const MAX_INVALIDATED_USERS: usize = 1024;

pub struct CacheService {
    pub backend: Arc<Backend>,
    pub keys: KeySpace,
    pub stats: Arc<CacheStats>,
    pub default_ttl_seconds: u32,
    /// Every invalidation seen by this replica (its own and, through Redis, the others').
    pub invalidations: broadcast::Sender<Scope>,
    /// Turns true when the server shuts down: open streams end so the drain does not wait.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

impl CacheService {
    /// The user's current version (reads the generation).
    async fn current_version(&self, user_id: &str) -> Version {
        let epoch = self.backend.epoch();
        let generation_key = self.keys.generation(user_id, epoch);
        let generation = self.backend.counters(&[generation_key]).await[0];
        Version { epoch, generation }
    }

    /// The storage key of a view under a version.
    fn view_key(&self, key: &ViewKey, version: Version) -> String {
        self.keys.view(
            &key.user_id,
            version.epoch,
            version.generation,
            &key.view,
            &key.params,
        )
    }

    /// Bumps the users' generations and tells every process that keeps copies of views.
    async fn invalidate(&self, user_ids: &[String]) -> Vec<u64> {
        if user_ids.is_empty() {
            return Vec::new();
        }
        let epoch = self.backend.epoch();
        let increments: Vec<(String, u64)> = user_ids
            .iter()
            .map(|user_id| (self.keys.generation(user_id, epoch), 1))
            .collect();
        // Every replica's watchers hear it through Redis, this replica's too, through its own
        // subscriber: one message for all the users of the call, published in the same round
        // trip as the new generations. Only when that subscriber will not hear it is it told
        // to them directly: each message once, because a second one would drop again the
        // copies made just after the write, and the writer expects one echo of its own
        // invalidation.
        let users = Users {
            user_ids: user_ids.to_vec(),
        };
        let (generations, heard_here) = self
            .backend
            .invalidate(
                &increments,
                GENERATION_TTL_SECONDS,
                &self.keys.invalidation_channel(),
                &users.encode_to_vec(),
            )
            .await;
        if !heard_here {
            let _ = self.invalidations.send(Scope::Users(users));
        }
        generations
    }

    fn failed(&self, operation: &'static str, error: BackendError) -> Status {
        self.stats.error();
        tracing::warn!(operation, %error, "cache backend failed");
        Status::unavailable("cache backend unavailable")
    }
}

/// Records the duration of an operation when dropped (whatever way the handler returns).
struct Timer<'a> {
    stats: &'a CacheStats,
    operation: &'static str,
    started: std::time::Instant,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.stats.timed(self.operation, self.started.elapsed());
    }
}

impl CacheService {
    fn timer(&self, operation: &'static str) -> Timer<'_> {
        Timer {
            stats: &self.stats,
            operation,
            started: std::time::Instant::now(),
        }
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

fn required_user(user_id: &str) -> Result<(), Status> {
    if user_id.is_empty() {
        return Err(Status::invalid_argument("user_id is required"));
    }
    Ok(())
}

type InvalidationStream = Pin<Box<dyn Stream<Item = Result<Invalidation, Status>> + Send>>;

#[tonic::async_trait]
impl Cache for CacheService {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let _timer = self.timer("get");
        let key = required_key(request.into_inner().key)?;
        let version = self.current_version(&key.user_id).await;
        let found = self.backend.get(&self.view_key(&key, version)).await;
        let version = Some(version);
        match found {
            Some(value) => {
                self.stats.hit();
                Ok(Response::new(GetResponse {
                    found: true,
                    value,
                    version,
                }))
            }
            None => {
                self.stats.miss();
                Ok(Response::new(GetResponse {
                    version,
                    ..GetResponse::default()
                }))
            }
        }
    }

    async fn set(&self, request: Request<SetRequest>) -> Result<Response<SetResponse>, Status> {
        let _timer = self.timer("set");
        let request = request.into_inner();
        let key = required_key(request.key)?;
        let ttl = match request.ttl_seconds {
            0 => self.default_ttl_seconds,
            ttl => ttl,
        };
        // Under the version the view was computed for: if the user wrote since, the key is
        // already unreachable, rather than the older view being taken for the newer generation.
        let version = match request.version {
            Some(version) => version,
            None => self.current_version(&key.user_id).await,
        };
        let storage_key = self.view_key(&key, version);
        self.backend.set(&storage_key, request.value, ttl).await;
        self.stats.set();
        Ok(Response::new(SetResponse {}))
    }

    async fn delete(
        &self,
        request: Request<DeleteRequest>,
    ) -> Result<Response<DeleteResponse>, Status> {
        let _timer = self.timer("delete");
        let key = required_key(request.into_inner().key)?;
        let version = self.current_version(&key.user_id).await;
        let storage_key = self.view_key(&key, version);
        let deleted = self.backend.delete(&storage_key).await;
        Ok(Response::new(DeleteResponse { deleted }))
    }

    async fn invalidate_users(
        &self,
        request: Request<InvalidateUsersRequest>,
    ) -> Result<Response<InvalidateUsersResponse>, Status> {
        let _timer = self.timer("invalidate_users");
        let user_ids = request.into_inner().user_ids;
        if user_ids.len() > MAX_INVALIDATED_USERS {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_INVALIDATED_USERS} users per call"
            )));
        }
        for user_id in &user_ids {
            required_user(user_id)?;
        }
        let generations = self.invalidate(&user_ids).await;
        Ok(Response::new(InvalidateUsersResponse { generations }))
    }

    async fn erase_user(
        &self,
        request: Request<EraseUserRequest>,
    ) -> Result<Response<EraseUserResponse>, Status> {
        let _timer = self.timer("erase_user");
        let user_id = request.into_inner().user_id;
        required_user(&user_id)?;
        // Invalidate first, so no view of the user is served even while the scan runs.
        self.invalidate(std::slice::from_ref(&user_id)).await;
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
        let keys = self.backend.key_count().await;
        let snapshot = self.stats.snapshot();
        Ok(Response::new(StatsResponse {
            hits: snapshot.hits,
            misses: snapshot.misses,
            hit_rate_percent: hit_rate_percent(snapshot.hits, snapshot.misses),
            errors: snapshot.errors,
            backend: self.backend.name().to_owned(),
            keys,
            sets: snapshot.sets,
            degraded: self.backend.is_degraded(),
            failovers: self.backend.failovers(),
            memory_keys: self.backend.memory_keys(),
            latency: self
                .stats
                .latencies()
                .into_iter()
                .map(|(operation, count, average_ms, max_ms)| OperationLatency {
                    operation: operation.to_owned(),
                    count,
                    average_ms,
                    max_ms,
                })
                .collect(),
        }))
    }

    async fn record_user_stats(
        &self,
        request: Request<RecordUserStatsRequest>,
    ) -> Result<Response<RecordUserStatsResponse>, Status> {
        let mut increments = Vec::new();
        for delta in request.into_inner().deltas {
            required_user(&delta.user_id)?;
            if delta.hits > 0 {
                increments.push((self.keys.user_hits(&delta.user_id), delta.hits));
            }
            if delta.misses > 0 {
                increments.push((self.keys.user_misses(&delta.user_id), delta.misses));
            }
        }
        if !increments.is_empty() {
            self.backend
                .increment(&increments, USER_STATS_TTL_SECONDS)
                .await;
        }
        Ok(Response::new(RecordUserStatsResponse {}))
    }

    async fn user_stats(
        &self,
        request: Request<UserStatsRequest>,
    ) -> Result<Response<UserStatsResponse>, Status> {
        let user_id = request.into_inner().user_id;
        required_user(&user_id)?;
        let counters = self
            .backend
            .counters(&[
                self.keys.user_hits(&user_id),
                self.keys.user_misses(&user_id),
            ])
            .await;
        let (hits, misses) = (counters[0], counters[1]);
        Ok(Response::new(UserStatsResponse {
            hits,
            misses,
            hit_rate_percent: hit_rate_percent(hits, misses),
            backend: self.backend.name().to_owned(),
        }))
    }

    type WatchInvalidationsStream = InvalidationStream;

    async fn watch_invalidations(
        &self,
        _request: Request<WatchInvalidationsRequest>,
    ) -> Result<Response<Self::WatchInvalidationsStream>, Status> {
        // A watcher that falls behind is told to drop everything rather than miss a user.
        let mut invalidations =
            BroadcastStream::new(self.invalidations.subscribe()).map(|message| {
                Ok(Invalidation {
                    scope: Some(message.unwrap_or(Scope::Everything(true))),
                })
            });
        let (sender, receiver) = tokio::sync::mpsc::channel(256);
        let mut closing = self.closing.clone();
        tokio::spawn(async move {
            loop {
                if *closing.borrow_and_update() {
                    return;
                }
                tokio::select! {
                    _ = closing.changed() => continue,
                    message = invalidations.next() => {
                        let Some(message) = message else { return };
                        if sender.send(message).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn clear_prefix(
        &self,
        request: Request<ClearPrefixRequest>,
    ) -> Result<Response<ClearPrefixResponse>, Status> {
        let prefix = request.into_inner().prefix;
        let deleted = self
            .backend
            .delete_matching(&self.keys.prefix_pattern(&prefix))
            .await
            .map_err(|error| self.failed("clear_prefix", error))?;
        let _ = self.invalidations.send(Scope::Everything(true));
        tracing::info!(deleted, "cache prefix cleared");
        Ok(Response::new(ClearPrefixResponse { deleted }))
    }
}
