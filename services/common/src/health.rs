//! Honest health: a service answers NOT_SERVING until its own dependencies answer, and goes back
//! to NOT_SERVING when they stop answering. Kubernetes probes read it through tonic-health.

use std::future::Future;
use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often a healthy dependency is checked again.
const RECHECK_HEALTHY: Duration = Duration::from_secs(5);
/// How often an unhealthy dependency is checked again.
const RECHECK_UNHEALTHY: Duration = Duration::from_millis(500);
/// A check slower than this counts as a failure.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs `check` forever and reports its outcome for `service_names` (use `""` for the whole
/// server). Returns the task so the owner can stop it on shutdown.
pub fn spawn_monitor<F, Fut>(
    reporter: HealthReporter,
    service_names: Vec<&'static str>,
    check: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    tokio::spawn(async move {
        let mut last: Option<bool> = None;
        loop {
            let healthy = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(Ok(())) => true,
                Ok(Err(reason)) => {
                    if last != Some(false) {
                        tracing::warn!(%reason, "dependency check failed");
                    }
                    false
                }
                Err(_) => {
                    if last != Some(false) {
                        tracing::warn!("dependency check timed out");
                    }
                    false
                }
            };
            if last != Some(healthy) {
                let status = if healthy {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                for name in &service_names {
                    reporter.set_service_status(*name, status).await;
                }
                tracing::info!(serving = healthy, "health changed");
                last = Some(healthy);
            }
            tokio::time::sleep(if healthy {
                RECHECK_HEALTHY
            } else {
                RECHECK_UNHEALTHY
            })
            .await;
        }
    })
}

/// Health reporting that starts NOT_SERVING for every name given.
pub async fn reporter_for(
    service_names: &[&'static str],
) -> (
    HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    let (reporter, server) = tonic_health::server::health_reporter();
    for name in service_names {
        reporter
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
    (reporter, server)
}
