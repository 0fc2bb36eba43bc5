//! The service a middleware wraps.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use tower::ServiceExt;
use tower_service::Service;

type BoxedFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// What a [`Middleware`](super::Middleware)'s layer wraps: the middleware after it, then the
/// app's routes.
///
/// The app's middleware are composed once, around the router, when the app is built: a request
/// passes each of them before it is routed, as in Egg, where the router is the last
/// middleware. So a middleware may rewrite the path the router then sees, and each one costs a
/// request one call and one boxed future, not the boxed route that `Router::layer` clones for
/// every request.
///
/// Any layer generic over its inner service accepts it:
///
/// ```
/// use tower_http::set_header::SetResponseHeaderLayer;
/// use http::{header::CACHE_CONTROL, HeaderValue};
/// use yolk_core::Middleware;
///
/// let no_store = Middleware::new(
///     "no_store",
///     SetResponseHeaderLayer::overriding(CACHE_CONTROL, HeaderValue::from_static("no-store")),
/// );
/// assert_eq!(no_store.name(), "no_store");
/// ```
#[derive(Clone)]
pub struct Downstream(Kind);

#[derive(Clone)]
enum Kind {
    Routes(Router),
    Layered(Arc<dyn Erased>),
}

impl fmt::Debug for Downstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Kind::Routes(_) => "Downstream::Routes",
            Kind::Layered(_) => "Downstream::Layered",
        })
    }
}

impl Downstream {
    /// The routes, with no middleware around them yet.
    pub(crate) fn routes(router: Router) -> Self {
        Self(Kind::Routes(router))
    }

    /// `service` (a layer around a `Downstream`) behind one pointer, so the next layer out
    /// wraps a `Downstream` again.
    pub(crate) fn erase<S>(service: S) -> Self
    where
        S: Service<Request> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Error: Into<Infallible>,
        S::Future: Send + 'static,
    {
        Self(Kind::Layered(Arc::new(service)))
    }
}

impl Service<Request> for Downstream {
    type Response = Response;
    type Error = Infallible;
    type Future = DownstreamFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both kinds are always ready: the router is, and a layered service is driven to
        // readiness inside its own future (it is cloned per request, as tower does).
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, request: Request) -> Self::Future {
        let kind = match &mut self.0 {
            Kind::Routes(router) => FutureKind::Routes {
                future: router.call(request),
            },
            Kind::Layered(service) => FutureKind::Layered {
                future: service.call_erased(request),
            },
        };
        DownstreamFuture { kind }
    }
}

/// A layer's service, with its types erased.
trait Erased: Send + Sync {
    fn call_erased(&self, request: Request) -> BoxedFuture;
}

impl<S> Erased for S
where
    S: Service<Request> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse,
    S::Error: Into<Infallible>,
    S::Future: Send + 'static,
{
    fn call_erased(&self, request: Request) -> BoxedFuture {
        let mut service = self.clone();
        // The services of middleware are nearly always ready at once; then the request goes
        // straight in and only the service's own future is boxed. One that is not ready is
        // driven to readiness inside the future, with the request's task as its waker.
        let mut cx = Context::from_waker(Waker::noop());
        match service.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => {
                // The slot first, so the future can be built in it rather than moved there.
                let slot = Box::<IntoResponseFuture<S::Future>>::new_uninit();
                let future: Box<IntoResponseFuture<S::Future>> =
                    Box::write(slot, IntoResponseFuture::new(service.call(request)));
                Box::into_pin(future)
            }
            #[allow(unreachable_code)] // `Into<Infallible>`: written for the type system.
            Poll::Ready(Err(error)) => match error.into() {},
            Poll::Pending => Box::pin(IntoResponseFuture::new(service.oneshot(request))),
        }
    }
}

pin_project_lite::pin_project! {
    /// A service's future, its response turned into a `Response`.
    pub(super) struct IntoResponseFuture<F> {
        #[pin]
        future: F,
    }
}

impl<F> IntoResponseFuture<F> {
    pub(super) fn new(future: F) -> Self {
        Self { future }
    }
}

impl<F, R, E> Future for IntoResponseFuture<F>
where
    F: Future<Output = Result<R, E>>,
    R: IntoResponse,
    E: Into<Infallible>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::task::ready!(self.project().future.poll(cx)) {
            Ok(response) => Poll::Ready(Ok(response.into_response())),
            #[allow(unreachable_code)] // as above
            Err(error) => match error.into() {},
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Downstream`].
    pub struct DownstreamFuture {
        #[pin]
        kind: FutureKind,
    }
}

pin_project_lite::pin_project! {
    #[project = FutureKindProj]
    enum FutureKind {
        Routes { #[pin] future: RouteFuture<Infallible> },
        Layered { future: BoxedFuture },
    }
}

impl fmt::Debug for DownstreamFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DownstreamFuture")
    }
}

impl Future for DownstreamFuture {
    type Output = Result<Response, Infallible>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            FutureKindProj::Routes { future } => future.poll(cx),
            FutureKindProj::Layered { future } => future.as_mut().poll(cx),
        }
    }
}
