//! [`MultipartPlugin`]: uploads as a yolk plugin.

use std::time::Duration;

use async_trait::async_trait;
use yolk_core::{AppContext, BoxError, Config, ConfigError, Middleware, Plugin};
use yolk_schedule::{Job, PluginJobs};

use crate::config::MultipartConfig;
use crate::layer::MultipartLayer;
use crate::tmp::sweep;
use crate::whitelist::Whitelist;

/// The yolk-schedule job that sweeps `tmpdir` for upload temp files left by crashed requests:
/// every `sweep_interval_secs` and once at start, in the agent (or the one process).
///
/// ```
/// assert_eq!(yolk_multipart::SWEEP_JOB, "multipart.sweep");
/// ```
pub const SWEEP_JOB: &str = "multipart.sweep";

/// The multipart plugin: reads `[multipart]`, adds the `multipart` middleware (a
/// [`MultipartLayer`] built from the section), and sweeps the temp dir from the agent (or
/// in-process in single mode) for files left by crashed requests.
///
/// The sweep is the yolk-schedule job [`SWEEP_JOB`] (`multipart.sweep`, type `agent`), unless
/// `sweep_interval_secs` is `0`. With the schedule plugin in the app it is one of its jobs
/// (logged in `logs/yolk-schedule.log`, run on demand with `Scheduler::run`); without it, the
/// plugin runs the same job on a scheduler of its own in the agent.
///
/// ```
/// use yolk_core::App;
/// use yolk_multipart::MultipartPlugin;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let app = App::builder()
///     .base_dir(dir.path())
///     .config("multipart.file_size", "20mb")
///     .plugin(MultipartPlugin::default())
///     .build()
///     .await?;
/// assert_eq!(app.plugin_names(), ["multipart"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MultipartPlugin {
    config: MultipartConfig,
    whitelist: Option<Whitelist>,
    jobs: PluginJobs,
}

impl MultipartPlugin {
    /// The plugin with Egg's defaults, its config read from `[multipart]`.
    ///
    /// ```
    /// let plugin = yolk_multipart::MultipartPlugin::new();
    /// assert_eq!(plugin.config().files, 10);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Defaults for `[multipart]` given in code; the config files still override them.
    ///
    /// ```
    /// use yolk_multipart::{MultipartConfig, MultipartPlugin};
    ///
    /// let plugin = MultipartPlugin::new().with_config(MultipartConfig { files: 1, ..Default::default() });
    /// assert_eq!(plugin.config().files, 1);
    /// ```
    #[must_use]
    pub fn with_config(mut self, config: MultipartConfig) -> Self {
        self.config = config;
        self
    }

    /// A whitelist set in code (a predicate, say), in place of the section's `whitelist` and
    /// `file_extensions`, for every path.
    ///
    /// ```
    /// use yolk_multipart::{MultipartPlugin, Whitelist};
    ///
    /// let plugin = MultipartPlugin::new()
    ///     .with_whitelist(Whitelist::predicate(|name| name.ends_with(".csv")));
    /// # let _ = plugin;
    /// ```
    #[must_use]
    pub fn with_whitelist(mut self, whitelist: Whitelist) -> Self {
        self.whitelist = Some(whitelist);
        self
    }

    /// The `[multipart]` settings in force (after `configure`, those from the config files).
    pub fn config(&self) -> &MultipartConfig {
        &self.config
    }

    /// The layer this plugin installs: the same builder a plain axum app uses.
    ///
    /// ```
    /// let layer = yolk_multipart::MultipartPlugin::new().layer();
    /// assert_eq!(layer.limits_for("/"), yolk_multipart::Limits::default());
    /// ```
    pub fn layer(&self) -> MultipartLayer {
        let layer = MultipartLayer::from_config(&self.config);
        match &self.whitelist {
            Some(whitelist) => layer.with_whitelist(whitelist.clone()),
            None => layer,
        }
    }
}

#[async_trait]
impl Plugin for MultipartPlugin {
    fn name(&self) -> &'static str {
        "multipart"
    }

    fn optional_dependencies(&self) -> &[&'static str] {
        // Loaded first when enabled, so that `did_load` hands the sweep to it.
        &["schedule"]
    }

    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        self.config = config.section(self.name(), &self.config)?;
        Ok(())
    }

    fn middleware(&self, _app: &AppContext) -> Vec<Middleware> {
        vec![Middleware::new(self.name(), self.layer())]
    }

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        if self.config.sweep_interval_secs == 0 {
            return Ok(());
        }
        let tmpdir = self.config.tmpdir.clone();
        let max_age = Duration::from_secs(self.config.sweep_max_age_secs);
        let every = format!("{}s", self.config.sweep_interval_secs);
        let job = Job::interval(SWEEP_JOB, every, move |ctx| {
            let tmpdir = tmpdir.clone();
            async move {
                let swept = sweep(&tmpdir, max_age).await.map_err(|error| {
                    format!(
                        "cannot sweep the upload temp dir {}: {error}",
                        tmpdir.display()
                    )
                })?;
                if swept.files > 0 {
                    ctx.logger().info(&format!(
                        "removed {} leftover uploads and {} empty directories from {}",
                        swept.files,
                        swept.dirs,
                        tmpdir.display()
                    ));
                }
                Ok(())
            }
        });
        self.jobs.add(app, job.agent().immediate(true))?;
        Ok(())
    }

    async fn agent(&self, app: &AppContext) -> Result<(), BoxError> {
        Ok(self.jobs.start(app)?)
    }

    async fn before_close(&self, _app: &AppContext) -> Result<(), BoxError> {
        self.jobs.stop();
        Ok(())
    }
}
