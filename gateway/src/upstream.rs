//! One channel per upstream, shared by every request, over every address configured, with
//! failover between replicas ([`crate::failover`]). Each call gets a deadline and its duration is added to the request's upstream
//! time (reported as `X-Process-Time`).

use std::future::Future;
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use wellbeing_common::internal_tls::Role;
use wellbeing_proto::aggregator::v1::aggregator_client::AggregatorClient;
use wellbeing_proto::analytics::v1::analytics_client::AnalyticsClient;
use wellbeing_proto::cache::v1::cache_client::CacheClient;

use crate::config::GatewayConfig;
use crate::failover::Failover;
use crate::middleware::timing;

/// How long a health probe of an upstream may take.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Clone)]
pub struct Upstream {
    pub channel: Failover,
    pub service_name: &'static str,
}

#[derive(Clone)]
pub struct Upstreams {
    pub analytics: Upstream,
    pub cache: Upstream,
    pub aggregator: Upstream,
    timeout: Duration,
}

/// How an upstream answered its health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamHealth {
    Serving,
    NotServing,
    Unreachable,
}

impl UpstreamHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Serving => "healthy",
            Self::NotServing => "unhealthy",
            Self::Unreachable => "unreachable",
        }
    }
}

impl Upstreams {
    pub fn connect(config: &GatewayConfig) -> Result<Self, tonic::transport::Error> {
        Ok(Self {
            analytics: Upstream {
                channel: Failover::connect(
                    &config.analytics_endpoints,
                    &config.transport,
                    Role::Analytics,
                )?,
                service_name: "wellbeing.analytics.v1.Analytics",
            },
            cache: Upstream {
                channel: Failover::connect(
                    &config.cache_endpoints,
                    &config.transport,
                    Role::Cache,
                )?,
                service_name: "wellbeing.cache.v1.Cache",
            },
            aggregator: Upstream {
                channel: Failover::connect(
                    &config.aggregator_endpoints,
                    &config.transport,
                    Role::Aggregator,
                )?,
                service_name: "wellbeing.aggregator.v1.Aggregator",
            },
            timeout: config.upstream_timeout,
        })
    }

    pub fn analytics(&self) -> AnalyticsClient<Failover> {
        AnalyticsClient::new(self.analytics.channel.clone())
    }

    pub fn cache(&self) -> CacheClient<Failover> {
        CacheClient::new(self.cache.channel.clone())
    }

    pub fn aggregator(&self) -> AggregatorClient<Failover> {
        AggregatorClient::new(self.aggregator.channel.clone())
    }

    /// A request with the upstream deadline (the channel adds the trace context).
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// Asks an upstream's tonic-health service about its main service.
    pub async fn health(&self, upstream: &Upstream) -> UpstreamHealth {
        let mut client = HealthClient::new(upstream.channel.clone());
        let mut request = tonic::Request::new(HealthCheckRequest {
            service: upstream.service_name.to_owned(),
        });
        request.set_timeout(HEALTH_TIMEOUT);
        match client.check(request).await {
            Ok(response) if response.get_ref().status == ServingStatus::Serving as i32 => {
                UpstreamHealth::Serving
            }
            Ok(_) => UpstreamHealth::NotServing,
            Err(_) => UpstreamHealth::Unreachable,
        }
    }
}

impl Upstreams {
    /// The aggregator's queue depth and the age of its oldest item, if it answers.
    pub async fn aggregator_lag(&self) -> Option<(u64, f64)> {
        let mut request = tonic::Request::new(wellbeing_proto::aggregator::v1::StatusRequest {});
        request.set_timeout(HEALTH_TIMEOUT);
        let status = self.aggregator().status(request).await.ok()?.into_inner();
        Some((status.queue_depth, status.oldest_pending_seconds))
    }

    /// True when the cache service says it serves from memory because Redis does not answer.
    pub async fn cache_degraded(&self) -> bool {
        let mut request = tonic::Request::new(wellbeing_proto::cache::v1::StatsRequest {});
        request.set_timeout(HEALTH_TIMEOUT);
        self.cache()
            .stats(request)
            .await
            .is_ok_and(|stats| stats.get_ref().degraded)
    }
}

/// Runs an upstream call and counts its duration as time spent behind the gateway.
pub async fn timed<T>(call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let output = call.await;
    timing::add_upstream_time(started.elapsed());
    output
}
