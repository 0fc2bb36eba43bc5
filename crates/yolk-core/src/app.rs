//! The app builder: plugins, routes, middleware and services in; a booted [`App`] out.
//!
//! ```no_run
//! use axum::routing::get;
//! use yolk_core::App;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), yolk_core::Error> {
//!     App::builder()
//!         .name("hello")
//!         .route("/", get(|| async { "Hello, yolk" }))
//!         .build()
//!         .await?
//!         .listen("127.0.0.1:7001")
//!         .await
//! }
//! ```
//!
//! `build` runs Egg's loader: it loads the layered config, resolves the plugin graph, runs the
//! lifecycle hooks in plugin order, and assembles the router with every plugin's middleware and
//! routes. The [`App`] is also a plain axum [`Router`] ([`App::router`]) to embed anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::FromRef;
use axum::routing::MethodRouter;
use tokio::net::{TcpListener, ToSocketAddrs};
use tower::ServiceBuilder;

use crate::catch_panic::{CatchPanic, CatchPanicLayer};
use crate::config::{AppConfig, Config, DEFAULT_ENV, ENV_VAR};
use crate::cookies::{CookieLayer, CookieService};
use crate::error::Error;
use crate::keys::Keys;
use crate::messenger::{InProcessMessenger, Messenger};
use crate::middleware::{Downstream, Middleware, MiddlewareError};
use crate::plugin::graph::{self, Node, PluginSettings};
use crate::plugin::lifecycle::Lifecycle;
use crate::plugin::{AppContext, BootStep, Hook, Plugin, Role};
use crate::request::ProxyConfig;
use crate::server;
use crate::services::Services;

/// The shortest key accepted in `prod`, in bytes.
pub const MIN_PROD_KEY_LEN: usize = 16;

/// The state every route of an app sees: the context, the services, the proxy settings.
///
/// Extractors reach what they need through [`FromRef`]: [`Keys`], [`ProxyConfig`],
/// `Arc<AppContext>`.
#[derive(Clone, Debug)]
pub struct AppState {
    context: Arc<AppContext>,
    services: Arc<Services>,
    proxy: ProxyConfig,
}

impl AppState {
    /// The app's context.
    pub fn context(&self) -> &Arc<AppContext> {
        &self.context
    }

    /// The services registered by the end of `did_load`.
    pub fn services(&self) -> &Services {
        &self.services
    }
}

impl FromRef<AppState> for Keys {
    fn from_ref(state: &AppState) -> Self {
        state.context.keys.clone()
    }
}

impl FromRef<AppState> for ProxyConfig {
    fn from_ref(state: &AppState) -> Self {
        state.proxy
    }
}

impl FromRef<AppState> for Arc<AppContext> {
    fn from_ref(state: &AppState) -> Self {
        Self::clone(&state.context)
    }
}

/// Collects what an app is made of; [`AppBuilder::build`] boots it.
#[must_use]
pub struct AppBuilder {
    name: Option<String>,
    base_dir: Option<PathBuf>,
    env: Option<String>,
    vars: Option<Vec<(String, String)>>,
    values: Vec<(String, serde_json::Value)>,
    plugins: Vec<(Box<dyn Plugin>, bool)>,
    router: Router<AppState>,
    middleware: Vec<Middleware>,
    services: Services,
    messenger: Option<Arc<dyn Messenger>>,
    role: Role,
}

impl fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppBuilder")
            .field("name", &self.name)
            .field("base_dir", &self.base_dir)
            .field("env", &self.env)
            .field(
                "plugins",
                &self
                    .plugins
                    .iter()
                    .map(|(p, _)| p.name())
                    .collect::<Vec<_>>(),
            )
            .field("middleware", &self.middleware)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Default for AppBuilder {
    fn default() -> Self {
        Self {
            name: None,
            base_dir: None,
            env: None,
            vars: None,
            values: Vec::new(),
            plugins: Vec::new(),
            router: Router::new(),
            middleware: Vec::new(),
            services: Services::default(),
            messenger: None,
            role: Role::Single,
        }
    }
}

impl AppBuilder {
    /// The app's name, unless the config sets `name`. Default: `app`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Where `config/` and `run/` are. Default: the current directory.
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// The base directory given to [`AppBuilder::base_dir`], if any: how a launcher (the
    /// cluster's `start`, `stop`) finds the app's `run/` without booting it.
    pub fn configured_base_dir(&self) -> Option<&std::path::Path> {
        self.base_dir.as_deref()
    }

