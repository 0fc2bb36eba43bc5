//! [`ResponseFuture`]: the inner service's future, an early answer, or (rarely) the boxed
//! slow path that reads a form body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::response::Response;
use futures_util::future::BoxFuture;

use crate::state::{RequestState, ScopedFuture};

pin_project_lite::pin_project! {
    /// The future of [`SecurityService`](crate::SecurityService).
    pub struct ResponseFuture<F, E> {
        #[pin]
        kind: Kind<F, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, E> {
        Inner { #[pin] future: ScopedFuture<F> },
        Ready { response: Option<Response> },
        Boxed { future: BoxFuture<'static, Result<Response, E>> },
    }
}

impl<F, E> std::fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, E> ResponseFuture<F, E> {
    /// `future` polled with `state` in scope for the handler's extractors; its response then
    /// gets what `state` adds.
    pub(crate) fn inner(future: F, state: RequestState) -> Self
    where
        F: Future,
    {
        Self {
            kind: Kind::Inner {
                future: crate::state::scope(state, future),
            },
        }
    }

    pub(crate) fn ready(response: Response) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }

    pub(crate) fn boxed(
        future: impl Future<Output = Result<Response, E>> + Send + 'static,
    ) -> Self {
        Self {
            kind: Kind::Boxed {
                future: Box::pin(future),
            },
        }
    }
}

impl<F, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { mut future } => {
                let mut response = ready!(future.as_mut().poll(cx))?;
                if let Some(mut state) = future.take_value() {
                    state.apply(&mut response);
                }
                Poll::Ready(Ok(response))
            }
            KindProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            KindProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}
