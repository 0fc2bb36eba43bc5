//! [`SecurityLayer`]: the whole security stack as one tower layer, built once from
//! [`SecurityConfig`].

use std::fmt;
use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method, header};
use tower_layer::Layer;
use yolk_core::middleware::PathPattern;
use yolk_core::session::SessionAccess;

use crate::config::{CsrfType, SecurityConfig};
use crate::cookie::CookieName;
use crate::domain::DomainList;
use crate::error::SecurityError;
use crate::methods::MethodSet;
use crate::redirect::{RedirectPolicy, UnsafeRedirects};
use crate::service::SecurityService;

/// CSRF checks, security headers, `TRACE`/`TRACK` refusal and path-traversal refusal, as one
/// layer: what the [`Security`](crate::Security) plugin installs, and what a plain axum app
/// adds with `Router::layer`.
///
/// Everything is prepared here, once: header values, the CSP template, the white lists. A
/// request pays for a cookie look-up and, for a new client, one secret.
///
/// ```
/// use axum::{Router, routing::{get, post}};
/// use tower::ServiceExt;
/// use yolk_security::SecurityLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route("/", get(|| async { "hi" }))
///     .route("/save", post(|| async { "saved" }))
///     .layer(SecurityLayer::new());
///
/// let response = app.clone().oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(response.headers()["x-frame-options"], "SAMEORIGIN");
/// assert!(response.headers()["set-cookie"].to_str().unwrap().starts_with("csrfToken="));
///
/// let response = app.oneshot(http::Request::post("/save").body(axum::body::Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(response.status(), 403);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SecurityLayer {
    pub(crate) shared: Arc<Shared>,
}

impl Default for SecurityLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl SecurityLayer {
    /// The layer with Egg's defaults: CSRF (`ctoken`, secret in the `csrfToken` cookie),
    /// `x-frame-options: SAMEORIGIN`, `x-content-type-options: nosniff`,
    /// `x-download-options: noopen`, `x-xss-protection: 1; mode=block`, `TRACE`/`TRACK` → 405,
    /// traversal → 400.
    pub fn new() -> Self {
        Self::from_config(&SecurityConfig::default())
            .unwrap_or_else(|error| unreachable!("the default config is valid: {error}"))
    }

    /// The layer for `config`.
    ///
    /// ```
    /// use yolk_security::{SecurityConfig, SecurityLayer};
    ///
    /// let mut config = SecurityConfig::default();
    /// config.referrer_policy.enable = true;
    /// config.referrer_policy.value = "no-referer".into();
    /// let error = SecurityLayer::from_config(&config).unwrap_err();
    /// assert!(error.to_string().starts_with("security.referrer_policy.value: `no-referer`"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`SecurityError::Config`] naming the key: a header value that is not a valid header
    /// value, a `referrer_policy` or `xframe` value that browsers do not know, an unknown
    /// method in `csrf.methods`, a piece with both `match` and `ignore`, `use_session` (see
    /// [`with_session`](Self::with_session)).
    pub fn from_config(config: &SecurityConfig) -> Result<Self, SecurityError> {
        Self::build(config, None, true)
    }

