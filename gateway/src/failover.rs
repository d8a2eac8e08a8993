//! Failover between the replicas of one upstream.
//!
//! tonic's balanced channel keeps a replica that is gone in its rotation: every call it picks
//! for that replica fails (connection refused, or reset when it died mid-call), and under load
//! the dead replica, having no calls pending, is picked the most. So the gateway keeps one lazily
//! connected channel per replica address and, for each call:
//!
//! - picks the replicas in turn, skipping any that failed recently (ejected for 0.5 s, doubling
//!   with each further failure up to 10 s; the first success brings it back);
//! - on a transport failure (never on an answer, even an error answer) tries another replica,
//!   at most [`MAX_ATTEMPTS`] in all: any call that provably never reached a replica (the
//!   connection was refused, or closed before the call was handed to it: hyper's "canceled"),
//!   and reads (which change nothing, so running them twice is
//!   harmless) whatever the failure. A write that may have reached a replica is not sent twice:
//!   its failure is answered (503), and the phone re-sends it with its `event_id`.
//!
//! A deadline that expired is not retried (that would only add load to a slow upstream). With
//! one address, or a DNS name (whose addresses the channel follows itself), there is one
//! "replica" and nothing to fail over to: a failure is answered at once.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use tonic::body::Body;
use tower::{Service, ServiceExt};
use wellbeing_common::grpc::{TracedChannel, channel};
use wellbeing_common::internal_tls::{Role, Transport};

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// Calls per request at most (each to another replica).
pub const MAX_ATTEMPTS: usize = 3;
/// How long a replica that failed is left out at first.
const FIRST_EJECTION: Duration = Duration::from_millis(500);
const MAX_EJECTION: Duration = Duration::from_secs(10);

/// Methods that only read: safe to run twice.
const READS: [&str; 22] = [
    "DailySummary",
    "WeeklySummary",
    "AppsUsage",
    "Dashboard",
    "QuickStats",
    "Insights",
    "Patterns",
    "PeakHours",
    "Comparison",
    "WellbeingScore",
    "ListGoals",
    "PrivacyScore",
    "PrivacyHistory",
    "PrivacyTrend",
    "CacheStats",
    "PoolStats",
    "GetUser",
    "ExportUserData",
    "Check",
    "Stats",
    "UserStats",
    "Status",
];

/// A channel over the replicas of one upstream; cheap to clone.
#[derive(Clone)]
pub struct Failover {
    shared: Arc<Shared>,
}

struct Shared {
    replicas: Vec<Replica>,
    next: AtomicUsize,
}

struct Replica {
    channel: TracedChannel,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    failures: u32,
    ejected_until: Option<Instant>,
}

impl Replica {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn ejected_until(&self) -> Option<Instant> {
        self.health().ejected_until
    }

    fn failed(&self) {
        let mut health = self.health();
        health.failures = health.failures.saturating_add(1);
        let ejection = FIRST_EJECTION
            .saturating_mul(1 << (health.failures - 1).min(5))
            .min(MAX_EJECTION);
        health.ejected_until = Some(Instant::now() + ejection);
    }

    fn succeeded(&self) {
        let mut health = self.health();
        if health.failures > 0 {
            *health = Health::default();
        }
    }
}

/// Whether `endpoint` (`http://10.0.0.1:50051`) names an IP address rather than a DNS name.
fn is_literal(endpoint: &str) -> bool {
    endpoint
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| {
            uri.host().map(|host| {
                host.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok()
            })
        })
        .unwrap_or(false)
}

impl Failover {
    /// One replica per IP address given; a single address or any DNS name makes one channel of
    /// them all (tonic balances, and follows the name's addresses).
    pub fn connect(
        endpoints: &[String],
        transport: &Transport,
        upstream: Role,
    ) -> Result<Self, tonic::transport::Error> {
        let channels = if endpoints.len() > 1 && endpoints.iter().all(|e| is_literal(e)) {
            endpoints
                .iter()
                .map(|endpoint| channel(std::slice::from_ref(endpoint), transport, upstream))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![channel(endpoints, transport, upstream)?]
        };
        Ok(Self {
            shared: Arc::new(Shared {
                replicas: channels
                    .into_iter()
                    .map(|channel| Replica {
                        channel,
                        health: Mutex::new(Health::default()),
                    })
                    .collect(),
                next: AtomicUsize::new(0),
            }),
        })
    }