    /// The environment. Default: `YOLK_ENV`, else `local`.
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    /// The variables to read `YOLK_*` overrides from, instead of the process environment.
    pub fn vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.vars = Some(
            vars.into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        );
        self
    }

    /// Sets a config value (dotted `key`) above every file and variable.
    ///
    /// # Panics
    ///
    /// When `value` does not serialise to JSON, which no plain data type does.
    pub fn config(mut self, key: impl Into<String>, value: impl serde::Serialize) -> Self {
        let value = serde_json::to_value(value).expect("a config value serialises to JSON");
        self.values.push((key.into(), value));
        self
    }

    /// Registers a plugin, enabled unless `config/plugin.toml` disables it.
    pub fn plugin(mut self, plugin: impl Plugin) -> Self {
        self.plugins.push((Box::new(plugin), true));
        self
    }

    /// Registers a plugin, disabled unless `config/plugin.toml` enables it.
    pub fn plugin_disabled(mut self, plugin: impl Plugin) -> Self {
        self.plugins.push((Box::new(plugin), false));
        self
    }

    /// Adds a route, as [`Router::route`].
    pub fn route(mut self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, method_router);
        self
    }

    /// Merges routes, as [`Router::merge`]. A `Router<()>` merges after `.with_state(())`.
    pub fn merge(mut self, router: impl Into<Router<AppState>>) -> Self {
        self.router = self.router.merge(router);
        self
    }

    /// Nests routes under `path`, as [`Router::nest`].
    pub fn nest(mut self, path: &str, router: Router<AppState>) -> Self {
        self.router = self.router.nest(path, router);
        self
    }

    /// Adds named app middleware; runs after every plugin's, in the order of the `middleware`
    /// setting, then in the order added.
    pub fn middleware(mut self, middleware: Middleware) -> Self {
        self.middleware.push(middleware);
        self
    }

    /// Registers a service for [`Inject`](crate::Inject).
    pub fn service<T: Send + Sync + 'static>(mut self, service: T) -> Self {
        self.services.insert(service);
        self
    }

    /// The messenger to other processes. Default: an [`InProcessMessenger`].
    pub fn messenger(mut self, messenger: Arc<dyn Messenger>) -> Self {
        self.messenger = Some(messenger);
        self
    }

    /// The part this process plays. Default: [`Role::Single`].
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Boots the app: config, plugin graph, hooks up to `did_ready`, router.
    ///
    /// Writes `run/application_config.json` and `run/{application|agent}_timing_{pid}.json`.
    ///
    /// # Errors
    ///
    /// Any [`Error`]: an invalid config or plugin graph, unusable keys, a failed or hung hook.
    pub async fn build(self) -> Result<App, Error> {
        let booted_at = Instant::now();
        let base_dir = match self.base_dir {
            Some(dir) => dir,
            None => std::env::current_dir().map_err(|source| crate::ConfigError::Read {
                file: PathBuf::from("."),
                source,
            })?,
        };
        let env = self
            .env
            .or_else(|| std::env::var(ENV_VAR).ok().filter(|env| !env.is_empty()))
            .unwrap_or_else(|| DEFAULT_ENV.to_owned());
        let vars = self
            .vars
            .unwrap_or_else(|| std::env::vars().collect::<Vec<_>>());
        let mut config = Config::load(&base_dir, &env, vars)?;
        for (key, value) in self.values {
            config = config.with_value(&key, value);
        }
        if let Some(name) = self.name {
            config = config.with_default("name", name);
        }
        let app_config: AppConfig = config.section("", &AppConfig::default())?;

        let settings = PluginSettings::load(&base_dir, &env)?;
        let nodes: Vec<Node<'_>> = self
            .plugins
            .iter()
            .map(|(plugin, enabled)| Node {
                name: plugin.name(),
                dependencies: plugin.dependencies(),
                optional_dependencies: plugin.optional_dependencies(),
                enabled_in_code: *enabled,
            })
            .collect();
        let order = graph::resolve(&nodes, &settings, &env)?;
        let registered: Vec<&'static str> = self.plugins.iter().map(|(p, _)| p.name()).collect();
        check_sections(&config, &registered)?;
        let mut slots: Vec<Option<Box<dyn Plugin>>> =
            self.plugins.into_iter().map(|(p, _)| Some(p)).collect();
        let mut plugins: Vec<Box<dyn Plugin>> =
            order.iter().filter_map(|&i| slots[i].take()).collect();

        let keys = Keys::new(app_config.keys.to_vec());
        if env == "prod" {
            keys.check_strength(MIN_PROD_KEY_LEN)?;
        }
        let mut lifecycle = Lifecycle::new(booted_at, Duration::from_millis(10_000));
        lifecycle.set_timeout(Duration::from_millis(app_config.hook_timeout_ms));
        let proxy = ProxyConfig {
            proxy: app_config.proxy,
            max_ips_count: app_config.max_ips_count,
        };
        let context = AppContext {
            config,
            app_config,
            keys: keys.clone(),
            role: self.role,
            messenger: self
                .messenger
                .unwrap_or_else(|| Arc::new(InProcessMessenger::new())),
            services: Mutex::new(self.services),
        };

        lifecycle
            .run(Hook::ConfigWillLoad, &plugins, &context)
            .await?;
        for plugin in &mut plugins {
            let started = Instant::now();
            plugin.configure(&context.config)?;
            lifecycle.record(plugin.name(), Hook::Configure, started);
        }
        lifecycle
            .run(Hook::ConfigDidLoad, &plugins, &context)
            .await?;
        context.config.write_dump()?;
        lifecycle.run(Hook::DidLoad, &plugins, &context).await?;

        let mut router = self.router;
        for plugin in &plugins {
            router = router.merge(plugin.routes(&context));
        }
        let plugin_middleware: Vec<Middleware> = plugins
            .iter()
            .flat_map(|plugin| plugin.middleware(&context))
            .collect();
        let stack = order_middleware(plugin_middleware, self.middleware, &context.app_config)?;
        let state = AppState {
            services: Arc::new(context.services_snapshot()),
            context: Arc::new(context),
            proxy,
        };
        let context = Arc::clone(&state.context);
        let mut stack_service = Downstream::routes(router.with_state(state));
        for middleware in stack.into_iter().rev() {
            let options = context.app_config.middleware_options.get(middleware.name());
            stack_service = middleware.apply(stack_service, options)?;
        }

        lifecycle.run(Hook::WillReady, &plugins, &context).await?;
        lifecycle.run(Hook::DidReady, &plugins, &context).await?;
        let app = App {
            stack: stack_service,
            keys,
            context,
            plugins: Arc::new(plugins),
            lifecycle: Arc::new(lifecycle),
        };
        app.write_timings()?;
        Ok(app)
    }
}

