//! The Grafana dashboard in deploy/observability only asks for series the stack really serves
//! (the gateway's /metrics and each gRPC service's own), each service counts its own calls, and
//! no figure is served by two kinds of process (a gateway repeating the services' figures would
//! give Prometheus each of them once per gateway replica). deploy/local/prometheus-test.sh runs
//! the dashboard's queries in a real Prometheus.

use std::collections::BTreeSet;

use wellbeing_tests::{StackOptions, TestStack, daytime_zone};

/// Metric names in a PromQL expression: identifiers with an underscore that are neither
/// functions (followed by `(`) nor Grafana variables (after `$`, e.g. `$__rate_interval`).
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
            let variable = start > 0 && characters[start - 1] == '$';
            if word.contains('_') && next != '(' && !variable {
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

/// The metric names a scrape declares (its `# TYPE` lines).
fn declared_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next().map(str::to_owned))
        .collect()
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
    let mut scrape = reqwest::get(stack.api.url("/metrics"))
        .await?
        .text()
        .await?;
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
    let declared = declared_names(&scrape);
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
    assert!(
        analytics.contains("wellbeing_db_pool_max_connections "),
        "{analytics}"
    );
    // What the recent weeks take against their bound (the weeks' own figures lag by moka's
    // upkeep, so only their presence is certain here).
    for gauge in ["kept", "kept_bytes", "max_bytes"] {
        let name = format!("wellbeing_analytics_recent_days_{gauge} ");
        assert!(analytics.contains(&name), "{name} in {analytics}");
    }
    let cache = &scrapes["cache"];
    assert!(
        cache.contains(r#"grpc_server_handled_total{grpc_service="wellbeing.cache.v1.Cache",grpc_method="Get",grpc_code="OK"}"#),
        "{cache}"
    );
    assert!(cache.contains("wellbeing_cache_misses_total 1"), "{cache}");
    let aggregator = &scrapes["aggregator"];
    assert!(
        aggregator.contains("wellbeing_aggregator_queue_depth ")
            && aggregator.contains("wellbeing_db_pool_connections "),
        "{aggregator}"
    );
    // No series carries a user id, an email or an app name.
    for text in scrapes.values() {
        assert!(!text.contains(&user.user_id) && !text.contains(&user.email));
    }

    // One name per figure, served by one kind of process: the gateway only its own, and the
    // services share only the gRPC series and the pool's (which the job tells apart).
    let gateway = reqwest::get(stack.api.url("/metrics"))
        .await?
        .text()
        .await?;
    scrapes.insert("gateway".to_owned(), gateway);
    let mut served_by = std::collections::BTreeMap::<String, BTreeSet<&str>>::new();
    for (process, text) in &scrapes {
        for name in declared_names(text) {
            served_by.entry(name).or_default().insert(process.as_str());
        }
    }
    let shared: Vec<_> = served_by
        .iter()
        .filter(|(name, processes)| {
            processes.len() > 1
                && !name.starts_with("grpc_server_")
                && !name.starts_with("wellbeing_db_pool_")
        })
        .collect();
    assert!(shared.is_empty(), "served by several processes: {shared:?}");
    assert_eq!(
        served_by["wellbeing_db_pool_connections"],
        BTreeSet::from(["aggregator", "analytics-0"])
    );
    stack.stop().await
}
