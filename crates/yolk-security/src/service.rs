//! [`SecurityService`]: the per-request work of [`SecurityLayer`](crate::SecurityLayer).

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HOST, ORIGIN, REFERER};
use http::{HeaderMap, HeaderValue, Method};
use http_body_util::BodyExt as _;
use rand::Rng as _;
use tower_service::Service;

use crate::config::CsrfType;
use crate::extract::{RotateCsrfSecret, SecurityRejection};
use crate::future::ResponseFuture;
use crate::layer::{Csrf, SecurityHeader, Shared};
use crate::path::PathProblem;
use crate::state::{RequestState, Secret};

/// The service [`SecurityLayer`](crate::SecurityLayer) wraps around a router.
#[derive(Clone, Debug)]
pub struct SecurityService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> SecurityService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S> Service<Request> for SecurityService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Request) -> Self::Future {
        let shared = &*self.shared;
        let path = request.uri().path();
        let mut state = RequestState::new(&self.shared, path);
        if shared
            .methodnoallow
            .as_ref()
            .is_some_and(|scope| is_trace(request.method()) && scope.applies(path))
        {
            return refuse(SecurityRejection::MethodNotAllowed, &request, state);
        }
        if let Some(scope) = &shared.dta
            && let Err(problem) = crate::path::check(path)
            && scope.applies(path)
        {
            let rejection = match problem {
                PathProblem::Traversal => SecurityRejection::PathTraversal,
                PathProblem::BadEncoding => SecurityRejection::BadPathEncoding,
            };
            return refuse(rejection, &request, state);
        }
        if shared.csp.as_ref().is_some_and(|csp| csp.fixed.is_none())
            && state.mask & SecurityHeader::ContentSecurityPolicy.bit() != 0
        {
            state.set_csp(shared.csp.as_ref().and_then(nonce_policy));
        }

        if let Some(csrf) = &shared.csrf
            && csrf.scope.applies(path)
        {
            if csrf.session.is_some() {
                return self.with_session(request, state);
            }
            let head = Head::of(&request);
            let loaded = if csrf.kind.uses_token() {
                csrf.cookie_name.value_in(head.headers)
            } else {
                None
            };
            if loaded.is_none() && csrf.kind.uses_token() {
                if let Some((cookie, fresh)) = csrf.new_cookie() {
                    state.set_new_secret(cookie, fresh);
                }
            } else if loaded.is_some() {
                state.secret = Secret::InCookie;
            }
            if csrf.checks(head) {
                // ASCII, so UTF-8.
                let loaded = loaded.and_then(|value| std::str::from_utf8(value).ok());
                match csrf.verdict(head, loaded) {
                    Verdict::Pass => {}
                    Verdict::Fail(rejection) => {
                        if rejection == SecurityRejection::InvalidCsrfToken
                            && csrf.rotate_when_invalid
                        {
                            state.rotate(csrf);
                        }
                        return refuse(rejection, &request, state);
                    }
                    Verdict::NeedBody { referer } => {
                        let secret = loaded.map(str::to_owned);
                        return self.check_body(request, secret, referer, state);
                    }
                }
            }
        }
        ResponseFuture::inner(self.inner.call(request), state)
    }
}