/// Rejects top-level config keys that neither the app nor a registered plugin reads.
fn check_sections(config: &Config, plugins: &[&'static str]) -> Result<(), Error> {
    let mut known: BTreeSet<String> = AppConfig::keys_read().into_iter().collect();
    known.extend(plugins.iter().map(|name| (*name).to_owned()));
    for (key, origin) in config.top_level_keys() {
        if !known.contains(&key) {
            return Err(crate::ConfigError::UnknownSection {
                origin,
                key,
                known: known.iter().cloned().collect::<Vec<_>>().join(", "),
            }
            .into());
        }
    }
    Ok(())
}

/// Plugins' middleware in plugin order, then the app's: those named in `middleware` first in
/// that order, the others as added. Checks every name the config uses.
fn order_middleware(
    plugin_middleware: Vec<Middleware>,
    mut app_middleware: Vec<Middleware>,
    app_config: &AppConfig,
) -> Result<Vec<Middleware>, MiddlewareError> {
    let mut seen = BTreeSet::new();
    for middleware in plugin_middleware.iter().chain(&app_middleware) {
        if !seen.insert(middleware.name().to_owned()) {
            return Err(MiddlewareError::Duplicate {
                name: middleware.name().to_owned(),
            });
        }
    }
    let known = || list_or_none(seen.iter());
    for name in app_config.middleware_options.keys() {
        if !seen.contains(name) {
            return Err(MiddlewareError::Unknown {
                name: name.clone(),
                setting: "middleware_options",
                known: known(),
            });
        }
    }
    let mut ordered = plugin_middleware;
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for (index, middleware) in app_middleware.iter().enumerate() {
        by_name.insert(middleware.name().to_owned(), index);
    }
    let mut taken = vec![false; app_middleware.len()];
    let mut picked = Vec::new();
    for name in &app_config.middleware {
        let Some(&index) = by_name.get(name) else {
            return Err(MiddlewareError::Unknown {
                name: name.clone(),
                setting: "middleware",
                known: list_or_none(by_name.keys()),
            });
        };
        taken[index] = true;
        picked.push(index);
    }
    picked.extend((0..app_middleware.len()).filter(|&index| !taken[index]));
    let mut slots: Vec<Option<Middleware>> = app_middleware.drain(..).map(Some).collect();
    ordered.extend(picked.into_iter().filter_map(|index| slots[index].take()));
    Ok(ordered)
}

/// `a, b, c`, or `none`.
fn list_or_none<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let list = names.map(String::as_str).collect::<Vec<_>>().join(", ");
    if list.is_empty() {
        "none".to_owned()
    } else {
        list
    }
}

