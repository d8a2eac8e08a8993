//! The cache service as a process of its own, configured from the environment like the real one
//! (`services/cache/src/main.rs`), for the fault test that kills it with SIGKILL: a server running
//! inside the test process can be stopped, but not killed.

use std::process::ExitCode;

use wellbeing_cache::{Application, CacheArgs, CacheConfig};
use wellbeing_common::{config, process, shutdown::shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let args = config::parse_or_exit::<CacheArgs>(wellbeing_cache::config::EMPTY_IS_A_VALUE);
    process::exit_code(run(args).await)
}

async fn run(args: CacheArgs) -> anyhow::Result<()> {
    wellbeing_common::telemetry::init("cache", args.telemetry.log_format);
    process::disable_transparent_huge_pages();
    Application::build(CacheConfig::from_args(&args)?)
        .await?
        .run_until_stopped(shutdown_signal())
        .await
}