impl<S> SecurityService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    /// The inner service that was polled ready, a fresh clone left in its place.
    fn take_inner(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }

    /// The slow path: read the form body to find the token, then call the inner service
    /// with the body put back.
    fn check_body(
        &mut self,
        request: Request,
        secret: Option<String>,
        referer: Result<(), SecurityRejection>,
        mut state: RequestState,
    ) -> ResponseFuture<S::Future, S::Error> {
        let mut inner = self.take_inner();
        let shared = Arc::clone(&self.shared);
        ResponseFuture::boxed(async move {
            let json = wants_json(Head::of(&request));
            let (parts, body) = request.into_parts();
            let Some(csrf) = &shared.csrf else {
                unreachable!("check_body runs only when CSRF is on")
            };
            let (bytes, token) = match body_token(csrf, &parts.headers, body).await {
                Ok(found) => found,
                Err(rejection) => return Ok(state.refused(rejection, json)),
            };
            let verdict = csrf.combine(token_verdict(secret.as_deref(), token.as_deref()), referer);
            if let Err(rejection) = verdict {
                if rejection == SecurityRejection::InvalidCsrfToken && csrf.rotate_when_invalid {
                    state.rotate(csrf);
                }
                return Ok(state.refused(rejection, json));
            }
            state.secret = Secret::InCookie;
            let request = Request::from_parts(parts, Body::from(bytes));
            ResponseFuture::inner(inner.call(request), state).await
        })
    }

    /// CSRF with the secret in the session: reading the session may wait on a store, so the
    /// whole request goes through one boxed future.
    fn with_session(
        &mut self,
        request: Request,
        mut state: RequestState,
    ) -> ResponseFuture<S::Future, S::Error> {
        let mut inner = self.take_inner();
        let shared = Arc::clone(&self.shared);
        ResponseFuture::boxed(async move {
            let Some(csrf) = &shared.csrf else {
                unreachable!("with_session runs only when CSRF is on")
            };
            let Some(session) = &csrf.session else {
                unreachable!("with_session runs only with a session")
            };
            let name = csrf.session_name.as_str();
            let json = wants_json(Head::of(&request));
            let (parts, body) = request.into_parts();
            let unavailable = |error: yolk_core::BoxError, state: RequestState| {
                tracing::error!("csrf secret: session unavailable: {error}");
                Ok(state.refused(SecurityRejection::SessionUnavailable, json))
            };
            let loaded = match session.get(&parts, name).await {
                Ok(loaded) => loaded.filter(|secret| !secret.is_empty()),
                Err(error) => return unavailable(error, state),
            };
            let secret = match &loaded {
                Some(secret) => secret.clone(),
                None => {
                    let fresh = crate::csrf::new_secret();
                    if let Err(error) = session.set(&parts, name, &fresh).await {
                        return unavailable(error, state);
                    }
                    fresh
                }
            };
            let head = Head::of_parts(&parts);
            let mut body = Some(body);
            if csrf.checks(head) {
                let verdict = match csrf.verdict(head, loaded.as_deref()) {
                    Verdict::Pass => Ok(()),
                    Verdict::Fail(rejection) => Err(rejection),
                    Verdict::NeedBody { referer } => {
                        let taken = body.take().unwrap_or_default();
                        match body_token(csrf, &parts.headers, taken).await {
                            Ok((bytes, token)) => {
                                body = Some(Body::from(bytes));
                                csrf.combine(
                                    token_verdict(loaded.as_deref(), token.as_deref()),
                                    referer,
                                )
                            }
                            Err(rejection) => Err(rejection),
                        }
                    }
                };
                if let Err(rejection) = verdict {
                    if rejection == SecurityRejection::InvalidCsrfToken && csrf.rotate_when_invalid
                    {
                        let fresh = crate::csrf::new_secret();
                        if let Err(error) = session.set(&parts, name, &fresh).await {
                            return unavailable(error, state);
                        }
                    }
                    return Ok(state.refused(rejection, json));
                }
            }
            // Kept to write a rotated secret state the handler: the session layer found the
            // session through the extensions, and it is loaded by now.
            let (mut kept, ()) = Request::new(()).into_parts();
            kept.extensions = parts.extensions.clone();
            state.secret = Secret::Held(secret.into());
            let request = Request::from_parts(parts, body.unwrap_or_default());
            let response = ResponseFuture::inner(inner.call(request), state).await?;
            if response.extensions().get::<RotateCsrfSecret>().is_some()
                && let Err(error) = session.set(&kept, name, &crate::csrf::new_secret()).await
            {
                tracing::error!("csrf secret not rotated: session unavailable: {error}");
            }
            Ok(response)
        })
    }
}

/// What CSRF reads of a request: from the request, or from its parts on the slow paths.
#[derive(Clone, Copy)]
pub(crate) struct Head<'a> {
    method: &'a Method,
    uri: &'a http::Uri,
    headers: &'a HeaderMap,
}

impl<'a> Head<'a> {
    fn of(request: &'a Request) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
        }
    }

    fn of_parts(parts: &'a http::request::Parts) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
        }
    }

    /// The `Host` header, else the URI's authority.
    fn authority(self) -> Option<&'a str> {
        self.headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| self.uri.authority().map(|a| a.as_str()))
    }
}

/// The CSP header value for this request, the policy with a fresh nonce written in one
/// buffer; and the nonce, a slice of it.
fn nonce_policy(csp: &crate::layer::Csp) -> Option<(HeaderValue, Bytes)> {
    let random: [u8; 16] = rand::rng().random();
    let mut nonce = [0_u8; 24];
    let len = STANDARD.encode_slice(random, &mut nonce).ok()?;
    let mut value = BytesMut::with_capacity(csp.before.len() + len + csp.after.len());
    value.extend_from_slice(csp.before.as_bytes());
    let start = value.len();
    value.extend_from_slice(&nonce[..len]);
    value.extend_from_slice(csp.after.as_bytes());
    let value = value.freeze();
    let nonce = value.slice(start..start + len);
    Some((HeaderValue::from_maybe_shared(value).ok()?, nonce))
}

