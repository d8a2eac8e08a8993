//! A TCP proxy on loopback, to cut a server off abruptly as a crash would, in a stack that runs
//! in one process (a tonic server stopped in-process drains its connections gracefully; a killed
//! process does not). [`TcpProxy::kill`] closes the listening socket and resets every open
//! connection at once: callers see connections reset mid-request and new connections refused.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct TcpProxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut proxy = Self {
            addr,
            target,
            accept: None,
            connections: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.serve(listener);
        Ok(proxy)
    }

    fn serve(&mut self, listener: TcpListener) {
        let (target, connections) = (self.target, self.connections.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let connection = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (mut client, mut server) = (client, server);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                let mut open = connections.lock().expect("not poisoned");
                open.retain(|task| !task.is_finished());
                open.push(connection);
            }
        }));
    }

    /// Stops accepting (the port refuses connections) and resets every open connection.
    pub fn kill(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        for connection in self.connections.lock().expect("not poisoned").drain(..) {
            // Dropping the sockets closes them; the peers see their calls fail.
            connection.abort();
        }
    }

    /// Accepts again on the same port (a restarted process).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => {
                    self.serve(listener);
                    return Ok(());
                }
                Err(error) if std::time::Instant::now() > deadline => return Err(error.into()),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.kill();
    }
}
