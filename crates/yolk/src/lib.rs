#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

/// The whole of [`yolk_core`]: the loader, config, keys, cookies, middleware and messenger.
///
/// ```
/// let keys = yolk::core::keys::Keys::parse("new,old").unwrap();
/// assert_eq!(keys.len(), 2);
/// ```
pub use yolk_core as core;

pub use yolk_core::{
    App, AppBuilder, AppContext, AppState, BoxError, Config, ConfigError, CookieOptions, Cookies,
    Error, Inject, Keys, Middleware, Plugin, cookies, messenger, request, resources,
};

/// The process model: master, agent and workers, and the `start` / `stop` / `status` /
/// `reload` commands.
///
/// ```
/// use clap::Parser;
///
/// let cli = yolk::cluster::Cli::parse_from(["app", "--port", "8080"]);
/// assert_eq!(cli.start_args().unwrap().port, 8080);
/// ```
pub use yolk_cluster as cluster;

/// Runs the app's command line — `start` (the default), `stop`, `status`, `reload` — as a
/// cluster of one agent and N workers, or as one process with `--single`.
///
/// `build` is called in every process that runs the app.
///
/// ```no_run
/// use yolk::prelude::*;
///
/// fn main() -> std::process::ExitCode {
///     yolk::run(|| App::builder().name("hello").route("/", get(|| async { "Hello, yolk" })))
/// }
/// ```
pub use yolk_cluster::run;

/// Errors and panics as negotiated responses, and 404s (feature `onerror`).
#[cfg(feature = "onerror")]
pub use yolk_onerror as onerror;

/// Sessions in an encrypted cookie or an external store (feature `session`; the Redis store
/// with `session-redis`).
#[cfg(feature = "session")]
pub use yolk_session as session;

/// CSRF, security headers, safe redirects, an SSRF-safe client and escaping helpers (feature
/// `security`).
#[cfg(feature = "security")]
pub use yolk_security as security;

/// Egg's loggers on tracing, with cluster-wide rotation (feature `logger`).
#[cfg(feature = "logger")]
pub use yolk_logger as logger;

/// Uploads in stream and file mode, with limits (feature `multipart`).
#[cfg(feature = "multipart")]
pub use yolk_multipart as multipart;

/// Interval and cron jobs dispatched by the agent (feature `schedule`; the `cluster` type
/// with `schedule-redis`).
#[cfg(feature = "schedule")]
pub use yolk_schedule as schedule;

/// File watching owned by the agent (feature `watcher`).
#[cfg(feature = "watcher")]
pub use yolk_watcher as watcher;

/// The dev loop's plugin: boot trace, build-error page, live reload (feature `development`).
#[cfg(feature = "development")]
pub use yolk_development as development;

/// axum, as yolk uses it: routes, extractors and responses.
///
/// ```
/// use yolk::axum::{Router, routing::get};
///
/// let _router: Router = Router::new().route("/", get(|| async { "hi" }));
/// ```
pub use axum;

/// The attribute for implementing [`Plugin`], whose hooks are `async`.
///
/// ```
/// use yolk::{AppContext, BoxError, Plugin};
///
/// struct Noop;
///
/// #[yolk::async_trait]
/// impl Plugin for Noop {
///     fn name(&self) -> &'static str {
///         "noop"
///     }
///
///     async fn did_ready(&self, _app: &AppContext) -> Result<(), BoxError> {
///         Ok(())
///     }
/// }
/// assert_eq!(Noop.name(), "noop");
/// ```
pub use async_trait::async_trait;

pub mod prelude {
    //! What most apps and plugins use, in one import: `use yolk::prelude::*;`.
    //!
    //! ```
    //! use yolk::prelude::*;
    //!
    //! let _builder = App::builder()
    //!     .route("/", get(|| async { "hi" }))
    //!     .route("/items", post(|| async { "created" }).put(|| async { "replaced" }))
    //!     .route("/items/{id}", patch(|| async { "updated" }).delete(|| async { "gone" }));
    //! ```

    pub use crate::axum::routing::{delete, get, patch, post, put};
    pub use crate::{
        App, AppContext, BoxError, CookieOptions, Cookies, Inject, Middleware, Plugin, async_trait,
    };
}
