//! [`ResponseFuture`]: the inner service's future, an early answer, or (rarely) the boxed
//! slow path that reads a form body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::response::Response;
use futures_util::future::BoxFuture;

use crate::service::After;

pin_project_lite::pin_project! {
    /// The future of [`SecurityService`](crate::SecurityService).
    pub struct ResponseFuture<F, E> {
        #[pin]
        kind: Kind<F, E>,
        after: Option<After>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, E> {
        Inner { #[pin] future: F },
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
    pub(crate) fn inner(future: F, after: After) -> Self {
        Self {
            kind: Kind::Inner { future },
            after: Some(after),
        }
    }

    pub(crate) fn ready(response: Response) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
            after: None,
        }
    }

    pub(crate) fn boxed(
        future: impl Future<Output = Result<Response, E>> + Send + 'static,
    ) -> Self {
        Self {
            kind: Kind::Boxed {
                future: Box::pin(future),
            },
            after: None,
        }
    }
}

impl<F, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.kind.project() {
            KindProj::Inner { future } => {
                let mut response = ready!(future.poll(cx))?;
                if let Some(mut after) = this.after.take() {
                    after.apply(&mut response);
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
