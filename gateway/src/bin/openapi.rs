//! Writes the OpenAPI document exactly as `GET /openapi.json` serves it, to the path given as the
//! first argument or to standard output. The committed copy, `clients/openapi.json`, is written
//! with `cargo run -p wellbeing-gateway --bin openapi -- clients/openapi.json`; the SDK's types
//! are generated from it and a gateway test fails when it drifts from the served document.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Writes the gateway's OpenAPI document, exactly as `GET /openapi.json` serves it.
#[derive(Parser)]
#[command(
    name = "openapi",
    version,
    after_help = "Reads no environment variable."
)]
struct Args {
    /// Where to write it (e.g. clients/openapi.json) [default: standard output]
    path: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let document = wellbeing_gateway::openapi::json();
    match Args::parse().path {
        Some(path) => std::fs::write(&path, &document)
            .with_context(|| format!("failed to write {}", path.display())),
        None => std::io::stdout()
            .lock()
            .write_all(&document)
            .context("failed to write the document to standard output"),
    }
}
