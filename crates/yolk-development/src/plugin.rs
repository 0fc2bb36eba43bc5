//! The `development` plugin.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use yolk_core::{AppContext, AppState, BoxError, Config, ConfigError, Middleware, Plugin};

use crate::config::DevelopmentConfig;
use crate::live::{LiveState, live_middleware, live_routes};
use crate::routes::trace_routes;
use crate::trace::run_dir;

/// The `development` plugin: in the `local` environment, serves the boot trace page
/// (`/__loader_trace__`). In any other environment it adds nothing.
///
/// ```
/// use yolk_core::App;
/// use yolk_development::Development;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let app = yolk_test::TestApp::with_env(
///     App::builder().base_dir(dir.path()).plugin(Development::default()),
///     "local",
/// ).await?;
/// let page = app.get("/__loader_trace__").send().await;
/// assert_eq!(page.status(), 200);
/// assert!(page.text().contains("<svg"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Development {
    config: DevelopmentConfig,
    live: OnceLock<LiveState>,
}

impl Development {
    /// The plugin with `config` as the defaults under `[development]`.
    pub fn with_config(config: DevelopmentConfig) -> Self {
        Self {
            config,
            live: OnceLock::new(),
        }
    }

    /// The config in force.
    pub fn config(&self) -> &DevelopmentConfig {
        &self.config
    }
}

#[async_trait::async_trait]
impl Plugin for Development {
    fn name(&self) -> &'static str {
        "development"
    }

    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        self.config = config.section(self.name(), &self.config)?;
        Ok(())
    }

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        if app.env() == "local" && app.role().serves() {
            let state = self.live.get_or_init(|| LiveState::new(app.base_dir()));
            state.poll(Duration::from_millis(250));
        }
        Ok(())
    }

    fn middleware(&self, app: &AppContext) -> Vec<Middleware> {
        match self.live.get() {
            Some(state) if app.env() == "local" => {
                let state = state.clone();
                vec![Middleware::new(
                    "development",
                    axum::middleware::from_fn(move |request, next| {
                        live_middleware(state.clone(), request, next)
                    }),
                )]
            }
            _ => Vec::new(),
        }
    }

    fn routes(&self, app: &AppContext) -> Router<AppState> {
        if app.env() != "local" {
            return Router::new();
        }
        let mut router = trace_routes(
            &self.config.trace_path,
            run_dir(app.base_dir()),
            self.config.trace_live_only,
        );
        if let Some(state) = self.live.get() {
            router = router.merge(live_routes(state.clone()));
        }
        router
    }
}
