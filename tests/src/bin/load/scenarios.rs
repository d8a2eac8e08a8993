//! The scenarios. Each runs for a bounded time and adds one row to the report.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;
use wellbeing_tests::Api;

use crate::args::Args;
use crate::driver::{self, Call, Connection, NextCall};
use crate::report::Row;
use crate::seed::{self, Generator, User};

/// The read views of the read scenarios: name and path.
pub const READS: [(&str, &str); 4] = [
    ("quick-stats", "/api/v1/analytics/quick-stats"),
    ("dashboard", "/api/v1/analytics/dashboard"),
    ("daily", "/api/v1/analytics/summary/daily"),
    ("weekly", "/api/v1/analytics/summary/weekly"),
];

/// The baseline scenarios: name and path.
pub const BASELINES: [(&str, &str); 2] = [
    ("baseline /livez (no upstream)", "/livez"),
    ("baseline /readyz (one gRPC call)", "/readyz"),
];

/// The phone mixes (`--only phone`): name, connections (`None`: `--connections`), percent of
/// requests that write, events per write.
pub const PHONE: [(&str, Option<usize>, u32, usize); 5] = [
    ("phone reads", None, 0, 1),
    ("phone 90/10", None, 10, 1),
    ("phone 60/40", None, 40, 10),
    ("phone writes", None, 100, 1),
    ("phone write idle", Some(1), 100, 1),
];

/// Runs scenarios and collects their rows.
pub struct Bench<'a> {
    pub args: &'a Args,
    pub rows: Vec<Row>,
    /// The current data size, e.g. `100k`.
    pub size: String,
    /// `/livez` and `/readyz` req/s of the current phase.
    baseline: (Option<f64>, Option<f64>),
}

fn pick(users: &[User], rng: &mut StdRng) -> Arc<str> {
    users[rng.random_range(0..users.len())].token.clone()
}

/// A home-screen read, weighted as in the mixed scenario: 35 dashboard, 35 quick-stats,
/// 10 daily, 10 weekly.
fn home_read(rng: &mut StdRng) -> &'static str {
    match rng.random_range(0..18) {
        0..7 => READS[1].1,
        7..14 => READS[0].1,
        14..16 => READS[2].1,
        _ => READS[3].1,
    }
}

