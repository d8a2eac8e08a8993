//! The built binary explains itself: `--help` lists every setting's variable, and a value that
//! cannot be used stops it at once with one line naming it.

use wellbeing_common::binary_checks::{assert_help_lists, assert_refuses};

const CACHE: &str = env!("CARGO_BIN_EXE_wellbeing-cache");

#[test]
fn the_cache_service_lists_its_variables() {
    assert_help_lists(
        CACHE,
        &[
            "CACHE_ADDR",
            "REDIS_URL",
            "CACHE_NAMESPACE",
            "CACHE_MEMORY_MAX_MB",
            "PROBE_ADDR",
            "TLS_CERT_FILE",
        ],
    );
}

#[test]
fn a_bad_value_stops_the_cache_service_naming_the_variable() {
    assert_refuses(CACHE, "CACHE_ADDR", "nonsense");
    assert_refuses(CACHE, "CACHE_TTL", "0");
}
