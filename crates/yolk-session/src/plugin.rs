//! [`SessionPlugin`]: the session as a yolk plugin.

use std::sync::Arc;

use async_trait::async_trait;
use yolk_core::session::DynSessionAccess;
use yolk_core::{AppContext, BoxError, Config, ConfigError, Middleware, Plugin};

use crate::access::SessionLayerAccess;
use crate::config::SessionConfig;
use crate::error::SessionError;
use crate::layer::SessionLayer;
use crate::store::Store;

/// The session plugin: reads `[session]`, adds the `session` middleware, and registers
/// [`SessionLayerAccess`] as the service [`DynSessionAccess`] for other plugins.
///
/// By default sessions live in a cookie encrypted with the app's `keys` (start-up fails when
/// there are none); [`with_store`](Self::with_store) keeps them in an external store instead.
///
/// ```
/// use yolk_core::App;
/// use yolk_session::{MemoryStore, SessionPlugin};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let app = App::builder()
///     .base_dir(dir.path())
///     .plugin(SessionPlugin::default().with_store(MemoryStore::new()))
///     .build()
///     .await?;
/// assert_eq!(app.plugin_names(), ["session"]);
///
/// // The cookie store needs keys:
/// let error = App::builder().base_dir(dir.path()).plugin(SessionPlugin::default()).build().await;
/// assert!(error.unwrap_err().to_string().contains("keys"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct SessionPlugin {
    config: SessionConfig,
    store: Option<Arc<dyn Store>>,
}

impl SessionPlugin {
    /// The plugin with Egg's defaults, its config read from `[session]`.
    ///
    /// ```
    /// assert_eq!(yolk_session::SessionPlugin::new().config().key, "YOLK_SESS");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Defaults for `[session]` given in code; the config files still override them.
    ///
    /// ```
    /// use yolk_session::{SessionConfig, SessionPlugin};
    ///
    /// let plugin = SessionPlugin::new()
    ///     .with_config(SessionConfig { rolling: true, ..SessionConfig::default() });
    /// assert!(plugin.config().rolling);
    /// ```
    #[must_use]
    pub fn with_config(mut self, config: SessionConfig) -> Self {
        self.config = config;
        self
    }

    /// Keeps sessions in `store` instead of the cookie.
    ///
    /// ```
    /// let plugin = yolk_session::SessionPlugin::new().with_store(yolk_session::MemoryStore::new());
    /// # let _ = plugin;
    /// ```
    #[must_use]
    pub fn with_store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The `[session]` settings in force (after `configure`, those from the config files).
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The layer this plugin installs: the same builder a plain axum app uses.
    fn layer(&self, app: &AppContext) -> SessionLayer {
        let layer = match &self.store {
            Some(store) => SessionLayer::with_store(Arc::clone(store)),
            None => SessionLayer::new(app.keys().clone()),
        };
        layer.with_config(&self.config)
    }
}

#[async_trait]
impl Plugin for SessionPlugin {
    fn name(&self) -> &'static str {
        "session"
    }

    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        self.config = config.section(self.name(), &self.config)?;
        Ok(())
    }

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        if self.store.is_none() && app.keys().is_empty() {
            return Err(SessionError::NoKeys.into());
        }
        app.provide(DynSessionAccess::new(SessionLayerAccess));
        Ok(())
    }

    fn middleware(&self, app: &AppContext) -> Vec<Middleware> {
        vec![Middleware::new(self.name(), self.layer(app))]
    }
}
