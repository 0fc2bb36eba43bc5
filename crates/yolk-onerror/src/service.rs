//! [`OnErrorService`]: the service [`OnErrorLayer`](crate::OnErrorLayer) wraps around a
//! router or handler, and the answer it gives an error.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Request, StatusCode};
use http_body::Body as HttpBody;
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::layer::Shared;
use crate::panic::{self, Capture};
use crate::render;
use crate::report::{ErrorReport, Failure};
use crate::request::{RequestHead, ResponseKind};

/// The service of [`OnErrorLayer`](crate::OnErrorLayer).
#[derive(Clone)]
pub struct OnErrorService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for OnErrorService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnErrorService").finish_non_exhaustive()
    }
}

impl<S> OnErrorService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for OnErrorService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let head = RequestHead::new(&request, self.shared.details, self.shared.proxy);
        let capture = self.shared.capture();
        let inner = &mut self.inner;
        match panic::recording(capture, || {
            std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(request)))
        }) {
            Ok(future) => ResponseFuture::new(future, head, Arc::clone(&self.shared)),
            Err(payload) => {
                let report = panic::report(payload.as_ref());
                ResponseFuture::ready(self.shared.answer(Arc::new(report), &head, None))
            }
        }
    }
}

impl Shared {
    /// What the panic hook records while a handler runs.
    pub(crate) fn capture(&self) -> Capture {
        if self.details {
            Capture::Backtrace
        } else {
            Capture::Location
        }
    }

    /// The response the client gets for the inner service's `response`.
    pub(crate) fn finish<B>(&self, response: Response<B>, head: &RequestHead) -> Response
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        if let Some(report) = response.extensions().get::<Arc<ErrorReport>>() {
            let report = Arc::clone(report);
            return self.answer(report, head, Some(response.map(Body::new)));
        }
        if self.not_found
            && response.status() == StatusCode::NOT_FOUND
            && response.body().size_hint().exact() == Some(0)
        {
            return self.not_found(head, response.map(Body::new));
        }
        response.map(Body::new)
    }

    fn kind(&self, head: &RequestHead) -> ResponseKind {
        match &self.accepts {
            Some(hook) => hook.choose(head),
            None => head.preferred_kind(),
        }
    }

    /// Logs `report` and renders it for the client; keeps the headers of `original` (those
    /// the error set) but its body and body headers.
    pub(crate) fn answer(
        &self,
        report: Arc<ErrorReport>,
        head: &RequestHead,
        original: Option<Response>,
    ) -> Response {
        let failure = Failure {
            error: &report,
            request: head,
            details: self.details,
            config: if self.details {
                self.config.as_ref()
            } else {
                None
            },
        };
        self.log(&failure);
        let mut rendered = if let Some(all) = &self.all {
            all.render(&failure)
        } else {
            match self.kind(head) {
                ResponseKind::Json => match &self.json {
                    Some(hook) => hook.render(&failure),
                    None => render::json(&failure),
                },
                ResponseKind::Text => match &self.text {
                    Some(hook) => hook.render(&failure),
                    None => render::text(&failure),
                },
                ResponseKind::Html => match &self.html {
                    Some(hook) => hook.render(&failure),
                    None => match (&self.error_page_url, report.status().is_server_error()) {
                        (Some(url), true) if !self.details => {
                            render::redirect(with_real_status(url, report.status()))
                        }
                        _ => render::html(&failure),
                    },
                },
            }
        };
        if let Some(original) = original {
            merge_headers(&mut rendered, original);
        }
        rendered.extensions_mut().insert(report);
        rendered
    }

    fn not_found(&self, head: &RequestHead, original: Response) -> Response {
        let mut rendered = match self.kind(head) {
            ResponseKind::Json => render::not_found_json(),
            ResponseKind::Text => render::not_found_text(),
            ResponseKind::Html => match &self.not_found_page_url {
                Some(url) if url.as_bytes() == head.path().as_bytes() => {
                    render::not_found_html(url.to_str().ok())
                }
                Some(url) => render::redirect(url.clone()),
                None => render::not_found_html(None),
            },
        };
        merge_headers(&mut rendered, original);
        rendered
    }

    fn log(&self, failure: &Failure<'_>) {
        if let Some(filter) = &self.filter
            && !filter.should_log(failure)
        {
            return;
        }
        let error = failure.error();
        let status = error.status().as_u16();
        let request = failure.request().log_prefix();
        if error.status().is_server_error() {
            tracing::error!(target: "yolk::onerror", status, request = %request, "{}", error.log_line());
        } else {
            tracing::warn!(target: "yolk::onerror", status, request = %request, "{}", error.log_line());
        }
    }
}

/// `url` with `real_status=CODE` added to its query.
fn with_real_status(url: &HeaderValue, status: StatusCode) -> HeaderValue {
    let separator = if url.as_bytes().contains(&b'?') {
        '&'
    } else {
        '?'
    };
    let mut bytes = url.as_bytes().to_vec();
    bytes.extend_from_slice(format!("{separator}real_status={}", status.as_u16()).as_bytes());
    HeaderValue::from_bytes(&bytes).unwrap_or_else(|_| url.clone())
}

/// Copies `original`'s headers onto `rendered`, except those describing the old body and
/// those `rendered` sets itself.
fn merge_headers(rendered: &mut Response, original: Response) {
    let (parts, _) = original.into_parts();
    let own = rendered.headers().clone();
    let mut name = None;
    for (header, value) in parts.headers {
        if let Some(header) = header {
            name = Some(header);
        }
        let Some(name) = &name else { continue };
        if name == CONTENT_TYPE || name == CONTENT_LENGTH || own.contains_key(name) {
            continue;
        }
        rendered.headers_mut().append(name.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_status_is_appended_to_the_query() {
        let url = HeaderValue::from_static("/50x.html");
        assert_eq!(
            with_real_status(&url, StatusCode::BAD_GATEWAY),
            "/50x.html?real_status=502"
        );
        let url = HeaderValue::from_static("https://err.example/?from=app");
        assert_eq!(
            with_real_status(&url, StatusCode::INTERNAL_SERVER_ERROR),
            "https://err.example/?from=app&real_status=500"
        );
    }
}
