//! Named middleware with `enable`, `match` and `ignore`.
//!
//! Plugins and the app contribute tower layers under a name. The loader orders them — plugins'
//! first, in plugin order, then the app's, in the order of the `middleware` setting — and
//! composes them once around the app's routes: the first is the outermost, and every request
//! passes them before it is routed (see [`Downstream`]). The config switches each one off or
//! restricts it to some paths:
//!
//! ```toml
//! middleware = ["timing", "auth"]
//!
//! [middleware_options.auth]
//! match = ["/admin", "^/api/v[0-9]+/private"]
//!
//! [middleware_options.timing]
//! enable = false
//! ```
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower_http::set_header::SetResponseHeaderLayer;
//! use http::{header::CACHE_CONTROL, HeaderValue};
//! use yolk_core::Middleware;
//!
//! let no_store = Middleware::new(
//!     "no_store",
//!     SetResponseHeaderLayer::overriding(CACHE_CONTROL, HeaderValue::from_static("no-store")),
//! )
//! .match_when(|request| request.uri().path().starts_with("/account"));
//! assert_eq!(no_store.name(), "no_store");
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tower_layer::Layer;
use tower_service::Service;

use crate::config::MiddlewareOptions;

mod downstream;

use downstream::IntoResponseFuture;
pub use downstream::{Downstream, DownstreamFuture};

type Apply = Box<dyn FnOnce(Downstream, Option<PathFilter>) -> Downstream + Send>;
type Predicate = Arc<dyn Fn(&Request) -> bool + Send + Sync>;

/// A tower layer under a name, so the config can order, disable and restrict it.
pub struct Middleware {
    name: String,
    apply: Apply,
    filter: Option<PathFilter>,
}

impl fmt::Debug for Middleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Middleware")
            .field("name", &self.name)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl Middleware {
    /// Names `layer`. Any layer that `axum::Router::layer` takes will do: it wraps a
    /// [`Downstream`].
    pub fn new<L>(name: impl Into<String>, layer: L) -> Self
    where
        L: Layer<Downstream> + Send + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        let apply: Apply = Box::new(move |inner, filter| match filter {
            None => Downstream::erase(layer.layer(inner)),
            Some(filter) => Downstream::erase(FilteredService {
                layered: layer.layer(inner.clone()),
                plain: inner,
                filter,
            }),
        });
        Self {
            name: name.into(),
            apply,
            filter: None,
        }
    }

    /// The middleware's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the middleware only for requests `predicate` accepts (Egg's `match` as a function).
    /// A `match` or `ignore` in the config replaces it.
    #[must_use]
    pub fn match_when(
        mut self,
        predicate: impl Fn(&Request) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.filter = Some(PathFilter::Match(Arc::new(predicate)));
        self
    }

    /// Skips the middleware for requests `predicate` accepts (Egg's `ignore` as a function).
    /// A `match` or `ignore` in the config replaces it.
    #[must_use]
    pub fn ignore_when(
        mut self,
        predicate: impl Fn(&Request) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.filter = Some(PathFilter::Ignore(Arc::new(predicate)));
        self
    }

    /// Wraps `inner` in this middleware as `options` say; returns `inner` when it is disabled.
    ///
    /// # Errors
    ///
    /// [`MiddlewareError::MatchAndIgnore`] when the options set both `match` and `ignore`.
    pub(crate) fn apply(
        self,
        inner: Downstream,
        options: Option<&MiddlewareOptions>,
    ) -> Result<Downstream, MiddlewareError> {
        let Some(options) = options else {
            return Ok((self.apply)(inner, self.filter));
        };
        if options.enable == Some(false) {
            return Ok(inner);
        }
        let filter = match (options.match_.is_empty(), options.ignore.is_empty()) {
            (false, false) => {
                return Err(MiddlewareError::MatchAndIgnore { name: self.name });
            }
            (false, true) => Some(PathFilter::Match(PathPattern::predicate(&options.match_))),
            (true, false) => Some(PathFilter::Ignore(PathPattern::predicate(&options.ignore))),
            (true, true) => self.filter,
        };
        Ok((self.apply)(inner, filter))
    }
}

/// A misuse of named middleware, found at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MiddlewareError {
    /// `match` and `ignore` are both set for one middleware.
    #[error(
        "middleware `{name}`: `match` and `ignore` are both set in [middleware_options.{name}]; \
         keep one of them"
    )]
    MatchAndIgnore {
        /// The middleware.
        name: String,
    },
    /// A name in `middleware` or `[middleware_options]` that no plugin or app code registered.
    #[error("unknown middleware `{name}` in `{setting}`; registered middleware: {known}")]
    Unknown {
        /// The unknown name.
        name: String,
        /// `middleware` or `middleware_options`.
        setting: &'static str,
        /// The registered names, comma-separated.
        known: String,
    },
    /// Two middleware with one name.
    #[error("two middleware are named `{name}`; give each a distinct name")]
    Duplicate {
        /// The name.
        name: String,
    },
}

