//! Starts the analytics service. Settings: `wellbeing-analytics --help`, `config.rs` or
//! docs/OPERATIONS.md.
//!
//! `wellbeing-analytics migrate` only applies the schema migrations and exits (the Kubernetes
//! migration Job and the run script use it); without a command the service starts (and also
//! applies any migration not yet applied, unless `MIGRATE_AT_START=off`).

use std::process::ExitCode;

use wellbeing_analytics::{AnalyticsArgs, AnalyticsCommand, AnalyticsConfig, Application};
use wellbeing_common::{config, process, shutdown::shutdown_signal};

/// mimalloc rather than glibc malloc: allocation was 14 % of a cached read (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    process::return_freed_memory_at_once();
    let args = config::parse_or_exit::<AnalyticsArgs>(&[]);
    process::exit_code(run(args).await)
}

async fn run(args: AnalyticsArgs) -> anyhow::Result<()> {
    let _tracing = args.telemetry.init("analytics")?;
    process::disable_transparent_huge_pages();
    let config = AnalyticsConfig::from_args(&args)?;
    match args.command {
        None => {
            Application::build(config)
                .await?
                .run_until_stopped(shutdown_signal())
                .await
        }
        Some(AnalyticsCommand::Migrate) => wellbeing_analytics::migrate(&config).await,
    }
}
