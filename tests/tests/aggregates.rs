//! Day aggregates maintained by deltas are exact: random event streams for users in DST and
//! half-hour zones (cross-midnight intervals, repeated `event_id`s, late events for old days,
//! concurrent batches, the single-event endpoints, a timezone change, a write assuming the zone
//! from before a change, an erasure) leave the stored
//! aggregates equal to the aggregation of the raw records, and every view served through REST
//! equal to the view computed from raw, both before and after the aggregator's queues drain.

use chrono::{NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;
use wellbeing_domain::apps::apps_usage;
use wellbeing_domain::summary::daily_summary;
use wellbeing_domain::time;
use wellbeing_domain::weekly::weekly_summary_from_events;
use wellbeing_store::aggregates;
use wellbeing_tests::{Session, TestStack, exact};

/// DST zones on both hemispheres, half- and quarter-hour offsets.
const ZONES: [&str; 5] = [
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Australia/Adelaide",
    "Asia/Kathmandu",
    "Europe/London",
];

/// Days of history the random events fall in (the views compared cover them).
const HISTORY_DAYS: i64 = 13;

const APPS: [&str; 5] = ["Reader", "Chat", "Maps", "Mail", "Game"];

fn stamp(instant: chrono::DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A random event of a random kind within the last `HISTORY_DAYS` days, often across a local
/// midnight (intervals up to 10 hours), with a fresh `event_id` half of the time.
fn random_event(rng: &mut StdRng) -> Value {
    let now = Utc::now() - chrono::Duration::minutes(1);
    let start = now - chrono::Duration::minutes(rng.random_range(11 * 60..HISTORY_DAYS * 24 * 60));
    let minutes = f64::from(rng.random_range(1..1200)) / 2.0;
    let end = start + time::minutes_duration(minutes);
    let short = f64::from(rng.random_range(1..240)) / 2.0;
    let app = APPS[rng.random_range(0..APPS.len())];
    let category = ["social", "news"][rng.random_range(0..2)];
    let mut event = match rng.random_range(0..6) {
        0 => json!({"type": "screen-time", "app_name": app, "duration_minutes": short,
                     "category": category, "timestamp": stamp(start)}),
        1 => json!({"type": "session", "start_time": stamp(start), "end_time": stamp(end)}),
        2 => json!({"type": "focus-session", "start_time": stamp(start), "end_time": stamp(end),
                     "quality_score": rng.random_range(0..=100)}),
        3 => json!({"type": "break", "duration_minutes": short, "timestamp": stamp(start)}),
        4 => json!({"type": "notification", "app_name": app, "priority": rng.random_range(0..=100),
                     "was_interacted": rng.random_bool(0.4), "timestamp": stamp(start)}),
        _ => json!({"type": "distraction", "source": "phone", "severity": rng.random_range(1..=5),
                     "duration_seconds": rng.random_range(0..600), "timestamp": stamp(start)}),
    };
    if rng.random_bool(0.5) {
        event["event_id"] = json!(Uuid::new_v4());
    }
    event
}

/// An event of the last day and a half (within the recent week every home-screen view shows) of
/// a kind that changes only the days: screen time, a notification or a break.
fn recent_event(rng: &mut StdRng) -> Value {
    // Screen time and breaks of up to an hour must have ended by now.
    let start = Utc::now() - chrono::Duration::minutes(rng.random_range(61..36 * 60));
    let app = APPS[rng.random_range(0..APPS.len())];
    let minutes = f64::from(rng.random_range(1..120)) / 2.0;
    let mut event = match rng.random_range(0..3) {
        0 => json!({"type": "screen-time", "app_name": app, "duration_minutes": minutes,
                     "category": "social", "timestamp": stamp(start)}),
        1 => json!({"type": "notification", "app_name": app, "priority": rng.random_range(0..=100),
                     "was_interacted": rng.random_bool(0.4), "timestamp": stamp(start)}),
        _ => json!({"type": "break", "duration_minutes": minutes, "timestamp": stamp(start)}),
    };
    event["event_id"] = json!(Uuid::new_v4());
    event
}

/// Screen time starting shortly before a local midnight of the last days (so it is split).
fn across_midnight(rng: &mut StdRng, timezone: Tz) -> Value {
    let today = time::local_date(Utc::now(), timezone);
    let day = today - chrono::Duration::days(rng.random_range(1..HISTORY_DAYS));
    let midnight = time::day_range(day, timezone).0;
    let start = midnight - chrono::Duration::minutes(rng.random_range(1..50));
    json!({"type": "screen-time", "app_name": APPS[rng.random_range(0..APPS.len())],
           "duration_minutes": rng.random_range(55..120), "timestamp": stamp(start),
           "event_id": Uuid::new_v4()})
}

/// Sends one event through its own endpoint (`/track/<type>`).
async fn send_single(stack: &TestStack, user: &Session, event: &Value) -> anyhow::Result<()> {
    let mut body = event.clone();
    let kind = body
        .as_object_mut()
        .and_then(|fields| fields.remove("type"))
        .and_then(|kind| kind.as_str().map(str::to_owned))
        .expect("an event has a type");
    let path = format!("/api/v1/analytics/track/{kind}");
    let answer = stack
        .api
        .post(&path, &body, Some(&user.access_token))
        .await?;
    anyhow::ensure!(
        matches!(answer.status, 200 | 201),
        "{path} refused: {answer:?}"
    );
    Ok(())
}

/// How many recent weeks analytics brought over its own writes (its metrics).
async fn recent_days_carried(stack: &TestStack) -> anyhow::Result<u64> {
    let (_, addr) = stack
        .metrics_addrs
        .iter()
        .find(|(service, _)| service == "analytics-0")
        .ok_or_else(|| anyhow::anyhow!("analytics serves no metrics"))?;
    let scrape = reqwest::get(format!("http://{addr}/metrics"))
        .await?
        .text()
        .await?;
    let line = scrape
        .lines()
        .find_map(|line| line.strip_prefix("wellbeing_analytics_recent_days_carried_total "))
        .ok_or_else(|| anyhow::anyhow!("no carried count in {scrape}"))?;
    Ok(line.trim().parse()?)
}

/// Every view compared through REST with its computation from raw records.
async fn assert_views_exact(
    stack: &TestStack,
    pool: &sqlx::PgPool,
    user: &Session,
    timezone: Tz,
) -> anyhow::Result<()> {
    let user_id = Uuid::parse_str(&user.user_id)?;
    let token = Some(user.access_token.as_str());
    let today = time::local_date(Utc::now(), timezone);
    let raw_of = |first: NaiveDate, last: NaiveDate| {
        wellbeing_store::events::between(
            pool,
            user_id,
            time::day_range(first, timezone).0,
            time::day_range(last, timezone).1,
        )
    };
    for back in 0..=HISTORY_DAYS {
        let day = today - chrono::Duration::days(back);
        let raw = raw_of(day, day).await?;
        let answer = stack
            .api
            .get(
                &format!("/api/v1/analytics/summary/daily?date={day}"),
                token,
            )
            .await?;
        assert_eq!(
            answer.json["data"],
            serde_json::to_value(daily_summary(day, timezone, &raw))?,
            "daily {day} in {timezone}"
        );
    }
    for end in [today, today - chrono::Duration::days(7)] {
        let raw = raw_of(end - chrono::Duration::days(6), end).await?;
        let answer = stack
            .api
            .get(
                &format!("/api/v1/analytics/summary/weekly?end_date={end}"),
                token,
            )
            .await?;
        assert_eq!(
            answer.json["data"],
            serde_json::to_value(weekly_summary_from_events(end, timezone, &raw))?,
            "weekly ending {end} in {timezone}"
        );
    }
    for days in [1, 7, 14] {
        let first = today - chrono::Duration::days(days - 1);
        let raw = raw_of(first, today).await?;
        let answer = stack
            .api
            .get(&format!("/api/v1/analytics/apps/usage?days={days}"), token)
            .await?;
        assert_eq!(
            answer.json["data"],
            serde_json::to_value(apps_usage(first, today, timezone, &raw.screen_time))?,
            "apps over {days} days in {timezone}"
        );
    }
    Ok(())
}

/// Changes the user's timezone through the API; returns the new zone.
async fn change_zone(stack: &TestStack, user: &Session, zone: &str) -> anyhow::Result<Tz> {
    let answer = stack
        .api
        .patch(
            "/api/v1/auth/me",
            &json!({ "timezone": zone }),
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(answer.status, 200, "{answer:?}");
    Ok(time::parse_timezone(zone).expect("a zone"))
}

/// A user's history: a batch of random events and events across midnights, single events, the
/// batch again (nothing added), then half of it with new events.
async fn write_history(
    stack: &TestStack,
    user: &Session,
    timezone: Tz,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let mut events: Vec<Value> = (0..150).map(|_| random_event(rng)).collect();
    events.extend((0..6).map(|_| across_midnight(rng, timezone)));
    stack.api.track_batch(&user.access_token, &events).await?;
    for _ in 0..12 {
        send_single(stack, user, &random_event(rng)).await?;
    }
    stack.api.track_batch(&user.access_token, &events).await?;
    let mut mixed: Vec<Value> = events.iter().step_by(2).cloned().collect();
    mixed.extend((0..20).map(|_| random_event(rng)));
    stack.api.track_batch(&user.access_token, &mixed).await?;
    Ok(())
}

async fn assert_all_exact(
    stack: &TestStack,
    pool: &sqlx::PgPool,
    users: &[(Session, Tz)],
) -> anyhow::Result<usize> {
    let mut days = 0;
    for (user, timezone) in users {
        days += exact::assert_aggregates_exact(
            pool,
            Uuid::parse_str(&user.user_id)?,
            *timezone,
            HISTORY_DAYS + 2,
        )
        .await?;
        assert_views_exact(stack, pool, user, *timezone).await?;
    }
    Ok(days)
}

#[tokio::test]
async fn aggregates_and_views_equal_the_raw_computation_through_random_streams()
-> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let mut rng = StdRng::seed_from_u64(20261205);
    let mut users = Vec::new();
    for zone in ZONES {
        let timezone = time::parse_timezone(zone).expect("a zone");
        users.push((stack.api.register_and_login(zone).await?, timezone));
    }

    // Round 1: batches, events across midnights, single-event endpoints.
    for (user, timezone) in &users {
        write_history(&stack, user, *timezone, &mut rng).await?;
    }
    let days = assert_all_exact(&stack, &pool, &users).await?;
    assert!(days >= 50, "5 users over about 13 days: {days}");

    // Round 1b: writes between reads. Each read keeps the user's recent week in analytics, and
    // each write brings it up to date there rather than having it read again: single events,
    // small batches with repeats and events across midnight, all exact at every step.
    let carried_before = recent_days_carried(&stack).await?;
    for (user, timezone) in &users {
        let mut sent: Vec<Value> = Vec::new();
        for step in 0..6 {
            let event = random_event(&mut rng);
            if step % 2 == 0 {
                send_single(&stack, user, &event).await?;
                sent.push(event);
            } else {
                let new = [event, across_midnight(&mut rng, *timezone)];
                let mut batch = new.to_vec();
                // Repeats of earlier events: a day with both adds nothing by a delta (marked).
                batch.extend(sent.iter().rev().take(2).cloned());
                stack.api.track_batch(&user.access_token, &batch).await?;
                sent.extend(new);
            }
            assert_views_exact(&stack, &pool, user, *timezone).await?;
        }
    }
    let carried = recent_days_carried(&stack).await? - carried_before;
    assert!(
        carried >= 10,
        "the writes between reads were brought into the kept weeks: {carried}"
    );

    // Round 1c: many writes between two reads, each brought over the week the one before it
    // brought over: first three, then twenty. None is a focus session (a week is not brought
    // over one: the next read reads the week again).
    let carried_before = recent_days_carried(&stack).await?;
    for (user, timezone) in &users {
        for writes in [3, 20] {
            for step in 0..writes {
                if step % 5 == 4 {
                    let batch = [recent_event(&mut rng), across_midnight(&mut rng, *timezone)];
                    stack.api.track_batch(&user.access_token, &batch).await?;
                } else {
                    send_single(&stack, user, &recent_event(&mut rng)).await?;
                }
            }
            assert_views_exact(&stack, &pool, user, *timezone).await?;
        }
    }
    let carried = recent_days_carried(&stack).await? - carried_before;
    assert!(
        carried >= 100,
        "the writes without reads between them were brought over too: {carried}"
    );

    // Round 2: concurrent batches of one user (overlapping days, some shared event ids) and
    // late events for the oldest days.
    for (user, _) in &users {
        let shared: Vec<Value> = (0..10)
            .map(|_| {
                let mut event = random_event(&mut rng);
                event["event_id"] = json!(Uuid::new_v4());
                event
            })
            .collect();
        let batches: Vec<Vec<Value>> = (0..4)
            .map(|_| {
                let mut batch: Vec<Value> = (0..30).map(|_| random_event(&mut rng)).collect();
                batch.extend(shared.iter().cloned());
                batch
            })
            .collect();
        let mut sends = tokio::task::JoinSet::new();
        for batch in batches {
            let (api, token) = (stack.api.clone(), user.access_token.clone());
            sends.spawn(async move {
                let path = "/api/v1/analytics/track/batch";
                let body = json!({"events": batch});
                api.post(path, &body, Some(&token)).await
            });
        }
        while let Some(sent) = sends.join_next().await {
            let answer = sent??;
            anyhow::ensure!(answer.status == 201, "batch refused: {answer:?}");
        }
    }
    assert_all_exact(&stack, &pool, &users).await?;
    exact::drain(&stack).await?;
    assert_all_exact(&stack, &pool, &users).await?;

    // Round 3: a timezone change. Reads are exact at once (from raw while the rebuild is
    // pending), and the rebuilt aggregates are exact in the new zone.
    let (changed, _) = users[0].clone();
    users[0].1 = change_zone(&stack, &changed, "Asia/Kathmandu").await?;
    stack
        .api
        .track_batch(
            &changed.access_token,
            &(0..30).map(|_| random_event(&mut rng)).collect::<Vec<_>>(),
        )
        .await?;
    assert_views_exact(&stack, &pool, &users[0].0, users[0].1).await?;
    exact::drain(&stack).await?;
    let changed_id = Uuid::parse_str(&changed.user_id)?;
    let zones = aggregates::zones(&pool, changed_id)
        .await?
        .expect("the user");
    assert_eq!(zones.aggregates_timezone.as_deref(), Some("Asia/Kathmandu"));
    assert_all_exact(&stack, &pool, &users).await?;

    // Round 3b: a write that assumes the zone from before a change whose rebuild is already
    // done (a write takes any zone seen for the user as its guess, and this one was changed
    // with no write since): the days its events fall on in the stored zone are marked, so the
    // aggregates and views stay exact before the aggregator recomputes anything.
    users[0].1 = change_zone(&stack, &changed, "Europe/London").await?;
    exact::drain(&stack).await?;
    let zones = aggregates::zones(&pool, changed_id)
        .await?
        .expect("the user");
    assert_eq!(zones.aggregates_timezone.as_deref(), Some("Europe/London"));
    // Evenings in London: the next day in Kathmandu (5:45 ahead), so the days the statement
    // marks in the guessed zone are not the days the events are on.
    let evenings: Vec<Value> = [2, 4, 6]
        .iter()
        .map(|back| {
            let day = time::local_date(Utc::now(), users[0].1) - chrono::Duration::days(*back);
            let at = time::day_range(day, users[0].1).0 + chrono::Duration::hours(21);
            json!({"type": "notification", "app_name": "Chat", "priority": 10,
                   "was_interacted": true, "timestamp": stamp(at)})
        })
        .collect();
    stack
        .api
        .track_batch(&changed.access_token, &evenings)
        .await?;
    assert_all_exact(&stack, &pool, &users).await?;
    exact::drain(&stack).await?;
    assert_all_exact(&stack, &pool, &users).await?;

    // Round 4: an erasure leaves no aggregate, mark or rebuild of the user.
    let (erased, _) = users.pop().expect("users");
    let answer = stack
        .api
        .delete("/api/v1/me", Some(&erased.access_token))
        .await?;
    assert_eq!(answer.status, 204, "{answer:?}");
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM day_aggregates WHERE user_id = $1)
              + (SELECT count(*) FROM day_app_aggregates WHERE user_id = $1)
              + (SELECT count(*) FROM dirty_days WHERE user_id = $1)
              + (SELECT count(*) FROM aggregate_rebuilds WHERE user_id = $1)",
    )
    .bind(Uuid::parse_str(&erased.user_id)?)
    .fetch_one(&pool)
    .await?;
    assert_eq!(left, 0, "the erased user's aggregates are gone");
    assert_all_exact(&stack, &pool, &users).await?;
    pool.close().await;
    stack.stop().await
}

/// With `VIEW_CACHE=off` analytics keeps no recent week, so each view reads its own days (and a
/// view of days alone has a statement of its own): the same numbers as from raw records, today
/// and the week ending today included, also right after writes.
#[tokio::test]
async fn views_without_a_kept_week_equal_the_raw_computation() -> anyhow::Result<()> {
    let stack = TestStack::start_with(wellbeing_tests::StackOptions {
        analytics_env: vec![("VIEW_CACHE".into(), "off".into())],
        ..Default::default()
    })
    .await?;
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let mut rng = StdRng::seed_from_u64(20261207);
    for zone in ["Australia/Adelaide", "America/New_York"] {
        let timezone = time::parse_timezone(zone).expect("a zone");
        let user = stack.api.register_and_login(zone).await?;
        write_history(&stack, &user, timezone, &mut rng).await?;
        assert_views_exact(&stack, &pool, &user, timezone).await?;
        for _ in 0..3 {
            send_single(&stack, &user, &recent_event(&mut rng)).await?;
            assert_views_exact(&stack, &pool, &user, timezone).await?;
        }
    }
    Ok(())
}
