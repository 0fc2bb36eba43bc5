//! What handlers read from the layer ([`CsrfToken`], [`CspNonce`], [`SafeRedirect`]), what
//! they hand back to it ([`SkipSecurityHeaders`], [`RotateCsrfSecret`]), and the layer's
//! refusals ([`SecurityRejection`]).

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, IntoResponseParts, Redirect, Response, ResponseParts};
use http::header::{CONTENT_TYPE, HOST};
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use crate::layer::{SecurityHeader, Shared};
use crate::redirect::UnsafeRedirect;
use crate::state::{Secret, with_current};

/// A request the security layer refused, or an extractor used without it.
///
/// ```
/// use yolk_security::SecurityRejection;
///
/// let rejection = SecurityRejection::MissingCsrfToken;
/// assert_eq!(rejection.status(), 403);
/// assert_eq!(rejection.message(), "missing csrf token");
/// assert!(rejection.body_text().starts_with("missing csrf token\n"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityRejection {
    /// No token in the header, the query or the form body — or no secret yet.
    MissingCsrfToken,
    /// A token that is neither the secret nor made from it.
    InvalidCsrfToken,
    /// `type = referer|all`: neither `Referer` nor `Origin` is sent.
    MissingCsrfReferer,
    /// `type = referer|all`: the `Referer` / `Origin` host is not allowed.
    InvalidCsrfReferer,
    /// `type = origin`: `Sec-Fetch-Site` says another site, or `Origin` / `Referer` is
    /// another host (or neither is sent).
    InvalidCsrfOrigin,
    /// `use_session`: the session holding the secret could not be read or written.
    SessionUnavailable,
    /// `TRACE` or `TRACK`.
    MethodNotAllowed,
    /// The path climbs above the root.
    PathTraversal,
    /// The path holds a `%` not followed by two hex digits.
    BadPathEncoding,
    /// A form body over `csrf.body_limit` was searched for the token.
    BodyTooLarge,
    /// The form body could not be read.
    BodyUnreadable,
    /// An extractor ran on a route without [`SecurityLayer`](crate::SecurityLayer), or on
    /// another task than its request's (the layer lends the request's state to the task
    /// that handles it, as yolk-core's cookie jar does).
    MissingLayer,
    /// [`CsrfToken`] on a request CSRF does not cover (disabled, ignored path, `referer`
    /// type).
    CsrfNotActive,
    /// [`CspNonce`] with CSP or its nonce off, or on an ignored path.
    NonceNotActive,
}

