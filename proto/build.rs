//! Compiles every `.proto` of the workspace with protox (pure Rust, no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "wellbeing/analytics/v1/analytics.proto",
        "wellbeing/cache/v1/cache.proto",
        "wellbeing/aggregator/v1/aggregator.proto",
    ];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let file_descriptors = protox::compile(protos, ["."])?;
    tonic_prost_build::configure()
        .bytes(".")
        .compile_fds(file_descriptors)?;
    Ok(())
}
