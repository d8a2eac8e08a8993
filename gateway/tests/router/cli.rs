//! The built binaries explain themselves: `--help` lists every setting's variable, and a value
//! that cannot be used stops the gateway at once with one line naming it.

use wellbeing_common::binary_checks::{assert_help_lists, assert_refuses};

const GATEWAY: &str = env!("CARGO_BIN_EXE_wellbeing-gateway");

#[test]
fn the_gateway_lists_its_variables() {
    assert_help_lists(
        GATEWAY,
        &[
            "GATEWAY_ADDR",
            "ANALYTICS_URL",
            "JWT_SECRET",
            "RATE_LIMIT_PER_MINUTE",
            "CORS_ALLOWED_ORIGINS",
            "INTERNAL_TLS",
            "TLS_CA_FILE",
            "LOG_FORMAT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ],
    );
}

#[test]
fn a_bad_value_stops_the_gateway_naming_the_variable() {
    assert_refuses(GATEWAY, "GATEWAY_ADDR", "nonsense");
    assert_refuses(GATEWAY, "RATE_LIMIT_PER_MINUTE", "abc");
    assert_refuses(GATEWAY, "RATE_LIMIT_PER_MINUTE", "0");
    assert_refuses(GATEWAY, "VIEW_CACHE", "sometimes");
}

#[test]
fn the_document_writer_explains_itself() {
    assert_help_lists(env!("CARGO_BIN_EXE_openapi"), &[]);
}