impl SecurityRejection {
    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingCsrfToken
            | Self::InvalidCsrfToken
            | Self::MissingCsrfReferer
            | Self::InvalidCsrfReferer
            | Self::InvalidCsrfOrigin => StatusCode::FORBIDDEN,
            Self::SessionUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PathTraversal | Self::BadPathEncoding | Self::BodyUnreadable => {
                StatusCode::BAD_REQUEST
            }
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MissingLayer | Self::CsrfNotActive | Self::NonceNotActive => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The short message: `missing csrf token`, `invalid csrf token`, …
    pub fn message(&self) -> &'static str {
        match self {
            Self::MissingCsrfToken => "missing csrf token",
            Self::InvalidCsrfToken => "invalid csrf token",
            Self::MissingCsrfReferer => "missing csrf referer or origin",
            Self::InvalidCsrfReferer => "invalid csrf referer or origin",
            Self::InvalidCsrfOrigin => "invalid csrf origin",
            Self::SessionUnavailable => "session unavailable for the csrf secret",
            Self::MethodNotAllowed => "method not allowed",
            Self::PathTraversal => "path outside the root",
            Self::BadPathEncoding => "malformed percent-encoding in the path",
            Self::BodyTooLarge => "form body too large to search for the csrf token",
            Self::BodyUnreadable => "could not read the form body",
            Self::MissingLayer => "security layer missing",
            Self::CsrfNotActive => "csrf is not active on this request",
            Self::NonceNotActive => "csp nonce is not active on this request",
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::MissingCsrfToken => {
                "send the value of the `csrfToken` cookie in the `x-csrf-token` header (or a \
                 `CsrfToken` in a `_csrf` form field or query parameter); a client without the \
                 cookie gets it on its first response, so fetch a page first"
            }
            Self::InvalidCsrfToken => {
                "the token does not match this client's `csrfToken` cookie: read the cookie \
                 again (it may have been rotated) or render the form again"
            }
            Self::MissingCsrfReferer => {
                "browsers send `Origin` or `Referer` on these requests; a client that strips \
                 both must use a token, or security.csrf.type = \"any\""
            }
            Self::InvalidCsrfReferer => {
                "the request comes from a page on another host: add that host to \
                 security.csrf.referer_white_list if it is trusted"
            }
            Self::InvalidCsrfOrigin => {
                "the request comes from another site (`Sec-Fetch-Site`), or its `Origin` / \
                 `Referer` is another host or missing: add a trusted host to \
                 security.csrf.referer_white_list, or use a token type (`ctoken`) for clients \
                 that send neither header"
            }
            Self::SessionUnavailable => {
                "security.csrf.use_session keeps the secret in the session, which could not be \
                 loaded or saved (the cause is logged): check the session store, and that the \
                 session layer runs outside the security layer"
            }
            Self::MethodNotAllowed => "TRACE and TRACK are refused (security.methodnoallow)",
            Self::PathTraversal => "`..` segments may not climb above `/` (security.dta)",
            Self::BadPathEncoding => "encode `%` in paths as `%25`",
            Self::BodyTooLarge => {
                "send the token in the `x-csrf-token` header or the `_csrf` query parameter, \
                 or raise security.csrf.body_limit"
            }
            Self::BodyUnreadable => "the client closed the connection or sent a broken body",
            Self::MissingLayer => {
                "this extractor needs `SecurityLayer`: enable the security plugin, or add \
                 `SecurityLayer` to the router; and extract on the request's task, not in a \
                 spawned one"
            }
            Self::CsrfNotActive => {
                "`CsrfToken` needs CSRF with a token type on this path: check \
                 security.csrf.enable, type, match and ignore; or extract `Option<CsrfToken>`"
            }
            Self::NonceNotActive => {
                "`CspNonce` needs security.csp.enable and security.csp.nonce on this path; or \
                 extract `Option<CspNonce>`"
            }
        }
    }

    /// The plain-text body: the message, then the hint.
    pub fn body_text(&self) -> String {
        format!("{}\n{}\n", self.message(), self.hint())
    }

    /// The response, as JSON (`{"message", "hint"}`) when `json`, else plain text.
    pub fn response(&self, json: bool) -> Response {
        let mut response = if json {
            let body = serde_json::json!({ "message": self.message(), "hint": self.hint() });
            (self.status(), axum::Json(body)).into_response()
        } else {
            let mut response = (self.status(), self.body_text()).into_response();
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        };
        if *self == Self::MethodNotAllowed {
            response.headers_mut().insert(
                http::header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
            );
        }
        response
    }
}

impl std::fmt::Display for SecurityRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.message(), self.hint())
    }
}

impl std::error::Error for SecurityRejection {}

impl IntoResponse for SecurityRejection {
    fn into_response(self) -> Response {
        self.response(false)
    }
}

/// A salted CSRF token for this client, fresh on each extraction: put it in a form's `_csrf`
/// field. (Single-page apps send the `csrfToken` cookie's value in `x-csrf-token` instead.)
///
/// ```
/// use axum::{Router, routing::get, body::Body};
/// use tower::ServiceExt;
/// use yolk_security::{CsrfToken, SecurityLayer};
///
/// async fn form(token: CsrfToken) -> String {
///     token.inject(r#"<form method="post" action="/save"></form>"#)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new().route("/", get(form)).layer(SecurityLayer::new());
/// let response = app.oneshot(http::Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
/// let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
/// assert!(String::from_utf8_lossy(&body).contains(r#"<input type="hidden" name="_csrf" value=""#));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrfToken {
    token: String,
    field: String,
}

