//! The order of a run: stacks, users and seeding, then each data size's scenarios, the report.

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use crate::args::Args;
use crate::memory;
use crate::report::{self, Target};
use crate::scenarios::{BASELINES, Bench, PHONE, READS};
use crate::seed::{self, EVENTS_PER_DAY, User};
use crate::stacks::Targets;

/// Users seeded with `days` days each to store about `events` events.
fn users_for(events: u64, days: u32) -> usize {
    (events as f64 / (f64::from(days.max(1)) * EVENTS_PER_DAY)).ceil() as usize
}

/// `123456` -> `123k`, `10234567` -> `10.2M`.
fn size_label(events: u64) -> String {
    if events >= 1_000_000 {
        format!("{:.1}M", events as f64 / 1e6)
    } else {
        format!("{}k", events / 1000)
    }
}

fn sample(users: &[User], count: usize, seed: u64) -> Vec<User> {
    let mut users = users.to_vec();
    users.shuffle(&mut StdRng::seed_from_u64(seed));
    users.truncate(count.max(1));
    users
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut targets = match &args.url {
        Some(url) => Targets::remote(url.clone(), args.uncached_url.clone()),
        None => {
            eprintln!("starting the stack in this process (cached + VIEW_CACHE=off gateways)");
            Targets::in_process().await?
        }
    };
    let load_at_start = report::load_average();
    eprintln!(
        "machine: {} (load average {load_at_start})",
        report::machine()
    );

    let mut bench = Bench::new(&args);
    let mut users: Vec<User> = Vec::new();
    let mut seeding = Vec::new();
    let mut sizes = Vec::new();
    let mut stored = 0u64;
    let mut small = String::new();

    // First data size (skipped when `--only` names none of its scenarios, e.g. `--only phone`).
    if wants_first_size(&args) {
        let count = users_for(args.events, args.days);
        eprintln!("registering {count} users, {} days each", args.days);
        users = seed::register(&targets.api, count, 0).await?;
        let seeded = seed::seed(
            &targets.cached,
            &users,
            args.days,
            args.batch_size,
            args.batch_connections,
            args.seed,
        )
        .await?;
        eprintln!("seeded {}", seeded.describe());
        seeding.push(json!({"events": seeded.events, "seconds": seeded.seconds}));
        let ingest_users = seed::register(&targets.api, 64, count).await?;
        let fresh_users = register_daytime(&targets, 8).await?;
        let drained = targets.drain(Duration::from_secs(600)).await?;
        eprintln!("aggregator drained the backlog in {drained:.1} s");

        stored = targets
            .stored_events()
            .await?
            .unwrap_or(seeded.events as i64) as u64;
        bench.size = size_label(stored);
        sizes.push(json!({"label": bench.size, "events_stored": stored}));
        println!("{}", report::header());
        let readers = sample(&users, args.read_users, args.seed);
        phase_reads(&mut bench, &targets, &readers).await?;
        if args.wants("ingest") {
            bench.ingest_single(&targets.cached, &ingest_users).await?;
            bench.ingest_batch(&targets.cached, &ingest_users).await?;
            targets.drain(Duration::from_secs(600)).await?;
        }
        if args.wants("mixed") {
            bench.mixed(&targets.api, &targets.cached, &readers).await?;
        }
        if args.wants("freshness") {
            bench.freshness(&targets.cached, &fresh_users).await?;
        }
        small = bench.size.clone();
    }

    // The phone mixes, on users of their own.
    let mut memory_targets = Vec::new();
    if PHONE.iter().any(|(name, ..)| args.wants(name)) {
        (stored, memory_targets) =
            phase_phone(&mut bench, &targets, stored, &mut seeding, &mut sizes).await?;
    }

    // Second data size: more users, each with a longer history.
    let mut large = None;
    stored = targets.stored_events().await?.unwrap_or(stored as i64) as u64;
    if args.large_events > stored {
        let count = users_for(args.large_events - stored, args.large_days);
        eprintln!(
            "registering {count} more users, {} days each",
            args.large_days
        );
        let more = seed::register(&targets.api, count, users.len() + 64).await?;
        let seeded = seed::seed(
            &targets.cached,
            &more,
            args.large_days,
            args.batch_size,
            args.batch_connections,
            args.seed + 1,
        )
        .await?;
        eprintln!(
            "seeded {} more events in {:.1} s ({:.0} events/s)",
            seeded.events,
            seeded.seconds,
            seeded.events as f64 / seeded.seconds
        );
        seeding.push(json!({"events": seeded.events, "seconds": seeded.seconds}));
        users.extend(more);
        targets.add_workers(2).await?;
        let drained = targets.drain(Duration::from_secs(3600)).await?;
        eprintln!("aggregator drained the backlog in {drained:.1} s");
        stored = targets
            .stored_events()
            .await?
            .unwrap_or(stored as i64 + seeded.events as i64) as u64;
        bench.size = size_label(stored);
        sizes.push(json!({"label": bench.size, "events_stored": stored}));
        let mut readers = sample(&users, args.read_users, args.seed + 1);
        seed::refresh(&targets.api, &mut readers).await?;
        println!("{}", report::header());
        phase_reads(&mut bench, &targets, &readers).await?;
        large = Some(bench.size.clone());
    }

    println!("\nAll scenarios:\n{}", report::header());
    for row in &bench.rows {
        println!("{}", report::line(row));
    }
    println!();
    let mut checked = report::targets(&bench.rows, &small, large.as_deref());
    checked.extend(memory_targets);
    report::print_targets(&checked);
    let document = json!({
        "machine": report::machine(),
        "load_average_at_start": load_at_start,
        "command": std::env::args().collect::<Vec<_>>(),
        "target": {"cached": targets.cached, "uncached": targets.uncached},
        "seeding": seeding,
        "sizes": sizes,
        "rows": bench.rows,
        "targets": checked,
    });
    std::fs::write(&args.json, serde_json::to_vec_pretty(&document)?)?;
    eprintln!("wrote {}", args.json);
    targets.stop().await
}

