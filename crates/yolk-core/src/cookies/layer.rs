//! [`CookieLayer`], its service and its response future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::jar::CookieSlot;
use crate::keys::Keys;

/// Gives each request a cookie jar that the [`Cookies`](super::Cookies) extractor reads, and
/// adds the `Set-Cookie` headers queued in it to the response.
///
/// The jar is lazy: a request whose handler never extracts `Cookies` costs one small allocation
/// and no parsing. `yolk_core::App` adds this layer with the application's keys; a plain axum
/// application adds it itself:
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

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let slot = CookieSlot::new(self.keys.clone());
        req.extensions_mut().insert(slot.clone());
        ResponseFuture {
            inner: self.inner.call(req),
            slot,
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
        inner: F,
        slot: CookieSlot,
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
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx))?;
        this.slot.flush_into(res.headers_mut());
        Poll::Ready(Ok(res))
    }
}
