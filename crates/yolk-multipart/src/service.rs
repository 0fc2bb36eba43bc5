//! [`MultipartService`]: puts the request's upload settings where the extractors find them.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::task::{Context, Poll};

use http::header::CONTENT_TYPE;
use http::{HeaderMap, Request};
use tower_service::Service;

use crate::layer::{Policy, Settings};

/// What the extractors read from a multipart request's extensions.
#[derive(Debug)]
pub(crate) struct RequestState {
    pub(crate) policy: Arc<Policy>,
    /// Set by the first extractor that takes the body.
    pub(crate) taken: AtomicBool,
}

/// The service of [`MultipartLayer`](crate::MultipartLayer).
///
/// For a `multipart/*` request it adds the settings of the request's path to its extensions;
/// any other request passes untouched. Its future is the inner service's.
#[derive(Clone, Debug)]
pub struct MultipartService<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S> MultipartService<S> {
    pub(crate) fn new(inner: S, settings: Arc<Settings>) -> Self {
        Self { inner, settings }
    }
}

/// True when `Content-Type` is `multipart/*`, in any case.
pub(crate) fn is_multipart(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_some_and(|value| {
        value
            .as_bytes()
            .get(..10)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"multipart/"))
    })
}

impl<S, B> Service<Request<B>> for MultipartService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if is_multipart(request.headers()) {
            let policy = Arc::clone(self.settings.policy_for(request.uri().path()));
            request.extensions_mut().insert(Arc::new(RequestState {
                policy,
                taken: AtomicBool::new(false),
            }));
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn multipart_content_types() {
        let check = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            is_multipart(&headers)
        };
        assert!(check("multipart/form-data; boundary=x"));
        assert!(check("Multipart/Mixed"));
        assert!(!check("multipart"));
        assert!(!check("application/json"));
        assert!(!is_multipart(&HeaderMap::new()));
    }
}
