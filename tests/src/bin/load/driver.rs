//! The load driver: N keep-alive HTTP/1.1 connections (hyper, no pooling layer), each sending
//! the next request as soon as the previous answer's body has arrived, for a bounded time.
//! Latencies go to one HdrHistogram per connection (microseconds), merged at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::TcpStream;

/// One request to send.
#[derive(Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub token: Option<Arc<str>>,
    pub body: Option<Bytes>,
    /// Counted as this many units of work (events for ingestion, else 1).
    pub units: u64,
}

impl Call {
    pub fn get(path: impl Into<String>, token: &Arc<str>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            token: Some(token.clone()),
            body: None,
            units: 1,
        }
    }

    pub fn open(path: &str) -> Self {
        Self {
            method: Method::GET,
            path: path.to_owned(),
            token: None,
            body: None,
            units: 1,
        }
    }

    pub fn post(path: &str, token: &Arc<str>, body: Bytes, units: u64) -> Self {
        Self {
            method: Method::POST,
            path: path.to_owned(),
            token: Some(token.clone()),
            body: Some(body),
            units,
        }
    }
}

/// Makes the next call of one connection.
pub type NextCall = Arc<dyn Fn(&mut StdRng) -> Call + Send + Sync>;

/// What one run measured.
pub struct Measured {
    pub histogram: Histogram<u64>,
    pub requests: u64,
    pub units: u64,
    pub errors: u64,
    pub seconds: f64,
    pub first_error: Option<String>,
}

impl Measured {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    pub fn units_per_second(&self) -> f64 {
        self.units as f64 / self.seconds
    }

    /// A quantile in milliseconds.
    pub fn ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }
}

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// One open connection to the gateway.
pub struct Connection {
    host: String,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    pub async fn open(base: &str) -> anyhow::Result<Self> {
        let host = base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let stream = TcpStream::connect(&host)
            .await
            .with_context(|| format!("cannot connect to {host}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { host, sender })
    }

    /// Sends one call; the status and the whole body.
    pub async fn send(&mut self, call: &Call) -> anyhow::Result<(u16, Bytes)> {
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(call.path.as_str())
            .header(header::HOST, self.host.as_str());
        if let Some(token) = &call.token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match &call.body {
            Some(body) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                body.clone()
            }
            None => Bytes::new(),
        };
        let request = builder.body(Full::new(body))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// Runs `connections` clients against `base` for `warmup` (not measured) then `seconds`.
pub async fn run(
    base: &str,
    connections: usize,
    warmup: Duration,
    seconds: Duration,
    seed: u64,
    next: NextCall,
) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let measure_from = started + warmup;
    let until = measure_from + seconds;
    let mut tasks = Vec::with_capacity(connections);
    for index in 0..connections {
        let base = base.to_owned();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1000).wrapping_add(index as u64));
            let mut histogram = histogram();
            let (mut requests, mut units, mut errors) = (0u64, 0u64, 0u64);
            let mut first_error = None;
            let mut connection = Connection::open(&base).await?;
            loop {
                let call = next(&mut rng);
                let sent = Instant::now();
                if sent >= until {
                    break;
                }
                let outcome = connection.send(&call).await;
                let measured = sent >= measure_from;
                match outcome {
                    Ok((status, _)) if status < 400 => {
                        if measured {
                            let micros = sent.elapsed().as_micros() as u64;
                            histogram.saturating_record(micros.max(1));
                            requests += 1;
                            units += call.units;
                        }
                    }
                    Ok((status, body)) => {
                        if measured {
                            errors += 1;
                        }
                        if first_error.is_none() {
                            first_error = Some(format!(
                                "{} {} -> {status}: {}",
                                call.method,
                                call.path,
                                String::from_utf8_lossy(&body[..body.len().min(200)])
                            ));
                        }
                    }
                    Err(error) => {
                        if measured {
                            errors += 1;
                        }
                        first_error.get_or_insert_with(|| format!("{}: {error:#}", call.path));
                        // The connection may be gone: open another.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        connection = Connection::open(&base).await?;
                    }
                }
            }
            anyhow::Ok((histogram, requests, units, errors, first_error))
        }));
    }
    let mut merged = histogram();
    let (mut requests, mut units, mut errors) = (0, 0, 0);
    let mut first_error = None;
    for task in tasks {
        let (histogram, r, u, e, error) = task.await??;
        merged.add(&histogram).expect("same bounds");
        requests += r;
        units += u;
        errors += e;
        if first_error.is_none() {
            first_error = error;
        }
    }
    Ok(Measured {
        histogram: merged,
        requests,
        units,
        errors,
        seconds: seconds.as_secs_f64(),
        first_error,
    })
}
