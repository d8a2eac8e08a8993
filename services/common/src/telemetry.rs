//! Logging set-up shared by every binary: `RUST_LOG` filter (default `info`), human-readable
//! lines by default and JSON lines with `LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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

/// Installs the global subscriber. Safe to call more than once (tests start several services in
/// one process): later calls keep the first subscriber.
pub fn init(service_name: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,fred=warn,h2=warn,tower=warn,hyper=warn")
    });
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Human => registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            )
            .try_init(),
    };
    if installed.is_ok() {
        tracing::info!(service = service_name, "telemetry ready");
    }
}

/// Reads `LOG_FORMAT` from the environment.
pub fn log_format_from_env() -> Result<LogFormat, crate::config::ConfigError> {
    crate::config::parsed(&crate::config::Env, "LOG_FORMAT", LogFormat::Human)
}