impl CsrfToken {
    /// The token.
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// `<input type="hidden" name="_csrf" value="…">`.
    pub fn hidden_input(&self) -> String {
        crate::csrf::hidden_input(&self.field, &self.token)
    }

    /// `html` with the hidden input added to every non-`GET` `<form>`: see
    /// [`csrf::inject_token`](crate::csrf::inject_token).
    pub fn inject(&self, html: &str) -> String {
        crate::csrf::inject_token(html, &self.field, &self.token)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = SecurityRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        with_current(|state| {
            let Some(csrf) = &state.shared.csrf else {
                return Err(SecurityRejection::CsrfNotActive);
            };
            let secret = match &state.secret {
                Secret::Inactive => return Err(SecurityRejection::CsrfNotActive),
                Secret::InCookie => csrf.cookie_name.value_in(&parts.headers),
                Secret::Held(secret) => Some(&secret[..]),
            };
            let secret = secret
                .and_then(|secret| std::str::from_utf8(secret).ok())
                .ok_or(SecurityRejection::CsrfNotActive)?;
            Ok(Self {
                token: crate::csrf::salted_token(secret),
                field: csrf.body_name.clone(),
            })
        })?
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CsrfToken {
    type Rejection = SecurityRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Self as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(token) => Ok(Some(token)),
            Err(SecurityRejection::CsrfNotActive) => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}

/// This request's CSP nonce: put it in `<script nonce="…">`.
///
/// ```
/// use axum::{Router, routing::get, body::Body};
/// use tower::ServiceExt;
/// use yolk_security::{CspNonce, SecurityConfig, SecurityLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = SecurityConfig::default();
/// config.csp.enable = true;
/// let app = Router::new()
///     .route("/", get(|nonce: CspNonce| async move { format!("<script nonce=\"{}\"></script>", nonce.as_str()) }))
///     .layer(SecurityLayer::from_config(&config)?);
/// let response = app.oneshot(http::Request::get("/").body(Body::empty())?).await?;
/// let policy = response.headers()["content-security-policy"].to_str()?.to_owned();
/// let body = axum::body::to_bytes(response.into_body(), 1024).await?;
/// let nonce = String::from_utf8(body.to_vec())?.split('"').nth(1).unwrap().to_owned();
/// assert!(policy.contains(&format!("'nonce-{nonce}'")));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CspNonce(String);

impl CspNonce {
    /// The nonce (base64, 16 random bytes).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CspNonce {
    type Rejection = SecurityRejection;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        with_current(|state| state.nonce().and_then(nonce))?
            .ok_or(SecurityRejection::NonceNotActive)
    }
}

fn nonce(bytes: &[u8]) -> Option<CspNonce> {
    std::str::from_utf8(bytes)
        .ok()
        .map(|nonce| CspNonce(nonce.to_owned()))
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CspNonce {
    type Rejection = SecurityRejection;

    async fn from_request_parts(
        _parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        with_current(|state| state.nonce().and_then(nonce))
    }
}

/// Redirects through the domain white list: see [`RedirectPolicy`](crate::RedirectPolicy).
///
/// ```
/// use axum::{Router, routing::get, body::Body, extract::Query};
/// use tower::ServiceExt;
/// use yolk_security::{SafeRedirect, SecurityConfig, SecurityLayer, UnsafeRedirect};
///
/// async fn back(redirect: SafeRedirect, Query(q): Query<Vec<(String, String)>>)
///     -> Result<axum::response::Redirect, UnsafeRedirect> {
///     redirect.to(&q[0].1)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = SecurityConfig::default();
/// config.domain_white_list = vec!["example.com".into()];
/// let app = Router::new().route("/back", get(back)).layer(SecurityLayer::from_config(&config)?);
/// let go = |to: &str| http::Request::get(format!("/back?to={to}")).body(Body::empty()).unwrap();
///
/// let response = app.clone().oneshot(go("https://www.example.com/")).await?;
/// assert_eq!(response.headers()["location"], "https://www.example.com/");
/// let response = app.clone().oneshot(go("//evil.com")).await?;
/// assert_eq!(response.headers()["location"], "/");
/// let response = app.oneshot(go("https://evil.com/")).await?;
/// assert_eq!(response.status(), 500);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SafeRedirect {
    shared: Arc<Shared>,
    host: Option<String>,
}

impl SafeRedirect {
    /// A `303 See Other` to `target` if it is safe, to `/` for `//…` and non-http(s) schemes.
    ///
    /// # Errors
    ///
    /// [`UnsafeRedirect`] (a 500 naming the fix) for a foreign host when the layer is set to
    /// [`UnsafeRedirects::Error`](crate::UnsafeRedirects::Error) — the plugin's choice outside
    /// `prod`; in `prod` the target becomes `/`.
    pub fn to(&self, target: &str) -> Result<Redirect, UnsafeRedirect> {
        let safe = self.shared.redirect.check(target, self.host.as_deref())?;
        Ok(Redirect::to(&safe))
    }