/// A phone flushing `events` screen-time records of the last hour through `POST /track/batch`.
/// Each event has a fresh random `event_id` (from the thread's OS-seeded generator, not the
/// connection's seeded one, so no run repeats one), so every write stores new data.
fn recent_batch(generator: &Generator, rng: &mut StdRng, token: &Arc<str>, events: usize) -> Call {
    let now = Utc::now();
    let mut body = String::with_capacity(16 + events * 200);
    body.push_str(r#"{"events":["#);
    for index in 0..events {
        // Began 1 to 60 minutes ago and ended by now.
        let ago = rng.random_range(60..3600i64);
        let longest = (ago as f64 / 60.0).min(10.0);
        let minutes = (rng.random_range(0.1..longest) * 10.0).round() / 10.0;
        let at = (now - chrono::Duration::seconds(ago)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let (app, category) = generator.app(rng);
        let event_id = uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid();
        if index > 0 {
            body.push(',');
        }
        let _ = write!(
            body,
            r#"{{"type":"screen-time","event_id":"{event_id}","app_name":"{app}","category":"{category}","duration_minutes":{minutes},"timestamp":"{at}"}}"#
        );
    }
    body.push_str("]}");
    Call::post(
        "/api/v1/analytics/track/batch",
        token,
        Bytes::from(body),
        events as u64,
    )
}

/// One screen-time record of `minutes` that began `ago_minutes` ago.
fn screen_time_body(app: &str, minutes: f64, ago_minutes: i64) -> Bytes {
    let at = (Utc::now() - chrono::Duration::minutes(ago_minutes))
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    Bytes::from(format!(
        r#"{{"app_name":"{app}","duration_minutes":{minutes},"category":"social","timestamp":"{at}"}}"#
    ))
}

impl<'a> Bench<'a> {
    pub fn new(args: &'a Args) -> Self {
        Self {
            args,
            rows: Vec::new(),
            size: String::new(),
            baseline: (None, None),
        }
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs(self.args.warmup)
    }

    fn seconds(&self) -> Duration {
        Duration::from_secs(self.args.seconds)
    }

    /// Adds the row, with its ratios to this phase's baselines, and prints it.
    fn push(&mut self, mut row: Row) -> Row {
        let rps = row.requests_per_second;
        row.percent_of_trivial = self.baseline.0.map(|base| rps * 100.0 / base);
        row.percent_of_one_hop = self.baseline.1.map(|base| rps * 100.0 / base);
        println!("{}", crate::report::line(&row));
        if let Some(cpu) = &row.cpu_micros_per_request {
            println!("    CPU µs per request: {}", cpu.summary());
        }
        if let Some(error) = &row.first_error
            && row.errors > 0
        {
            println!("    first error: {error}");
        }
        self.rows.push(row.clone());
        row
    }

    async fn load(
        &self,
        base: &str,
        connections: usize,
        next: NextCall,
    ) -> anyhow::Result<driver::Measured> {
        driver::run(
            base,
            connections,
            self.warmup(),
            self.seconds(),
            self.args.seed,
            next,
        )
        .await
    }

    /// What the machine can do right now: a route with no upstream and one with one gRPC call.
    pub async fn baselines(&mut self, base: &str) -> anyhow::Result<()> {
        self.baseline = (None, None);
        let connections = self.args.connections;
        for (name, path) in BASELINES {
            let call = Call::open(path);
            let measured = self
                .load(base, connections, Arc::new(move |_| call.clone()))
                .await?;
            let row = self.push(Row::new(&self.size, name, connections, &measured));
            if path == "/livez" {
                self.baseline.0 = Some(row.requests_per_second);
            } else {
                self.baseline.1 = Some(row.requests_per_second);
            }
        }
        Ok(())
    }

    /// The four read views, one scenario each, for random users among `users`.
    pub async fn reads(&mut self, base: &str, label: &str, users: &[User]) -> anyhow::Result<()> {
        let connections = self.args.connections;
        for (view, path) in READS {
            let name = format!("{label} {view}");
            if !self.args.wants(&name) {
                continue;
            }
            let users = Arc::new(users.to_vec());
            let next: NextCall = Arc::new(move |rng| Call::get(path, &pick(&users, rng)));
            let measured = self.load(base, connections, next).await?;
            self.push(Row::new(&self.size, &name, connections, &measured));
        }
        // A complete past day (two UTC days ago is past in every zone): its summary comes
        // from the aggregator's rollup, where today's is computed from raw records.
        let name = format!("{label} past daily (rollup)");
        if self.args.wants(&name) {
            let date = Utc::now().date_naive() - chrono::Days::new(2);
            let path: Arc<str> = format!("{}?date={date}", READS[2].1).into();
            let users = Arc::new(users.to_vec());
            let next: NextCall = Arc::new(move |rng| Call::get(path.as_ref(), &pick(&users, rng)));
            let measured = self.load(base, connections, next).await?;
            self.push(Row::new(&self.size, &name, connections, &measured));
        }
        Ok(())
    }

    /// Single-event POSTs (screen time of the last hours) by many users.
    pub async fn ingest_single(&mut self, base: &str, users: &[User]) -> anyhow::Result<()> {
        let connections = self.args.connections;
        let users = Arc::new(users.to_vec());
        let next: NextCall = Arc::new(move |rng| {
            let minutes = f64::from(rng.random_range(1..30u32));
            let body = screen_time_body("YouTube", minutes, rng.random_range(31..360));
            Call::post(
                "/api/v1/analytics/track/screen-time",
                &pick(&users, rng),
                body,
                1,
            )
        });
        let measured = self.load(base, connections, next).await?;
        self.push(Row::new(
            &self.size,
            "ingest single",
            connections,
            &measured,
        ));
        Ok(())
    }

    /// Batches of `--batch-size` realistic events (a phone flushing its buffer).
    pub async fn ingest_batch(&mut self, base: &str, users: &[User]) -> anyhow::Result<()> {
        let connections = self.args.batch_connections;
        // Bodies are made beforehand so the client spends its time sending, not serialising.
        let generator = Generator::default();
        let mut rng = StdRng::seed_from_u64(self.args.seed + 7);
        let now = Utc::now();
        let mut calls = Vec::new();
        for (index, user) in users.iter().enumerate().take(64) {
            let mut events = Vec::new();
            let mut back = 1 + index as i64 % 5;
            while events.len() < self.args.batch_size {
                let day = now.with_timezone(&user.zone).date_naive() - chrono::Duration::days(back);
                events.extend(generator.day(&mut rng, user.zone, day, 1.0, now));
                back += 1;
            }
            events.truncate(self.args.batch_size);
            calls.push(seed::batch_call(user, events));
        }
        let calls = Arc::new(calls);
        let next: NextCall = Arc::new(move |rng| calls[rng.random_range(0..calls.len())].clone());
        let measured = self.load(base, connections, next).await?;
        let mut row = Row::new(&self.size, "ingest batch", connections, &measured);
        row.events_per_second = Some(measured.units_per_second());
        self.push(row);
        Ok(())
    }

    /// 90 % reads (mostly the home screen and the widget), 10 % single-event writes, each write
    /// invalidating that user's views; the hit rate is the users' own cache statistics.
    pub async fn mixed(&mut self, api: &Api, base: &str, users: &[User]) -> anyhow::Result<()> {
        let connections = self.args.connections;
        let before = cache_counters(api, users).await?;
        let users_arc = Arc::new(users.to_vec());
        let next: NextCall = Arc::new(move |rng| {
            let token = pick(&users_arc, rng);
            let roll = rng.random_range(0..100);
            if roll < 10 {
                let body = screen_time_body("Instagram", 1.0, 2);
                return Call::post("/api/v1/analytics/track/screen-time", &token, body, 1);
            }
            let path = match roll {
                10..45 => READS[1].1,
                45..80 => READS[0].1,
                80..90 => READS[2].1,
                _ => READS[3].1,
            };
            Call::get(path, &token)
        });
        let measured = self.load(base, connections, next).await?;
        let after = cache_counters(api, users).await?;
        let hits = after.0.saturating_sub(before.0) as f64;
        let misses = after.1.saturating_sub(before.1) as f64;
        let mut row = Row::new(&self.size, "mixed 90/10", connections, &measured);
        row.hit_rate_percent = Some(hits * 100.0 / (hits + misses).max(1.0));
        self.push(row);
        Ok(())
    }

    /// The phone mixes ([`PHONE`]) that `--only` selects, for random users among `users`: home
    /// screen reads and `/track/batch` writes of recent screen time, each row with the gateway's
    /// own `X-Response-Time` beside the client's latency.
    pub async fn phone(&mut self, base: &str, users: &[User]) -> anyhow::Result<()> {
        let users = Arc::new(users.to_vec());
        let generator = Arc::new(Generator::default());
        for (name, connections, write_percent, events) in PHONE {
            if !self.args.wants(name) {
                continue;
            }
            let connections = connections.unwrap_or(self.args.connections);
            let users = users.clone();
            let generator = generator.clone();
            let next: NextCall = Arc::new(move |rng| {
                let token = pick(&users, rng);
                if rng.random_range(0..100) < write_percent {
                    recent_batch(&generator, rng, &token, events)
                } else {
                    Call::get(home_read(rng), &token)
                }
            });
            let measured = self.load(base, connections, next).await?;
            let mut row = Row::new(&self.size, name, connections, &measured);
            row.gateway_p50_ms = measured.gateway_ms(0.50);
            row.gateway_p99_ms = measured.gateway_ms(0.99);
            self.push(row);
        }
        Ok(())
    }

    /// Ingest -> visible: each client reads its quick stats, posts one screen-time record and
    /// reads again until the new minutes show; the time from the POST to the first read that
    /// shows them.
    pub async fn freshness(&mut self, base: &str, users: &[User]) -> anyhow::Result<()> {
        let until = Instant::now() + self.seconds();
        let mut tasks = Vec::new();
        for user in users.iter().cloned() {
            let base = base.to_owned();
            tasks.push(tokio::spawn(async move {
                let mut connection = Connection::open(&base).await?;
                let mut histogram = driver::histogram();
                let mut stale_reads = 0u64;
                let read = Call::get(READS[0].1, &user.token);
                while Instant::now() < until {
                    let before = today_minutes(&mut connection, &read).await?;
                    let started = Instant::now();
                    let write = Call::post(
                        "/api/v1/analytics/track/screen-time",
                        &user.token,
                        screen_time_body("Kindle", 1.5, 3),
                        1,
                    );
                    let (status, body) = connection.send(&write).await?;
                    anyhow::ensure!(status == 201, "write answered {status}: {body:?}");
                    loop {
                        let now = today_minutes(&mut connection, &read).await?;
                        if now >= before + 1.49 {
                            break;
                        }
                        stale_reads += 1;
                        anyhow::ensure!(
                            started.elapsed() < Duration::from_secs(10),
                            "a write was not visible after 10 s"
                        );
                    }
                    histogram.saturating_record(started.elapsed().as_micros() as u64);
                }
                anyhow::Ok((histogram, stale_reads))
            }));
        }
        let mut merged = driver::histogram();
        let mut stale = 0;
        for task in tasks {
            let (histogram, stale_reads) = task.await??;
            merged.add(&histogram).expect("same bounds");
            stale += stale_reads;
        }
        let measured = driver::Measured {
            gateway: driver::histogram(),
            requests: merged.len(),
            units: merged.len(),
            errors: stale,
            seconds: self.seconds().as_secs_f64(),
            first_error: None,
            histogram: merged,
            cpu: Default::default(),
        };
        let mut row = Row::new(&self.size, "freshness", users.len(), &measured);
        // Not a throughput figure: the errors column counts reads that were not fresh yet.
        row.requests_per_second = 0.0;
        self.rows.push(row.clone());
        println!("{}", crate::report::line(&row));
        Ok(())
    }
}

async fn today_minutes(connection: &mut Connection, read: &Call) -> anyhow::Result<f64> {
    let (status, body) = connection.send(read).await?;
    anyhow::ensure!(status == 200, "quick-stats answered {status}");
    let json: Value = serde_json::from_slice(&body)?;
    Ok(json["data"]["today_screen_time"].as_f64().unwrap_or(0.0))
}

/// Sum of the users' cache hits and misses (`GET /analytics/cache`).
async fn cache_counters(api: &Api, users: &[User]) -> anyhow::Result<(u64, u64)> {
    let (mut hits, mut misses) = (0, 0);
    for user in users {
        let answer = api
            .get("/api/v1/analytics/cache", Some(&user.token))
            .await?;
        anyhow::ensure!(answer.status == 200, "cache stats answered {answer:?}");
        hits += answer.json["data"]["hits"].as_u64().unwrap_or(0);
        misses += answer.json["data"]["misses"].as_u64().unwrap_or(0);
    }
    Ok((hits, misses))
}
