//! [`SecurityService`]: the per-request work of [`SecurityLayer`](crate::SecurityLayer).

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, HOST, ORIGIN, REFERER, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method};
use http_body_util::BodyExt as _;
use rand::Rng as _;
use tower_service::Service;

use crate::config::CsrfType;
use crate::extract::{RotateCsrfSecret, SecurityContext, SecurityRejection, SkipSecurityHeaders};
use crate::future::ResponseFuture;
use crate::layer::{Csrf, SecurityHeader, Shared};
use crate::path::PathProblem;

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

    fn call(&mut self, mut request: Request) -> Self::Future {
        let shared = &*self.shared;
        let path = request.uri().path();
        let mut after = After {
            shared: Arc::clone(&self.shared),
            mask: shared.header_mask(path),
            nonce: None,
            new_secret: None,
        };
        if shared
            .methodnoallow
            .as_ref()
            .is_some_and(|scope| is_trace(request.method()) && scope.applies(path))
        {
            return refuse(SecurityRejection::MethodNotAllowed, &request, after);
        }
        if let Some(scope) = &shared.dta
            && let Err(problem) = crate::path::check(path)
            && scope.applies(path)
        {
            let rejection = match problem {
                PathProblem::Traversal => SecurityRejection::PathTraversal,
                PathProblem::BadEncoding => SecurityRejection::BadPathEncoding,
            };
            return refuse(rejection, &request, after);
        }
        if shared.csp.as_ref().is_some_and(|csp| csp.fixed.is_none())
            && after.mask & SecurityHeader::ContentSecurityPolicy.bit() != 0
        {
            let bytes: [u8; 16] = rand::rng().random();
            after.nonce = Some(STANDARD.encode(bytes));
        }

        let mut secret = None;
        if let Some(csrf) = &shared.csrf
            && csrf.scope.applies(path)
        {
            let loaded = csrf.load(&request);
            let had_secret = loaded.is_some();
            let current = match loaded {
                Some(secret) => Some(secret),
                None if csrf.kind.uses_token() => {
                    let fresh = crate::csrf::new_secret();
                    csrf.keep(&request, &fresh, &mut after);
                    Some(fresh)
                }
                None => None,
            };
            if csrf.checks(&request) {
                match csrf.verdict(&request, current.as_deref().filter(|_| had_secret)) {
                    Verdict::Pass => {}
                    Verdict::Fail(rejection) => {
                        if rejection == SecurityRejection::InvalidCsrfToken
                            && csrf.rotate_when_invalid
                        {
                            csrf.keep(&request, &crate::csrf::new_secret(), &mut after);
                        }
                        return refuse(rejection, &request, after);
                    }
                    Verdict::NeedBody { referer } => {
                        let secret = current.filter(|_| had_secret);
                        return self.check_body(request, secret, referer, after);
                    }
                }
            }
            secret = current;
        }
        request.extensions_mut().insert(SecurityContext {
            shared: Arc::clone(&self.shared),
            secret,
            nonce: after.nonce.clone(),
        });
        ResponseFuture::inner(self.inner.call(request), after)
    }
}

