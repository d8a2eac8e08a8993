//! Clients that hold connections without finishing a request (slowloris) cannot starve the
//! others: the gateway closes a connection that has not sent a request's headers in
//! `HEADER_READ_TIMEOUT_MS`, however it dribbles them, and serves at most `MAX_CONNECTIONS`
//! connections at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use wellbeing_tests::{StackOptions, TestStack};

const SLOW_CLIENTS: usize = 40;

/// Starts a request, then sends one more header line every 100 ms and never ends the headers;
/// answers when the gateway closed the connection (`None`: still open after 20 s). `connected`
/// is reached once the connection is open and the first line sent.
async fn dribble(address: String, connected: Arc<Barrier>) -> anyhow::Result<Option<Instant>> {
    let mut stream = TcpStream::connect(&address).await?;
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: slow\r\n")
        .await?;
    connected.wait().await;
    let give_up = Instant::now() + Duration::from_secs(20);
    let mut buffer = [0u8; 256];
    while Instant::now() < give_up {
        let closed = tokio::select! {
            read = stream.read(&mut buffer) => matches!(read, Ok(0) | Err(_)),
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                stream.write_all(b"X-Slow: still here\r\n").await.is_err()
            }
        };
        if closed {
            return Ok(Some(Instant::now()));
        }
    }
    Ok(None)
}

#[tokio::test]
async fn half_sent_requests_are_cut_off_and_others_are_served() -> anyhow::Result<()> {
    let stack = TestStack::start_with(StackOptions {
        gateway_env: vec![
            ("HEADER_READ_TIMEOUT_MS".into(), "1000".into()),
            ("MAX_CONNECTIONS".into(), SLOW_CLIENTS.to_string()),
        ],
        ..Default::default()
    })
    .await?;
    let base = stack.api.url("");
    let address = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();

    // The slow clients take every connection the gateway serves (connections are accepted in
    // the order they were opened); a full request on a connection opened after theirs then
    // waits for a free one.
    let connected = Arc::new(Barrier::new(SLOW_CLIENTS + 1));
    let slow: Vec<_> = (0..SLOW_CLIENTS)
        .map(|_| tokio::spawn(dribble(address.clone(), connected.clone())))
        .collect();
    connected.wait().await;
    let mut probe = TcpStream::connect(&address).await?;
    probe
        .write_all(b"GET /livez HTTP/1.1\r\nHost: probe\r\n\r\n")
        .await?;
    let sent = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(15), probe.read(&mut buffer)).await??;
        anyhow::ensure!(read > 0, "the gateway closed the probe without answering");
        answer.extend_from_slice(&buffer[..read]);
    }
    let answered = Instant::now();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    let mut cut = 0;
    for client in slow {
        cut += usize::from(client.await??.is_some());
    }
    assert_eq!(
        cut, SLOW_CLIENTS,
        "every dribbling client was cut off, however long it kept sending"
    );
    // The probe was served only once a slow client's connection had been closed (about a
    // second after it opened, just before the probe's): the cap. Without it, the probe is
    // answered in a few milliseconds.
    let waited = answered - sent;
    assert!(
        waited >= Duration::from_millis(500),
        "the probe was answered after {waited:?}, while every connection was held"
    );

    // An idle keep-alive connection is closed after the same time.
    let mut idle = TcpStream::connect(&address).await?;
    idle.write_all(b"GET /livez HTTP/1.1\r\nHost: idle\r\n\r\n")
        .await?;
    let mut seen = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match idle.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => seen.extend_from_slice(&buffer[..read]),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "an idle connection stayed open");
    assert!(seen.starts_with(b"HTTP/1.1 200"), "{seen:?}");

    // Normal traffic flows.
    let health = reqwest::get(stack.api.url("/livez")).await?;
    assert_eq!(health.status(), 200);
    stack.stop().await
}
