//! Serving an app with a graceful stop that fails no request.
//!
//! A plain graceful shutdown drops a connection that was accepted but whose request has not
//! been read yet (hyper's protocol detection is still waiting for its first bytes), so a client
//! that connected a moment before the stop gets a reset. The server therefore stops in steps:
//!
//! 1. it stops accepting — in a cluster, connections still queued on the shared socket go to
//!    the other workers — and serves what it already accepted as usual;
//! 2. once those connections are closed, or after [`SETTLE`], the graceful shutdown begins:
//!    idle connections close, in-flight requests finish;
//! 3. after the drain timeout, whatever is still open is closed, and the count is logged — an
//!    open stream cannot hold a stop forever.

use std::convert::Infallible;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::extract::Request;
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use http::HeaderValue;
use http::header::CONNECTION;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_service::Service;

/// The longest a stopping worker waits, after it stops accepting, for the requests of the
/// connections it has accepted to arrive before the graceful shutdown begins.
pub const SETTLE: Duration = Duration::from_secs(1);

/// Serves `service` (an [`App::service`](crate::App::service) or any axum `Router`) on
/// `listener` until `stop` completes, then stops as the module says, with
/// in-flight requests given up to `drain`.
///
/// Handlers see the peer's address as `ConnectInfo<SocketAddr>`.
///
/// # Errors
///
/// The I/O error that ended serving.
pub async fn serve<S, F>(
    service: S,
    listener: TcpListener,
    stop: F,
    drain: Duration,
) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    F: Future<Output = ()> + Send + 'static,
{
    let open = Arc::new(AtomicUsize::new(0));
    let (stop_accepting, accepting) = watch::channel(false);
    let listener = WorkerListener {
        inner: Some(listener),
        stopped: accepting,
        open: Arc::clone(&open),
    };
    let draining = Arc::new(AtomicBool::new(false));
    let closing = Arc::clone(&draining);
    let make_service = tower::service_fn(move |incoming: IncomingStream<'_, WorkerListener>| {
        std::future::ready(Ok::<_, Infallible>(ConnectionService {
            inner: service.clone(),
            peer: *incoming.remote_addr(),
            closing: Arc::clone(&closing),
        }))
    });
    let (graceful, graceful_signal) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, make_service)
        .with_graceful_shutdown(async move {
            let _ = graceful_signal.await;
        })
        .into_future();
    let open_seen = Arc::clone(&open);
    let control = async move {
        stop.await;
        draining.store(true, Ordering::Relaxed);
        let _ = stop_accepting.send(true);
        let settle_until = Instant::now() + SETTLE;
        while open_seen.load(Ordering::Relaxed) > 0 && Instant::now() < settle_until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tracing::info!(
            connections = open_seen.load(Ordering::Relaxed),
            "stopping: no longer accepting; draining in-flight requests for up to {drain:?}"
        );
        let _ = graceful.send(());
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        served = server => served,
        () = control => {
            tracing::warn!(
                connections = open.load(Ordering::Relaxed),
                "drain timeout of {drain:?} reached: closing the connections still open"
            );
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C elsewhere).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// One connection's service: gives each request the peer's address as
/// `ConnectInfo<SocketAddr>`, and while the server stops, marks each response
/// `Connection: close`.
///
/// One service and one future rather than axum's `AddExtension` plus a `map_response`: this
/// runs on every request, so it costs no more than it must.
#[derive(Clone, Debug)]
struct ConnectionService<S> {
    inner: S,
    peer: SocketAddr,
    closing: Arc<AtomicBool>,
}

impl<S> Service<Request> for ConnectionService<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ConnectionFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        ConnectionFuture {
            inner: self.inner.call(request),
            closing: Arc::clone(&self.closing),
        }
    }
}

pin_project! {
    /// The response future of [`ConnectionService`].
    struct ConnectionFuture<F> {
        #[pin]
        inner: F,
        closing: Arc<AtomicBool>,
    }
}

impl<F, E> Future for ConnectionFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        // While stopping, each keep-alive connection closes after its next response, so its
        // client reconnects to a server that is still accepting instead of racing the close of
        // an idle connection.
        if this.closing.load(Ordering::Relaxed) {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(response))
    }
}

/// The shared socket, until the worker stops accepting; then nothing more is accepted and this
/// process's copy of the socket is closed.
#[derive(Debug)]
struct WorkerListener {
    inner: Option<TcpListener>,
    stopped: watch::Receiver<bool>,
    open: Arc<AtomicUsize>,
}

impl Listener for WorkerListener {
    type Io = TrackedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if *self.stopped.borrow_and_update() {
                self.inner = None;
            }
            let Some(inner) = &self.inner else {
                return std::future::pending().await;
            };
            tokio::select! {
                accepted = inner.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        self.open.fetch_add(1, Ordering::Relaxed);
                        let stream = TrackedStream {
                            inner: stream,
                            open: Arc::clone(&self.open),
                        };
                        return (stream, peer);
                    }
                    // Per-connection errors (a reset before accept, too many open files):
                    // pause briefly, as axum does, and go on.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                changed = self.stopped.changed() => {
                    if changed.is_err() {
                        self.inner = None;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.inner {
            Some(inner) => inner.local_addr(),
            None => Err(io::Error::other("no longer accepting")),
        }
    }
}

/// A connection that is counted until it is dropped.
#[derive(Debug)]
struct TrackedStream {
    inner: TcpStream,
    open: Arc<AtomicUsize>,
}

impl Drop for TrackedStream {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