    /// A `303 See Other` to `target` without any check: for when the app really means it.
    pub fn unsafe_to(&self, target: &str) -> Redirect {
        Redirect::to(target)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SafeRedirect {
    type Rejection = SecurityRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let shared = with_current(|state| Arc::clone(&state.shared))?;
        let host = parts
            .headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .map(str::to_owned);
        Ok(Self { shared, host })
    }
}

/// Returned with a response, switches some security headers off for it (per-request
/// override). To change a header's value instead, set the header: the layer keeps it.
///
/// ```
/// use axum::{Router, routing::get, body::Body};
/// use tower::ServiceExt;
/// use yolk_security::{SecurityHeader, SecurityLayer, SkipSecurityHeaders};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route("/embed", get(|| async { (SkipSecurityHeaders::new([SecurityHeader::FrameOptions]), "frame me") }))
///     .route("/deny", get(|| async { ([("x-frame-options", "DENY")], "never") }))
///     .layer(SecurityLayer::new());
/// let get = |path| http::Request::get(path).body(Body::empty()).unwrap();
/// let embed = app.clone().oneshot(get("/embed")).await.unwrap();
/// assert!(embed.headers().get("x-frame-options").is_none());
/// assert_eq!(embed.headers()["x-content-type-options"], "nosniff");
/// let deny = app.oneshot(get("/deny")).await.unwrap();
/// assert_eq!(deny.headers()["x-frame-options"], "DENY");
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkipSecurityHeaders(pub(crate) u8);

impl SkipSecurityHeaders {
    /// Skips `headers`.
    pub fn new(headers: impl IntoIterator<Item = SecurityHeader>) -> Self {
        Self(headers.into_iter().fold(0, |mask, h| mask | h.bit()))
    }
}

impl IntoResponseParts for SkipSecurityHeaders {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

/// Returned with a response, gives the client a new CSRF secret (do it at login, Egg's
/// `rotateCsrfSecret`): a new `csrfToken` cookie, or with `use_session` a new secret in the
/// session.
///
/// ```
/// use axum::{Router, routing::post, body::Body};
/// use tower::ServiceExt;
/// use yolk_security::{RotateCsrfSecret, SecurityLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route("/login", post(|| async { (RotateCsrfSecret, "welcome") }))
///     .layer(SecurityLayer::new());
/// let request = http::Request::post("/login")
///     .header("cookie", "csrfToken=old-secret-value")
///     .header("x-csrf-token", "old-secret-value")
///     .body(Body::empty()).unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// let cookie = response.headers()["set-cookie"].to_str().unwrap();
/// assert!(cookie.starts_with("csrfToken=") && !cookie.contains("old-secret-value"));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RotateCsrfSecret;

impl IntoResponseParts for RotateCsrfSecret {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}
