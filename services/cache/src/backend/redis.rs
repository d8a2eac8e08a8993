//! Redis through fred. Commands fail fast (a short timeout, one attempt) so that a Redis outage
//! turns into a switch to the in-process store, not slow requests; the client reconnects by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fred::clients::WithOptions;
use fred::prelude::*;
use fred::types::config::TlsConnector;
use futures_util::future::{join, try_join_all};
use prost::Message as _;
use tokio::sync::broadcast;
use tracing::Instrument as _;
use wellbeing_proto::cache::v1::Users;
use wellbeing_proto::cache::v1::invalidation::Scope;

use super::BackendError;

/// A command slower than this fails.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

pub struct RedisBackend {
    client: Client,
    /// Whether the subscriber of [`RedisBackend::forward_channel`] is subscribed now: then
    /// what this replica publishes comes back to its own watchers through it.
    listening: Arc<AtomicBool>,
}

impl From<fred::error::Error> for BackendError {
    fn from(error: fred::error::Error) -> Self {
        BackendError(error.to_string())
    }
}

fn build_client(url: &str, tls_authority: Option<&[u8]>) -> Result<Client, BackendError> {
    let mut config = Config::from_url(url)?;
    if let Some(authority) = tls_authority {
        config.tls = Some(tls_connector(authority)?.into());
    }
    Ok(Builder::from_config(config)
        .with_connection_config(|connection| {
            connection.connection_timeout = Duration::from_secs(1);
            connection.internal_command_timeout = Duration::from_secs(1);
            connection.max_command_attempts = 1;
        })
        .with_performance_config(|performance| {
            performance.default_command_timeout = COMMAND_TIMEOUT;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 50, 2_000, 2))
        .build()?)
}

/// TLS to Redis trusting only the certificates of `authority` (PEM): rustls on ring, as the
/// rest of wellbeing.
fn tls_connector(authority: &[u8]) -> Result<TlsConnector, BackendError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(authority) {
        let certificate =
            certificate.map_err(|error| BackendError(format!("REDIS_TLS_CA_FILE: {error}")))?;
        roots
            .add(certificate)
            .map_err(|error| BackendError(format!("REDIS_TLS_CA_FILE: {error}")))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| BackendError(error.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(config))
}

/// Adds to counters and (re)sets their lifetime: every `INCRBY`, then every `EXPIRE` (each after
/// its key's `INCRBY`). Returns the counters' new values.
async fn increment_counters(
    client: &WithOptions<Client>,
    increments: &[(String, u64)],
    ttl_seconds: u32,
) -> Result<Vec<u64>, BackendError> {
    let counters = increments.iter().map(|(key, by)| {
        client.incr_by::<u64, _>(key.as_str(), i64::try_from(*by).unwrap_or(i64::MAX))
    });
    let lifetimes = increments
        .iter()
        .map(|(key, _)| client.expire::<(), _>(key.as_str(), i64::from(ttl_seconds), None));
    let (values, lifetimes) = join(try_join_all(counters), try_join_all(lifetimes)).await;
    lifetimes?;
    Ok(values?)
}

/// `commands` (see [`RedisBackend::batched`]), failed when they take longer than
/// [`COMMAND_TIMEOUT`] together.
async fn within_timeout<T>(
    commands: impl Future<Output = Result<T, BackendError>>,
) -> Result<T, BackendError> {
    tokio::time::timeout(COMMAND_TIMEOUT, commands)
        .await
        .map_err(|_| BackendError(format!("Redis did not answer within {COMMAND_TIMEOUT:?}")))?
}

/// The client span of one Redis command (or of commands sent together), named by the command,
/// never the key; none while spans are not exported.
fn command_span(command: &'static str) -> tracing::Span {
    if !wellbeing_common::telemetry::exporting_spans() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "redis",
        otel.name = command,
        otel.kind = "client",
        db.system = "redis",
        db.operation = command,
    )
}

