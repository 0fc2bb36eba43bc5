//! [`OnErrorLayer`]: the tower layer, its builder and its hooks.

use std::fmt;
use std::sync::Arc;

use axum::response::Response;
use http::HeaderValue;
use tower_layer::Layer;
use yolk_core::request::ProxyConfig;

use crate::panic;
use crate::report::Failure;
use crate::request::{RequestHead, ResponseKind};
use crate::service::OnErrorService;

/// Answers an error with a response: the `all`, `html`, `json` and `text` hooks.
///
/// Any `Fn(&Failure<'_>) -> Response` is one.
///
/// ```
/// use axum::response::{IntoResponse, Response};
/// use yolk_onerror::{Failure, RenderError};
///
/// fn teapot(failure: &Failure<'_>) -> Response {
///     (failure.error().status(), "short and stout").into_response()
/// }
/// fn takes(_: impl RenderError) {}
/// takes(teapot);
/// ```
pub trait RenderError: Send + Sync + 'static {
    /// The response for `failure`.
    fn render(&self, failure: &Failure<'_>) -> Response;
}

impl<F> RenderError for F
where
    F: Fn(&Failure<'_>) -> Response + Send + Sync + 'static,
{
    fn render(&self, failure: &Failure<'_>) -> Response {
        self(failure)
    }
}

/// Chooses the kind of body for a request: the `accepts` hook.
///
/// Any `Fn(&RequestHead) -> ResponseKind` is one.
///
/// ```
/// use yolk_onerror::{ChooseKind, RequestHead, ResponseKind};
/// fn api_is_json(request: &RequestHead) -> ResponseKind {
///     if request.path().starts_with("/api/") { ResponseKind::Json } else { request.preferred_kind() }
/// }
/// fn takes(_: impl ChooseKind) {}
/// takes(api_is_json);
/// ```
pub trait ChooseKind: Send + Sync + 'static {
    /// The kind of body for `request`.
    fn choose(&self, request: &RequestHead) -> ResponseKind;
}

impl<F> ChooseKind for F
where
    F: Fn(&RequestHead) -> ResponseKind + Send + Sync + 'static,
{
    fn choose(&self, request: &RequestHead) -> ResponseKind {
        self(request)
    }
}

/// Decides whether an error is logged: the `app_error_filter` hook; `false` silences it.
///
/// Any `Fn(&Failure<'_>) -> bool` is one.
///
/// ```
/// use yolk_onerror::{ErrorFilter, Failure};
/// fn not_404(failure: &Failure<'_>) -> bool { failure.error().status() != 404 }
/// fn takes(_: impl ErrorFilter) {}
/// takes(not_404);
/// ```
pub trait ErrorFilter: Send + Sync + 'static {
    /// `true` to log `failure`.
    fn should_log(&self, failure: &Failure<'_>) -> bool;
}

impl<F> ErrorFilter for F
where
    F: Fn(&Failure<'_>) -> bool + Send + Sync + 'static,
{
    fn should_log(&self, failure: &Failure<'_>) -> bool {
        self(failure)
    }
}

/// The layer's settings, shared by every service it builds.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) details: bool,
    pub(crate) error_page_url: Option<HeaderValue>,
    pub(crate) not_found: bool,
    pub(crate) not_found_page_url: Option<HeaderValue>,
    pub(crate) proxy: ProxyConfig,
    pub(crate) config: Option<serde_json::Value>,
    pub(crate) all: Option<Arc<dyn RenderError>>,
    pub(crate) html: Option<Arc<dyn RenderError>>,
    pub(crate) json: Option<Arc<dyn RenderError>>,
    pub(crate) text: Option<Arc<dyn RenderError>>,
    pub(crate) accepts: Option<Arc<dyn ChooseKind>>,
    pub(crate) filter: Option<Arc<dyn ErrorFilter>>,
}

