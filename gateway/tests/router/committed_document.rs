//! The committed OpenAPI document (`clients/openapi.json`, from which the TypeScript SDK's types
//! are generated) must be byte for byte what `GET /openapi.json` serves, or the SDK is typed
//! against a contract the gateway no longer keeps.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::harness::harness;

const REGENERATE: &str = "cargo run -p wellbeing-gateway --bin openapi -- clients/openapi.json";

#[tokio::test]
async fn the_committed_document_is_the_served_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../clients/openapi.json");
    let committed = std::fs::read(path).unwrap_or_else(|error| {
        panic!("cannot read {path} ({error}); write it with: {REGENERATE}")
    });
    let request = Request::builder()
        .uri("/openapi.json")
        .body(Body::empty())
        .expect("request");
    let (status, _, served) = harness().raw_bytes(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        committed == served.as_ref(),
        "clients/openapi.json differs from the document the gateway serves; regenerate it with: \
         {REGENERATE} (then rebuild the SDK's types: npm run generate in clients/typescript)"
    );
}
