//! Serving a tonic router on an already bound listener (so tests can use port 0), with a bounded
//! drain on shutdown, and lazily connected client channels shared by every request. Both sides
//! use mutual TLS unless the transport says plaintext (see [`crate::internal_tls`]).

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::channel::Change;
use tonic::transport::server::{Router, TcpIncoming};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::health_server::{Health, HealthServer};
use tower::layer::util::{Identity, Stack};

use crate::callers::AllowedCallersLayer;
use crate::internal_tls::{Role, Transport};
use crate::shutdown::DRAIN_TIMEOUT;
pub use crate::traced_channel::TracedChannel;

/// A tonic server builder as every service uses it: TLS per `transport`, calls refused unless
/// the caller's certificate names one of `allowed`, and every call in a span named like
/// `analytics.DailySummary`, a child of the caller's W3C trace context carried in the metadata.
pub fn server(
    transport: &Transport,
    allowed: &'static [Role],
) -> Result<tonic::transport::Server<Stack<AllowedCallersLayer, Identity>>, tonic::transport::Error>
{
    let mut builder = tonic::transport::Server::builder()
        .trace_fn(crate::trace_context::grpc_server_span)
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES);
    if let Some(tls) = transport.server_config() {
        builder = builder.tls_config(tls)?;
    }
    Ok(builder.layer(AllowedCallersLayer::new(transport, allowed)))
}

/// A router built from [`server`].
pub type ServiceRouter = Router<Stack<AllowedCallersLayer, Identity>>;

/// The admin ports a gRPC service may open besides its own: part of its settings.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminPorts {
    /// Prometheus `/metrics` admin port, e.g. `:9464` (unset: none)
    #[arg(long, env = "METRICS_ADDR", value_parser = crate::config::listen_addr)]
    pub metrics_addr: Option<SocketAddr>,
    /// The gRPC health service again, in plaintext, for Kubernetes' gRPC probes (which cannot
    /// present a certificate), e.g. `:50061`; it tells whether the service is serving, nothing
    /// else (unset: none)
    #[arg(long, env = "PROBE_ADDR", value_parser = crate::config::listen_addr)]
    pub probe_addr: Option<SocketAddr>,
}

/// Serves `health` alone, in plaintext, on `listener` (if any) in the background until the
/// returned task is aborted (after the service's own drain).
pub fn spawn_probes(
    listener: Option<std::net::TcpListener>,
    health: HealthServer<impl Health>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(listener) = listener else {
        return Ok(None);
    };
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    tracing::info!(addr = %listener.local_addr()?, "probes listening");
    let router = server(&Transport::Plaintext, &[])?.add_service(health);
    Ok(Some(tokio::spawn(async move {
        if let Err(error) = serve(router, listener, std::future::pending()).await {
            tracing::warn!(%error, "probe server failed");
        }
    })))
}

/// Room for an error's details in the trailers: a refused batch of 1000 events carries one
/// `{index, field, detail}` per event (about 120 KiB once base64-encoded), well over HTTP/2's
/// usual 16 KiB, which made such an answer a protocol error instead of a 422.
pub const MAX_HEADER_LIST_BYTES: u32 = 1024 * 1024;

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight calls finish for
/// at most [`DRAIN_TIMEOUT`].
pub async fn serve(
    router: ServiceRouter,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = draining_tx.send(());
    };
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = router.serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(server);
    let drain_deadline = async move {
        if draining_rx.await.is_ok() {
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = &mut server => result,
        () = drain_deadline => {
            tracing::warn!(timeout_secs = DRAIN_TIMEOUT.as_secs(), "drain timed out, closing remaining calls");
            Ok(())
        }
    }
}

/// A channel to one upstream, balanced over every address given. IP addresses are used as they
/// are; a DNS name (a Kubernetes headless service) is resolved now and every 10 s, and each
/// address it resolves to becomes one balanced endpoint, so new replicas are used and removed
/// ones dropped. It connects lazily and reconnects by itself, so a service may start before its
/// upstreams. Under TLS the upstream must show a certificate naming `upstream`, whatever the
/// address. Every call opens a client span (see [`TracedChannel`]).
pub fn channel(
    endpoints: &[String],
    transport: &Transport,
    upstream: Role,
) -> Result<TracedChannel, tonic::transport::Error> {
    let dial = Dial {
        scheme: transport.scheme(),
        tls: transport.client_config(upstream),
    };
    balanced_channel(endpoints, dial).map(TracedChannel::new)
}

