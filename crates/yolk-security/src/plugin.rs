//! The [`Security`] plugin.

use yolk_core::session::DynSessionAccess;
use yolk_core::{AppContext, BoxError, Config, ConfigError, Middleware, Plugin};

use crate::config::SecurityConfig;
use crate::error::SecurityError;
use crate::helpers::Helpers;
use crate::layer::SecurityLayer;
use crate::redirect::UnsafeRedirects;
use crate::ssrf::{SafeClient, SsrfPolicy};

/// Egg's security plugin: reads `[security]`, installs [`SecurityLayer`] as the middleware
/// `security`, and registers [`Helpers`] and a [`SafeClient`] as services.
///
/// Unsafe redirects go to `/` in `prod` and are an error elsewhere. With
/// `csrf.use_session = true` the CSRF secret is kept in the session of the session plugin
/// (through core's [`SessionAccess`](yolk_core::session::SessionAccess)), which must then be
/// enabled.
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
            layer: None,
        }
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
        // With `use_session`, the session comes from the session plugin's service, checked
        // in `did_load`.
        let layer = SecurityLayer::build(&self.config, None, false).map_err(config_error)?;
        self.layer = Some(layer);
        SsrfPolicy::from_config(&self.config.ssrf).map_err(config_error)?;
        Ok(())
    }

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        if self
            .layer
            .as_ref()
            .is_some_and(SecurityLayer::needs_session)
            && app.get::<DynSessionAccess>().is_none()
        {
            return Err(SecurityError::NoSession.into());
        }
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
        let mut layer = self
            .layer
            .clone()
            .unwrap_or_default()
            .with_unsafe_redirects(unsafe_redirects);
        if layer.needs_session()
            && let Some(session) = app.get::<DynSessionAccess>()
        {
            layer = layer.attach_session(session.to_arc());
        }
        vec![Middleware::new(self.name(), layer)]
    }
}
