//! `/metrics` does not let the internet make the system work or read its internals: the
//! upstreams' figures are gathered in the background (scrapes never reach the aggregator, whose
//! `Status` reads PostgreSQL), the API's address answers only clients in
//! `METRICS_ALLOWED_NETWORKS` (seen through trusted proxies as the limits see them), and the
//! admin address `METRICS_ADDR` serves the same answers to whoever can reach it.

use std::time::{Duration, Instant};

use wellbeing_tests::{StackOptions, TestStack};

/// Calls of the aggregator's `Status` so far, from its own metrics.
async fn status_calls(stack: &TestStack) -> anyhow::Result<u64> {
    let (_, addr) = stack
        .metrics_addrs
        .iter()
        .find(|(name, _)| name == "aggregator")
        .expect("the aggregator's metrics");
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|line| {
            line.starts_with("grpc_server_handled_total{")
                && line.contains(r#"grpc_method="Status""#)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

#[tokio::test]
async fn metrics_are_gathered_in_the_background_and_served_to_allowed_clients_only()
-> anyhow::Result<()> {
    let stack = TestStack::start_with(StackOptions {
        gateway_env: vec![
            ("METRICS_ALLOWED_NETWORKS".into(), "10.9.0.0/16".into()),
            ("TRUSTED_PROXIES".into(), "127.0.0.1/32".into()),
            ("METRICS_ADDR".into(), "127.0.0.1:0".into()),
            ("METRICS_REFRESH_MS".into(), "1000".into()),
        ],
        ..Default::default()
    })
    .await?;
    let api = &stack.api;

    // The API's address: loopback is not in the list; a client the trusted proxy forwarded for
    // is, or is not; a header from that client itself would not count (it is the proxy's).
    let direct = api.get("/metrics", None).await?;
    assert_eq!(direct.status, 403, "{direct:?}");
    assert_eq!(direct.json["code"], "forbidden");
    let forwarded = async |client: &str| {
        api.send(
            reqwest::Method::GET,
            "/metrics?format=json",
            None,
            None,
            &[("x-forwarded-for", client)],
        )
        .await
    };
    let outsider = forwarded("203.0.113.7").await?;
    assert_eq!(outsider.status, 403, "{outsider:?}");
    let allowed = forwarded("10.9.4.2").await?;
    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert!(allowed.json["requests"]["total_requests"].is_number());

    // The admin address: the same answers, to whoever reaches it. The text is the gateway's own
    // series; the summary has the upstreams' figures once the background gathering has reached
    // every upstream (it retries until then).
    let admin = stack.gateway_metrics_addr.expect("METRICS_ADDR bound");
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await?
        .text()
        .await?;
    assert!(text.contains("http_requests_total{"), "{text}");
    assert!(!text.contains("wellbeing_aggregator_"), "{text}");
    let summary_url = format!("http://{admin}/metrics?format=json");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut summary = serde_json::Value::Null;
    while Instant::now() < deadline {
        summary = reqwest::get(&summary_url).await?.json().await?;
        if summary["aggregator"]["up"] == true && summary["cache"]["up"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(summary["aggregator"]["up"], true, "{summary}");
    assert!(summary["upstream_figures_age_seconds"].is_number());

    // 200 summaries cost the aggregator at most one Status per second of asking, not 200.
    let before = status_calls(&stack).await?;
    let started = Instant::now();
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let answer = client.get(&summary_url).send().await?;
        assert_eq!(answer.status(), 200);
        answer.bytes().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = status_calls(&stack).await?;
    let bound = seconds.ceil() as u64 + 1;
    println!(
        "200 summaries in {seconds:.2} s: {} Status call(s) to the aggregator (bound {bound})",
        after - before
    );
    assert!(
        after - before <= bound,
        "{} Status calls for 200 summaries in {seconds:.2} s",
        after - before
    );
    stack.stop().await
}