impl<S> SecurityService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    /// The slow path: read the form body to find the token, then call the inner service
    /// with the body put back.
    fn check_body(
        &mut self,
        request: Request,
        secret: Option<String>,
        referer: Result<(), SecurityRejection>,
        mut after: After,
    ) -> ResponseFuture<S::Future, S::Error> {
        // Take the service that was polled ready; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        ResponseFuture::boxed(async move {
            let json = wants_json(&request);
            let (parts, body) = request.into_parts();
            let Some(csrf) = &shared.csrf else {
                unreachable!("check_body runs only when CSRF is on")
            };
            let refused = |rejection: SecurityRejection, mut after: After| {
                let mut response = rejection.response(json);
                after.apply(&mut response);
                Ok(response)
            };
            let bytes = match http_body_util::Limited::new(body, csrf.body_limit)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                    return refused(SecurityRejection::BodyTooLarge, after);
                }
                Err(_) => return refused(SecurityRejection::BodyUnreadable, after),
            };
            let token = body_token(&parts.headers, &bytes, &csrf.body_name).await;
            let verdict = csrf.combine(token_verdict(secret.as_deref(), token.as_deref()), referer);
            if let Err(rejection) = verdict {
                if rejection == SecurityRejection::InvalidCsrfToken && csrf.rotate_when_invalid {
                    let fresh = crate::csrf::new_secret();
                    csrf.keep_parts(&parts.extensions, &fresh, &mut after);
                }
                return refused(rejection, after);
            }
            let mut request = Request::from_parts(parts, Body::from(bytes));
            request.extensions_mut().insert(SecurityContext {
                shared: Arc::clone(&shared),
                secret,
                nonce: after.nonce.clone(),
            });
            let mut response = inner.call(request).await?;
            after.apply(&mut response);
            Ok(response)
        })
    }
}

fn is_trace(method: &Method) -> bool {
    method == Method::TRACE || method.as_str().eq_ignore_ascii_case("TRACK")
}

fn wants_json(request: &Request) -> bool {
    yolk_core::request::accepts_json(request.headers(), request.uri().path())
}

fn refuse<F, E>(
    rejection: SecurityRejection,
    request: &Request,
    mut after: After,
) -> ResponseFuture<F, E> {
    let mut response = rejection.response(wants_json(request));
    after.apply(&mut response);
    ResponseFuture::ready(response)
}

/// What the response gets on its way out.
#[derive(Debug)]
pub(crate) struct After {
    shared: Arc<Shared>,
    mask: u8,
    nonce: Option<String>,
    /// A secret to set in the cookie (a new client, or a rotation).
    new_secret: Option<String>,
}