/// One `match` / `ignore` pattern from the config.
///
/// - a path prefix, segment-wise: `/api` matches `/api` and `/api/users`, not `/apix`;
/// - a glob when it holds `*`, `?` or `[`: `/static/**/*.css`;
/// - a regular expression when it starts with `^`: `^/v[0-9]+/`.
///
/// ```
/// use yolk_core::middleware::PathPattern;
///
/// let prefix: PathPattern = "/api".parse()?;
/// assert!(prefix.matches("/api/users") && !prefix.matches("/apix"));
/// let glob: PathPattern = "/static/**/*.css".parse()?;
/// assert!(glob.matches("/static/a/b.css"));
/// let regex: PathPattern = "^/v[0-9]+/".parse()?;
/// assert!(regex.matches("/v2/users"));
/// # Ok::<_, yolk_core::middleware::PatternError>(())
/// ```
#[derive(Clone, Debug)]
pub struct PathPattern {
    source: String,
    kind: PatternKind,
}

#[derive(Clone, Debug)]
enum PatternKind {
    Prefix,
    Glob(globset::GlobMatcher),
    Regex(regex::Regex),
}

/// A `match` / `ignore` pattern that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid path pattern `{pattern}`: {reason}")]
pub struct PatternError {
    pattern: String,
    reason: String,
}

impl std::str::FromStr for PathPattern {
    type Err = PatternError;

    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| PatternError {
            pattern: pattern.to_owned(),
            reason,
        };
        let kind = if pattern.starts_with('^') {
            PatternKind::Regex(regex::Regex::new(pattern).map_err(|e| error(e.to_string()))?)
        } else if pattern.contains(['*', '?', '[']) {
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| error(e.kind().to_string()))?;
            PatternKind::Glob(glob.compile_matcher())
        } else if pattern.starts_with('/') {
            PatternKind::Prefix
        } else {
            return Err(error(
                "expected a path starting with `/`, a glob, or a regex starting with `^`".into(),
            ));
        };
        Ok(Self {
            source: pattern.to_owned(),
            kind,
        })
    }
}

impl PathPattern {
    /// True when `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        match &self.kind {
            PatternKind::Prefix => {
                let prefix = self.source.trim_end_matches('/');
                path.strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }
            PatternKind::Glob(glob) => glob.is_match(path),
            PatternKind::Regex(regex) => regex.is_match(path),
        }
    }

    fn predicate(patterns: &[Self]) -> Predicate {
        let patterns = patterns.to_vec();
        Arc::new(move |request: &Request| {
            let path = request.uri().path();
            patterns.iter().any(|pattern| pattern.matches(path))
        })
    }
}

impl PartialEq for PathPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Serialize for PathPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for PathPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        source.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Clone)]
enum PathFilter {
    Match(Predicate),
    Ignore(Predicate),
}

impl fmt::Debug for PathFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Match(_) => "Match",
            Self::Ignore(_) => "Ignore",
        })
    }
}

impl PathFilter {
    fn applies(&self, request: &Request) -> bool {
        match self {
            Self::Match(predicate) => predicate(request),
            Self::Ignore(predicate) => !predicate(request),
        }
    }
}

/// A layer's service for the requests its filter accepts, the bare downstream for the rest.
#[derive(Clone)]
struct FilteredService<S> {
    layered: S,
    plain: Downstream,
    filter: PathFilter,
}

impl<S> Service<Request> for FilteredService<S>
where
    S: Service<Request>,
    S::Response: IntoResponse,
    S::Error: Into<Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = FilteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // `plain`, a `Downstream`, is always ready.
        match ready!(self.layered.poll_ready(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            #[allow(unreachable_code)] // `Into<Infallible>`: written for the type system.
            Err(error) => match error.into() {},
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if self.filter.applies(&request) {
            FilteredFuture::Layered {
                future: IntoResponseFuture::new(self.layered.call(request)),
            }
        } else {
            FilteredFuture::Plain {
                future: self.plain.call(request),
            }
        }
    }
}