    /// How many replicas are out of the rotation now.
    pub fn ejected(&self) -> usize {
        let now = Instant::now();
        self.shared
            .replicas
            .iter()
            .filter(|replica| replica.ejected_until().is_some_and(|until| until > now))
            .count()
    }
}

impl Shared {
    /// The next replica in turn that is neither ejected nor `tried`; else the untried one back
    /// soonest; else (all tried) the one back soonest.
    fn pick(&self, tried: &[usize]) -> usize {
        let count = self.replicas.len();
        let now = Instant::now();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        let order = (0..count).map(|offset| (start + offset) % count);
        let back_soonest = |candidates: Vec<usize>| {
            candidates
                .into_iter()
                .min_by_key(|index| self.replicas[*index].ejected_until())
        };
        order
            .clone()
            .find(|index| {
                !tried.contains(index)
                    && self.replicas[*index]
                        .ejected_until()
                        .is_none_or(|until| until <= now)
            })
            .or_else(|| back_soonest(order.clone().filter(|i| !tried.contains(i)).collect()))
            .or_else(|| back_soonest(order.collect()))
            .unwrap_or(0)
    }
}

/// Whether `error` or one of its causes is a `T`.
fn caused_by<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<T>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// Whether the call provably never reached a replica: the connection was refused, or hyper gave
/// the request back unsent (every "canceled" error of hyper's HTTP/2 client: the connection closed
/// or was not ready before the request was handed to it).
fn never_sent(error: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<tonic::ConnectError>()
            || error
                .downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_canceled)
        {
            return true;
        }
        current = error.source();
    }
    false
}

/// The same request again, with a body that can be sent more than once.
fn rebuild(parts: &http::request::Parts, body: Bytes) -> http::Request<Body> {
    let mut request = http::Request::new(Body::new(http_body_util::Full::new(body)));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    *request.extensions_mut() = parts.extensions.clone();
    request
}

impl Service<http::Request<Body>> for Failover {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Each replica's channel is made ready when the call is sent to it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            // Unary requests: one small message, kept so that it can be sent again.
            let body = body.collect().await?.to_bytes();
            let read = parts
                .extensions
                .get::<tonic::GrpcMethod>()
                .is_some_and(|method| READS.contains(&method.method()));
            let attempts = shared.replicas.len().min(MAX_ATTEMPTS);
            let mut tried = Vec::with_capacity(attempts);
            loop {
                let index = shared.pick(&tried);
                tried.push(index);
                let replica = &shared.replicas[index];
                let outcome = replica
                    .channel
                    .clone()
                    .oneshot(rebuild(&parts, body.clone()))
                    .await;
                let error = match outcome {
                    Ok(response) => {
                        replica.succeeded();
                        return Ok(response);
                    }
                    Err(error) => error,
                };
                if caused_by::<tonic::TimeoutExpired>(&error) {
                    return Err(error.into());
                }
                replica.failed();
                let never_sent = never_sent(&error);
                if !(never_sent || read) || tried.len() >= attempts {
                    tracing::debug!(
                        error = %wellbeing_common::error::ErrorChain(&error),
                        read,
                        never_sent,
                        attempts = tried.len(),
                        "upstream call failed, not tried again"
                    );
                    return Err(error.into());
                }
                tracing::debug!(
                    error = %wellbeing_common::error::ErrorChain(&error),
                    read,
                    never_sent,
                    "upstream call failed, trying another replica"
                );
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_addresses_are_told_from_names() {
        assert!(is_literal("http://127.0.0.1:50051"));
        assert!(is_literal("http://[::1]:50051"));
        assert!(!is_literal("http://analytics.default.svc:50051"));
    }

    #[tokio::test]
    async fn a_failed_replica_is_skipped_until_its_ejection_ends() {
        let failover = Failover::connect(
            &[
                "http://127.0.0.1:1".to_owned(),
                "http://127.0.0.1:2".to_owned(),
            ],
            &Transport::Plaintext,
            Role::Analytics,
        )
        .expect("channels");
        let shared = &failover.shared;
        shared.replicas[0].failed();
        for _ in 0..10 {
            assert_eq!(shared.pick(&[]), 1);
        }
        // Both tried or out: the one back soonest.
        assert_eq!(shared.pick(&[1]), 0);
        shared.replicas[1].failed();
        shared.replicas[1].failed();
        assert_eq!(shared.pick(&[]), 0, "0 is back sooner than 1");
        assert_eq!(failover.ejected(), 2);
        shared.replicas[0].succeeded();
        assert_eq!(failover.ejected(), 1);
    }
}