fn is_trace(method: &Method) -> bool {
    method == Method::TRACE || method.as_str().eq_ignore_ascii_case("TRACK")
}

fn wants_json(head: Head<'_>) -> bool {
    yolk_core::request::accepts_json(head.headers, head.uri.path())
}

fn refuse<F, E>(
    rejection: SecurityRejection,
    request: &Request,
    state: RequestState,
) -> ResponseFuture<F, E> {
    ResponseFuture::ready(state.refused(rejection, wants_json(Head::of(request))))
}

/// The outcome of the CSRF checks that need no body.
enum Verdict {
    Pass,
    Fail(SecurityRejection),
    /// The token may be in the form body; the referer check's result is kept.
    NeedBody {
        referer: Result<(), SecurityRejection>,
    },
}

impl Csrf {
    /// A new secret: the `Set-Cookie` value carrying it, built in one buffer, and the secret
    /// as a slice of that buffer.
    pub(crate) fn new_cookie(&self) -> Option<(HeaderValue, Bytes)> {
        let name = self.cookie_name.as_str().as_bytes();
        let mut cookie = BytesMut::with_capacity(
            name.len() + 1 + crate::csrf::SECRET_LEN + self.cookie_attributes.len(),
        );
        cookie.extend_from_slice(name);
        cookie.extend_from_slice(b"=");
        let start = cookie.len();
        crate::csrf::push_secret(&mut cookie);
        let end = cookie.len();
        cookie.extend_from_slice(self.cookie_attributes.as_bytes());
        let cookie = cookie.freeze();
        let secret = cookie.slice(start..end);
        let value = HeaderValue::from_maybe_shared(cookie).ok()?;
        Some((value, secret))
    }

    /// True when this request must pass the checks.
    fn checks(&self, head: Head<'_>) -> bool {
        if !self.methods.contains(head.method) {
            return false;
        }
        !(self.ignore_json && is_json(head.headers))
    }

