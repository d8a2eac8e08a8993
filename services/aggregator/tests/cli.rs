//! The built binary explains itself: `--help` lists every setting's variable, and a value that
//! cannot be used stops it at once with one line naming it.

use wellbeing_common::binary_checks::{assert_help_lists, assert_refuses};

const AGGREGATOR: &str = env!("CARGO_BIN_EXE_wellbeing-aggregator");

#[test]
fn the_aggregator_lists_its_variables() {
    assert_help_lists(
        AGGREGATOR,
        &[
            "AGGREGATOR_ADDR",
            "DATABASE_URL",
            "WORKER_BATCH_SIZE",
            "PARTITIONS_AHEAD_MONTHS",
            "METRICS_ADDR",
            "INTERNAL_TLS",
        ],
    );
}

#[test]
fn a_bad_value_stops_the_aggregator_naming_the_variable() {
    assert_refuses(AGGREGATOR, "AGGREGATOR_ADDR", "nonsense");
    assert_refuses(AGGREGATOR, "WORKER_LEASE_MS", "5");
    assert_refuses(AGGREGATOR, "RETENTION_DAYS", "-1");
}