/// Turns errors, panics and unhandled requests into responses chosen by content negotiation,
/// and logs them.
///
/// - A response carrying an [`HttpError`](crate::HttpError) (a handler returned one) is
///   rendered as JSON, HTML or text for this client, keeping the error's headers.
/// - A panic in the handler is caught and answered with 500 the same way; the server carries
///   on.
/// - A 404 with an empty body (nothing handled the request) becomes `{"message":"Not Found"}`
///   or `<h1>404 Not Found</h1>`, or a redirect to the not-found page. A handler's own 404
///   with a body is left alone.
/// - 5xx are logged with `tracing::error!`, 4xx with `tracing::warn!`, target
///   `yolk::onerror`, with the request (`-/IP/-/TIME METHOD URL`) in a `request` field.
///
/// With details (development) the bodies show the error's name, its causes, a panic's
/// location and backtrace, and HTML clients get a developer page; without (the default,
/// production) a 5xx shows its status text only.
///
/// ```
/// use axum::{routing::get, Router};
/// use http::{Request, StatusCode};
/// use http_body_util::BodyExt;
/// use tower::ServiceExt;
/// use yolk_onerror::{HttpError, OnErrorLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = Router::new()
///     .route("/user", get(|| async { Err::<(), _>(HttpError::not_found("no such user")) }))
///     .route("/boom", get(|| async { panic!("boom") as &str }))
///     .layer(OnErrorLayer::new());
///
/// let json = Request::get("/user").header("accept", "application/json").body(String::new())?;
/// let response = app.clone().oneshot(json).await?;
/// assert_eq!(response.status(), StatusCode::NOT_FOUND);
/// let body = response.into_body().collect().await?.to_bytes();
/// assert_eq!(body, r#"{"code":"NOT_FOUND","message":"no such user"}"#);
///
/// let response = app.clone().oneshot(Request::get("/boom").body(String::new())?).await?;
/// assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// let body = response.into_body().collect().await?.to_bytes();
/// assert!(String::from_utf8_lossy(&body).contains("<h2>500 Internal Server Error</h2>"));
///
/// let response = app.oneshot(Request::get("/nowhere").body(String::new())?).await?;
/// let body = response.into_body().collect().await?.to_bytes();
/// assert_eq!(body, "<h1>404 Not Found</h1>");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct OnErrorLayer {
    shared: Arc<Shared>,
}

impl Default for OnErrorLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for OnErrorLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("OnErrorLayer")
            .field("details", &shared.details)
            .field("error_page_url", &shared.error_page_url)
            .field("not_found", &shared.not_found)
            .field("not_found_page_url", &shared.not_found_page_url)
            .field("proxy", &shared.proxy)
            .field("all", &shared.all.is_some())
            .field("html", &shared.html.is_some())
            .field("json", &shared.json.is_some())
            .field("text", &shared.text.is_some())
            .field("accepts", &shared.accepts.is_some())
            .field("app_error_filter", &shared.filter.is_some())
            .finish_non_exhaustive()
    }
}

impl OnErrorLayer {
    /// The production defaults: no details, no error page, negotiated 404s, no hooks.
    ///
    /// The first layer built installs a process-wide panic hook, in front of the one already
    /// set (which still runs): it records a panic's location — and, with details, its
    /// backtrace — only while this layer is running a handler on that thread.
    pub fn new() -> Self {
        panic::install_hook();
        Self {
            shared: Arc::new(Shared {
                details: false,
                error_page_url: None,
                not_found: true,
                not_found_page_url: None,
                proxy: ProxyConfig::default(),
                config: None,
                all: None,
                html: None,
                json: None,
                text: None,
                accepts: None,
                filter: None,
            }),
        }
    }