    /// Same as [`from_config`](Self::from_config), keeping CSRF secrets in the session when
    /// `csrf.use_session = true`: `session` reads and writes the request's session under
    /// `csrf.session_name` (yolk-session's `SessionLayerAccess`, with its `SessionLayer`
    /// added outside this layer).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use axum::{Router, body::Body, routing::get};
    /// use tower::ServiceExt;
    /// use yolk_security::{CsrfToken, SecurityConfig, SecurityLayer};
    /// use yolk_session::{SessionLayer, SessionLayerAccess};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut config = SecurityConfig::default();
    /// config.csrf.use_session = true;
    /// let app = Router::new()
    ///     .route("/", get(|token: CsrfToken| async move { token.as_str().to_owned() }))
    ///     .layer(SecurityLayer::with_session(&config, Arc::new(SessionLayerAccess))?)
    ///     .layer(SessionLayer::new(yolk_core::Keys::parse("a-long-random-secret")?));
    /// let response = app.oneshot(http::Request::get("/").body(Body::empty())?).await?;
    /// let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    /// assert_eq!(cookies.len(), 1);
    /// assert!(cookies[0].to_str()?.starts_with("YOLK_SESS=")); // no `csrfToken` cookie
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_config`](Self::from_config).
    pub fn with_session(
        config: &SecurityConfig,
        session: Arc<dyn SessionAccess>,
    ) -> Result<Self, SecurityError> {
        Self::build(config, Some(session), true)
    }

    /// The layer, its session given later through [`attach_session`](Self::attach_session)
    /// when `require_session` is false.
    pub(crate) fn build(
        config: &SecurityConfig,
        session: Option<Arc<dyn SessionAccess>>,
        require_session: bool,
    ) -> Result<Self, SecurityError> {
        Shared::build(config, session, require_session).map(|shared| Self {
            shared: Arc::new(shared),
        })
    }

    /// Gives CSRF with `use_session` the session it keeps its secrets in.
    pub(crate) fn attach_session(mut self, session: Arc<dyn SessionAccess>) -> Self {
        if let Some(csrf) = &mut Arc::make_mut(&mut self.shared).csrf
            && csrf.use_session
        {
            csrf.session = Some(session);
        }
        self
    }

    /// True when CSRF keeps its secret in the session and needs one.
    pub(crate) fn needs_session(&self) -> bool {
        self.shared
            .csrf
            .as_ref()
            .is_some_and(|csrf| csrf.use_session && csrf.session.is_none())
    }

    /// Sets what [`SafeRedirect`](crate::SafeRedirect) does with a foreign host. Default:
    /// [`UnsafeRedirects::Error`]; the plugin uses [`UnsafeRedirects::ToRoot`] in `prod`.
    ///
    /// ```
    /// use yolk_security::{SecurityLayer, UnsafeRedirects};
    ///
    /// let layer = SecurityLayer::new().with_unsafe_redirects(UnsafeRedirects::ToRoot);
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_unsafe_redirects(mut self, unsafe_redirects: UnsafeRedirects) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        shared.redirect = shared.redirect.clone().with_unsafe(unsafe_redirects);
        self
    }
}

impl<S> Layer<S> for SecurityLayer {
    type Service = SecurityService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityService::new(inner, Arc::clone(&self.shared))
    }
}

/// Where a piece applies: `match` / `ignore` path patterns.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    matches: Vec<PathPattern>,
    ignores: Vec<PathPattern>,
}

impl Scope {
    fn new(
        key: &str,
        matches: &[PathPattern],
        ignores: &[PathPattern],
    ) -> Result<Self, SecurityError> {
        if !matches.is_empty() && !ignores.is_empty() {
            return Err(SecurityError::config(
                key,
                "`match` and `ignore` are both set; keep one of them",
            ));
        }
        Ok(Self {
            matches: matches.to_vec(),
            ignores: ignores.to_vec(),
        })
    }

    fn is_everywhere(&self) -> bool {
        self.matches.is_empty() && self.ignores.is_empty()
    }

    pub(crate) fn applies(&self, path: &str) -> bool {
        if !self.matches.is_empty() {
            return self.matches.iter().any(|pattern| pattern.matches(path));
        }
        !self.ignores.iter().any(|pattern| pattern.matches(path))
    }
}

/// One of the headers the layer sets, to switch off per response with
/// [`SkipSecurityHeaders`](crate::SkipSecurityHeaders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityHeader {
    /// `x-frame-options`.
    FrameOptions,
    /// `x-content-type-options`.
    ContentTypeOptions,
    /// `x-download-options`.
    DownloadOptions,
    /// `x-xss-protection`.
    XssProtection,
    /// `strict-transport-security`.
    StrictTransportSecurity,
    /// `referrer-policy`.
    ReferrerPolicy,
    /// `content-security-policy` (or its report-only twin).
    ContentSecurityPolicy,
}

