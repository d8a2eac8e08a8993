//! The Grafana dashboard in deploy/observability only asks for series the stack really serves
//! (the gateway's /metrics and each gRPC service's own), and each service counts its own calls.

use std::collections::BTreeSet;

use wellbeing_tests::{StackOptions, TestStack, daytime_zone};

/// Metric names in a PromQL expression: identifiers with an underscore that are not functions
/// (a function is followed by `(`).
fn metric_names(expression: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let characters: Vec<char> = without_labels(expression).chars().collect();
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

/// The expression without label names: `{...}` matchers and `by (...)` / `without (...)` lists.
fn without_labels(expression: &str) -> String {
    let mut kept = String::new();
    let mut rest = expression;
    while let Some(start) = rest.find(['{', '(']) {
        let (before, from) = rest.split_at(start);
        let closing = if from.starts_with('{') { '}' } else { ')' };
        let grouping = from.starts_with('(')
            && (before.trim_end().ends_with(" by") || before.trim_end().ends_with(" without"));
        if from.starts_with('{') || grouping {
            kept.push_str(before);
            kept.push(' ');
            rest = from.find(closing).map_or("", |end| &from[end + 1..]);
        } else {
            kept.push_str(before);
            kept.push('(');
            rest = &from[1..];
        }
    }
    kept.push_str(rest);
    kept
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
    // The upstreams' figures are gathered in the background: wait for the first complete one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut scrape = String::new();
    while std::time::Instant::now() < deadline {
        scrape = reqwest::get(stack.api.url("/metrics"))
            .await?
            .text()
            .await?;
        let gathered = ["cache", "db_pool", "aggregator"]
            .iter()
            .all(|upstream| scrape.contains(&format!("wellbeing_{upstream}_up 1")));
        if gathered {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for (_, addr) in &stack.metrics_addrs {
        scrape.push_str(
            &reqwest::get(format!("http://{addr}/metrics"))
                .await?
                .text()
                .await?,
        );
    }
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

/// Each gRPC service serves its own calls, by method and code, and its own figures.
#[tokio::test]
async fn every_grpc_service_counts_its_own_calls() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    let read = stack
        .api
        .get("/api/v1/analytics/quick-stats", Some(&user.access_token))
        .await?;
    assert_eq!(read.status, 200, "{read:?}");
    let refused = stack
        .api
        .get(
            "/api/v1/analytics/summary/daily?date=2026-02-30",
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(refused.status, 422, "{refused:?}");
    let aggregator = reqwest::get(stack.api.url("/health")).await?;
    assert!(aggregator.status().is_success() || aggregator.status().as_u16() == 503);

    let mut scrapes = std::collections::HashMap::new();
    for (service, addr) in &stack.metrics_addrs {
        let answer = reqwest::get(format!("http://{addr}/metrics")).await?;
        assert_eq!(answer.status(), 200, "{service}");
        scrapes.insert(service.clone(), answer.text().await?);
    }
    let analytics = &scrapes["analytics-0"];
    let quick = r#"grpc_server_handled_total{grpc_service="wellbeing.analytics.v1.Analytics",grpc_method="QuickStats",grpc_code="OK"} 1"#;
    assert!(analytics.contains(quick), "{analytics}");
    assert!(
        analytics.contains(r#"grpc_method="RegisterUser",grpc_code="OK"} 1"#),
        "{analytics}"
    );
    assert!(analytics.contains("db_pool_connections "), "{analytics}");
    let cache = &scrapes["cache"];
    assert!(
        cache.contains(r#"grpc_server_handled_total{grpc_service="wellbeing.cache.v1.Cache",grpc_method="Get",grpc_code="OK"}"#),
        "{cache}"
    );
    assert!(cache.contains("cache_misses_total 1"), "{cache}");
    let aggregator = &scrapes["aggregator"];
    assert!(
        aggregator.contains("aggregator_queue_depth "),
        "{aggregator}"
    );
    // No series carries a user id, an email or an app name.
    for text in scrapes.values() {
        assert!(!text.contains(&user.user_id) && !text.contains(&user.email));
    }
    stack.stop().await
}