/// Whether `--only` selects any scenario of the first data size (baselines included).
fn wants_first_size(args: &Args) -> bool {
    let mut names: Vec<String> = BASELINES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    for label in ["cached", "uncached"] {
        names.extend(READS.iter().map(|(view, _)| format!("{label} {view}")));
        names.push(format!("{label} past daily (rollup)"));
    }
    names.extend(["ingest single", "ingest batch", "mixed 90/10", "freshness"].map(str::to_owned));
    names.iter().any(|name| args.wants(name))
}

/// The phone mixes: `--phone-users` users in the 7 zones, each seeded with `--days` local days
/// of about 150 events through `/track/batch`; once the aggregator has caught up, the baselines
/// (so that each row's ratio to `/livez` is of this very moment), the mixes, their targets.
/// Returns the events stored after its seeding and the memory targets (services on this
/// machine only: their peak while seeding, then their peak under the mixes).
async fn phase_phone(
    bench: &mut Bench<'_>,
    targets: &Targets,
    stored: u64,
    seeding: &mut Vec<Value>,
    sizes: &mut Vec<Value>,
) -> anyhow::Result<(u64, Vec<Target>)> {
    let args = bench.args;
    let count = args.phone_users.max(1);
    eprintln!(
        "phone mixes: registering {count} users, {} days each",
        args.days
    );
    let users = seed::register(&targets.api, count, 0).await?;
    let seeded = seed::seed(
        &targets.cached,
        &users,
        args.days,
        args.batch_size,
        args.batch_connections,
        args.seed + 2,
    )
    .await?;
    eprintln!("seeded {}", seeded.describe());
    seeding.push(json!({"phase": "phone", "events": seeded.events, "seconds": seeded.seconds}));
    let drained = targets.drain(Duration::from_secs(600)).await?;
    eprintln!("aggregator drained the backlog in {drained:.1} s");
    let stored = targets
        .stored_events()
        .await?
        .unwrap_or((stored + seeded.events) as i64) as u64;
    bench.size = size_label(stored);
    sizes.push(json!({"label": bench.size, "events_stored": stored, "phase": "phone"}));
    let after_seeding = memory::read();
    let reset = memory::reset_peaks(&after_seeding);
    println!("{}", report::header());
    bench.baselines(&targets.cached).await?;
    bench.phone(&targets.cached, &users).await?;
    println!();
    let memory_targets = memory::targets(&after_seeding, &memory::read(), args.batch_size, reset);
    let mut phone_targets = report::phone_targets(&bench.rows);
    phone_targets.extend_from_slice(&memory_targets);
    report::print_targets(&phone_targets);
    println!();
    Ok((stored, memory_targets))
}

/// Baselines, then the read views on the cached and the uncached gateway.
async fn phase_reads(
    bench: &mut Bench<'_>,
    targets: &Targets,
    readers: &[User],
) -> anyhow::Result<()> {
    bench.baselines(&targets.cached).await?;
    bench.reads(&targets.cached, "cached", readers).await?;
    if let Some(uncached) = &targets.uncached {
        bench.reads(uncached, "uncached", readers).await?;
    }
    Ok(())
}

/// Users whose local time is now daytime, so "a few minutes ago" is today for them.
async fn register_daytime(targets: &Targets, count: usize) -> anyhow::Result<Vec<User>> {
    let zone = wellbeing_tests::daytime_zone();
    let mut users = Vec::with_capacity(count);
    for _ in 0..count {
        let session = targets.api.register_and_login(&zone).await?;
        users.push(User {
            zone: zone
                .parse()
                .map_err(|_| anyhow::anyhow!("bad zone {zone}"))?,
            token: session.access_token.into(),
            refresh_token: session.refresh_token,
        });
    }
    Ok(users)
}
