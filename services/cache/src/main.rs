//! Starts the cache service. Configuration: see `config.rs` or docs/OPERATIONS.md.

use wellbeing_cache::{Application, CacheConfig};
use wellbeing_common::{shutdown::shutdown_signal, telemetry};

/// mimalloc rather than glibc malloc: allocation was 14 % of a cached read (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let log_format = telemetry::log_format_from_env()?;
    let _tracing = telemetry::init_with_tracing("cache", log_format)?;
    wellbeing_common::process::disable_transparent_huge_pages();
    let config = CacheConfig::from_env()?;
    Application::build(config)
        .await?
        .run_until_stopped(shutdown_signal())
        .await
}
