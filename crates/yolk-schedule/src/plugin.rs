//! The `Schedule` plugin: jobs from the builder and from other plugins, timers in the agent,
//! runs in the workers.

use std::sync::{Arc, Mutex, OnceLock};

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

/// Jobs registered before the schedule plugin loaded.
#[derive(Debug, Default)]
struct Registry {
    jobs: Mutex<Vec<Job>>,
}

/// Registers `job` from another plugin (the logger's rotation, multipart's temp sweep): call
/// it from any hook up to `did_load`, or later. Before the schedule plugin has loaded, the job
/// waits for it (and its errors stop start-up there); after, it is added at once, with its
/// timer if the agent side already runs. When the schedule plugin is not in the app, the job
/// never runs; [`is_scheduled`] tells, and [`PluginJobs`] runs the jobs either way.
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

/// True when the schedule plugin has loaded in this app, so jobs from [`register`] run; when
/// it is false, [`PluginJobs`] runs a plugin's jobs on a scheduler of its own.
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

/// A plugin's periodic work, run by the schedule plugin when the app has it and by a
/// [`Scheduler`] of the plugin's own when it does not: one mechanism either way, and no timer
/// code in the plugin. The logger's rotation and multipart's temp sweep run this way.
///
/// Call [`add`](Self::add) from the plugin's `did_load`, having declared `schedule` among its
/// optional dependencies (so that the schedule plugin, when enabled, loads first);
/// [`start`](Self::start) from its `agent` hook; [`stop`](Self::stop) from `before_close`.
///
/// - With the schedule plugin, `add` [`register`]s the job in every process: it runs as its
///   type says, its runs go to `logs/yolk-schedule.log`, `[schedule.jobs.NAME]` overrides it,
///   and [`Scheduler::run`] runs it on demand. `start` and `stop` do nothing.
/// - Without it, `start` runs the jobs on a private scheduler in the process that does the
///   agent work (the agent, or the one process), whatever their type, its runs logged to
///   `tracing` only.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use yolk_core::{App, AppContext, BoxError, Plugin};
/// use yolk_schedule::{Job, PluginJobs, Schedule, Scheduler};
///
/// #[derive(Debug, Default)]
/// struct Sweeper {
///     jobs: PluginJobs,
///     runs: Arc<AtomicU32>,
/// }
///
/// #[async_trait::async_trait]
/// impl Plugin for Sweeper {
///     fn name(&self) -> &'static str {
///         "sweeper"
///     }
///     fn optional_dependencies(&self) -> &[&'static str] {
///         &["schedule"]
///     }
///     async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
///         let runs = Arc::clone(&self.runs);
///         let job = Job::interval("sweeper.clean", "20ms", move |_| {
///             let runs = Arc::clone(&runs);
///             async move {
///                 runs.fetch_add(1, Ordering::SeqCst);
///                 Ok(())
///             }
///         });
///         self.jobs.add(app, job.agent())?;
///         Ok(())
///     }
///     async fn agent(&self, app: &AppContext) -> Result<(), BoxError> {
///         Ok(self.jobs.start(app)?)
///     }
///     async fn before_close(&self, _: &AppContext) -> Result<(), BoxError> {
///         self.jobs.stop();
///         Ok(())
///     }
/// }
///
/// // No schedule plugin: the job ticks on the plugin's own scheduler.
/// let sweeper = Sweeper::default();
/// let runs = Arc::clone(&sweeper.runs);
/// let app = App::builder().base_dir(dir.path()).plugin(sweeper).build().await?;
/// app.start_agent().await;
/// tokio::time::sleep(std::time::Duration::from_millis(120)).await;
/// app.close().await;
/// assert!(runs.load(Ordering::SeqCst) >= 2);
///
/// // With it: a job of the schedule plugin, which runs it on demand.
/// let app = App::builder()
///     .base_dir(dir.path())
///     .plugin(Sweeper::default())
///     .plugin(Schedule::new())
///     .build()
///     .await?;
/// let scheduler = app.context().get::<Scheduler>().unwrap();
/// assert!(scheduler.run("sweeper.clean").await?.is_ok());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct PluginJobs {
    /// Jobs waiting for [`start`](Self::start), when the schedule plugin is not in the app.
    waiting: Mutex<Vec<Job>>,
    /// The private scheduler, once started.
    own: Mutex<Option<Scheduler>>,
}

impl PluginJobs {
    /// No jobs yet.
    ///
    /// ```
    /// let jobs = yolk_schedule::PluginJobs::new();
    /// # let _ = jobs;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `job`: [`register`]s it with the schedule plugin when it is enabled
    /// ([`is_scheduled`]), else keeps it for [`start`](Self::start). Call it from `did_load`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// use yolk_schedule::{Job, PluginJobs};
    /// let app = yolk_core::App::builder().base_dir(dir.path()).build().await?;
    /// let jobs = PluginJobs::new();
    /// jobs.add(app.context(), Job::interval("a", "1h", |_| async { Ok(()) }).agent())?;
    /// jobs.start(app.context())?;
    /// jobs.stop();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`register`]. A job kept for `start` is checked there.
    pub fn add(&self, app: &AppContext, job: Job) -> Result<(), ScheduleError> {
        if is_scheduled(app) {
            return register(app, job);
        }
        lock(&self.waiting).push(job);
        Ok(())
    }

    /// Starts the jobs kept by [`add`](Self::add) on a private scheduler in this process, in
    /// the app's environment; does nothing when they went to the schedule plugin. Call it
    /// from the `agent` hook.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// use yolk_schedule::{Job, PluginJobs, ScheduleError};
    /// let app = yolk_core::App::builder().base_dir(dir.path()).build().await?;
    /// let jobs = PluginJobs::new();
    /// jobs.add(app.context(), Job::interval("a", "soon", |_| async { Ok(()) }))?;
    /// assert!(matches!(jobs.start(app.context()), Err(ScheduleError::Interval { .. })));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Scheduler::add`] and [`Scheduler::start`]: a bad trigger, a duplicate name, a
    /// `cluster` job without a Redis.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(&self, app: &AppContext) -> Result<(), ScheduleError> {
        let jobs: Vec<Job> = lock(&self.waiting).drain(..).collect();
        if jobs.is_empty() {
            return Ok(());
        }
        // In this process only, without Redis: the app's name (the lock key) is not needed.
        let scheduler = Scheduler::local().with_env(app.env());
        for job in jobs {
            scheduler.add(job)?;
        }
        scheduler.start()?;
        if let Some(previous) = lock(&self.own).replace(scheduler) {
            previous.stop();
        }
        Ok(())
    }

    /// Stops the private scheduler's timers, if [`start`](Self::start) started one; runs in
    /// progress finish on their own.
    ///
    /// ```
    /// yolk_schedule::PluginJobs::new().stop();
    /// ```
    pub fn stop(&self) {
        if let Some(scheduler) = lock(&self.own).take() {
            scheduler.stop();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