/// [`App::service`]: the app's routes and middleware inside the core layers.
pub type AppService = CatchPanic<CookieService<Downstream>>;

/// A booted app: its router, its context, its plugins.
#[derive(Clone)]
pub struct App {
    /// The routes inside every plugin's and the app's middleware, without the core layers.
    stack: Downstream,
    keys: Keys,
    context: Arc<AppContext>,
    plugins: Arc<Vec<Box<dyn Plugin>>>,
    lifecycle: Arc<Lifecycle>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("name", &self.context.name())
            .field("env", &self.context.env())
            .field(
                "plugins",
                &self.plugins.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl App {
    /// Starts building an app.
    pub fn builder() -> AppBuilder {
        AppBuilder::default()
    }

    /// The app as a tower service: the routes and every middleware inside the core layers
    /// (panic catching, the cookie jar). What the server runs; cheap to clone.
    ///
    /// The core layers wrap the router once rather than each route, so a request pays for
    /// them once, with no extra boxing.
    pub fn service(&self) -> AppService {
        ServiceBuilder::new()
            .layer(CatchPanicLayer)
            .layer(CookieLayer::new(self.keys.clone()))
            .service(self.stack.clone())
    }

    /// The app as an axum [`Router`], to test in-process or to embed in another router.
    pub fn router(&self) -> Router {
        Router::new().fallback_service(self.service())
    }

    /// The app's context: config, keys, messenger, services.
    pub fn context(&self) -> &Arc<AppContext> {
        &self.context
    }

    /// The enabled plugins' names, in start order.
    pub fn plugin_names(&self) -> Vec<&'static str> {
        self.plugins.iter().map(|plugin| plugin.name()).collect()
    }

    /// How long each hook of each plugin took.
    pub fn timings(&self) -> Vec<BootStep> {
        self.lifecycle.timings()
    }

    /// Runs every plugin's agent work (in the agent, or in-process in single mode). An error
    /// is logged and does not stop the others.
    pub async fn start_agent(&self) {
        for plugin in self.plugins.iter() {
            if let Err(error) = self
                .lifecycle
                .run_one(Hook::Agent, plugin.as_ref(), &self.context)
                .await
            {
                tracing::error!("{error}");
            }
        }
    }

    /// Runs `server_did_ready` of every plugin: call once the server listens.
    ///
    /// # Errors
    ///
    /// The first hook's failure.
    pub async fn server_did_ready(&self) -> Result<(), Error> {
        let result = self
            .lifecycle
            .run(Hook::ServerDidReady, &self.plugins, &self.context)
            .await;
        self.write_timings()?;
        result
    }

    /// Runs `before_close` of every plugin, in reverse order. Failures are logged, and every
    /// plugin gets its turn.
    pub async fn close(&self) {
        self.lifecycle
            .run_all_reversed(Hook::BeforeClose, &self.plugins, &self.context)
            .await;
    }

    /// Serves on `listener` until `shutdown`, drains in-flight requests for up to
    /// `drain_timeout_ms`, then runs `before_close`.
    ///
    /// # Errors
    ///
    /// A failed `server_did_ready` hook, or the I/O error that ended serving.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<(), Error>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let address = listener
            .local_addr()
            .map_or_else(|_| "the listener".to_owned(), |a| a.to_string());
        self.server_did_ready().await?;
        let drain = Duration::from_millis(self.context.app_config.drain_timeout_ms);
        let served = server::serve(self.service(), listener, shutdown, drain).await;
        self.close().await;
        served.map_err(|source| Error::Serve { address, source })
    }

    /// Runs as one process: agent work in-process, then serves on `address` until SIGINT or
    /// SIGTERM, with a bounded drain.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound, or as [`App::serve`].
    pub async fn listen(self, address: impl ToSocketAddrs + fmt::Display) -> Result<(), Error> {
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| Error::Serve {
                address: address.to_string(),
                source,
            })?;
        let local: Option<SocketAddr> = listener.local_addr().ok();
        self.start_agent().await;
        if let Some(local) = local {
            tracing::info!(
                "{} started on http://{local} in {} ms",
                self.context.name(),
                self.lifecycle.elapsed().as_millis()
            );
        }
        self.serve(listener, server::shutdown_signal()).await
    }

    fn write_timings(&self) -> Result<(), Error> {
        self.lifecycle.timeline().write(
            &self.context.base_dir().join("run"),
            self.context.role.file_prefix(),
        )?;
        Ok(())
    }
}
