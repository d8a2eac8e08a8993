//! Prometheus metrics of a gRPC service, on its own admin port (`METRICS_ADDR`, e.g.
//! `0.0.0.0:9464`; unset: no port is opened). Every call of the service's main gRPC service is
//! counted by method and status code and timed ([`Metered`]); each service appends its own
//! figures (pool, cache, queue) at scrape time.
//!
//! The series go to a recorder this service owns, not to the process-wide one: tests run several
//! services in one process, and each must count only its own calls.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram, Unit, counter, describe_counter, describe_histogram, histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;

use crate::series::SeriesMemo;

pub const HANDLED_TOTAL: &str = "grpc_server_handled_total";
pub const HANDLING_SECONDS: &str = "grpc_server_handling_seconds";

/// The media type of the Prometheus text exposition format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bucket bounds in seconds: a cache hit answers in well under a millisecond, a cold view in
/// tens of milliseconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// How many calls may be recorded between two upkeeps of the recorder. A recorder built with
/// `build_recorder` keeps every histogram sample until its upkeep folds them into the buckets;
/// nothing else runs it between scrapes, so without this a service that is never scraped would
/// grow by a sample per call.
const CALLS_PER_UPKEEP: u64 = 1024;

/// The gRPC series of one service.
pub struct GrpcMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    calls: AtomicU64,
    /// Each method's and status code's series, by the call's path.
    series: SeriesMemo<&'static str, (Counter, Histogram)>,
}

impl GrpcMetrics {
    pub fn new() -> Arc<Self> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HANDLING_SECONDS.to_owned()), &BUCKETS)
            .expect("bucket bounds are not empty")
            .build_recorder();
        metrics::with_local_recorder(&recorder, || {
            describe_counter!(
                HANDLED_TOTAL,
                "gRPC calls answered, by service, method and status code"
            );
            describe_histogram!(
                HANDLING_SECONDS,
                Unit::Seconds,
                "Time to answer a gRPC call (until its response headers), by service and method"
            );
        });
        Arc::new(Self {
            handle: recorder.handle(),
            recorder,
            calls: AtomicU64::new(0),
            series: SeriesMemo::default(),
        })
    }

    fn record(&self, path: &str, code: &'static str, elapsed: Duration) {
        let register = || {
            let mut parts = path.trim_start_matches('/').splitn(2, '/');
            let service = parts.next().unwrap_or_default().to_owned();
            let method = parts.next().unwrap_or_default().to_owned();
            metrics::with_local_recorder(&self.recorder, || {
                (
                    counter!(HANDLED_TOTAL, "grpc_service" => service.clone(), "grpc_method" => method.clone(), "grpc_code" => code),
                    histogram!(HANDLING_SECONDS, "grpc_service" => service, "grpc_method" => method),
                )
            })
        };
        self.series.with(path, code, register, |(calls, seconds)| {
            calls.increment(1);
            seconds.record(elapsed.as_secs_f64());
        });
        if self.calls.fetch_add(1, Ordering::Relaxed) % CALLS_PER_UPKEEP == CALLS_PER_UPKEEP - 1 {
            self.handle.run_upkeep();
        }
    }

    /// The gRPC series in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

/// A tonic service whose calls are counted and timed. The status code is read from the response
/// headers: tonic answers every unary error there ("trailers-only"); an answer without one is
/// counted `OK` (a stream that fails after its first message is counted `OK` too).
#[derive(Clone)]
pub struct Metered<S> {
    inner: S,
    metrics: Arc<GrpcMetrics>,
}

impl<S> Metered<S> {
    pub fn new(inner: S, metrics: Arc<GrpcMetrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<S: NamedService> NamedService for Metered<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for Metered<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let metrics = Arc::clone(&self.metrics);
        let started = Instant::now();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<i32>().ok())
                .map_or("OK", code_name);
            metrics.record(&path, code, started.elapsed());
            Ok(response)
        })
    }
}

/// The canonical name of a gRPC status code, as Prometheus label values.
fn code_name(code: i32) -> &'static str {
    match tonic::Code::from_i32(code) {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "Canceled",
        tonic::Code::Unknown => "Unknown",
        tonic::Code::InvalidArgument => "InvalidArgument",
        tonic::Code::DeadlineExceeded => "DeadlineExceeded",
        tonic::Code::NotFound => "NotFound",
        tonic::Code::AlreadyExists => "AlreadyExists",
        tonic::Code::PermissionDenied => "PermissionDenied",
        tonic::Code::ResourceExhausted => "ResourceExhausted",
        tonic::Code::FailedPrecondition => "FailedPrecondition",
        tonic::Code::Aborted => "Aborted",
        tonic::Code::OutOfRange => "OutOfRange",
        tonic::Code::Unimplemented => "Unimplemented",
        tonic::Code::Internal => "Internal",
        tonic::Code::Unavailable => "Unavailable",
        tonic::Code::DataLoss => "DataLoss",
        tonic::Code::Unauthenticated => "Unauthenticated",
    }
}