impl RedisBackend {
    /// Creates the client and starts connecting in the background; it keeps reconnecting.
    /// `tls_authority`: for a `rediss://` URL, the only authority trusted (else the system's).
    pub fn connect(url: &str, tls_authority: Option<&[u8]>) -> Result<Self, BackendError> {
        let client = build_client(url, tls_authority)?;
        // The connection task runs until quit; failures are retried by the reconnect policy.
        let _connection_task = client.connect();
        Ok(Self {
            client,
            listening: Arc::new(AtomicBool::new(false)),
        })
    }

    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, BackendError> {
        let value = self
            .client
            .get::<Option<Bytes>, _>(key)
            .instrument(command_span("GET"))
            .await?;
        Ok(value)
    }

    pub async fn set(&self, key: &str, value: Bytes, ttl_seconds: u32) -> Result<(), BackendError> {
        self.client
            .set::<(), _, _>(
                key,
                value,
                Some(Expiration::EX(i64::from(ttl_seconds))),
                None,
                false,
            )
            .instrument(command_span("SET"))
            .await?;
        Ok(())
    }

    /// The client for several commands sent at once, each an `async` call queued before any is
    /// awaited, so that fred writes them in one `write` (it flushes its socket when no further
    /// command is queued): with no deadline of their own, since each would start a timer and
    /// wake the runtime's driver (one `eventfd` write per command), but one for them all (see
    /// [`within_timeout`]), and failing at once while Redis is not connected. A fred `Pipeline`
    /// is not used for this: its commands leave the queue as one, so fred flushed after each of
    /// them (14 writes to Redis per invalidation of 7 users; docs/PERFORMANCE.md).
    fn batched(&self) -> WithOptions<Client> {
        self.client.with_options(&Options {
            timeout: Some(Duration::ZERO),
            fail_fast: true,
            ..Options::default()
        })
    }