impl SecurityHeader {
    pub(crate) const fn bit(self) -> u8 {
        1 << self as u8
    }
}

pub(crate) const ALL_HEADERS: u8 = u8::MAX;

/// A header with a value fixed at start-up.
#[derive(Clone, Debug)]
pub(crate) struct StaticHeader {
    pub(crate) name: HeaderName,
    pub(crate) value: HeaderValue,
    pub(crate) bit: u8,
    scope: Scope,
}

impl StaticHeader {
    /// Left off redirects: `x-content-type-options`, since a 3xx has no content to sniff.
    pub(crate) fn skips_redirects(&self) -> bool {
        self.bit == SecurityHeader::ContentTypeOptions.bit()
    }
}

/// The CSRF settings, compiled.
#[derive(Clone)]
pub(crate) struct Csrf {
    pub(crate) kind: CsrfType,
    pub(crate) methods: MethodSet,
    pub(crate) ignore_json: bool,
    pub(crate) cookie_name: CookieName,
    /// `; Path=/; SameSite=Lax[; Domain=…]`
    pub(crate) cookie_attributes: String,
    pub(crate) header_name: HeaderName,
    pub(crate) body_name: String,
    pub(crate) query_name: String,
    pub(crate) referer_white_list: DomainList,
    pub(crate) rotate_when_invalid: bool,
    pub(crate) body_limit: usize,
    pub(crate) scope: Scope,
    /// Keep the secret in the session (for the token types).
    pub(crate) use_session: bool,
    /// The session key of the secret.
    pub(crate) session_name: String,
    pub(crate) session: Option<Arc<dyn SessionAccess>>,
}

impl fmt::Debug for Csrf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csrf")
            .field("kind", &self.kind)
            .field("methods", &self.methods)
            .field("cookie_name", &self.cookie_name)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The CSP header, compiled: `before` + nonce + `after`, or a fixed value.
#[derive(Clone, Debug)]
pub(crate) struct Csp {
    pub(crate) name: HeaderName,
    pub(crate) fixed: Option<HeaderValue>,
    pub(crate) before: String,
    pub(crate) after: String,
    pub(crate) scope: Scope,
}

/// Everything the service needs, built once.
#[derive(Clone, Debug)]
pub(crate) struct Shared {
    pub(crate) csrf: Option<Csrf>,
    pub(crate) headers: Vec<StaticHeader>,
    pub(crate) csp: Option<Csp>,
    pub(crate) methodnoallow: Option<Scope>,
    pub(crate) dta: Option<Scope>,
    pub(crate) redirect: RedirectPolicy,
    /// Some header is limited to some paths: compute a mask per request.
    scoped_headers: bool,
}

