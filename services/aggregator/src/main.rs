//! Starts the aggregation worker. Settings: `wellbeing-aggregator --help`, `config.rs` or
//! docs/OPERATIONS.md.

use std::process::ExitCode;

use wellbeing_aggregator::{AggregatorArgs, AggregatorConfig, Application};
use wellbeing_common::{config, process, shutdown::shutdown_signal};

/// mimalloc rather than glibc malloc: allocation was 14 % of a cached read (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    process::return_freed_memory_at_once();
    let args = config::parse_or_exit::<AggregatorArgs>(&[]);
    process::exit_code(run(args).await)
}

async fn run(args: AggregatorArgs) -> anyhow::Result<()> {
    let _tracing = args.telemetry.init("aggregator")?;
    Application::build(AggregatorConfig::from_args(&args)?)
        .await?
        .run_until_stopped(shutdown_signal())
        .await
}
