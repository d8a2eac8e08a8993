//! The tests crate's own binaries explain themselves: `--help` and `--version` answer, the
//! settings read from the environment are listed, and a bad one stops the binary with one line
//! naming it.

use wellbeing_common::binary_checks::{assert_help_lists, assert_refuses};

#[test]
fn the_tools_explain_themselves() {
    assert_help_lists(
        env!("CARGO_BIN_EXE_cache_process"),
        &["CACHE_ADDR", "REDIS_URL"],
    );
    assert_help_lists(
        env!("CARGO_BIN_EXE_drain_bench"),
        &["USERS", "EVENTS", "DAYS"],
    );
    assert_help_lists(env!("CARGO_BIN_EXE_load"), &[]);
    assert_help_lists(env!("CARGO_BIN_EXE_soak"), &[]);
}

#[test]
fn a_bad_setting_stops_them_naming_it() {
    assert_refuses(env!("CARGO_BIN_EXE_cache_process"), "CACHE_TTL", "abc");
    assert_refuses(env!("CARGO_BIN_EXE_drain_bench"), "DAYS", "500");
}
