//! The load tool of issue 9: seeds realistic synthetic data through the batch API, then drives
//! the REST API with concurrent clients for a bounded time per scenario, and prints p50/p90/p99
//! and req/s per scenario (also as JSON), each as a ratio to baselines measured in the same run.
//!
//! ```sh
//! cargo run --release -p wellbeing-tests --bin load                       # own stack, 100k events
//! cargo run --release -p wellbeing-tests --bin load -- --large-events 10000000
//! cargo run --release -p wellbeing-tests --bin load -- --url http://127.0.0.1:8080
//! cargo run --release -p wellbeing-tests --bin load -- --only phone      # the phone mixes alone
//! ```
//!
//! See docs/PERFORMANCE.md for the figures and what each scenario does.

mod args;
mod cpu_split;
mod driver;
mod memory;
mod plan;
mod report;
mod scenarios;
mod seed;
mod stacks;

use clap::Parser;

/// mimalloc rather than glibc malloc: allocation was 14 % of a cached read (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RUST_LOG", "error") };
    }
    let args = args::Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(plan::run(args))
}