/// How every endpoint of one upstream is dialled.
#[derive(Clone)]
struct Dial {
    scheme: &'static str,
    tls: Option<ClientTlsConfig>,
}

impl Dial {
    /// An endpoint for `address` (`host:port`, with or without a scheme: the transport decides).
    fn endpoint(&self, address: &str) -> Result<Endpoint, tonic::transport::Error> {
        let authority = address.split_once("://").map_or(address, |(_, rest)| rest);
        let endpoint = tuned(Endpoint::from_shared(format!(
            "{}://{authority}",
            self.scheme
        ))?);
        match &self.tls {
            Some(tls) => endpoint.tls_config(tls.clone()),
            None => Ok(endpoint),
        }
    }
}

fn balanced_channel(endpoints: &[String], dial: Dial) -> Result<Channel, tonic::transport::Error> {
    let configured = endpoints
        .iter()
        .map(|address| dial.endpoint(address))
        .collect::<Result<Vec<_>, _>>()?;
    let by_name: Vec<(String, u16)> = configured
        .iter()
        .filter_map(|endpoint| {
            let uri = endpoint.uri();
            let host = uri.host()?.trim_matches(['[', ']']);
            (host.parse::<std::net::IpAddr>().is_err())
                .then(|| (host.to_owned(), uri.port_u16().unwrap_or(80)))
        })
        .collect();
    if by_name.is_empty() {
        return Ok(match configured.as_slice() {
            [single] => single.connect_lazy(),
            _ => Channel::balance_list(configured.into_iter()),
        });
    }
    let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
    let literal: Vec<SocketAddr> = configured
        .iter()
        .filter_map(|endpoint| {
            let uri = endpoint.uri();
            let ip = uri.host()?.trim_matches(['[', ']']).parse().ok()?;
            Some(SocketAddr::new(ip, uri.port_u16().unwrap_or(80)))
        })
        .collect();
    tokio::spawn(follow_dns(by_name, literal, dial, changes));
    Ok(channel)
}

fn tuned(endpoint: Endpoint) -> Endpoint {
    endpoint
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
}

/// Keeps the balanced endpoints equal to what the names resolve to (plus the literal addresses).
async fn follow_dns(
    names: Vec<(String, u16)>,
    literal: Vec<SocketAddr>,
    dial: Dial,
    changes: tokio::sync::mpsc::Sender<Change<SocketAddr, Endpoint>>,
) {
    let mut current: HashSet<SocketAddr> = HashSet::new();
    loop {
        let mut resolved: HashSet<SocketAddr> = literal.iter().copied().collect();
        let mut failed = false;
        for (host, port) in &names {
            match tokio::net::lookup_host((host.as_str(), *port)).await {
                Ok(addresses) => resolved.extend(addresses),
                Err(error) => {
                    failed = true;
                    tracing::warn!(host, %error, "cannot resolve upstream");
                }
            }
        }
        // A failed lookup keeps what was known rather than emptying the balancer.
        if !(failed && resolved.is_empty()) {
            for gone in current.difference(&resolved) {
                if changes.send(Change::Remove(*gone)).await.is_err() {
                    return;
                }
            }
            for new in resolved.difference(&current) {
                let Ok(endpoint) = dial.endpoint(&new.to_string()) else {
                    continue;
                };
                if changes.send(Change::Insert(*new, endpoint)).await.is_err() {
                    return;
                }
            }
            current = resolved;
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    /// A health server on a loopback port, reached through a DNS name.
    #[tokio::test]
    async fn a_name_is_resolved_and_its_addresses_are_used() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let (_reporter, health) = tonic_health::server::health_reporter();
        let router = server(&Transport::Plaintext, &[])
            .expect("a plaintext server")
            .add_service(health);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(router, listener, async move {
            let _ = stopped.await;
        }));

        let channel = channel(
            &[format!("http://localhost:{port}")],
            &Transport::Plaintext,
            Role::Cache,
        )
        .expect("a channel");
        let mut client = HealthClient::new(channel);
        let mut answered = false;
        for _ in 0..100 {
            let mut request = tonic::Request::new(HealthCheckRequest::default());
            request.set_timeout(Duration::from_millis(500));
            if client.check(request).await.is_ok() {
                answered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(answered, "the address localhost resolves to was used");
        let _ = stop.send(());
        server.await.expect("joined").expect("served");
    }
}