/// Appends series in the Prometheus text format (a service's own figures; the gateway's view
/// cache). Each series is its HELP and TYPE lines, its sample, and a blank line.
pub struct Series<'a>(pub &'a mut String);

impl Series<'_> {
    fn head(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    pub fn gauge(&mut self, name: &str, help: &str, value: impl std::fmt::Display) {
        self.head(name, help, "gauge");
        let _ = writeln!(self.0, "{name} {value}\n");
    }

    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.head(name, help, "counter");
        let _ = writeln!(self.0, "{name} {value}\n");
    }

    /// A gauge of 1 whose one label carries the value (e.g. the backend in use).
    pub fn info(&mut self, name: &str, help: &str, label: &str, value: &str) {
        self.head(name, help, "gauge");
        let _ = writeln!(self.0, "{name}{{{label}=\"{value}\"}} 1\n");
    }
}

/// What a scrape answers: the gRPC series and the service's own figures.
pub type Render = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync>;

/// Serves `GET /metrics` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    render: Render,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let render = Arc::clone(&render);
            async move {
                (
                    [(http::header::CONTENT_TYPE, PROMETHEUS_TEXT)],
                    render().await,
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `METRICS_ADDR` when set (see [`crate::config::bind_optional`]).
pub fn bind(addr: Option<SocketAddr>) -> anyhow::Result<Option<std::net::TcpListener>> {
    crate::config::bind_optional("METRICS_ADDR", addr)
}

/// Serves the metrics on `listener` (if any) in the background until the returned task is
/// aborted (after the service's own drain).
pub fn spawn(
    listener: Option<std::net::TcpListener>,
    render: Render,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(listener) = listener else {
        return Ok(None);
    };
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    Ok(Some(tokio::spawn(async move {
        if let Err(error) = serve(listener, render, std::future::pending()).await {
            tracing::warn!(%error, "metrics server failed");
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    async fn scrape(addr: SocketAddr) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: test\r\n\r\n")
            .await
            .expect("written");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    }

    /// A health service behind `Metered`: two calls answered, one refused, all on /metrics.
    #[tokio::test]
    async fn calls_are_counted_by_method_and_code_and_served() {
        let metrics = GrpcMetrics::new();
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("known", tonic_health::ServingStatus::Serving)
            .await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("an address");
        let router = crate::grpc::server(&crate::internal_tls::Transport::Plaintext, &[])
            .expect("a plaintext server")
            .add_service(Metered::new(health, Arc::clone(&metrics)));
        tokio::spawn(crate::grpc::serve(router, listener, std::future::pending()));

        let render: Render = {
            let metrics = Arc::clone(&metrics);
            Arc::new(move || {
                let metrics = Arc::clone(&metrics);
                Box::pin(async move {
                    let mut text = metrics.render();
                    Series(&mut text).gauge("example_gauge", "A service's own figure", 7);
                    text
                })
            })
        };
        let listener = bind(Some("127.0.0.1:0".parse().expect("an address")))
            .expect("bound")
            .expect("a listener");
        let metrics_addr = listener.local_addr().expect("an address");
        let _task = spawn(Some(listener), render).expect("served");

        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("a uri")
            .connect()
            .await
            .expect("connects");
        let mut client = HealthClient::new(channel);
        for service in ["known", "known", "unknown"] {
            let _ = client
                .check(HealthCheckRequest {
                    service: service.to_owned(),
                })
                .await;
        }
        let text = scrape(metrics_addr).await;
        assert!(
            text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
            "{text}"
        );
        assert!(
            text.contains(r#"grpc_server_handled_total{grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_code="OK"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"grpc_server_handled_total{grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_code="NotFound"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("grpc_server_handling_seconds_bucket"),
            "{text}"
        );
        assert!(text.contains("example_gauge 7"), "{text}");
    }

    /// Upkeeps between scrapes fold samples into the buckets without losing or doubling any.
    #[test]
    fn samples_folded_between_scrapes_are_all_counted() {
        let metrics = GrpcMetrics::new();
        let calls = 3 * CALLS_PER_UPKEEP + 5;
        for _ in 0..calls {
            metrics.record("/pkg.Svc/Call", "OK", Duration::from_micros(300));
        }
        let text = metrics.render();
        let expected = format!(
            r#"grpc_server_handling_seconds_count{{grpc_service="pkg.Svc",grpc_method="Call"}} {calls}"#
        );
        assert!(text.contains(&expected), "{text}");
        let first_bucket = format!(
            r#"grpc_server_handling_seconds_bucket{{grpc_service="pkg.Svc",grpc_method="Call",le="0.0005"}} {calls}"#
        );
        assert!(text.contains(&first_bucket), "{text}");
    }
}
