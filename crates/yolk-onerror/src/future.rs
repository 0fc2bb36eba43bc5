//! [`ResponseFuture`]: the inner service's future, with panics caught and errors answered.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use bytes::Bytes;
use http_body::Body as HttpBody;
use pin_project_lite::pin_project;

use crate::layer::Shared;
use crate::panic;
use crate::request::RequestHead;

pin_project! {
    /// The future of [`OnErrorService`](crate::OnErrorService).
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Running {
            #[pin]
            future: F,
            head: Option<RequestHead>,
            shared: Arc<Shared>,
        },
        Ready {
            response: Option<Response>,
        },
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(future: F, head: RequestHead, shared: Arc<Shared>) -> Self {
        Self {
            kind: Kind::Running {
                future,
                head: Some(head),
                shared,
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
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Ready { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            KindProj::Running {
                future,
                head,
                shared,
            } => {
                let polled = panic::recording(shared.capture(), || {
                    std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx)))
                });
                match polled {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(Err(error))) => Poll::Ready(Err(error)),
                    Ok(Poll::Ready(Ok(response))) => {
                        let head = head.take().expect("polled after completion");
                        Poll::Ready(Ok(shared.finish(response, &head)))
                    }
                    Err(payload) => {
                        let head = head.take().expect("polled after completion");
                        let report = panic::report(payload.as_ref());
                        Poll::Ready(Ok(shared.answer(Arc::new(report), &head, None)))
                    }
                }
            }
        }
    }
}