    fn shared(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.shared)
    }

    /// Shows internals — the error's name, causes, a panic's location and backtrace, the
    /// request's headers (credentials masked) and the config — for development. Default:
    /// `false`; the plugin turns it on in `local` and `unittest`.
    ///
    /// ```
    /// let layer = yolk_onerror::OnErrorLayer::new().with_details(true);
    /// assert!(format!("{layer:?}").contains("details: true"));
    /// ```
    pub fn with_details(mut self, details: bool) -> Self {
        self.shared().details = details;
        self
    }

    /// Without details, redirects HTML clients to this page on a 5xx, adding
    /// `real_status=CODE` to its query (Egg's `errorPageUrl`). Default: none.
    ///
    /// ```
    /// use http::HeaderValue;
    /// let layer = yolk_onerror::OnErrorLayer::new()
    ///     .with_error_page_url(HeaderValue::from_static("/50x.html"));
    /// assert!(format!("{layer:?}").contains("/50x.html"));
    /// ```
    pub fn with_error_page_url(mut self, url: HeaderValue) -> Self {
        self.shared().error_page_url = Some(url);
        self
    }

    /// Answers requests nothing handled (a 404 with an empty body) with a negotiated 404.
    /// Default: `true`.
    ///
    /// ```
    /// let layer = yolk_onerror::OnErrorLayer::new().with_not_found(false);
    /// assert!(format!("{layer:?}").contains("not_found: false"));
    /// ```
    pub fn with_not_found(mut self, enable: bool) -> Self {
        self.shared().not_found = enable;
        self
    }

    /// Redirects HTML clients of an unhandled request to this page (Egg's
    /// `notfound.pageUrl`). Default: none.
    ///
    /// ```
    /// use http::HeaderValue;
    /// let layer = yolk_onerror::OnErrorLayer::new()
    ///     .with_not_found_page_url(HeaderValue::from_static("/404.html"));
    /// assert!(format!("{layer:?}").contains("/404.html"));
    /// ```
    pub fn with_not_found_page_url(mut self, url: HeaderValue) -> Self {
        self.shared().not_found_page_url = Some(url);
        self
    }

    /// Trusts a reverse proxy's `X-Forwarded-For` for the client IP in logs and pages.
    /// Default: the peer address.
    ///
    /// ```
    /// use yolk_core::request::ProxyConfig;
    /// let layer = yolk_onerror::OnErrorLayer::new()
    ///     .with_proxy(ProxyConfig { proxy: true, max_ips_count: 1 });
    /// assert!(format!("{layer:?}").contains("max_ips_count: 1"));
    /// ```
    pub fn with_proxy(mut self, proxy: ProxyConfig) -> Self {
        self.shared().proxy = proxy;
        self
    }

    /// The effective config shown on the developer page (give it with secrets masked, as
    /// `yolk_core::Config::dump` does). Default: none.
    ///
    /// ```
    /// let layer = yolk_onerror::OnErrorLayer::new()
    ///     .with_config(serde_json::json!({ "name": "blog" }));
    /// # let _ = layer;
    /// ```
    pub fn with_config(mut self, config: serde_json::Value) -> Self {
        self.shared().config = Some(config);
        self
    }

    /// Answers every error with `hook`, whatever the client accepts (koa-onerror's `all`).
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// let layer = yolk_onerror::OnErrorLayer::new()
    ///     .on_all(|failure: &yolk_onerror::Failure<'_>| {
    ///         (failure.error().status(), "something went wrong").into_response()
    ///     });
    /// assert!(format!("{layer:?}").contains("all: true"));
    /// ```
    pub fn on_all(mut self, hook: impl RenderError) -> Self {
        self.shared().all = Some(Arc::new(hook));
        self
    }

    /// Answers HTML clients with `hook` instead of the built-in pages.
    ///
    /// ```
    /// use axum::response::{Html, IntoResponse};
    /// let layer = yolk_onerror::OnErrorLayer::new()
    ///     .on_html(|f: &yolk_onerror::Failure<'_>| (f.error().status(), Html("<p>Oops</p>")).into_response());
    /// assert!(format!("{layer:?}").contains("html: true"));
    /// ```
    pub fn on_html(mut self, hook: impl RenderError) -> Self {
        self.shared().html = Some(Arc::new(hook));
        self
    }

    /// Answers JSON clients with `hook` instead of `{"code": .., "message": ..}`.
    ///
    /// ```
    /// use axum::{response::IntoResponse, Json};
    /// let layer = yolk_onerror::OnErrorLayer::new().on_json(|f: &yolk_onerror::Failure<'_>| {
    ///     (f.error().status(), Json(serde_json::json!({ "error": f.error().code() }))).into_response()
    /// });
    /// assert!(format!("{layer:?}").contains("json: true"));
    /// ```
    pub fn on_json(mut self, hook: impl RenderError) -> Self {
        self.shared().json = Some(Arc::new(hook));
        self
    }

    /// Answers text clients with `hook` instead of the message.
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// let layer = yolk_onerror::OnErrorLayer::new()
    ///     .on_text(|f: &yolk_onerror::Failure<'_>| (f.error().status(), "error\n").into_response());
    /// assert!(format!("{layer:?}").contains("text: true"));
    /// ```
    pub fn on_text(mut self, hook: impl RenderError) -> Self {
        self.shared().text = Some(Arc::new(hook));
        self
    }

    /// Chooses the kind of body with `hook` instead of
    /// [`RequestHead::preferred_kind`] (Egg's `accepts`); also used for 404s.
    ///
    /// ```
    /// use yolk_onerror::{RequestHead, ResponseKind};
    /// let layer = yolk_onerror::OnErrorLayer::new()
    ///     .accepts(|_: &RequestHead| ResponseKind::Json);
    /// assert!(format!("{layer:?}").contains("accepts: true"));
    /// ```
    pub fn accepts(mut self, hook: impl ChooseKind) -> Self {
        self.shared().accepts = Some(Arc::new(hook));
        self
    }

    /// Logs only the errors `hook` returns `true` for (Egg's `appErrorFilter`).
    ///
    /// ```
    /// let layer = yolk_onerror::OnErrorLayer::new()
    ///     .app_error_filter(|f: &yolk_onerror::Failure<'_>| f.error().code() != "EXPECTED");
    /// assert!(format!("{layer:?}").contains("app_error_filter: true"));
    /// ```
    pub fn app_error_filter(mut self, hook: impl ErrorFilter) -> Self {
        self.shared().filter = Some(Arc::new(hook));
        self
    }
}

impl<S> Layer<S> for OnErrorLayer {
    type Service = OnErrorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OnErrorService::new(inner, Arc::clone(&self.shared))
    }
}
