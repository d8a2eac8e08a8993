//! The Grafana dashboard in deploy/observability only asks for series the gateway really serves.

use std::collections::BTreeSet;

use wellbeing_tests::{StackOptions, TestStack, daytime_zone};

/// Metric names in a PromQL expression: identifiers with an underscore that are not functions
/// (a function is followed by `(`).
fn metric_names(expression: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let characters: Vec<char> = expression.chars().collect();
    let mut index = 0;
    while index < characters.len() {
        if characters[index].is_ascii_alphabetic() || characters[index] == '_' {
            let start = index;
            while index < characters.len()
                && (characters[index].is_ascii_alphanumeric() || characters[index] == '_')
            {
                index += 1;
            }
            let word: String = characters[start..index].iter().collect();
            let next = characters.get(index).copied().unwrap_or(' ');
            if word.contains('_') && next != '(' {
                names.insert(word);
            }
        } else {
            index += 1;
        }
    }
    names
}

#[tokio::test]
async fn every_series_of_the_dashboard_is_served() -> anyhow::Result<()> {
    let dashboard: serde_json::Value = serde_json::from_str(include_str!(
        "../../deploy/observability/grafana-dashboard.json"
    ))?;
    let mut wanted = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            wanted.extend(metric_names(target["expr"].as_str().expect("expr")));
        }
    }
    assert!(wanted.len() >= 10, "{wanted:?}");

    // Every request counts as slow here, so the slow-request series exists too.
    let stack = TestStack::start_with(StackOptions {
        gateway_env: vec![("PERFORMANCE_THRESHOLD_MS".into(), "0".into())],
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    stack
        .api
        .get("/api/v1/analytics/quick-stats", Some(&user.access_token))
        .await?;
    let scrape = reqwest::get(stack.api.url("/metrics"))
        .await?
        .text()
        .await?;
    let served: BTreeSet<String> = scrape
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next().map(str::to_owned))
        .collect();
    // Counters that only appear once something happened (a slow request) are declared by a
    // HELP line even before their first sample.
    let declared: BTreeSet<String> = scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next().map(str::to_owned))
        .collect();
    let missing: Vec<_> = wanted
        .iter()
        .filter(|name| !served.contains(*name) && !declared.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard asks for series /metrics does not serve: {missing:?}"
    );
    stack.stop().await
}
