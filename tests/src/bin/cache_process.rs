//! The cache service as a process of its own, configured from the environment like the real one
//! (`services/cache/src/main.rs`), for the fault test that kills it with SIGKILL: a server running
//! inside the test process can be stopped, but not killed.

use wellbeing_cache::{Application, CacheConfig};
use wellbeing_common::{shutdown::shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("cache", telemetry::log_format_from_env()?);
    wellbeing_common::process::disable_transparent_huge_pages();
    Application::build(CacheConfig::from_env()?)
        .await?
        .run_until_stopped(shutdown_signal())
        .await
}
