//! The [`Plugin`] trait: what a plugin declares, the hooks it answers, what it contributes.
//!
//! A plugin has a name (also its config section's key), dependencies, a typed config section,
//! Egg's lifecycle hooks, and contributions: named middleware, routes, services, and work that
//! runs once per app in the agent.
//!
//! ```
//! use yolk_core::{App, AppContext, BoxError, Config, ConfigError, Plugin};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct GreeterConfig {
//!     /// The greeting. Default: `"hello"`.
//!     greeting: String,
//! }
//!
//! impl Default for GreeterConfig {
//!     fn default() -> Self {
//!         Self { greeting: "hello".into() }
//!     }
//! }
//!
//! #[derive(Debug, Default)]
//! struct Greeter {
//!     config: GreeterConfig,
//! }
//!
//! #[async_trait::async_trait]
//! impl Plugin for Greeter {
//!     fn name(&self) -> &'static str {
//!         "greeter"
//!     }
//!
//!     fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
//!         self.config = config.section(self.name(), &self.config)?;
//!         Ok(())
//!     }
//!
//!     async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
//!         app.provide(self.config.clone());
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let app = App::builder().base_dir(dir.path()).plugin(Greeter::default()).build().await?;
//! assert_eq!(app.context().get::<GreeterConfig>().unwrap().greeting, "hello");
//! # Ok(())
//! # }
//! ```

mod context;
pub(crate) mod graph;
pub(crate) mod lifecycle;

pub use context::{AppContext, Role};
pub use graph::PluginError;
pub use lifecycle::{BootStep, Hook, Timeline};

use async_trait::async_trait;
use axum::Router;

use crate::app::AppState;
use crate::config::{Config, ConfigError};
use crate::error::BoxError;
use crate::middleware::Middleware;

/// A plugin: named, ordered by its dependencies, configured from its section, called at each
/// step of the app's life.
///
/// Every method has a default, so a plugin implements only what it needs. Hooks take `&self`,
/// so a plugin keeps its state in its own fields.
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// The plugin's name: unique in an app, and the key of its config section.
    fn name(&self) -> &'static str;

    /// Plugins that must be present and enabled; they start before this one.
    fn dependencies(&self) -> &[&'static str] {
        &[]
    }

    /// Plugins that start before this one when they are enabled, and are not required.
    fn optional_dependencies(&self) -> &[&'static str] {
        &[]
    }

    /// Reads the plugin's section; called once, in plugin order, after the config files load.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`Config::section`], which stops start-up.
    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        let _ = config;
        Ok(())
    }

    /// Named middleware this plugin adds; plugins' middleware runs before the app's.
    fn middleware(&self, app: &AppContext) -> Vec<Middleware> {
        let _ = app;
        Vec::new()
    }

    /// Routes this plugin adds.
    fn routes(&self, app: &AppContext) -> Router<AppState> {
        let _ = app;
        Router::new()
    }

    /// Before any plugin reads its section.
    async fn config_will_load(&self, app: &AppContext) -> Result<(), BoxError> {
        let _ = app;
        Ok(())
    }

    /// After every plugin has read its section.
    async fn config_did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        let _ = app;
        Ok(())
    }

    /// After loading; the place to [`AppContext::provide`] services.
    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        let _ = app;
        Ok(())
    }

    /// Before the app is ready: the place for work that must finish first (connections,
    /// warm-up).
    async fn will_ready(&self, app: &AppContext) -> Result<(), BoxError> {
        let _ = app;
        Ok(())
    }

    /// Once the app is ready.
    async fn did_ready(&self, app: &AppContext) -> Result<(), BoxError> {
        let _ = app;
        Ok(())
    }

    /// Once the server listens.
    async fn server_did_ready(&self, app: &AppContext) -> Result<(), BoxError> {
        let _ = app;
        Ok(())
    }

    /// Before the process exits; runs in reverse plugin order.
    async fn before_close(&self, app: &AppContext) -> Result<(), BoxError> {
        let _ = app;
        Ok(())
    }

    /// Work that runs once per app: in the agent under a cluster, in-process in single mode.
    ///
    /// Spawn long-running tasks from here; an error is logged and never ends the agent.
    async fn agent(&self, app: &AppContext) -> Result<(), BoxError> {
        let _ = app;
        Ok(())
    }
}
