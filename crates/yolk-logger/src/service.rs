//! [`RequestLog`]: the service of [`RequestLogLayer`].

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower_service::Service;

use crate::context::{REQUEST, RequestInfo};
use crate::format::request_line;
use crate::layer::RequestLogLayer;

/// The `tracing` target of the one line per request.
pub const REQUEST_TARGET: &str = "yolk_logger::request";

/// Runs the inner service inside the request's log context; see
/// [`RequestLogLayer`].
#[derive(Clone, Debug)]
pub struct RequestLog<S> {
    pub(crate) inner: S,
    pub(crate) layer: RequestLogLayer,
}

impl<S, B, ResBody> Service<Request<B>> for RequestLog<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let start = Instant::now();
        let (parts, body) = request.into_parts();
        let info = Box::new(RequestInfo {
            start,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            ip: yolk_core::request::client_ip(&parts, &self.layer.proxy),
            trace_id: self
                .layer
                .trace_header
                .as_ref()
                .and_then(|name| parts.headers.get(name))
                .cloned(),
            user_id: RefCell::new(None),
            answered_ms: Cell::new(None),
        });
        let future = self.inner.call(Request::from_parts(parts, body));
        ResponseFuture {
            inner: REQUEST.scope(
                info,
                LineOnResponse {
                    inner: future,
                    log: self.layer.log_requests,
                },
            ),
        }
    }
}

pin_project! {
    /// The response future of [`RequestLog`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: TaskLocalFuture<Box<RequestInfo>, LineOnResponse<F>>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

pin_project! {
    /// The inner service's future, which logs the request line once it has the response:
    /// polled inside the request's scope, so the line gets the request's prefix without the
    /// context being set a second time.
    struct LineOnResponse<F> {
        #[pin]
        inner: F,
        log: bool,
    }
}

impl<F, ResBody, E> Future for LineOnResponse<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if *this.log
            && let Ok(response) = &result
        {
            // The message is formatted only when some logger takes the line; a `str` is
            // recorded without `core::fmt`.
            tracing::info!(
                target: REQUEST_TARGET,
                message = request_line(
                    response.status().as_u16(),
                    REQUEST.try_with(|info| info.answered()).unwrap_or(0),
                )
                .as_str()
            );
        }
        Poll::Ready(result)
    }
}
