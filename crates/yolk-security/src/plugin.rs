//! The [`Security`] plugin.

use std::sync::Arc;

use yolk_core::{AppContext, BoxError, Config, ConfigError, Middleware, Plugin};

use crate::config::SecurityConfig;
use crate::csrf::CsrfSecretStore;
use crate::error::SecurityError;
use crate::helpers::Helpers;
use crate::layer::SecurityLayer;
use crate::redirect::UnsafeRedirects;
use crate::ssrf::{SafeClient, SsrfPolicy};

/// Egg's security plugin: reads `[security]`, installs [`SecurityLayer`] as the middleware
/// `security`, and registers [`Helpers`] and a [`SafeClient`] as services.
///
/// Unsafe redirects go to `/` in `prod` and are an error elsewhere.
///
/// ```
/// use axum::routing::post;
/// use yolk_core::App;
/// use yolk_security::Security;
/// use yolk_test::TestApp;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let builder = App::builder()
///     .base_dir(dir.path())
///     .plugin(Security::default())
///     .route("/save", post(|| async { "saved" }));
/// let app = TestApp::new(builder).await?;
/// app.post("/save").send().await.assert_status(http::StatusCode::FORBIDDEN);
/// let secret = app.cookie("csrfToken").expect("the 403 hands out the secret");
/// app.post("/save").header("x-csrf-token", &secret).send().await.assert_text("saved");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Security {
    config: SecurityConfig,
    store: Option<Arc<dyn CsrfSecretStore>>,
    layer: Option<SecurityLayer>,
}

impl Security {
    /// The plugin with `config` as its defaults (the config files still apply on top).
    ///
    /// ```
    /// let mut config = yolk_security::SecurityConfig::default();
    /// config.hsts.enable = true;
    /// let plugin = yolk_security::Security::new(config);
    /// # let _ = plugin;
    /// ```
    pub fn new(config: SecurityConfig) -> Self {
        Self {
            config,
            store: None,
            layer: None,
        }
    }

    /// Keeps CSRF secrets in `store` when `csrf.use_session = true` (a session integration
    /// provides one).
    #[must_use]
    pub fn with_secret_store(mut self, store: Arc<dyn CsrfSecretStore>) -> Self {
        self.store = Some(store);
        self
    }
}

fn config_error(error: SecurityError) -> ConfigError {
    match error {
        SecurityError::Config { key, problem } => ConfigError::Invalid {
            origin: "[security]".into(),
            key: format!("security.{key}"),
            problem,
        },
        other => ConfigError::Invalid {
            origin: "[security]".into(),
            key: "security".into(),
            problem: other.to_string(),
        },
    }
}

#[async_trait::async_trait]
impl Plugin for Security {
    fn name(&self) -> &'static str {
        "security"
    }

    fn optional_dependencies(&self) -> &[&'static str] {
        &["session"]
    }

    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        self.config = config.section(self.name(), &self.config)?;
        let layer = match &self.store {
            Some(store) => SecurityLayer::with_secret_store(&self.config, Arc::clone(store)),
            None => SecurityLayer::from_config(&self.config),
        };
        self.layer = Some(layer.map_err(config_error)?);
        SsrfPolicy::from_config(&self.config.ssrf).map_err(config_error)?;
        Ok(())
    }

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        app.provide(Helpers::new(
            &self.config.domain_white_list,
            &self.config.protocol_white_list,
        ));
        app.provide(SafeClient::new(SsrfPolicy::from_config(&self.config.ssrf)?));
        Ok(())
    }

    fn middleware(&self, app: &AppContext) -> Vec<Middleware> {
        let unsafe_redirects = if app.env() == "prod" {
            UnsafeRedirects::ToRoot
        } else {
            UnsafeRedirects::Error
        };
        let layer = self
            .layer
            .clone()
            .unwrap_or_default()
            .with_unsafe_redirects(unsafe_redirects);
        vec![Middleware::new(self.name(), layer)]
    }
}
