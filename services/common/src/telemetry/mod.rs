//! Logging set-up shared by every binary: `RUST_LOG` filter (default `info`), human-readable
//! lines by default and JSON lines with `LOG_FORMAT=json`; the settings are [`TelemetryArgs`].
//!
//! Tracing: [`TelemetryArgs::init`] also exports spans over OTLP/gRPC when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (service name from `OTEL_SERVICE_NAME`, parent-based
//! ratio sampling from `OTEL_TRACES_SAMPLER_ARG`, default 1.0). Without the endpoint no
//! OpenTelemetry layer is added and nothing is exported. The W3C TraceContext propagator is
//! installed globally either way (see [`crate::trace_context`]). With export on, every SQL
//! statement inside a trace also becomes a span ([`sql_spans`]).

mod sql_spans;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Whether this process exports spans: set once, when a subscriber with an OpenTelemetry layer
/// is installed.
static EXPORTING_SPANS: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (`OTEL_EXPORTER_OTLP_ENDPOINT`, or a test's exporter). The spans
/// that exist only to be exported (each gRPC call's client and server span, each Redis
/// command's) are not made otherwise: making one and formatting its fields for the log lines,
/// on every call, was a few per cent of each service's CPU under the phone mixes
/// (docs/PERFORMANCE.md). The gateway's request span is always made, since its `trace_id` is on
/// the log lines.
pub fn exporting_spans() -> bool {
    EXPORTING_SPANS.load(Ordering::Relaxed)
}

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.to_ascii_lowercase().as_str() {
            "human" | "text" | "pretty" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            _ => Err("expected human or json".to_owned()),
        }
    }
}

/// Installs the global subscriber (logs only, no span export). Safe to call more than once (tests
/// start several services in one process): later calls keep the first subscriber.
pub fn init(service_name: &str, format: LogFormat) {
    let _ = install(service_name, format, None);
}

/// Flushes and shuts the tracer provider down when dropped (keep it alive for the whole `main`).
#[must_use = "dropping the guard stops span export"]
#[derive(Default)]
pub struct TracingGuard {
    provider: Option<SdkTracerProvider>,
}

impl TracingGuard {
    /// True when spans are exported (an OpenTelemetry layer was installed).
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans ended so far now, rather than at the batch exporter's next tick. Blocks
    /// until the exporter answers: call it off the async workers (`spawn_blocking`).
    pub fn flush(&self) -> Result<(), anyhow::Error> {
        if let Some(provider) = &self.provider {
            provider.force_flush()?;
        }
        Ok(())
    }