impl After {
    /// Sets the security headers (keeping any the handler set, skipping what it asked to
    /// skip), and the CSRF cookie.
    pub(crate) fn apply(&mut self, response: &mut Response) {
        let shared = &*self.shared;
        let skip = response
            .extensions()
            .get::<SkipSecurityHeaders>()
            .map_or(0, |skip| skip.0);
        let mask = self.mask & !skip;
        let status = response.status();
        let headers = response.headers_mut();
        headers.reserve(shared.headers.len() + 3);
        for header in &shared.headers {
            if mask & header.bit != 0 {
                headers
                    .entry(&header.name)
                    .or_insert_with(|| header.value.clone());
            }
        }
        if shared.nosniff.is_some()
            && mask & SecurityHeader::ContentTypeOptions.bit() != 0
            && !status.is_redirection()
            && !headers.contains_key(http::header::X_CONTENT_TYPE_OPTIONS)
        {
            headers.insert(
                http::header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
        }
        if let Some(csp) = &shared.csp
            && mask & SecurityHeader::ContentSecurityPolicy.bit() != 0
            && !headers.contains_key(&csp.name)
        {
            let value = match (&csp.fixed, &self.nonce) {
                (Some(fixed), _) => Some(fixed.clone()),
                (None, Some(nonce)) => {
                    HeaderValue::try_from(format!("{}{nonce}{}", csp.before, csp.after)).ok()
                }
                (None, None) => None,
            };
            if let Some(value) = value {
                headers.insert(csp.name.clone(), value);
            }
        }
        if let Some(csrf) = &shared.csrf {
            if response.extensions().get::<RotateCsrfSecret>().is_some() && csrf.store.is_none() {
                self.new_secret = Some(crate::csrf::new_secret());
            }
            if let Some(secret) = self.new_secret.take() {
                let mut cookie = bytes::BytesMut::with_capacity(
                    csrf.cookie_name.len() + secret.len() + csrf.cookie_attributes.len() + 1,
                );
                cookie.extend_from_slice(csrf.cookie_name.as_bytes());
                cookie.extend_from_slice(b"=");
                cookie.extend_from_slice(secret.as_bytes());
                cookie.extend_from_slice(csrf.cookie_attributes.as_bytes());
                if let Ok(value) = HeaderValue::from_maybe_shared(cookie.freeze()) {
                    response.headers_mut().append(SET_COOKIE, value);
                }
            }
        }
    }
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
    /// The secret kept for this client.
    fn load(&self, request: &Request) -> Option<String> {
        if let Some(store) = &self.store {
            return store.load(request.extensions()).filter(|s| !s.is_empty());
        }
        cookie_value(request.headers(), &self.cookie_name).map(str::to_owned)
    }

    /// Keeps `secret` for this client: in the store now, or in the cookie on the response.
    fn keep(&self, request: &Request, secret: &str, after: &mut After) {
        self.keep_parts(request.extensions(), secret, after);
    }

    fn keep_parts(&self, extensions: &http::Extensions, secret: &str, after: &mut After) {
        match &self.store {
            Some(store) => store.store(extensions, secret),
            None => after.new_secret = Some(secret.to_owned()),
        }
    }

    /// True when this request must pass the checks.
    fn checks(&self, request: &Request) -> bool {
        if !self.methods.contains(request.method()) {
            return false;
        }
        !(self.ignore_json && is_json(request.headers()))
    }

    fn verdict(&self, request: &Request, secret: Option<&str>) -> Verdict {
        let referer = if self.kind.uses_referer() {
            self.referer_verdict(request.headers(), request.uri())
        } else {
            Ok(())
        };
        if !self.kind.uses_token() || (self.kind == CsrfType::Any && referer.is_ok()) {
            return match referer {
                Ok(()) => Verdict::Pass,
                Err(rejection) => Verdict::Fail(rejection),
            };
        }
        let token = request
            .headers()
            .get(&self.header_name)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .or_else(|| {
                let query = request.uri().query()?;
                url::form_urlencoded::parse(query.as_bytes())
                    .find(|(name, value)| *name == self.query_name && !value.is_empty())
                    .map(|(_, value)| value.into_owned())
            });
        if token.is_none() && secret.is_some() && is_form(request.headers()) {
            return Verdict::NeedBody { referer };
        }
        match self.combine(token_verdict(secret, token.as_deref()), referer) {
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
            CsrfType::Referer => referer,
            CsrfType::All => token.and(referer),
            CsrfType::Any => referer.or(token),
        }
    }

    fn referer_verdict(
        &self,
        headers: &HeaderMap,
        uri: &http::Uri,
    ) -> Result<(), SecurityRejection> {
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
        let own = headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .map(crate::domain::strip_port)
            .is_some_and(|own| crate::domain::ascii_host(own) == host);
        if own || self.referer_white_list.contains(host) {
            Ok(())
        } else {
            Err(SecurityRejection::InvalidCsrfReferer)
        }
    }
}

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

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then(|| value.trim_matches('"'))
        })
        .filter(|value| !value.is_empty())
}

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

/// The token field of a urlencoded or multipart body.
async fn body_token(headers: &HeaderMap, body: &Bytes, field: &str) -> Option<String> {
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
    fn cookie_values_are_found_among_many() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; csrfToken=abc ;b=2"));
        assert_eq!(cookie_value(&headers, "csrfToken"), Some("abc"));
        assert_eq!(cookie_value(&headers, "csrf"), None);
        headers.insert(COOKIE, HeaderValue::from_static("xcsrfToken=1; csrfToken="));
        assert_eq!(cookie_value(&headers, "csrfToken"), None);
    }

    #[test]
    fn trace_and_track_in_any_case() {
        assert!(is_trace(&Method::TRACE));
        assert!(is_trace(&Method::from_bytes(b"TRACK").unwrap()));
        assert!(!is_trace(&Method::GET));
    }
}
