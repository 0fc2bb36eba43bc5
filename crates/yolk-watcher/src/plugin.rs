//! The `watcher` plugin.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use yolk_core::plugin::Role;
use yolk_core::{AppContext, BoxError, Config, ConfigError, Plugin};

use crate::config::WatcherConfig;
use crate::error::WatchError;
use crate::hub::Hub;
use crate::source::{DevelopmentSource, EventSource, NoopSource};
use crate::watcher::{Watcher, serve_agent};

/// The `watcher` plugin: provides a [`Watcher`] to every process.
///
/// In the agent (and a single process) the watcher owns the OS watches; in a worker it is a
/// subscription to the agent's, through the messenger. The event source comes from
/// `[watcher] type`: `development` in `local` and `unittest`, `default` (watches nothing) in
/// other environments, or one registered with [`event_source`](Self::event_source).
///
/// ```
/// use yolk_core::App;
/// use yolk_watcher::{Watcher, WatcherPlugin};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let app = App::builder().base_dir(dir.path()).env("unittest").plugin(WatcherPlugin::default()).build().await?;
/// let watcher = app.context().get::<Watcher>().expect("the plugin provides a Watcher");
/// assert_eq!(watcher.stats().await?.os_watches, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct WatcherPlugin {
    config: WatcherConfig,
    sources: BTreeMap<String, Arc<dyn EventSource>>,
}

impl WatcherPlugin {
    /// The plugin with Egg's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The plugin with `config` as the defaults under the `[watcher]` section.
    pub fn with_config(config: WatcherConfig) -> Self {
        Self {
            config,
            sources: BTreeMap::new(),
        }
    }

    /// Registers an event source under `name`, chosen by `[watcher] type = "name"`. A name
    /// of `development` or `default` replaces the built-in one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use yolk_watcher::{NoopSource, WatcherPlugin};
    ///
    /// let plugin = WatcherPlugin::default().event_source("quiet", Arc::new(NoopSource));
    /// assert!(plugin.source_names().contains(&"quiet".to_owned()));
    /// ```
    #[must_use]
    pub fn event_source(mut self, name: impl Into<String>, source: Arc<dyn EventSource>) -> Self {
        self.sources.insert(name.into(), source);
        self
    }

    /// The config in force (after [`Plugin::configure`]).
    pub fn config(&self) -> &WatcherConfig {
        &self.config
    }

    /// Every source name `type` may take.
    pub fn source_names(&self) -> Vec<String> {
        let mut names: Vec<String> = ["default", "development"]
            .into_iter()
            .map(str::to_owned)
            .chain(self.sources.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The event source for environment `env`.
    ///
    /// # Errors
    ///
    /// [`WatchError::UnknownSource`] when `type` names none.
    pub fn source_for(&self, env: &str) -> Result<Arc<dyn EventSource>, WatchError> {
        let name = self.config.source_for(env);
        if let Some(source) = self.sources.get(name) {
            return Ok(source.clone());
        }
        match name {
            "development" => Ok(Arc::new(DevelopmentSource::from_config(&self.config))),
            "default" => Ok(Arc::new(NoopSource)),
            _ => Err(WatchError::UnknownSource {
                name: name.to_owned(),
                known: self
                    .source_names()
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

#[async_trait]
impl Plugin for WatcherPlugin {
    fn name(&self) -> &'static str {
        "watcher"
    }

    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        self.config = config.section(self.name(), &self.config)?;
        Ok(())
    }

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        let source = self.source_for(app.env())?;
        let watcher = match app.role() {
            Role::Worker => Watcher::remote(app.messenger().clone(), self.config.request_timeout()),
            role => {
                let hub = Hub::new(source);
                if role == Role::Agent {
                    serve_agent(hub.clone(), app.messenger().clone());
                }
                Watcher::from_hub(hub)
            }
        };
        app.provide(watcher);
        Ok(())
    }
}
