//! [`SessionService`] and its [`ResponseFuture`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use http::header::SET_COOKIE;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::error::SessionError;
use crate::extract::error_response;
use crate::session::{Plan, SessionSlot, Shared, State, find_cookie, now_ms};

/// The service made by [`SessionLayer`](crate::SessionLayer).
///
/// ```
/// use tower::{ServiceBuilder, service_fn};
/// use yolk_session::{SessionLayer, SessionService};
///
/// let svc: SessionService<_> = ServiceBuilder::new()
///     .layer(SessionLayer::new(yolk_core::Keys::default()))
///     .service(service_fn(|_req: http::Request<()>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(axum::body::Body::empty()))
///     }));
/// # let _ = svc;
/// ```
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("layer", &self.shared)
            .finish_non_exhaustive()
    }
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S, ReqBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let preload = if self.shared.rolling || self.shared.renew {
            find_cookie(req.headers(), &self.shared.name).map(|cookie| {
                let json = yolk_core::request::accepts_json(req.headers(), req.uri().path());
                (cookie, json)
            })
        } else {
            None
        };
        let slot = SessionSlot::new(Arc::clone(&self.shared), preload);
        req.extensions_mut().insert(slot.clone());
        ResponseFuture {
            inner: self.inner.call(req),
            slot: Some(slot),
            saving: None,
        }
    }
}

type Saving = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

pin_project! {
    /// The response future of [`SessionService`]: the inner response, with the session saved
    /// and its `Set-Cookie` added. Only a save to an external store is boxed; everything else
    /// completes in place.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        slot: Option<SessionSlot>,
        saving: Option<Saving>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(saving) = this.saving.as_mut() {
            return saving.as_mut().poll(cx).map(Ok);
        }
        let response = ready!(this.inner.poll(cx))?;
        let Some(slot) = this.slot.take() else {
            return Poll::Ready(Ok(response));
        };
        match commit(slot, response) {
            Commit::Done(response) => Poll::Ready(Ok(response)),
            Commit::Pending(mut saving) => {
                let polled = saving.as_mut().poll(cx);
                *this.saving = Some(saving);
                polled.map(Ok)
            }
        }
    }
}

enum Commit {
    Done(Response<Body>),
    Pending(Saving),
}

fn finish(
    mut response: Response<Body>,
    result: Result<Option<http::HeaderValue>, SessionError>,
    wants_json: bool,
) -> Response<Body> {
    match result {
        Ok(Some(header)) => {
            response.headers_mut().append(SET_COOKIE, header);
            response
        }
        Ok(None) => response,
        Err(error) => {
            if error.status().is_server_error() && !matches!(error, SessionError::Store { .. }) {
                tracing::error!("session not saved: {error}");
            } else {
                tracing::warn!("session not saved: {error}");
            }
            error_response(error.status(), &error.to_string(), wants_json)
        }
    }
}

/// Saves the session if it must; synchronous unless an external store must be written.
fn commit(slot: SessionSlot, response: Response<Body>) -> Commit {
    let shared = Arc::clone(&slot.slot().shared);
    let mut guard = slot.lock();
    if guard.is_none() {
        // No handler touched the session: only renew / rolling may still refresh it.
        let Some((cookie, wants_json)) = slot.slot().preload.clone() else {
            return Commit::Done(response);
        };
        if shared.store.is_some() {
            drop(guard);
            return Commit::Pending(Box::pin(async move {
                match State::load(&shared, Some(&cookie), wants_json).await {
                    Ok(mut state) => {
                        let plan = state.plan(&shared, now_ms());
                        save(shared, plan, response, wants_json).await
                    }
                    Err(error) => finish(response, Err(error), wants_json),
                }
            }));
        }
        *guard = Some(State::from_cookie(&shared, Some(&cookie), wants_json));
    }
    let Some(state) = guard.as_mut() else {
        return Commit::Done(response);
    };
    let wants_json = state.wants_json;
    let plan = state.plan(&shared, now_ms());
    drop(guard);
    if matches!(plan, Plan::Nothing) {
        return Commit::Done(response);
    }
    if shared.store.is_some() {
        return Commit::Pending(Box::pin(save(shared, plan, response, wants_json)));
    }
    Commit::Done(finish(response, plan.apply_cookie(&shared), wants_json))
}

async fn save(
    shared: Arc<Shared>,
    plan: Plan,
    response: Response<Body>,
    wants_json: bool,
) -> Response<Body> {
    let Some(store) = shared.store.as_deref() else {
        return response;
    };
    let result = plan.apply_store(&shared, store).await;
    finish(response, result, wants_json)
}
