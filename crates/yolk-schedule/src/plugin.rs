//! The `Schedule` plugin: jobs from the builder and from other plugins, timers in the agent,
//! runs in the workers.

use std::sync::{Mutex, OnceLock};

use async_trait::async_trait;
use yolk_core::{AppContext, BoxError, Config, ConfigError, Plugin};

use crate::config::ScheduleConfig;
use crate::error::ScheduleError;
use crate::job::Job;
use crate::scheduler::Scheduler;

/// The schedule plugin, config section `[schedule]`.
///
/// Jobs come from [`Schedule::job`] and from other plugins through [`register`]. Each process
/// builds the same jobs; the agent (or the single process) starts the timers once the app is
/// ready (`server_did_ready`), and the workers run the ticks they are sent. The [`Scheduler`]
/// is provided as a service, for [`Scheduler::run`] in tests.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// use yolk_core::App;
/// use yolk_schedule::{Job, Schedule, Scheduler};
///
/// let app = App::builder()
///     .base_dir(dir.path())
///     .plugin(Schedule::new().job(Job::interval("sweep", "1h", |_| async { Ok(()) })))
///     .build()
///     .await?;
/// let scheduler = app.context().get::<Scheduler>().expect("the plugin provides it");
/// assert!(scheduler.run("sweep").await?.is_ok());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Schedule {
    config: ScheduleConfig,
    jobs: Mutex<Vec<Job>>,
    scheduler: OnceLock<Scheduler>,
}

impl Schedule {
    /// The plugin with no jobs yet and Egg's defaults.
    ///
    /// ```
    /// let plugin = yolk_schedule::Schedule::new();
    /// # let _ = plugin;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a job; it is checked (trigger, unique name) when the app loads.
    ///
    /// ```
    /// use yolk_schedule::{Job, Schedule};
    /// let plugin = Schedule::new()
    ///     .job(Job::interval("sweep", "10s", |_| async { Ok(()) }))
    ///     .job(Job::cron("nightly", "0 30 2 * * *", |_| async { Ok(()) }).time_zone("Europe/Berlin"));
    /// # let _ = plugin;
    /// ```
    #[must_use]
    pub fn job(self, job: Job) -> Self {
        lock(&self.jobs).push(job);
        self
    }

    /// Replaces the config, as `[schedule]` would; the config files still apply on top.
    ///
    /// ```
    /// use yolk_schedule::{Schedule, ScheduleConfig};
    /// let plugin = Schedule::new().with_config(ScheduleConfig {
    ///     skip_if_running: false,
    ///     ..ScheduleConfig::default()
    /// });
    /// # let _ = plugin;
    /// ```
    #[must_use]
    pub fn with_config(mut self, config: ScheduleConfig) -> Self {
        self.config = config;
        self
    }
}

#[async_trait]
impl Plugin for Schedule {
    fn name(&self) -> &'static str {
        "schedule"
    }

    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        self.config = config.section(self.name(), &self.config)?;
        Ok(())
    }

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        let scheduler = Scheduler::new(
            app.name(),
            app.env(),
            Arc::clone(app.messenger()),
            self.config.clone(),
            app.base_dir(),
        );
        for job in lock(&self.jobs).drain(..) {
            scheduler.add(job)?;
        }
        // Jobs that plugins loaded before this one registered.
        if let Some(pending) = app.get::<Registry>() {
            for job in lock(&pending.jobs).drain(..) {
                scheduler.add(job)?;
            }
        }
        app.provide(scheduler.clone());
        let _ = self.scheduler.set(scheduler);
        Ok(())
    }

    async fn will_ready(&self, app: &AppContext) -> Result<(), BoxError> {
        let Some(scheduler) = self.scheduler.get() else {
            return Ok(());
        };
        scheduler.validate()?;
        if app.role().serves() {
            scheduler.start_worker();
        }
        Ok(())
    }

    async fn server_did_ready(&self, app: &AppContext) -> Result<(), BoxError> {
        if let Some(scheduler) = self.scheduler.get()
            && app.role().runs_agent()
        {
            scheduler.start_agent()?;
        }
        Ok(())
    }

    async fn before_close(&self, _app: &AppContext) -> Result<(), BoxError> {
        if let Some(scheduler) = self.scheduler.get() {
            scheduler.stop();
        }
        Ok(())
    }
}

use std::sync::Arc;

/// Jobs registered before the schedule plugin loaded.
#[derive(Debug, Default)]
struct Registry {
    jobs: Mutex<Vec<Job>>,
}

/// Registers `job` from another plugin (the logger's rotation, multipart's temp sweep): call
/// it from any hook up to `did_load`, or later. Before the schedule plugin has loaded, the job
/// waits for it (and its errors stop start-up there); after, it is added at once, with its
/// timer if the agent side already runs. When the schedule plugin is not in the app, the job
/// never runs; [`is_scheduled`] tells.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// use yolk_core::{App, AppContext, BoxError, Plugin};
/// use yolk_schedule::{Job, Schedule, Scheduler};
///
/// #[derive(Debug)]
/// struct Sweeper;
///
/// #[async_trait::async_trait]
/// impl Plugin for Sweeper {
///     fn name(&self) -> &'static str {
///         "sweeper"
///     }
///     async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
///         yolk_schedule::register(app, Job::interval("sweeper.clean", "1h", |_| async { Ok(()) }))?;
///         Ok(())
///     }
/// }
///
/// let app = App::builder()
///     .base_dir(dir.path())
///     .plugin(Sweeper)
///     .plugin(Schedule::new())
///     .build()
///     .await?;
/// assert!(yolk_schedule::is_scheduled(app.context()));
/// let scheduler = app.context().get::<Scheduler>().unwrap();
/// assert!(scheduler.run("sweeper.clean").await?.is_ok());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`Scheduler::add`] when the schedule plugin has already loaded.
pub fn register(app: &AppContext, job: Job) -> Result<(), ScheduleError> {
    if let Some(scheduler) = app.get::<Scheduler>() {
        return scheduler.add(job);
    }
    let registry = app.get::<Registry>().unwrap_or_else(|| {
        let registry = Arc::new(Registry::default());
        app.provide_arc(Arc::clone(&registry));
        registry
    });
    lock(&registry.jobs).push(job);
    Ok(())
}

/// True when the schedule plugin has loaded in this app, so jobs from [`register`] run; a
/// plugin can fall back to a timer of its own when it is false.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let app = yolk_core::App::builder().base_dir(dir.path()).build().await?;
/// assert!(!yolk_schedule::is_scheduled(app.context()));
/// # Ok(())
/// # }
/// ```
pub fn is_scheduled(app: &AppContext) -> bool {
    app.get::<Scheduler>().is_some()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
