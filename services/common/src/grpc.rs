//! Serving a tonic router on an already bound listener (so tests can use port 0), with a bounded
//! drain on shutdown, and lazily connected client channels shared by every request.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::server::{Router, TcpIncoming};
use tonic::transport::{Channel, Endpoint};

use crate::shutdown::DRAIN_TIMEOUT;

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight calls finish for
/// at most [`DRAIN_TIMEOUT`].
pub async fn serve(
    router: Router,
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

/// A channel to one upstream, balanced over every address given. It connects lazily and
/// reconnects by itself, so a service may start before its upstreams.
pub fn channel(endpoints: &[String]) -> Result<Channel, tonic::transport::Error> {
    let endpoints = endpoints
        .iter()
        .map(|uri| {
            Endpoint::from_shared(uri.clone()).map(|endpoint| {
                endpoint
                    .connect_timeout(Duration::from_secs(2))
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_timeout(Duration::from_secs(10))
                    .keep_alive_while_idle(true)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    match endpoints.as_slice() {
        [single] => Ok(single.connect_lazy()),
        _ => Ok(Channel::balance_list(endpoints.into_iter())),
    }
}
