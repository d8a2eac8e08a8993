//! The load driver: N keep-alive HTTP/1.1 connections (hyper, no pooling layer), each sending
//! the next request as soon as the previous answer's body has arrived, for a bounded time.
//! Latencies go to one HdrHistogram per connection (microseconds), merged at the end; so does
//! the gateway's own time of each answer, from its `X-Response-Time` header.

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
    /// Client-side latency of the successful requests, microseconds.
    pub histogram: Histogram<u64>,
    /// The gateway's `X-Response-Time` of the same requests, microseconds (empty when the
    /// answers carry no such header).
    pub gateway: Histogram<u64>,
    pub requests: u64,
    pub units: u64,
    pub errors: u64,
    pub seconds: f64,
    pub first_error: Option<String>,
    /// This machine's CPU counters at the start and the end of the measured window.
    pub cpu: (crate::cpu_split::Sample, crate::cpu_split::Sample),
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

    /// A quantile of the gateway's `X-Response-Time` in milliseconds, if the answers had it.
    pub fn gateway_ms(&self, quantile: f64) -> Option<f64> {
        (!self.gateway.is_empty()).then(|| self.gateway.value_at_quantile(quantile) as f64 / 1000.0)
    }

    /// The CPU each successful request cost, by process (a stack on this machine).
    pub fn cpu_per_request(&self) -> Option<crate::cpu_split::PerRequest> {
        crate::cpu_split::per_request(&self.cpu.0, &self.cpu.1, self.requests)
    }
}

/// The gateway's wall time from an `X-Response-Time` value (`12.34ms`; `µs`, `us` and `s` are
/// understood too, a bare number is milliseconds), in microseconds.
pub fn response_time_micros(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (number, micros_per_unit) = if let Some(number) = text.strip_suffix("ms") {
        (number, 1e3)
    } else if let Some(number) = text.strip_suffix("µs").or_else(|| text.strip_suffix("us")) {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1e6)
    } else {
        (text, 1e3)
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * micros_per_unit).round() as u64)
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
        let (status, body, _) = self.send_timed(call).await?;
        Ok((status, body))
    }

    /// Sends one call; the status, the whole body and the gateway's `X-Response-Time` in
    /// microseconds (if the answer has it).
    pub async fn send_timed(&mut self, call: &Call) -> anyhow::Result<(u16, Bytes, Option<u64>)> {
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
        let gateway = response
            .headers()
            .get("x-response-time")
            .and_then(|value| response_time_micros(value.as_bytes()));
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body, gateway))
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
    let cpu = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let first = crate::cpu_split::sample();
        tokio::time::sleep_until(until.into()).await;
        (first, crate::cpu_split::sample())
    });
    let mut tasks = Vec::with_capacity(connections);
    for index in 0..connections {
        let base = base.to_owned();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1000).wrapping_add(index as u64));
            let mut gateway_histogram = histogram();
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
                let outcome = connection.send_timed(&call).await;
                let measured = sent >= measure_from;
                match outcome {
                    Ok((status, _, gateway)) if status < 400 => {
                        if measured {
                            let micros = sent.elapsed().as_micros() as u64;
                            histogram.saturating_record(micros.max(1));
                            if let Some(gateway) = gateway {
                                gateway_histogram.saturating_record(gateway.max(1));
                            }
                            requests += 1;
                            units += call.units;
                        }
                    }
                    Ok((status, body, _)) => {
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
            anyhow::Ok((
                histogram,
                gateway_histogram,
                requests,
                units,
                errors,
                first_error,
            ))
        }));
    }
    let mut merged = histogram();
    let mut gateway = histogram();
    let (mut requests, mut units, mut errors) = (0, 0, 0);
    let mut first_error = None;
    for task in tasks {
        let (histogram, gateway_histogram, r, u, e, error) = task.await??;
        merged.add(&histogram).expect("same bounds");
        gateway.add(&gateway_histogram).expect("same bounds");
        requests += r;
        units += u;
        errors += e;
        if first_error.is_none() {
            first_error = error;
        }
    }
    Ok(Measured {
        histogram: merged,
        gateway,
        requests,
        units,
        errors,
        seconds: seconds.as_secs_f64(),
        first_error,
        cpu: cpu.await?,
    })
}

#[cfg(test)]
mod tests {
    use super::response_time_micros;

    #[test]
    fn reads_the_gateway_response_time() {
        assert_eq!(response_time_micros(b"12.34ms"), Some(12_340));
        assert_eq!(response_time_micros(b"0.87ms"), Some(870));
        assert_eq!(response_time_micros(b" 1.5 ms "), Some(1_500));
        assert_eq!(response_time_micros(b"870us"), Some(870));
        assert_eq!(response_time_micros("870µs".as_bytes()), Some(870));
        assert_eq!(response_time_micros(b"0.002s"), Some(2_000));
        assert_eq!(response_time_micros(b"3.25"), Some(3_250));
        assert_eq!(response_time_micros(b"fast"), None);
        assert_eq!(response_time_micros(b"-1ms"), None);
    }
}