    fn verdict(&self, head: Head<'_>, secret: Option<&str>) -> Verdict {
        if self.kind == CsrfType::Origin {
            return match self.origin_verdict(head) {
                Ok(()) => Verdict::Pass,
                Err(rejection) => Verdict::Fail(rejection),
            };
        }
        let referer = if self.kind.uses_referer() {
            self.referer_verdict(head)
        } else {
            Ok(())
        };
        if !self.kind.uses_token() || (self.kind == CsrfType::Any && referer.is_ok()) {
            return match referer {
                Ok(()) => Verdict::Pass,
                Err(rejection) => Verdict::Fail(rejection),
            };
        }
        let header = head
            .headers
            .get(&self.header_name)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty());
        let verdict = match header {
            Some(token) => token_verdict(secret, Some(token)),
            None => {
                let query = head.uri.query().and_then(|query| {
                    url::form_urlencoded::parse(query.as_bytes())
                        .find(|(name, value)| *name == self.query_name && !value.is_empty())
                        .map(|(_, value)| value)
                });
                if query.is_none() && secret.is_some() && is_form(head.headers) {
                    return Verdict::NeedBody { referer };
                }
                token_verdict(secret, query.as_deref())
            }
        };
        match self.combine(verdict, referer) {
            Ok(()) => Verdict::Pass,
            Err(rejection) => Verdict::Fail(rejection),
        }
    }

    /// The verdict of the configured type from both checks' results.
    fn combine(
        &self,
        token: Result<(), SecurityRejection>,
        referer: Result<(), SecurityRejection>,
    ) -> Result<(), SecurityRejection> {
        match self.kind {
            CsrfType::Ctoken => token,
            CsrfType::Referer | CsrfType::Origin => referer,
            CsrfType::All => token.and(referer),
            CsrfType::Any => referer.or(token),
        }
    }

    fn referer_verdict(&self, head: Head<'_>) -> Result<(), SecurityRejection> {
        let headers = head.headers;
        let source = headers
            .get(REFERER)
            .or_else(|| headers.get(ORIGIN))
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .ok_or(SecurityRejection::MissingCsrfReferer)?;
        let url = url::Url::parse(source).map_err(|_| SecurityRejection::InvalidCsrfReferer)?;
        let host = url
            .host_str()
            .filter(|_| matches!(url.scheme(), "http" | "https"))
            .ok_or(SecurityRejection::InvalidCsrfReferer)?;
        let own = head
            .authority()
            .map(crate::domain::strip_port)
            .is_some_and(|own| crate::domain::ascii_host(own) == host);
        if own || self.referer_white_list.contains(host) {
            Ok(())
        } else {
            Err(SecurityRejection::InvalidCsrfReferer)
        }
    }

    /// `type = origin`: a trusted `Origin`, else `Sec-Fetch-Site`, else `Origin` (or
    /// `Referer`) against the request's own origin.
    fn origin_verdict(&self, head: Head<'_>) -> Result<(), SecurityRejection> {
        let headers = head.headers;
        let refused = SecurityRejection::InvalidCsrfOrigin;
        let source = |name| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .filter(|value| !value.is_empty())
                .and_then(|value| url::Url::parse(value).ok())
                .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        };
        let origin = source(ORIGIN);
        if let Some(url) = &origin
            && let Some(host) = url.host_str()
            && !self.referer_white_list.is_empty()
            && self.referer_white_list.contains(host)
        {
            return Ok(());
        }
        if let Some(site) = headers.get(SEC_FETCH_SITE) {
            return match site.as_bytes() {
                b"same-origin" | b"none" => Ok(()),
                _ => Err(refused),
            };
        }
        let url = origin.or_else(|| source(REFERER)).ok_or(refused)?;
        let host = url.host_str().ok_or(refused)?;
        if self.referer_white_list.contains(host) {
            return Ok(());
        }
        let own = head.authority().ok_or(refused)?;
        let own_host = crate::domain::strip_port(own);
        let own_port = own[own_host.len()..]
            .strip_prefix(':')
            .map(|port| port.parse::<u16>().map_err(|_| refused))
            .transpose()?;
        let same_host = crate::domain::ascii_host(own_host) == host;
        // `Host` leaves out the default port of the scheme the client used.
        let default_port = if url.scheme() == "https" { 443 } else { 80 };
        let same_port =
            own_port.unwrap_or(default_port) == url.port_or_known_default().unwrap_or(0);
        if same_host && same_port {
            Ok(())
        } else {
            Err(refused)
        }
    }
}

/// `Sec-Fetch-Site`, sent by browsers with every request.
const SEC_FETCH_SITE: http::HeaderName = http::HeaderName::from_static("sec-fetch-site");

fn token_verdict(secret: Option<&str>, token: Option<&str>) -> Result<(), SecurityRejection> {
    let (Some(secret), Some(token)) = (secret, token) else {
        return Err(SecurityRejection::MissingCsrfToken);
    };
    if crate::csrf::verify(secret, token) {
        Ok(())
    } else {
        Err(SecurityRejection::InvalidCsrfToken)
    }
}

/// The request's media type (`content-type` without parameters), lowercase.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|media| media == "application/json" || media.ends_with("+json"))
}

fn is_form(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|media| {
        media == "application/x-www-form-urlencoded" || media == "multipart/form-data"
    })
}

/// Reads a form body (up to `csrf.body_limit`) and finds its token field: the body's bytes,
/// to put back, and the token.
async fn body_token(
    csrf: &Csrf,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, Option<String>), SecurityRejection> {
    let bytes = match http_body_util::Limited::new(body, csrf.body_limit)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Err(SecurityRejection::BodyTooLarge);
        }
        Err(_) => return Err(SecurityRejection::BodyUnreadable),
    };
    let token = form_field(headers, &bytes, &csrf.body_name).await;
    Ok((bytes, token))
}

/// The field `field` of an urlencoded or multipart body.
async fn form_field(headers: &HeaderMap, body: &Bytes, field: &str) -> Option<String> {
    let media = media_type(headers)?;
    if media == "application/x-www-form-urlencoded" {
        return url::form_urlencoded::parse(body)
            .find(|(name, _)| name == field)
            .map(|(_, value)| value.into_owned());
    }
    let content_type = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let boundary = multer::parse_boundary(content_type).ok()?;
    let chunk = body.clone();
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(chunk) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    while let Ok(Some(part)) = multipart.next_field().await {
        if part.name() == Some(field) {
            return part.text().await.ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_and_track_in_any_case() {
        assert!(is_trace(&Method::TRACE));
        assert!(is_trace(&Method::from_bytes(b"TRACK").unwrap()));
        assert!(!is_trace(&Method::GET));
    }
}
