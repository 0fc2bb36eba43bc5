//! [`RequestState`]: what the layer decided about one request, read by the handler's
//! extractors while it is handled, then applied to its response.

use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use http::HeaderValue;
use http::header::SET_COOKIE;

use crate::extract::{RotateCsrfSecret, SecurityRejection, SkipSecurityHeaders};
use crate::layer::{Csrf, SecurityHeader, Shared};

tokio::task_local! {
    /// The state of the request whose future is being polled inside the layer.
    ///
    /// A task-local rather than a request extension: the response future owns the state and
    /// lends it to the handler's extractors while it polls the handler, so a request pays
    /// for neither a boxed extension nor a second reference to the layer's settings.
    static REQUEST: RequestState;
}

/// Where the client's CSRF secret is, for [`CsrfToken`](crate::CsrfToken).
#[derive(Clone, Debug)]
pub(crate) enum Secret {
    /// CSRF does not apply to this request, or its type uses no token.
    Inactive,
    /// In the request's cookie (read it again there rather than copy it per request).
    InCookie,
    /// Here: a new secret (a slice of its `Set-Cookie` value), or one read from the session.
    Held(Bytes),
}

/// Runs `read` on the state of the request being handled.
///
/// # Errors
///
/// [`SecurityRejection::MissingLayer`] outside a [`SecurityLayer`](crate::SecurityLayer)'s
/// response future: no layer, or an extractor run on another task than the request's.
pub(crate) fn with_current<R>(
    read: impl FnOnce(&RequestState) -> R,
) -> Result<R, SecurityRejection> {
    REQUEST
        .try_with(read)
        .map_err(|_| SecurityRejection::MissingLayer)
}

/// The inner service's future with its request's state in scope; `take_value` gives the
/// state back for the response.
pub(crate) type ScopedFuture<F> = tokio::task::futures::TaskLocalFuture<RequestState, F>;

/// `future`, polled with `state` as its request's state.
pub(crate) fn scope<F: Future>(state: RequestState, future: F) -> ScopedFuture<F> {
    REQUEST.scope(state, future)
}

/// One request's security state: what the handler's extractors read, then what its response
/// gets on its way out.
#[derive(Debug)]
pub(crate) struct RequestState {
    pub(crate) shared: Arc<Shared>,
    /// The headers that apply to this request's path, as bits of [`SecurityHeader`].
    pub(crate) mask: u8,
    pub(crate) secret: Secret,
    /// What only some responses get, boxed: every request's future moves this struct a few
    /// times, so it stays small.
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Default)]
struct Extra {
    /// The CSP header with this request's nonce, and the nonce (a slice of the same bytes).
    csp: Option<(HeaderValue, Bytes)>,
    /// The `Set-Cookie` of a new secret (a new client, or a rotation).
    new_cookie: Option<HeaderValue>,
}

impl RequestState {
    /// The state of a request to `path`, before any check.
    pub(crate) fn new(shared: &Arc<Shared>, path: &str) -> Self {
        Self {
            mask: shared.header_mask(path),
            shared: Arc::clone(shared),
            secret: Secret::Inactive,
            extra: None,
        }
    }

    /// This request's CSP nonce: a slice of the header value, no copy.
    pub(crate) fn nonce(&self) -> Option<&[u8]> {
        let (_, nonce) = self.extra.as_ref()?.csp.as_ref()?;
        Some(nonce)
    }

    /// Sets this request's CSP header, with its nonce.
    pub(crate) fn set_csp(&mut self, csp: Option<(HeaderValue, Bytes)>) {
        self.extra.get_or_insert_default().csp = csp;
    }

    /// Gives the client `secret` with the response's `cookie`.
    pub(crate) fn set_new_secret(&mut self, cookie: HeaderValue, secret: Bytes) {
        self.extra.get_or_insert_default().new_cookie = Some(cookie);
        self.secret = Secret::Held(secret);
    }

    /// Gives the client a new secret with the response.
    pub(crate) fn rotate(&mut self, csrf: &Csrf) {
        rotate(&mut self.extra, csrf);
    }

    /// The refusal's response, with what every response gets.
    pub(crate) fn refused(mut self, rejection: SecurityRejection, json: bool) -> Response {
        let mut response = rejection.response(json);
        self.apply(&mut response);
        response
    }

    /// Sets the security headers (keeping any the handler set, skipping what it asked to
    /// skip), and the CSRF cookie.
    pub(crate) fn apply(&mut self, response: &mut Response) {
        let shared = &*self.shared;
        let skip = response
            .extensions()
            .get::<SkipSecurityHeaders>()
            .map_or(0, |skip| skip.0);
        let status = response.status();
        let headers = response.headers_mut();
        let mask = self.mask & !skip & !shared.headers_in(headers);
        // No `reserve`: a small response's header map already has room for these, and
        // reserving ahead would grow it on every request.
        for header in &shared.headers {
            if mask & header.bit != 0 && !(header.skips_redirects() && status.is_redirection()) {
                headers.append(header.name.clone(), header.value.clone());
            }
        }
        if let Some(csp) = &shared.csp
            && mask & SecurityHeader::ContentSecurityPolicy.bit() != 0
        {
            let value = match &csp.fixed {
                Some(fixed) => Some(fixed.clone()),
                None => self
                    .extra
                    .as_mut()
                    .and_then(|extra| extra.csp.take())
                    .map(|(value, _)| value),
            };
            if let Some(value) = value {
                headers.append(csp.name.clone(), value);
            }
        }
        if let Some(csrf) = &shared.csrf {
            if csrf.kind.uses_token()
                && csrf.session.is_none()
                && response.extensions().get::<RotateCsrfSecret>().is_some()
            {
                rotate(&mut self.extra, csrf);
            }
            if let Some(cookie) = self
                .extra
                .as_mut()
                .and_then(|extra| extra.new_cookie.take())
            {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
        }
    }
}

/// A new secret's cookie in `extra`, for the response. (A function of the field, so `apply`
/// can call it while it reads the layer's settings.)
fn rotate(extra: &mut Option<Box<Extra>>, csrf: &Csrf) {
    extra.get_or_insert_default().new_cookie = csrf.new_cookie().map(|(cookie, _)| cookie);
}
