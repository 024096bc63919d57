//! The server's own connection loop: HTTP/1.1 on TCP with the bounds that
//! `axum::serve` does not have, so that slow or idle clients cannot hold the
//! server's sockets, tasks and file descriptors for ever.
//!
//! - **Connections** are capped by [`HttpSettings::max_connections`]: at the
//!   cap the loop stops accepting, and new clients wait in the kernel's
//!   listen backlog (costing this process no descriptor) until a connection
//!   closes, rather than being accepted and closed at once. A client that
//!   waits is served as soon as any slot frees, and the timeouts below make
//!   every slot free within a bounded time.
//! - **Headers**: from the connection's start, and then from each later
//!   request's first byte, the client has [`HttpSettings::header_timeout`]
//!   to finish the request's headers; then the connection is dropped
//!   without an answer (as hyper's own timeout does). So a connection that
//!   never sends anything holds its slot for the header timeout only.
//! - **Bodies**: from the end of the headers, the whole body must arrive
//!   within [`HttpSettings::body_timeout`] ([`crate::body_deadline`]); then
//!   the extractor answers `408` and the connection is closed.
//! - **Idle connections**: a connection with no request in progress for
//!   [`HttpSettings::idle_timeout`] is closed gracefully; one still open an
//!   idle period after that (a client not reading its answer) is dropped.
//!
//! hyper's `header_read_timeout` is not used: it starts as soon as hyper
//! waits for a request, so it would also close idle keep-alive connections
//! after the header timeout and leave no room for a longer idle timeout.
//!
//! On shutdown the loop stops accepting, every connection is told to close
//! once its request in flight is answered, and [`serve`] returns when all
//! have. This module never parses HTTP itself.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::body_deadline::DeadlineBody;
use crate::state::{AppState, HttpSettings};

/// Serves the router for `state` on `listener` until `shutdown` resolves;
/// in-flight requests finish, with the bounds of [`HttpSettings`].
///
/// # Errors
/// None in practice: a failure to accept one connection is logged and the
/// loop goes on (after a second, when the process is out of descriptors).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let settings = Arc::clone(&state.http);
    let router = crate::router(state);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let (stop, stopping) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        let connection = Connection {
            router: router.clone(),
            settings: Arc::clone(&settings),
            peer,
            stopping: stopping.clone(),
        };
        tokio::spawn(async move {
            metrics::gauge!("portcullis_http_connections").increment(1.0);
            connection.serve(stream).await;
            metrics::gauge!("portcullis_http_connections").decrement(1.0);
            drop(slot);
        });
    }
    drop(stopping);
    // Errors only when every connection has already gone.
    let _ = stop.send(());
    stop.closed().await;
    Ok(())
}

/// A failed `accept`: the client gave up (go on), or the process is out of
/// descriptors or memory (wait a second rather than spin).
async fn accept_failed(error: &io::Error) {
    let clients_fault = matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    );
    if !clients_fault {
        tracing::error!(%error, "accepting a connection failed; retrying in 1 s");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// One accepted connection and what serving it needs.
struct Connection {
    router: Router,
    settings: Arc<HttpSettings>,
    peer: SocketAddr,
    stopping: watch::Receiver<()>,
}

/// Why the watchdog acts on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// A request's headers did not arrive in time: drop the connection.
    Header,
    /// Nothing in progress for the idle timeout: close it gracefully, or
    /// drop it if that was already asked an idle period ago.
    Idle,
}

impl Connection {
    async fn serve(self, stream: TcpStream) {
        let Self {
            router,
            settings,
            peer,
            mut stopping,
        } = self;
        let clock = Arc::new(ConnectionClock::new());
        let io = TokioIo::new(WatchedStream {
            stream,
            clock: Arc::clone(&clock),
        });
        let body_timeout = settings.body_timeout;
        let service_clock = Arc::clone(&clock);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            service_clock.request_started();
            let deadline = Instant::now() + body_timeout;
            let mut request = request.map(|body| {
                if http_body::Body::is_end_stream(&body) {
                    Body::new(body)
                } else {
                    Body::new(DeadlineBody::new(Body::new(body), deadline))
                }
            });
            request.extensions_mut().insert(ConnectInfo(peer));
            let answer = router.clone().oneshot(request);
            let clock = Arc::clone(&service_clock);
            async move {
                let response = answer.await;
                clock.request_finished();
                response
            }
        });
        let connection = http1::Builder::new()
            .header_read_timeout(None)
            .serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        let mut closing = false;
        loop {
            let deadline = clock.deadline(&settings);
            let changed = clock.changed.notified();
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, %peer, "connection ended with an error");
                    }
                    return;
                }
                () = changed => {}
                () = sleep_until(deadline) => match clock.deadline(&settings) {
                    Some((when, Expiry::Header)) if when <= Instant::now() => {
                        closed_by("header_timeout");
                        return;
                    }
                    Some((when, Expiry::Idle)) if when <= Instant::now() => {
                        if closing {
                            closed_by("stalled_while_closing");
                            return;
                        }
                        closed_by("idle_timeout");
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                        clock.request_finished();
                    }
                    _ => {}
                },
                _ = stopping.changed(), if !closing => {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// Counts a connection the watchdog closes, by why: `header_timeout`,
/// `idle_timeout`, or `stalled_while_closing` (still open an idle period
/// after being asked to close, such as a client not reading its answer).
fn closed_by(reason: &'static str) {
    metrics::counter!("portcullis_http_connections_closed_total", "reason" => reason).increment(1);
}

async fn sleep_until(deadline: Option<(Instant, Expiry)>) {
    match deadline {
        Some((when, _)) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

/// Where a connection is between requests, for its watchdog.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// No request in progress since `since`.
    Idle { since: Instant },
    /// A request's first bytes arrived at `since`; its headers have not.
    ReadingHead { since: Instant },
    /// The router has the request (its body is bounded by its own deadline).
    Busy,
}

/// What the connection's stream and service tell its watchdog.
struct ConnectionClock {
    phase: Mutex<Phase>,
    /// Woken when a deadline may have moved earlier.
    changed: Notify,
}

impl ConnectionClock {
    /// A new connection is reading its first request's headers from the
    /// start: one that sends nothing is gone after the header timeout, not
    /// the longer idle timeout meant for keep-alive between requests.
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::ReadingHead {
                since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
    }

    /// Bytes arrived: between requests, they begin the next one's headers.
    fn bytes_arrived(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::ReadingHead {
                since: Instant::now(),
            };
            drop(phase);
            self.changed.notify_one();
        }
    }

    fn request_started(&self) {
        self.set(Phase::Busy);
    }

    fn request_finished(&self) {
        self.set(Phase::Idle {
            since: Instant::now(),
        });
        self.changed.notify_one();
    }

    /// When the watchdog must act next, and why; `None` while busy.
    fn deadline(&self, settings: &HttpSettings) -> Option<(Instant, Expiry)> {
        match *self.phase.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Idle { since } => Some((since + settings.idle_timeout, Expiry::Idle)),
            Phase::ReadingHead { since } => Some((since + settings.header_timeout, Expiry::Header)),
            Phase::Busy => None,
        }
    }
}

/// The TCP stream, telling the clock when bytes arrive.
struct WatchedStream {
    stream: TcpStream,
    clock: Arc<ConnectionClock>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buffer.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(context, buffer);
        if matches!(polled, Poll::Ready(Ok(()))) && buffer.filled().len() > before {
            this.clock.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(context, bytes)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(context, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(context)
    }
}