const REFERRER_POLICIES: &[&str] = &[
    "",
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

/// Values of the default stack, kept static so copying them per response costs no atomic
/// reference count shared between threads.
const STATIC_VALUES: &[&str] = &[
    "SAMEORIGIN",
    "DENY",
    "1; mode=block",
    "0",
    "max-age=31536000",
    "max-age=31536000; includeSubDomains",
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "strict-origin-when-cross-origin",
];

fn header_value(key: &str, value: &str) -> Result<HeaderValue, SecurityError> {
    if let Some(known) = STATIC_VALUES.iter().find(|known| **known == value) {
        return Ok(HeaderValue::from_static(known));
    }
    HeaderValue::from_str(value).map_err(|_| {
        SecurityError::config(
            key,
            format!("`{value}` is not a valid header value (visible ASCII, no line breaks)"),
        )
    })
}

impl Shared {
    fn build(
        config: &SecurityConfig,
        session: Option<Arc<dyn SessionAccess>>,
        require_session: bool,
    ) -> Result<Self, SecurityError> {
        let mut headers = Vec::new();
        let x = &config.xframe;
        if x.enable {
            let upper = x.value.to_ascii_uppercase();
            if !(upper == "DENY" || upper == "SAMEORIGIN" || upper.starts_with("ALLOW-FROM ")) {
                return Err(SecurityError::config(
                    "xframe.value",
                    format!("`{}` is not `DENY` or `SAMEORIGIN`", x.value),
                ));
            }
            headers.push(StaticHeader {
                name: header::X_FRAME_OPTIONS,
                value: header_value("xframe.value", &x.value)?,
                bit: SecurityHeader::FrameOptions.bit(),
                scope: Scope::new("xframe", &x.match_, &x.ignore)?,
            });
        }
        if config.noopen.enable {
            headers.push(StaticHeader {
                name: HeaderName::from_static("x-download-options"),
                value: HeaderValue::from_static("noopen"),
                bit: SecurityHeader::DownloadOptions.bit(),
                scope: Scope::new("noopen", &config.noopen.match_, &config.noopen.ignore)?,
            });
        }
        let xss = &config.xss_protection;
        if xss.enable {
            headers.push(StaticHeader {
                name: header::X_XSS_PROTECTION,
                value: header_value("xss_protection.value", &xss.value)?,
                bit: SecurityHeader::XssProtection.bit(),
                scope: Scope::new("xss_protection", &xss.match_, &xss.ignore)?,
            });
        }
        let hsts = &config.hsts;
        if hsts.enable {
            let mut value = format!("max-age={}", hsts.max_age);
            if hsts.include_subdomains {
                value.push_str("; includeSubDomains");
            }
            if hsts.preload {
                value.push_str("; preload");
            }
            headers.push(StaticHeader {
                name: header::STRICT_TRANSPORT_SECURITY,
                value: header_value("hsts", &value)?,
                bit: SecurityHeader::StrictTransportSecurity.bit(),
                scope: Scope::new("hsts", &hsts.match_, &hsts.ignore)?,
            });
        }
        let referrer = &config.referrer_policy;
        if referrer.enable {
            for token in referrer.value.split(',').map(str::trim) {
                if !REFERRER_POLICIES.contains(&token.to_ascii_lowercase().as_str()) {
                    return Err(SecurityError::config(
                        "referrer_policy.value",
                        format!(
                            "`{}` is not a referrer policy; expected one of {}",
                            referrer.value,
                            REFERRER_POLICIES[1..].join(", ")
                        ),
                    ));
                }
            }
            headers.push(StaticHeader {
                name: header::REFERRER_POLICY,
                value: header_value("referrer_policy.value", &referrer.value)?,
                bit: SecurityHeader::ReferrerPolicy.bit(),
                scope: Scope::new("referrer_policy", &referrer.match_, &referrer.ignore)?,
            });
        }
        if config.nosniff.enable {
            headers.push(StaticHeader {
                name: header::X_CONTENT_TYPE_OPTIONS,
                value: HeaderValue::from_static("nosniff"),
                bit: SecurityHeader::ContentTypeOptions.bit(),
                scope: Scope::new("nosniff", &config.nosniff.match_, &config.nosniff.ignore)?,
            });
        }
        let csp = if config.csp.enable {
            Some(build_csp(config)?)
        } else {
            None
        };
        let scoped_headers = headers.iter().any(|h| !h.scope.is_everywhere())
            || csp.as_ref().is_some_and(|c| !c.scope.is_everywhere());
        let toggle = |key: &str, toggle: &crate::config::ToggleConfig| {
            toggle
                .enable
                .then(|| Scope::new(key, &toggle.match_, &toggle.ignore))
                .transpose()
        };
        Ok(Self {
            csrf: build_csrf(config, session, require_session)?,
            headers,
            csp,
            methodnoallow: toggle("methodnoallow", &config.methodnoallow)?,
            dta: toggle("dta", &config.dta)?,
            redirect: RedirectPolicy::new(DomainList::new(&config.domain_white_list)),
            scoped_headers,
        })
    }

    /// Which of the layer's headers `headers` already has (the handler's choice, kept), as
    /// bits of [`SecurityHeader`].
    ///
    /// One pass over a response's own headers, which are few: cheaper than looking each of
    /// the layer's headers up in the map before adding it.
    pub(crate) fn headers_in(&self, headers: &http::HeaderMap) -> u8 {
        let mut present = 0;
        for name in headers.keys() {
            for header in &self.headers {
                if *name == header.name {
                    present |= header.bit;
                }
            }
            if self.csp.as_ref().is_some_and(|csp| *name == csp.name) {
                present |= SecurityHeader::ContentSecurityPolicy.bit();
            }
        }
        present
    }

    /// The headers that apply to `path`, as bits of [`SecurityHeader`].
    pub(crate) fn header_mask(&self, path: &str) -> u8 {
        if !self.scoped_headers {
            return ALL_HEADERS;
        }
        let mut mask = ALL_HEADERS;
        for header in &self.headers {
            if !header.scope.applies(path) {
                mask &= !header.bit;
            }
        }
        if self.csp.as_ref().is_some_and(|c| !c.scope.applies(path)) {
            mask &= !SecurityHeader::ContentSecurityPolicy.bit();
        }
        mask
    }
}

fn build_csrf(
    config: &SecurityConfig,
    session: Option<Arc<dyn SessionAccess>>,
    require_session: bool,
) -> Result<Option<Csrf>, SecurityError> {
    let c = &config.csrf;
    if !c.enable {
        return Ok(None);
    }
    let use_session = c.use_session && c.kind.uses_token();
    if use_session && session.is_none() && require_session {
        return Err(SecurityError::config(
            "csrf.use_session",
            "`true` keeps the CSRF secret in the session: build the layer with \
             `SecurityLayer::with_session(&config, Arc::new(yolk_session::SessionLayerAccess))` \
             and add yolk-session's `SessionLayer` outside it (in a yolk app, enable the \
             session plugin), or set `use_session = false` to keep the secret in the \
             `csrfToken` cookie",
        ));
    }
    let methods = c
        .methods
        .iter()
        .map(|method| {
            Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
                SecurityError::config("csrf.methods", format!("`{method}` is not a method"))
            })
        })
        .collect::<Result<MethodSet, _>>()?;
    let header_name = HeaderName::from_bytes(c.header_name.as_bytes()).map_err(|_| {
        SecurityError::config(
            "csrf.header_name",
            format!("`{}` is not a header name", c.header_name),
        )
    })?;
    let cookie_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'=' | b'"'))
    };
    if !cookie_ok(&c.cookie_name) {
        return Err(SecurityError::config(
            "csrf.cookie_name",
            format!("`{}` is not a cookie name", c.cookie_name),
        ));
    }
    let mut cookie_attributes = String::from("; Path=/; SameSite=Lax");
    if let Some(domain) = &c.cookie_domain {
        if !cookie_ok(domain) {
            return Err(SecurityError::config(
                "csrf.cookie_domain",
                format!("`{domain}` is not a cookie domain"),
            ));
        }
        cookie_attributes.push_str("; Domain=");
        cookie_attributes.push_str(domain);
    }
    Ok(Some(Csrf {
        kind: c.kind,
        methods,
        ignore_json: c.ignore_json,
        cookie_name: CookieName::new(&c.cookie_name),
        cookie_attributes,
        header_name,
        body_name: c.body_name.clone(),
        query_name: c.query_name.clone(),
        referer_white_list: DomainList::new(&c.referer_white_list),
        rotate_when_invalid: c.rotate_when_invalid,
        body_limit: c.body_limit,
        scope: Scope::new("csrf", &c.match_, &c.ignore)?,
        use_session,
        session_name: c.session_name.clone(),
        session: if use_session { session } else { None },
    }))
}

