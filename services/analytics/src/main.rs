//! Starts the analytics service. Configuration: see `config.rs` or docs/OPERATIONS.md.
//!
//! `wellbeing-analytics migrate` only applies the schema migrations and exits (the Kubernetes
//! migration Job and the run script use it); without an argument the service starts (and also
//! applies any migration not yet applied).

use anyhow::bail;
use wellbeing_analytics::{AnalyticsConfig, Application};
use wellbeing_common::{shutdown::shutdown_signal, telemetry};

/// mimalloc rather than glibc malloc: allocation was 14 % of a cached read (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let log_format = telemetry::log_format_from_env()?;
    let _tracing = telemetry::init_with_tracing("analytics", log_format)?;
    let config = AnalyticsConfig::from_env()?;
    match std::env::args().nth(1).as_deref() {
        None => {
            Application::build(config)
                .await?
                .run_until_stopped(shutdown_signal())
                .await
        }
        Some("migrate") => wellbeing_analytics::migrate(&config).await,
        Some(other) => bail!("unknown command `{other}`: the only command is `migrate`"),
    }
}
