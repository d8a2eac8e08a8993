//! The built binary explains itself: `--help` lists every setting's variable (and the `migrate`
//! command), and a value that cannot be used stops it at once with one line naming it.

use std::process::Command;

use wellbeing_common::binary_checks::{assert_help_lists, assert_refuses};

const ANALYTICS: &str = env!("CARGO_BIN_EXE_wellbeing-analytics");

#[test]
fn analytics_lists_its_variables_and_commands() {
    assert_help_lists(
        ANALYTICS,
        &[
            "ANALYTICS_ADDR",
            "DATABASE_URL",
            "DB_MAX_CONNECTIONS",
            "RETENTION_DAYS",
            "METRICS_ADDR",
            "PROBE_ADDR",
            "INTERNAL_TLS",
            "LOG_FORMAT",
        ],
    );
    let help = Command::new(ANALYTICS)
        .arg("--help")
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&help.stdout).contains("migrate"));
}

#[test]
fn a_bad_value_stops_analytics_naming_the_variable() {
    assert_refuses(ANALYTICS, "ANALYTICS_ADDR", "nonsense");
    assert_refuses(ANALYTICS, "REFRESH_TOKEN_TTL_DAYS", "400");
    assert_refuses(ANALYTICS, "DB_STATEMENT_TIMEOUT_MS", "5s");
}