    pub async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        let deleted = self
            .client
            .del::<u64, _>(key)
            .instrument(command_span("DEL"))
            .await?;
        Ok(deleted > 0)
    }

    pub async fn counter(&self, key: &str) -> Result<u64, BackendError> {
        let value = self
            .client
            .get::<Option<u64>, _>(key)
            .instrument(command_span("GET"))
            .await?;
        Ok(value.unwrap_or(0))
    }

    /// Reads several counters in one round trip (0 for absent ones).
    pub async fn counters(&self, keys: &[String]) -> Result<Vec<u64>, BackendError> {
        let values: Vec<Option<u64>> = self
            .client
            .mget(keys.to_vec())
            .instrument(command_span("MGET"))
            .await?;
        Ok(values.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Adds to counters and (re)sets their lifetime, in one round trip; returns the new values.
    pub async fn increment(
        &self,
        increments: &[(String, u64)],
        ttl_seconds: u32,
    ) -> Result<Vec<u64>, BackendError> {
        within_timeout(increment_counters(&self.batched(), increments, ttl_seconds))
            .instrument(command_span("INCRBY EXPIRE"))
            .await
    }

    /// [`RedisBackend::increment`], then publishes `message` on `channel`, in the same round
    /// trip (an invalidation: the new generations, then the message that announces them).
    /// Returns the new values and whether this replica's own subscriber will hear the message.
    pub async fn increment_and_publish(
        &self,
        increments: &[(String, u64)],
        ttl_seconds: u32,
        channel: &str,
        message: &[u8],
    ) -> Result<(Vec<u64>, bool), BackendError> {
        let client = self.batched();
        // Polled in order: the counters' commands are queued before the message announcing them.
        let commands = join(
            increment_counters(&client, increments, ttl_seconds),
            client.publish::<(), _, _>(channel, Bytes::copy_from_slice(message)),
        );
        let generations = within_timeout(async {
            let (generations, published) = commands.await;
            published?;
            generations
        })
        .instrument(command_span("INCRBY EXPIRE PUBLISH"))
        .await?;
        Ok((generations, self.listening.load(Ordering::Acquire)))
    }

    /// Deletes every key matching `pattern`. Scans, so only for rare operations.
    pub async fn delete_matching(&self, pattern: &str) -> Result<u64, BackendError> {
        use tokio_stream::StreamExt;
        // In a cluster every primary holds part of the keyspace.
        type KeyStream = std::pin::Pin<
            Box<dyn tokio_stream::Stream<Item = Result<Key, fred::error::Error>> + Send>,
        >;
        let mut keys: KeyStream = if self.client.is_clustered() {
            Box::pin(
                self.client
                    .scan_cluster_buffered(pattern.to_owned(), Some(500), None),
            )
        } else {
            Box::pin(
                self.client
                    .scan_buffered(pattern.to_owned(), Some(500), None),
            )
        };
        let mut batch: Vec<Key> = Vec::new();
        let mut deleted = 0;
        while let Some(key) = keys.next().await {
            batch.push(key?);
            if batch.len() >= 500 {
                deleted += self.unlink(std::mem::take(&mut batch)).await?;
            }
        }
        if !batch.is_empty() {
            deleted += self.unlink(batch).await?;
        }
        Ok(deleted)
    }

    /// Unlinks keys: in one command, or in a cluster one command per key (keys of different
    /// users live in different hash slots, and one command may only name keys of one slot).
    async fn unlink(&self, keys: Vec<Key>) -> Result<u64, BackendError> {
        if !self.client.is_clustered() {
            return Ok(self.client.unlink::<u64, _>(keys).await?);
        }
        let each = keys
            .into_iter()
            .map(|key| self.client.unlink::<u64, _>(key));
        Ok(futures_util::future::try_join_all(each)
            .await?
            .into_iter()
            .sum())
    }

    pub async fn key_count(&self) -> Result<u64, BackendError> {
        let keys = self
            .client
            .dbsize::<u64>()
            .instrument(command_span("DBSIZE"))
            .await?;
        Ok(keys)
    }

    pub async fn ping(&self) -> Result<(), BackendError> {
        self.client.ping::<String>(None).await?;
        Ok(())
    }

    /// Forwards every message of `channel` to `sender`, resubscribing after each reconnect.
    /// Runs until the process stops.
    pub fn forward_channel(&self, channel: String, sender: broadcast::Sender<Scope>) {
        let subscriber = self.client.clone_new();
        let listening = self.listening.clone();
        tokio::spawn(async move {
            let _connection = subscriber.connect();
            let mut messages = subscriber.message_rx();
            let mut reconnects = subscriber.reconnect_rx();
            loop {
                if subscriber.wait_for_connect().await.is_ok()
                    && subscriber.subscribe(channel.as_str()).await.is_ok()
                {
                    listening.store(true, Ordering::Release);
                    tracing::info!("subscribed to invalidations");
                }
                // Messages published while disconnected are lost: in-process copies start over.
                let _ = sender.send(Scope::Everything(true));
                loop {
                    tokio::select! {
                        message = messages.recv() => match message {
                            // The users of one invalidation (never none); anything else,
                            // e.g. from a replica of another version, drops everything
                            // rather than miss a user.
                            Ok(message) => {
                                let scope = message
                                    .value
                                    .as_bytes()
                                    .and_then(|bytes| Users::decode(bytes).ok())
                                    .filter(|users| !users.user_ids.is_empty())
                                    .map_or(Scope::Everything(true), Scope::Users);
                                let _ = sender.send(scope);
                            }
                            // Fell behind: some users' invalidations are lost.
                            Err(broadcast::error::RecvError::Lagged(_)) => {
                                let _ = sender.send(Scope::Everything(true));
                            }
                            Err(broadcast::error::RecvError::Closed) => return,
                        },
                        reconnected = reconnects.recv() => match reconnected {
                            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                                listening.store(false, Ordering::Release);
                                break;
                            }
                            Err(broadcast::error::RecvError::Closed) => return,
                        },
                    }
                }
            }
        });
    }

    pub async fn quit(&self) {
        let _ = self.client.quit().await;
    }
}
