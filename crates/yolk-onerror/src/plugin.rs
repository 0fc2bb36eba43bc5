//! [`OnError`]: the plugin.

use async_trait::async_trait;
use http::HeaderValue;
use yolk_core::request::ProxyConfig;
use yolk_core::{AppContext, Config, ConfigError, Middleware, Plugin};

use crate::config::OnErrorConfig;
use crate::layer::{ChooseKind, ErrorFilter, OnErrorLayer, RenderError};

/// The environments where error responses show internals.
pub const DETAIL_ENVS: &[&str] = &["local", "unittest"];

/// The onerror plugin: adds the `onerror` middleware, an [`OnErrorLayer`] built from the
/// `[onerror]` section, with details in `local` and `unittest`.
///
/// It starts after the `security` plugin when that one is enabled, so the security headers
/// wrap error responses too.
///
/// ```
/// use axum::response::IntoResponse;
/// use yolk_core::{App, Plugin};
/// use yolk_onerror::{Failure, OnError};
///
/// let plugin = OnError::default()
///     .app_error_filter(|f: &Failure<'_>| f.error().code() != "EXPECTED");
/// assert_eq!(plugin.name(), "onerror");
/// assert_eq!(plugin.optional_dependencies(), ["security"]);
/// let _builder = App::builder().plugin(plugin);
/// ```
#[derive(Debug, Default)]
pub struct OnError {
    config: OnErrorConfig,
    layer: OnErrorLayer,
}

impl OnError {
    /// The plugin with `config` as its defaults, below the config files.
    ///
    /// ```
    /// let mut config = yolk_onerror::OnErrorConfig::default();
    /// config.error_page_url = "/50x.html".into();
    /// let plugin = yolk_onerror::OnError::new(config);
    /// assert_eq!(plugin.config().error_page_url, "/50x.html");
    /// ```
    pub fn new(config: OnErrorConfig) -> Self {
        Self {
            config,
            layer: OnErrorLayer::new(),
        }
    }

    /// The config: the defaults, then after start-up what the files set.
    pub fn config(&self) -> &OnErrorConfig {
        &self.config
    }

    /// As [`OnErrorLayer::on_all`].
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// let _ = yolk_onerror::OnError::default()
    ///     .on_all(|f: &yolk_onerror::Failure<'_>| f.error().status().into_response());
    /// ```
    #[must_use]
    pub fn on_all(mut self, hook: impl RenderError) -> Self {
        self.layer = self.layer.on_all(hook);
        self
    }

    /// As [`OnErrorLayer::on_html`].
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// let _ = yolk_onerror::OnError::default()
    ///     .on_html(|f: &yolk_onerror::Failure<'_>| f.error().status().into_response());
    /// ```
    #[must_use]
    pub fn on_html(mut self, hook: impl RenderError) -> Self {
        self.layer = self.layer.on_html(hook);
        self
    }

    /// As [`OnErrorLayer::on_json`].
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// let _ = yolk_onerror::OnError::default()
    ///     .on_json(|f: &yolk_onerror::Failure<'_>| f.error().status().into_response());
    /// ```
    #[must_use]
    pub fn on_json(mut self, hook: impl RenderError) -> Self {
        self.layer = self.layer.on_json(hook);
        self
    }

    /// As [`OnErrorLayer::on_text`].
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// let _ = yolk_onerror::OnError::default()
    ///     .on_text(|f: &yolk_onerror::Failure<'_>| f.error().status().into_response());
    /// ```
    #[must_use]
    pub fn on_text(mut self, hook: impl RenderError) -> Self {
        self.layer = self.layer.on_text(hook);
        self
    }

    /// As [`OnErrorLayer::accepts`].
    ///
    /// ```
    /// use yolk_onerror::{RequestHead, ResponseKind};
    /// let _ = yolk_onerror::OnError::default().accepts(|_: &RequestHead| ResponseKind::Json);
    /// ```
    #[must_use]
    pub fn accepts(mut self, hook: impl ChooseKind) -> Self {
        self.layer = self.layer.accepts(hook);
        self
    }

    /// As [`OnErrorLayer::app_error_filter`].
    ///
    /// ```
    /// let _ = yolk_onerror::OnError::default()
    ///     .app_error_filter(|f: &yolk_onerror::Failure<'_>| f.error().status() != 404);
    /// ```
    #[must_use]
    pub fn app_error_filter(mut self, hook: impl ErrorFilter) -> Self {
        self.layer = self.layer.app_error_filter(hook);
        self
    }

    /// The layer for an app in `env`, as the plugin adds it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when a page URL cannot be a `Location` header.
    ///
    /// ```
    /// let layer = yolk_onerror::OnError::default().layer_for("local").unwrap();
    /// assert!(format!("{layer:?}").contains("details: true"));
    /// ```
    pub fn layer_for(&self, env: &str) -> Result<OnErrorLayer, ConfigError> {
        let mut layer = self
            .layer
            .clone()
            .with_details(DETAIL_ENVS.contains(&env))
            .with_not_found(self.config.notfound.enable);
        if let Some(url) = page_url("onerror.error_page_url", &self.config.error_page_url)? {
            layer = layer.with_error_page_url(url);
        }
        if let Some(url) = page_url("onerror.notfound.page_url", &self.config.notfound.page_url)? {
            layer = layer.with_not_found_page_url(url);
        }
        Ok(layer)
    }
}

/// `None` for `""`; the URL as a header value; an error naming `key` when it cannot be one.
fn page_url(key: &str, url: &str) -> Result<Option<HeaderValue>, ConfigError> {
    if url.is_empty() {
        return Ok(None);
    }
    let usable = url.starts_with('/') || url.starts_with("http://") || url.starts_with("https://");
    match HeaderValue::from_str(url) {
        Ok(value) if usable => Ok(Some(value)),
        _ => Err(ConfigError::Invalid {
            origin: "config".to_owned(),
            key: key.to_owned(),
            problem: format!(
                "`{url}` is not a usable page URL; expected a path starting with `/` or an \
                 http(s) URL, in visible ASCII"
            ),
        }),
    }
}

#[async_trait]
impl Plugin for OnError {
    fn name(&self) -> &'static str {
        "onerror"
    }

    fn optional_dependencies(&self) -> &[&'static str] {
        &["security"]
    }

    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        self.config = config.section(self.name(), &self.config)?;
        // Checked here so that a bad URL stops start-up instead of failing a request.
        let origin = |key: &str| {
            config.dump()["sources"][key]
                .as_str()
                .unwrap_or("config")
                .to_owned()
        };
        let _checked = self.layer_for(config.env()).map_err(|error| match error {
            ConfigError::Invalid { key, problem, .. } => ConfigError::Invalid {
                origin: origin(&key),
                key,
                problem,
            },
            other => other,
        })?;
        Ok(())
    }

    fn middleware(&self, app: &AppContext) -> Vec<Middleware> {
        // `configure` has checked the URLs.
        let Ok(mut layer) = self.layer_for(app.env()) else {
            return Vec::new();
        };
        let settings = app.app_config();
        layer = layer.with_proxy(ProxyConfig {
            proxy: settings.proxy,
            max_ips_count: settings.max_ips_count,
        });
        if DETAIL_ENVS.contains(&app.env()) {
            layer = layer.with_config(app.config().dump());
        }
        vec![Middleware::new(self.name(), layer)]
    }
}
