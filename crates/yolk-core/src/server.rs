//! Serving an app with a bounded graceful stop.
//!
//! On the shutdown signal the server stops accepting, lets in-flight requests finish for up to
//! the drain timeout, then closes what is left and says how many connections that was — an open
//! stream cannot hold a stop forever.

use std::convert::Infallible;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower_layer::Layer;

/// Serves `router` on `listener` until `shutdown` completes, then drains for up to `drain`.
///
/// Handlers see the peer's address as `ConnectInfo<SocketAddr>`.
///
/// # Errors
///
/// The I/O error that ended serving.
pub async fn serve<F>(
    router: Router,
    listener: TcpListener,
    shutdown: F,
    drain: Duration,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let open = Arc::new(AtomicUsize::new(0));
    let listener = TrackingListener {
        inner: listener,
        open: Arc::clone(&open),
    };
    let make_service = tower::service_fn(move |incoming: IncomingStream<'_, TrackingListener>| {
        let peer = *incoming.remote_addr();
        let service = axum::Extension(ConnectInfo(peer)).layer(router.clone());
        std::future::ready(Ok::<_, Infallible>(service))
    });
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, make_service)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping.send(());
        })
        .into_future();
    let open_at_deadline = Arc::clone(&open);
    let deadline = async move {
        if stopped.await.is_err() {
            // The server ended on its own: no deadline to enforce.
            return std::future::pending().await;
        }
        tracing::info!(
            connections = open_at_deadline.load(Ordering::Relaxed),
            "stopping: no longer accepting; draining in-flight requests for up to {drain:?}"
        );
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        result = server => {
            tracing::info!("drained: every connection closed");
            result
        }
        () = deadline => {
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

/// A TCP listener that counts its open connections and turns Nagle off on each.
#[derive(Debug)]
struct TrackingListener {
    inner: TcpListener,
    open: Arc<AtomicUsize>,
}

impl Listener for TrackingListener {
    type Io = TrackedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, peer) = Listener::accept(&mut self.inner).await;
        let _ = stream.set_nodelay(true);
        self.open.fetch_add(1, Ordering::Relaxed);
        let stream = TrackedStream {
            inner: stream,
            open: Arc::clone(&self.open),
        };
        (stream, peer)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
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
