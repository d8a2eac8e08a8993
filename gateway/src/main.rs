//! Starts the gateway. Settings: `wellbeing-gateway --help`, `config.rs` or docs/OPERATIONS.md.

use std::process::ExitCode;

use wellbeing_common::{config, process, shutdown::shutdown_signal};
use wellbeing_gateway::{Application, GatewayArgs, GatewayConfig};

/// mimalloc rather than glibc malloc: allocation was 14 % of a cached read (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    process::return_freed_memory_at_once();
    let args = config::parse_or_exit::<GatewayArgs>(wellbeing_gateway::config::EMPTY_IS_A_VALUE);
    process::exit_code(run(args).await)
}

async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let _tracing = args.telemetry.init("gateway")?;
    Application::build(GatewayConfig::from_args(&args)?)
        .await?
        .run_until_stopped(shutdown_signal())
        .await
}
