//! [`RequestLogLayer`]: the request middleware.

use http::HeaderName;
use tower_layer::Layer;
use yolk_core::request::ProxyConfig;

use crate::service::RequestLog;

/// Sets the request context that prefixes every line logged while a request is handled
/// (`[user/ip/trace/3ms GET /path]`), and logs one line per request at `INFO` with its status
/// and duration, to the core log (`target: "yolk_logger::request"`).
///
/// Per request it costs no allocation of its own: the context lives in the response future,
/// the line is built only when some logger takes `INFO` from this target.
///
/// ```
/// use axum::{routing::get, Router};
/// use tower::ServiceExt;
/// use yolk_logger::RequestLogLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = Router::new()
///     .route("/", get(|| async { "hi" }))
///     .layer(RequestLogLayer::new());
/// let response = app.oneshot(http::Request::get("/").body(axum::body::Body::empty())?).await?;
/// assert_eq!(response.status(), 200);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RequestLogLayer {
    pub(crate) proxy: ProxyConfig,
    pub(crate) trace_header: Option<HeaderName>,
    pub(crate) log_requests: bool,
}

impl Default for RequestLogLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestLogLayer {
    /// The context and the request line; the client IP from the peer address; the trace id
    /// from `x-request-id`.
    pub fn new() -> Self {
        Self {
            proxy: ProxyConfig::default(),
            trace_header: Some(HeaderName::from_static("x-request-id")),
            log_requests: true,
        }
    }

    /// Reads the client IP as the app's `proxy` settings say (trusting `X-Forwarded-For`
    /// behind a proxy). Default: the peer address only.
    ///
    /// ```
    /// use yolk_core::request::ProxyConfig;
    ///
    /// let layer = yolk_logger::RequestLogLayer::new()
    ///     .with_proxy(ProxyConfig { proxy: true, max_ips_count: 1 });
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_proxy(mut self, proxy: ProxyConfig) -> Self {
        self.proxy = proxy;
        self
    }

    /// The header carrying the trace id, or `None` for `-`. Default: `x-request-id`.
    ///
    /// ```
    /// let layer = yolk_logger::RequestLogLayer::new()
    ///     .with_trace_header(Some(http::HeaderName::from_static("traceparent")));
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_trace_header(mut self, header: Option<HeaderName>) -> Self {
        self.trace_header = header;
        self
    }

    /// Whether to log the one line per request; the context is set either way.
    /// Default: `true`.
    ///
    /// ```
    /// let context_only = yolk_logger::RequestLogLayer::new().with_request_line(false);
    /// # let _ = context_only;
    /// ```
    #[must_use]
    pub fn with_request_line(mut self, enabled: bool) -> Self {
        self.log_requests = enabled;
        self
    }
}

impl<S> Layer<S> for RequestLogLayer {
    type Service = RequestLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestLog {
            inner,
            layer: self.clone(),
        }
    }
}