pin_project_lite::pin_project! {
    #[project = FilteredProj]
    enum FilteredFuture<F> {
        Layered { #[pin] future: IntoResponseFuture<F> },
        Plain { #[pin] future: DownstreamFuture },
    }
}

impl<F, R, E> Future for FilteredFuture<F>
where
    F: Future<Output = Result<R, E>>,
    R: IntoResponse,
    E: Into<Infallible>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            FilteredProj::Layered { future } => future.poll(cx),
            FilteredProj::Plain { future } => future.poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use http::{HeaderValue, StatusCode};
    use tower::ServiceExt;
    use tower_http::set_header::SetResponseHeaderLayer;

    fn tagged() -> Middleware {
        Middleware::new(
            "tag",
            SetResponseHeaderLayer::overriding(
                http::header::HeaderName::from_static("x-tag"),
                HeaderValue::from_static("1"),
            ),
        )
    }

    async fn tag_of(stack: &Downstream, path: &str) -> Option<String> {
        let response = stack
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        response
            .headers()
            .get("x-tag")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    fn routes() -> Downstream {
        Downstream::routes(
            axum::Router::new()
                .route("/api/users", get(|| async { "users" }))
                .route("/apix", get(|| async { "x" }))
                .route("/static/a/b.css", get(|| async { "css" })),
        )
    }

    fn options(toml_text: &str) -> MiddlewareOptions {
        toml::from_str(toml_text).unwrap()
    }

    #[tokio::test]
    async fn without_options_applies_everywhere_including_404() {
        let stack = tagged().apply(routes(), None).unwrap();
        assert_eq!(tag_of(&stack, "/apix").await.as_deref(), Some("1"));
        assert_eq!(tag_of(&stack, "/missing").await.as_deref(), Some("1"));
    }

    #[tokio::test]
    async fn middleware_run_before_routing_so_they_may_rewrite_the_path() {
        let rewrite = Middleware::new(
            "rewrite",
            axum::middleware::map_request(|mut request: Request| async move {
                if request.uri().path() == "/old-users" {
                    *request.uri_mut() = http::Uri::from_static("/api/users");
                }
                request
            }),
        );
        let stack = tagged().apply(routes(), None).unwrap();
        let stack = rewrite.apply(stack, None).unwrap();
        let response = stack
            .oneshot(Request::get("/old-users").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-tag"], "1");
        let body = axum::body::to_bytes(response.into_body(), 64)
            .await
            .unwrap();
        assert_eq!(&body[..], b"users");
    }

    #[tokio::test]
    async fn match_prefix_is_segment_wise() {
        let opts = options("match = [\"/api\"]");
        let stack = tagged().apply(routes(), Some(&opts)).unwrap();
        assert_eq!(tag_of(&stack, "/api/users").await.as_deref(), Some("1"));
        assert_eq!(tag_of(&stack, "/apix").await, None);
    }

    #[tokio::test]
    async fn ignore_glob_and_regex() {
        let opts = options("ignore = [\"/static/**/*.css\", \"^/api/\"]");
        let stack = tagged().apply(routes(), Some(&opts)).unwrap();
        assert_eq!(tag_of(&stack, "/static/a/b.css").await, None);
        assert_eq!(tag_of(&stack, "/api/users").await, None);
        assert_eq!(tag_of(&stack, "/apix").await.as_deref(), Some("1"));
    }

    #[tokio::test]
    async fn disabled_is_removed() {
        let opts = options("enable = false");
        let stack = tagged().apply(routes(), Some(&opts)).unwrap();
        assert_eq!(tag_of(&stack, "/apix").await, None);
    }

    #[tokio::test]
    async fn predicates_from_code_and_config_override() {
        let from_code = tagged().ignore_when(|request| request.uri().path() == "/apix");
        let stack = from_code.apply(routes(), None).unwrap();
        assert_eq!(tag_of(&stack, "/apix").await, None);
        assert_eq!(tag_of(&stack, "/api/users").await.as_deref(), Some("1"));

        let opts = options("match = [\"/apix\"]");
        let from_code = tagged().ignore_when(|request| request.uri().path() == "/apix");
        let stack = from_code.apply(routes(), Some(&opts)).unwrap();
        assert_eq!(tag_of(&stack, "/apix").await.as_deref(), Some("1"));
        assert_eq!(tag_of(&stack, "/api/users").await, None);
    }

    #[test]
    fn match_and_ignore_together_is_an_error() {
        let opts = options("match = [\"/a\"]\nignore = [\"/b\"]");
        let error = tagged().apply(routes(), Some(&opts)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "middleware `tag`: `match` and `ignore` are both set in [middleware_options.tag]; keep one of them"
        );
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        let error = toml::from_str::<MiddlewareOptions>("match = [\"api\"]").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected a path starting with `/`"),
            "{error}"
        );
        let error = toml::from_str::<MiddlewareOptions>("match = [\"^(\"]").unwrap_err();
        assert!(
            error.to_string().contains("invalid path pattern `^(`"),
            "{error}"
        );
    }
}