    /// Flushes pending spans and stops the exporter (also done on drop).
    pub fn shutdown(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.force_flush() {
                eprintln!("failed to flush spans: {error}");
            }
            if let Err(error) = provider.shutdown_with_timeout(Duration::from_secs(5)) {
                eprintln!("failed to shut the tracer provider down: {error}");
            }
        }
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Tracing settings (see [`TelemetryArgs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TracingConfig {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://otel-collector:4317`. None: no export.
    pub endpoint: Option<String>,
    /// `OTEL_SERVICE_NAME`, else the binary's default.
    pub service_name: String,
    /// `OTEL_TRACES_SAMPLER_ARG`: the ratio of root traces kept (0.0 to 1.0, default 1.0).
    pub sample_ratio: f64,
}

/// What `RUST_LOG` is when unset: `info`, with the chatty dependencies at `warn`.
macro_rules! default_log_filter {
    () => {
        "info,sqlx=warn,fred=warn,h2=warn,tower=warn,hyper=warn"
    };
}
const DEFAULT_LOG_FILTER: &str = default_log_filter!();

/// The logging and tracing settings every binary shares. `RUST_LOG` is read by the log filter
/// itself (tracing-subscriber's syntax), so it is only described, in [`RUST_LOG_HELP`].
#[derive(clap::Args, Debug, Clone)]
pub struct TelemetryArgs {
    /// Log lines: `human` or `json`
    #[arg(long, env = "LOG_FORMAT", default_value = "human")]
    pub log_format: LogFormat,
    /// OTLP/gRPC collector that spans are exported to, e.g. `http://otel-collector:4317` (unset:
    /// no export)
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// Service name of the exported spans [default: the binary's role]
    #[arg(long, env = "OTEL_SERVICE_NAME")]
    pub otel_service_name: Option<String>,
    /// Ratio of root traces kept (parent-based sampling), 0.0 to 1.0
    #[arg(long, env = "OTEL_TRACES_SAMPLER_ARG", default_value_t = 1.0)]
    pub otel_traces_sampler_arg: f64,
}

/// `RUST_LOG` for a binary's `--help` (its `after_help`).
pub const RUST_LOG_HELP: &str = concat!(
    "Also read: RUST_LOG, the log filter (tracing-subscriber's EnvFilter syntax) [default: ",
    default_log_filter!(),
    "]"
);

impl TelemetryArgs {
    /// The tracing settings, `default_service` naming the spans unless `OTEL_SERVICE_NAME` does.
    pub fn tracing(&self, default_service: &str) -> TracingConfig {
        let ratio = self.otel_traces_sampler_arg;
        TracingConfig {
            endpoint: self.otel_exporter_otlp_endpoint.clone(),
            service_name: self
                .otel_service_name
                .clone()
                .unwrap_or_else(|| default_service.to_owned()),
            sample_ratio: if ratio.is_finite() {
                ratio.clamp(0.0, 1.0)
            } else {
                1.0
            },
        }
    }

    /// Installs logging, and span export when an endpoint is set (see [`init_with_config`]).
    pub fn init(&self, default_service: &str) -> Result<TracingGuard, anyhow::Error> {
        init_with_config(&self.tracing(default_service), self.log_format)
    }
}

/// Installs the global subscriber and, when `config.endpoint` is set, an OpenTelemetry layer
/// exporting spans over OTLP/gRPC with a batch exporter. Must be called inside a Tokio runtime.
/// Keep the returned guard alive: dropping it flushes the pending spans.
pub fn init_with_config(
    config: &TracingConfig,
    format: LogFormat,
) -> Result<TracingGuard, anyhow::Error> {
    let provider = match &config.endpoint {
        Some(endpoint) => Some(otlp_provider(config, endpoint)?),
        None => None,
    };
    let guard = install(&config.service_name, format, provider);
    if let Some(endpoint) = &config.endpoint
        && guard.exporting()
    {
        tracing::info!(
            endpoint,
            service = config.service_name,
            ratio = config.sample_ratio,
            "exporting spans over OTLP"
        );
    }
    Ok(guard)
}

/// Installs the global subscriber with an OpenTelemetry layer fed by `provider` (tests use an
/// in-memory exporter). When a subscriber is already installed the provider is shut down and the
/// returned guard exports nothing.
pub fn init_with_provider(
    service_name: &str,
    format: LogFormat,
    provider: SdkTracerProvider,
) -> TracingGuard {
    install(service_name, format, Some(provider))
}

/// The sampler: follow the caller's decision, sample `ratio` of new traces.
pub fn sampler(ratio: f64) -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
}

/// The resource naming this service.
pub fn resource(service_name: &str) -> Resource {
    Resource::builder()
        .with_service_name(service_name.to_owned())
        .build()
}

fn otlp_provider(
    config: &TracingConfig,
    endpoint: &str,
) -> Result<SdkTracerProvider, anyhow::Error> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.to_owned())
        .build()
        .map_err(|error| anyhow::anyhow!("cannot build the OTLP span exporter: {error}"))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler(config.sample_ratio))
        .with_resource(resource(&config.service_name))
        .build())
}

fn install(
    service_name: &str,
    format: LogFormat,
    provider: Option<SdkTracerProvider>,
) -> TracingGuard {
    crate::trace_context::install_propagator();
    // Each layer filters for itself: the SQL span layer needs sqlx's per-statement events, which
    // the log lines leave out.
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service_name.to_owned()))
            .with_filter(level_filter())
    });
    let sql_spans = sql_spans::SqlStatementSpans::new(
        provider
            .as_ref()
            .map(|provider| provider.tracer("postgresql")),
    );
    let sql_filter = sql_spans.filter();
    let sql_spans = sql_spans.with_filter(sql_filter);
    let (human, json) = match format {
        LogFormat::Human => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_filter(level_filter()),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_filter(level_filter()),
            ),
        ),
    };
    let installed = tracing_subscriber::registry()
        .with(otel)
        .with(sql_spans)
        .with(human)
        .with(json)
        .try_init();
    if installed.is_ok() {
        tracing::info!(service = service_name, "telemetry ready");
        if let Some(provider) = &provider {
            opentelemetry::global::set_tracer_provider(provider.clone());
            EXPORTING_SPANS.store(true, Ordering::Relaxed);
        }
        TracingGuard { provider }
    } else {
        // Another subscriber is installed: this provider would never see a span.
        if let Some(provider) = provider {
            let _ = provider.shutdown();
        }
        TracingGuard::default()
    }
}

/// `RUST_LOG`, or `info` with the chatty dependencies at `warn`.
fn level_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER))
}