fn build_csp(config: &SecurityConfig) -> Result<Csp, SecurityError> {
    let csp = &config.csp;
    let mut directives: Vec<(String, Vec<String>)> = Vec::new();
    for (name, sources) in &csp.policy {
        let valid_name =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid_name {
            return Err(SecurityError::config(
                format!("csp.policy.{name}"),
                "a directive name is letters, digits and `-` (`script-src`)",
            ));
        }
        if let Some(bad) = sources
            .iter()
            .find(|s| s.is_empty() || s.contains([';', ',', ' ']) || !s.is_ascii())
        {
            return Err(SecurityError::config(
                format!("csp.policy.{name}"),
                format!("`{bad}` is not a source expression (no spaces, `;` or `,`)"),
            ));
        }
        directives.push((name.to_ascii_lowercase(), sources.clone()));
    }
    if csp.nonce && !directives.iter().any(|(name, _)| name == "script-src") {
        // Scripts fall back to `default-src`; keep its sources and add the nonce.
        let fallback = directives
            .iter()
            .find(|(name, _)| name == "default-src")
            .map(|(_, sources)| sources.clone())
            .unwrap_or_default();
        directives.push(("script-src".into(), fallback));
    }
    let mut before = String::new();
    let mut after = String::new();
    let mut seen_script = false;
    for (name, sources) in &directives {
        let target = if seen_script { &mut after } else { &mut before };
        if !target.is_empty() {
            target.push_str("; ");
        }
        target.push_str(name);
        for source in sources {
            target.push(' ');
            target.push_str(source);
        }
        if csp.nonce && name == "script-src" {
            target.push_str(" 'nonce-");
            seen_script = true;
            after.push('\'');
        }
    }
    let name = if csp.report_only {
        header::CONTENT_SECURITY_POLICY_REPORT_ONLY
    } else {
        header::CONTENT_SECURITY_POLICY
    };
    let fixed = if csp.nonce {
        header_value("csp.policy", &format!("{before}x{after}"))?;
        None
    } else {
        Some(header_value("csp.policy", &before)?)
    };
    Ok(Csp {
        name,
        fixed,
        before,
        after,
        scope: Scope::new("csp", &csp.match_, &csp.ignore)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_template_puts_the_nonce_in_script_src() {
        let mut config = SecurityConfig::default();
        config.csp.enable = true;
        let shared = Shared::build(&config, None, true).unwrap();
        let csp = shared.csp.unwrap();
        assert_eq!(
            format!("{}N{}", csp.before, csp.after),
            "base-uri 'self'; default-src 'self'; object-src 'none'; script-src 'self' 'nonce-N'"
        );
    }

    #[test]
    fn csp_without_script_src_borrows_default_src() {
        let mut config = SecurityConfig::default();
        config.csp.enable = true;
        config.csp.policy = [("default-src".to_owned(), vec!["'self'".to_owned()])].into();
        let csp = Shared::build(&config, None, true).unwrap().csp.unwrap();
        assert_eq!(
            format!("{}N{}", csp.before, csp.after),
            "default-src 'self'; script-src 'self' 'nonce-N'"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut config = SecurityConfig::default();
        config.xframe.value = "ALLOWALL".into();
        let error = Shared::build(&config, None, true).unwrap_err().to_string();
        assert!(error.starts_with("security.xframe.value:"), "{error}");

        let mut config = SecurityConfig::default();
        config.csrf.methods = vec!["PO ST".into()];
        let error = Shared::build(&config, None, true).unwrap_err().to_string();
        assert!(error.starts_with("security.csrf.methods:"), "{error}");

        let mut config = SecurityConfig::default();
        config.csrf.use_session = true;
        let error = Shared::build(&config, None, true).unwrap_err().to_string();
        assert!(error.contains("with_session"), "{error}");

        let mut config = SecurityConfig::default();
        config.csp.enable = true;
        config.csp.policy = [("script-src".to_owned(), vec!["'self'; x".to_owned()])].into();
        let error = Shared::build(&config, None, true).unwrap_err().to_string();
        assert!(
            error.starts_with("security.csp.policy.script-src:"),
            "{error}"
        );
    }

    #[test]
    fn referrer_policy_accepts_fallback_lists() {
        let mut config = SecurityConfig::default();
        config.referrer_policy.enable = true;
        config.referrer_policy.value = "no-referrer, strict-origin-when-cross-origin".into();
        assert!(Shared::build(&config, None, true).is_ok());
    }
}
