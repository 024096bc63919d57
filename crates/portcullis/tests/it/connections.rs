//! Slow and idle clients cannot hold the server (issue 10, finding 3): raw
//! TCP clients against the real binary. Half-sent headers, and connections
//! that send nothing, are cut off after the header timeout, a body trickled
//! in too slowly gets `408`, idle
//! keep-alive connections are closed after the idle timeout (not the
//! shorter header timeout), and with the connection cap reached a new
//! client waits for a slot, which idle connections give up, instead of
//! hanging for ever. Clients that send in time are served as before.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::TestServer;

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: portcullis\r\n\r\n";

/// Reads until the server closes the connection (or resets it); returns
/// what it sent and how long that took. Panics after `limit`.
async fn until_closed(
    stream: &mut (impl AsyncRead + Unpin),
    limit: Duration,
) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let remaining = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, stream.read(&mut buffer)).await {
            Err(_) => panic!(
                "still open after {limit:?}; received {:?}",
                String::from_utf8_lossy(&received)
            ),
            Ok(Ok(0) | Err(_)) => return (received, started.elapsed()),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

/// Reads one `GET /healthz` answer (its body ends the JSON object).
async fn read_healthz(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    while !received.ends_with(b"}") {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer within 5 s")
            .expect("the connection stays open");
        assert_ne!(read, 0, "closed before answering");
        received.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_client_that_sends_half_its_headers_or_nothing_is_disconnected_after_the_header_timeout()
{
    let server =
        TestServer::spawn_with(&["--http-header-timeout", "1s", "--http-idle-timeout", "30s"])
            .await;
    let mut half = TcpStream::connect(server.address()).await.unwrap();
    let mut silent = TcpStream::connect(server.address()).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: portcullis\r\n")
        .await
        .unwrap();
    for (which, stream) in [("half a header", &mut half), ("nothing", &mut silent)] {
        let (received, took) = until_closed(stream, Duration::from_secs(10)).await;
        assert!(
            received.is_empty(),
            "{which}: {}",
            String::from_utf8_lossy(&received)
        );
        assert!(
            took < Duration::from_secs(5),
            "{which}: closed after {took:?}, not the header timeout"
        );
    }
}

#[tokio::test]
async fn a_body_trickled_in_too_slowly_is_answered_408_and_the_connection_closed() {
    let server = TestServer::spawn_with(&["--http-body-timeout", "1s"]).await;
    let stream = TcpStream::connect(server.address()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(
            b"POST /users HTTP/1.1\r\nHost: portcullis\r\nContent-Type: application/json\r\n\
              Content-Length: 60\r\n\r\n",
        )
        .await
        .unwrap();
    // One byte every 200 ms: 12 s for the whole body, if it were let in.
    let trickle = tokio::spawn(async move {
        for _ in 0..60 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let (received, took) = until_closed(&mut reader, Duration::from_secs(10)).await;
    trickle.abort();
    let answer = String::from_utf8_lossy(&received);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(5),
        "answered and closed after {took:?}"
    );

    // A body sent in pieces within the timeout is served as ever.
    let mut stream = TcpStream::connect(server.address()).await.unwrap();
    let body = br#"{"email": "slow@example.com", "password": "correct horse battery staple"}"#;
    let head = format!(
        "POST /users HTTP/1.1\r\nHost: portcullis\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in body.chunks(body.len() / 3 + 1) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stream.write_all(piece).await.unwrap();
    }
    let (received, _) = until_closed(&mut stream, Duration::from_secs(10)).await;
    let answer = String::from_utf8_lossy(&received);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let server = TestServer::spawn_process_with(&[
        "--http-header-timeout",
        "1s",
        "--http-idle-timeout",
        "2s",
    ])
    .await;
    let mut stream = TcpStream::connect(server.address()).await.unwrap();
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(read_healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Idle for longer than the header timeout: still open, and serving.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(read_healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
    let (received, took) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        took >= Duration::from_millis(1700) && took < Duration::from_secs(6),
        "closed after {took:?} idle"
    );
    assert!(closed_by(&server, "idle_timeout").await >= 1.0);
}

/// How many connections `/metrics` says were closed for `reason`.
async fn closed_by(server: &TestServer, reason: &str) -> f64 {
    let page = server.get("/metrics").await.text().await.unwrap();
    let series = format!(r#"portcullis_http_connections_closed_total{{reason="{reason}"}} "#);
    page.lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{page}"))
}

#[tokio::test]
async fn at_the_connection_cap_a_new_client_is_served_once_idle_connections_time_out() {
    let server = TestServer::spawn_process_with(&[
        "--http-max-connections",
        "8",
        "--http-header-timeout",
        "1s",
        "--http-idle-timeout",
        "1s",
    ])
    .await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(server.address()).await.unwrap());
    }
    // Let the server take all eight before the ninth comes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let ninth = server.get("/healthz").await;
    let waited = started.elapsed();
    assert_eq!(ninth.status(), StatusCode::OK);
    assert!(
        waited >= Duration::from_millis(500),
        "served after {waited:?}: the cap of 8 did not hold"
    );
    assert!(
        waited < Duration::from_secs(6),
        "served only after {waited:?}"
    );
    for mut stream in idle {
        let (received, _) = until_closed(&mut stream, Duration::from_secs(3)).await;
        assert!(
            received.is_empty(),
            "{}",
            String::from_utf8_lossy(&received)
        );
    }
    // And the server goes on serving, and says why it closed them.
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
    assert!(closed_by(&server, "header_timeout").await >= 8.0);
}
