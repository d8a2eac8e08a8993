//! Starts the cache service. Settings: `wellbeing-cache --help`, `config.rs` or
//! docs/OPERATIONS.md.

use std::process::ExitCode;

use wellbeing_cache::{Application, CacheArgs, CacheConfig};
use wellbeing_common::{config, process, shutdown::shutdown_signal};

/// mimalloc rather than glibc malloc: allocation was 14 % of a cached read (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One worker thread: each call is a little work between two network waits, and with two
/// workers every hand-over woke the other one (cache CPU per write 33 -> 28 µs, per 60/40
/// request 22 -> 19 µs; docs/OPERATIONS.md). More load: more replicas. Not `current_thread`:
/// the span exporter's flush at exit blocks `main`, and the worker keeps its connection going.
#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> ExitCode {
    process::return_freed_memory_at_once();
    let args = config::parse_or_exit::<CacheArgs>(wellbeing_cache::config::EMPTY_IS_A_VALUE);
    process::exit_code(run(args).await)
}

async fn run(args: CacheArgs) -> anyhow::Result<()> {
    let _tracing = args.telemetry.init("cache")?;
    process::disable_transparent_huge_pages();
    Application::build(CacheConfig::from_args(&args)?)
        .await?
        .run_until_stopped(shutdown_signal())
        .await
}
