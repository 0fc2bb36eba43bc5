//! [`CookieLayer`], its service and its response future.

use std::cell::OnceCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower_layer::Layer;
use tower_service::Service;

use super::jar::CookieSlot;
use crate::keys::Keys;

tokio::task_local! {
    /// The jar of the request whose future is being polled inside a [`CookieLayer`].
    ///
    /// A task-local rather than a request extension: a request whose handler never extracts
    /// `Cookies` then costs no allocation at all, and the hot path of every request stays as
    /// short as the router's own.
    static REQUEST_JAR: RequestJar;
}

/// What [`CookieLayer`] scopes around each request: the keys, and the jar once extracted.
struct RequestJar {
    keys: Keys,
    slot: OnceCell<CookieSlot>,
}

/// The jar of the request being handled: made on first use, shared by later extractions of
/// the same request. `None` outside a [`CookieLayer`] (or on another task than the request's).
pub(super) fn request_jar() -> Option<CookieSlot> {
    REQUEST_JAR
        .try_with(|jar| {
            jar.slot
                .get_or_init(|| CookieSlot::new(jar.keys.clone()))
                .clone()
        })
        .ok()
}

/// Gives each request a cookie jar that the [`Cookies`](super::Cookies) extractor reads, and
/// adds the `Set-Cookie` headers queued in it to the response.
///
/// The jar is lazy: a request whose handler never extracts `Cookies` costs no allocation and
/// no parsing. The jar lives on the request's task, so `Cookies` is extracted where axum runs
/// extractors — in the handler or in middleware inside this layer; a layer that moves the
/// request to another task (tower's `Buffer`) must sit outside it. `yolk_core::App` adds this
/// layer with the application's keys; a plain axum application adds it itself:
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, header};
/// use tower::ServiceExt;
/// use yolk_core::cookies::{CookieLayer, CookieOptions, Cookies};
/// use yolk_core::keys::Keys;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route(
///         "/",
///         get(|cookies: Cookies| async move {
///             let theme = cookies.get("theme").unwrap_or_else(|| "light".to_owned());
///             cookies.set("seen", "1", &CookieOptions::new()).unwrap();
///             theme
///         }),
///     )
///     .layer(CookieLayer::new(Keys::parse("a-long-random-secret").unwrap()));
///
/// let req = Request::builder()
///     .header(header::COOKIE, "theme=dark")
///     .body(Body::empty())
///     .unwrap();
/// let res = app.oneshot(req).await.unwrap();
/// assert_eq!(res.headers()[header::SET_COOKIE], "seen=1; HttpOnly; Path=/");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct CookieLayer {
    keys: Keys,
}

impl CookieLayer {
    /// A layer whose jars sign and encrypt with `keys` (newest first). With empty keys, plain
    /// cookies still work and signed or encrypted ones fail with
    /// [`KeysError::NoKeys`](crate::keys::KeysError::NoKeys).
    ///
    /// ```
    /// use yolk_core::{cookies::CookieLayer, keys::Keys};
    ///
    /// let layer = CookieLayer::new(Keys::parse("new,old").unwrap());
    /// assert_eq!(layer.keys().len(), 2);
    /// ```
    pub fn new(keys: Keys) -> Self {
        Self { keys }
    }

    /// The keys this layer's jars use.
    ///
    /// ```
    /// use yolk_core::{cookies::CookieLayer, keys::Keys};
    ///
    /// assert!(CookieLayer::new(Keys::default()).keys().is_empty());
    /// ```
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
}

impl<S> Layer<S> for CookieLayer {
    type Service = CookieService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CookieService {
            inner,
            keys: self.keys.clone(),
        }
    }
}

/// The service made by [`CookieLayer`].
///
/// ```
/// use tower::{ServiceBuilder, service_fn};
/// use yolk_core::{cookies::{CookieLayer, CookieService}, keys::Keys};
///
/// let svc: CookieService<_> = ServiceBuilder::new()
///     .layer(CookieLayer::new(Keys::default()))
///     .service(service_fn(|_req: http::Request<()>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(()))
///     }));
/// # let _ = svc;
/// ```
#[derive(Clone, Debug)]
pub struct CookieService<S> {
    inner: S,
    keys: Keys,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CookieService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let jar = RequestJar {
            keys: self.keys.clone(),
            slot: OnceCell::new(),
        };
        ResponseFuture {
            inner: REQUEST_JAR.scope(jar, self.inner.call(req)),
        }
    }
}

pin_project! {
    /// The response future of [`CookieService`]: the inner service's response with the queued
    /// `Set-Cookie` headers appended.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use tower::{Service, ServiceExt, service_fn};
    /// use yolk_core::{cookies::{CookieLayer, ResponseFuture}, keys::Keys};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut svc = tower::ServiceBuilder::new()
    ///     .layer(CookieLayer::new(Keys::default()))
    ///     .service(service_fn(|_req: http::Request<()>| async {
    ///         Ok::<_, Infallible>(http::Response::new(()))
    ///     }));
    /// let fut: ResponseFuture<_> = svc.ready().await.unwrap().call(http::Request::new(()));
    /// let res = fut.await.unwrap();
    /// assert!(res.headers().is_empty());
    /// # }
    /// ```
    pub struct ResponseFuture<F> {
        #[pin]
        inner: TaskLocalFuture<RequestJar, F>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.project().inner;
        let mut res = ready!(inner.as_mut().poll(cx))?;
        if let Some(slot) = inner.take_value().and_then(|jar| jar.slot.into_inner()) {
            slot.flush_into(res.headers_mut());
        }
        Poll::Ready(Ok(res))
    }
}
