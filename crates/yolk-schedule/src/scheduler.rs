//! The engine: jobs by name, the agent's timers, the workers' runs, and the reports.
//!
//! The agent holds the timers; each tick is a message on [`RUN_TOPIC`] to one random worker
//! (`worker`, and `cluster` once its Redis lock is taken) or to every worker (`all`). A worker
//! runs the job in a task of its own, so a failure or a panic ends that run only, logs it, and
//! reports it to the agent on [`REPORT_TOPIC`]. An `agent` tick is no message: the agent runs
//! it in a task of its own the same way and records its report. In one process the messenger
//! is in-process and the same code runs.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::task::AbortHandle;
use yolk_core::messenger::{InProcessMessenger, Message, Messenger, MessengerExt, Recipient};

use crate::config::ScheduleConfig;
use crate::error::ScheduleError;
use crate::job::{Job, JobContext, JobType, Task, TriggerSpec};
use crate::lock::TickLock;
use crate::log::{JobLogger, Level};
use crate::trigger::Trigger;

/// The topic of a tick, agent → worker(s).
pub const RUN_TOPIC: &str = "yolk-schedule:run";
/// The topic of a run's [`Report`], worker → agent.
pub const REPORT_TOPIC: &str = "yolk-schedule:report";

#[derive(Debug, Serialize, Deserialize)]
struct Dispatch {
    job: String,
    tick: u64,
    /// When the tick was due, in milliseconds since the Unix epoch; absent from the ticks of
    /// an agent still running an older binary during a rolling reload.
    #[serde(default)]
    due_ms: Option<i64>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "message")]
#[non_exhaustive]
pub enum Outcome {
    /// The job returned `Ok`.
    Succeeded,
    /// The job returned an error, shown here.
    Failed(String),
    /// The job panicked, with this message.
    Panicked(String),
    /// The previous run was still going on this worker, so this tick was skipped.
    Skipped,
}

/// One run of a job on one process, as the worker reports it to the agent.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use yolk_schedule::{Job, Outcome, Scheduler};
/// let scheduler = Scheduler::local()
///     .job(Job::interval("fails", "1h", |_| async { Err("disk full".into()) }))?;
/// let report = scheduler.run("fails").await?;
/// assert_eq!(report.outcome, Outcome::Failed("disk full".into()));
/// assert!(!report.is_ok());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// The job.
    pub job: String,
    /// The tick (see [`JobContext::tick`]).
    pub tick: u64,
    /// The process that ran it.
    pub pid: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
}

impl Report {
    /// True when the job returned `Ok`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local().job(Job::interval("j", "1h", |_| async { Ok(()) }))?;
    /// assert!(scheduler.run("j").await?.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Succeeded
    }
}

/// What the agent knows of a job: ticks sent, and the outcomes workers reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobStats {
    /// Ticks sent to workers (an `all` tick counts once).
    pub dispatched: u64,
    /// Runs that returned `Ok`.
    pub succeeded: u64,
    /// Runs that returned an error or panicked.
    pub failed: u64,
    /// Ticks a worker skipped because the previous run was still going.
    pub skipped: u64,
    /// The last report.
    pub last: Option<Report>,
}

/// One registered job, with the config's overrides applied.
struct Entry {
    name: Arc<str>,
    trigger: Trigger,
    job_type: JobType,
    immediate: bool,
    enabled: bool,
    skip_if_running: bool,
    task: Arc<dyn Task>,
    in_flight: AtomicUsize,
    logger: JobLogger,
}

struct Inner {
    app: String,
    env: String,
    messenger: Arc<dyn Messenger>,
    config: ScheduleConfig,
    log_file: Option<Arc<Path>>,
    jobs: RwLock<BTreeMap<String, Arc<Entry>>>,
    stats: Mutex<BTreeMap<String, JobStats>>,
    tasks: Mutex<Vec<AbortHandle>>,
    lock: Mutex<Option<Arc<TickLock>>>,
    worker_started: AtomicBool,
    agent_started: AtomicBool,
}

/// The jobs of one app and the machinery that runs them: timers when this process is the
/// agent, runs when it is a worker, both in one process.
///
/// In a yolk app the [`Schedule`](crate::Schedule) plugin builds it and provides it as a
/// service; alone, [`Scheduler::local`] runs everything in this process.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use yolk_schedule::{Job, Scheduler};
///
/// let runs = Arc::new(AtomicU32::new(0));
/// let counter = Arc::clone(&runs);
/// let scheduler = Scheduler::local().job(Job::interval("count", "20ms", move |_| {
///     let counter = Arc::clone(&counter);
///     async move {
///         counter.fetch_add(1, Ordering::SeqCst);
///         Ok(())
///     }
/// }))?;
/// scheduler.start()?;
/// tokio::time::sleep(std::time::Duration::from_millis(110)).await;
/// scheduler.stop();
/// assert!(runs.load(Ordering::SeqCst) >= 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("app", &self.inner.app)
            .field("env", &self.inner.env)
            .field("jobs", &self.job_names())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler for the app `app` in `env`, sending ticks through `messenger`, with
    /// `config` (the log file is resolved under `base_dir`). Add jobs, then start the worker
    /// side and the agent side in the processes that play them.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use yolk_core::messenger::InProcessMessenger;
    /// use yolk_schedule::{ScheduleConfig, Scheduler};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let scheduler = Scheduler::new(
    ///     "shop",
    ///     "prod",
    ///     Arc::new(InProcessMessenger::new()),
    ///     ScheduleConfig::default(),
    ///     dir.path(),
    /// );
    /// assert!(scheduler.job_names().is_empty());
    /// ```
    pub fn new(
        app: impl Into<String>,
        env: impl Into<String>,
        messenger: Arc<dyn Messenger>,
        config: ScheduleConfig,
        base_dir: &Path,
    ) -> Self {
        let log_file = Some(Arc::from(crate::log::resolve(base_dir, &config.log_file)));
        Self::with_parts(app.into(), env.into(), messenger, config, log_file)
    }

    /// A scheduler that runs everything in this process (an in-process messenger), for a
    /// plain axum app or a script: env `local`, no log file until
    /// [`with_log_file`](Self::with_log_file).
    ///
    /// ```
    /// let scheduler = yolk_schedule::Scheduler::local();
    /// assert!(scheduler.job_names().is_empty());
    /// ```
    pub fn local() -> Self {
        Self::with_parts(
            "app".to_owned(),
            "local".to_owned(),
            Arc::new(InProcessMessenger::new()),
            ScheduleConfig::default(),
            None,
        )
    }

    fn with_parts(
        app: String,
        env: String,
        messenger: Arc<dyn Messenger>,
        config: ScheduleConfig,
        log_file: Option<Arc<Path>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                app,
                env,
                messenger,
                config,
                log_file,
                jobs: RwLock::default(),
                stats: Mutex::default(),
                tasks: Mutex::default(),
                lock: Mutex::default(),
                worker_started: AtomicBool::new(false),
                agent_started: AtomicBool::new(false),
            }),
        }
    }

    fn rebuild(
        self,
        change: impl FnOnce(&mut ScheduleConfig, &mut Option<Arc<Path>>, &mut String),
    ) -> Self {
        let inner = &self.inner;
        let mut config = inner.config.clone();
        let mut log_file = inner.log_file.clone();
        let mut env = inner.env.clone();
        change(&mut config, &mut log_file, &mut env);
        let rebuilt = Self::with_parts(
            inner.app.clone(),
            env,
            Arc::clone(&inner.messenger),
            config,
            log_file,
        );
        let jobs: Vec<_> = read(&inner.jobs).values().cloned().collect();
        for entry in jobs {
            let logger = JobLogger::new(Arc::clone(&entry.name), rebuilt.inner.log_file.clone());
            let entry = Entry {
                name: Arc::clone(&entry.name),
                trigger: entry.trigger.clone(),
                job_type: entry.job_type,
                immediate: entry.immediate,
                enabled: entry.enabled,
                skip_if_running: entry.skip_if_running,
                task: Arc::clone(&entry.task),
                in_flight: AtomicUsize::new(0),
                logger,
            };
            write(&rebuilt.inner.jobs).insert(entry.name.to_string(), Arc::new(entry));
        }
        rebuilt
    }

    /// Writes the schedule log to `path`. Call before adding jobs. Default for
    /// [`local`](Self::local): no file, `tracing` only.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let scheduler = yolk_schedule::Scheduler::local().with_log_file(dir.path().join("s.log"));
    /// # let _ = scheduler;
    /// ```
    #[must_use]
    pub fn with_log_file(self, path: impl AsRef<Path>) -> Self {
        let path: Arc<Path> = Arc::from(path.as_ref());
        self.rebuild(|_, log_file, _| *log_file = Some(path))
    }

    /// The environment that jobs' `env` lists are checked against. Default for
    /// [`local`](Self::local): `local`.
    ///
    /// ```
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local()
    ///     .with_env("prod")
    ///     .job(Job::interval("j", "1h", |_| async { Ok(()) }).env(["prod"]))
    ///     .unwrap();
    /// assert!(scheduler.is_enabled("j"));
    /// ```
    #[must_use]
    pub fn with_env(self, env: impl Into<String>) -> Self {
        let env = env.into();
        self.rebuild(|_, _, current| *current = env)
    }

    /// The Redis that holds `cluster` jobs' locks, e.g. `redis://127.0.0.1:6379/`.
    /// Default: `[schedule] redis_url`, none.
    ///
    /// ```
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local()
    ///     .with_redis_url("redis://127.0.0.1:6379/")
    ///     .job(Job::interval("once", "1m", |_| async { Ok(()) }).cluster())
    ///     .unwrap();
    /// assert!(scheduler.is_enabled("once"));
    /// ```
    #[must_use]
    pub fn with_redis_url(self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.rebuild(|config, _, _| config.redis_url = Some(url))
    }

    /// Registers `job`, with `[schedule.jobs.NAME]` applied; returns the scheduler for
    /// chaining. A job added after the agent side started gets its timer at once.
    ///
    /// ```
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local()
    ///     .job(Job::interval("a", "10s", |_| async { Ok(()) }))?
    ///     .job(Job::cron("b", "0 0 * * * *", |_| async { Ok(()) }))?;
    /// assert_eq!(scheduler.job_names(), ["a", "b"]);
    /// # Ok::<(), yolk_schedule::ScheduleError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScheduleError::Interval`], [`ScheduleError::Cron`], [`ScheduleError::TimeZone`] for a
    /// bad trigger; [`ScheduleError::Duplicate`] when the name is taken.
    pub fn job(self, job: Job) -> Result<Self, ScheduleError> {
        self.add(job)?;
        Ok(self)
    }

    /// Registers `job`, as [`job`](Self::job), through a shared reference.
    ///
    /// ```
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local();
    /// scheduler.add(Job::interval("a", "10s", |_| async { Ok(()) }))?;
    /// assert!(scheduler.add(Job::interval("a", "10s", |_| async { Ok(()) })).is_err());
    /// # Ok::<(), yolk_schedule::ScheduleError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`job`](Self::job).
    pub fn add(&self, job: Job) -> Result<(), ScheduleError> {
        let entry = Arc::new(self.entry(job)?);
        {
            let mut jobs = write(&self.inner.jobs);
            if jobs.contains_key(&*entry.name) {
                return Err(ScheduleError::Duplicate {
                    job: entry.name.to_string(),
                });
            }
            jobs.insert(entry.name.to_string(), Arc::clone(&entry));
        }
        if self.inner.agent_started.load(Ordering::SeqCst) && entry.enabled {
            self.check_lock(&entry)?;
            self.spawn_timer(entry);
        }
        Ok(())
    }

    fn entry(&self, job: Job) -> Result<Entry, ScheduleError> {
        let overrides = self.inner.config.jobs.get(&job.name);
        let name: Arc<str> = Arc::from(job.name.as_str());
        let (mut interval, mut cron, mut zone) = match job.trigger {
            TriggerSpec::Interval(every) => (Some(every), None, None),
            TriggerSpec::Cron {
                expression,
                time_zone,
            } => (None, Some(expression), time_zone),
        };
        let mut disable = job.disable;
        let mut immediate = job.immediate;
        let mut env = job.env;
        let mut skip = job.skip_if_running;
        if let Some(o) = overrides {
            if let Some(every) = &o.interval {
                interval = Some(every.clone());
                cron = None;
            }
            if let Some(expression) = &o.cron {
                cron = Some(expression.clone());
                interval = None;
            }
            if o.time_zone.is_some() {
                zone.clone_from(&o.time_zone);
            }
            disable = o.disable.unwrap_or(disable);
            immediate = o.immediate.unwrap_or(immediate);
            if o.env.is_some() {
                env.clone_from(&o.env);
            }
            skip = o.skip_if_running.or(skip);
        }
        let trigger = match (interval, cron) {
            (Some(every), _) => Trigger::interval(&name, &every)?,
            (None, Some(expression)) => Trigger::cron(&name, &expression, zone.as_deref())?,
            (None, None) => unreachable!("a job has a trigger"),
        };
        let in_env = env
            .as_ref()
            .is_none_or(|envs| envs.iter().any(|e| *e == self.inner.env));
        Ok(Entry {
            logger: JobLogger::new(Arc::clone(&name), self.inner.log_file.clone()),
            name,
            trigger,
            job_type: job.job_type,
            immediate,
            enabled: !disable && in_env,
            skip_if_running: skip.unwrap_or(self.inner.config.skip_if_running),
            task: job.task,
            in_flight: AtomicUsize::new(0),
        })
    }

    /// The registered jobs' names, sorted.
    ///
    /// ```
    /// assert!(yolk_schedule::Scheduler::local().job_names().is_empty());
    /// ```
    pub fn job_names(&self) -> Vec<String> {
        read(&self.inner.jobs).keys().cloned().collect()
    }

    /// True when `name` is registered and will tick here: not disabled, and its `env` list,
    /// if any, names this environment.
    ///
    /// ```
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local()
    ///     .job(Job::interval("off", "1s", |_| async { Ok(()) }).disable(true))?
    ///     .job(Job::interval("prod-only", "1s", |_| async { Ok(()) }).env(["prod"]))?;
    /// assert!(!scheduler.is_enabled("off"));
    /// assert!(!scheduler.is_enabled("prod-only"));
    /// assert!(!scheduler.is_enabled("nobody"));
    /// # Ok::<(), yolk_schedule::ScheduleError>(())
    /// ```
    pub fn is_enabled(&self, name: &str) -> bool {
        read(&self.inner.jobs)
            .get(name)
            .is_some_and(|entry| entry.enabled)
    }

    /// What the agent knows of `name`'s runs so far; `None` for an unknown job.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local().job(Job::interval("j", "1h", |_| async { Ok(()) }))?;
    /// assert_eq!(scheduler.stats("j").unwrap().dispatched, 0);
    /// assert!(scheduler.stats("nobody").is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn stats(&self, name: &str) -> Option<JobStats> {
        if !read(&self.inner.jobs).contains_key(name) {
            return None;
        }
        Some(
            lock(&self.inner.stats)
                .get(name)
                .cloned()
                .unwrap_or_default(),
        )
    }

    /// Runs `name` once in this process now and waits for it, whatever its trigger and even
    /// when it is disabled: Egg's `app.runSchedule`, for tests. The tick is 0.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use yolk_schedule::{Job, Outcome, Scheduler};
    /// let scheduler = Scheduler::local()
    ///     .job(Job::cron("yearly", "0 0 0 1 1 *", |_| async { panic!("boom") }))?;
    /// let report = scheduler.run("yearly").await?;
    /// assert_eq!(report.outcome, Outcome::Panicked("boom".into()));
    /// assert!(scheduler.run("nobody").await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScheduleError::UnknownJob`] when no job has that name.
    pub async fn run(&self, name: &str) -> Result<Report, ScheduleError> {
        let entry = self.entry_named(name)?;
        Ok(execute(&entry, 0, None).await)
    }

    fn entry_named(&self, name: &str) -> Result<Arc<Entry>, ScheduleError> {
        let jobs = read(&self.inner.jobs);
        jobs.get(name)
            .cloned()
            .ok_or_else(|| ScheduleError::UnknownJob {
                job: name.to_owned(),
                known: known(&jobs),
            })
    }

    /// Checks what can only be checked once every job is in: overrides that name no job, and
    /// `cluster` jobs without a Redis.
    ///
    /// ```
    /// use yolk_schedule::{Job, ScheduleError, Scheduler};
    /// let scheduler = Scheduler::local()
    ///     .job(Job::interval("once", "1m", |_| async { Ok(()) }).cluster())?;
    /// assert!(matches!(scheduler.validate(), Err(ScheduleError::NoRedis { .. })));
    /// # Ok::<(), ScheduleError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScheduleError::UnknownJob`] for a `[schedule.jobs.NAME]` that names no job;
    /// [`ScheduleError::NoRedis`] for an enabled `cluster` job with no `redis_url`.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let jobs = read(&self.inner.jobs);
        if let Some(name) = self
            .inner
            .config
            .jobs
            .keys()
            .find(|name| !jobs.contains_key(*name))
        {
            return Err(ScheduleError::UnknownJob {
                job: format!("{name}` (in `[schedule.jobs.{name}]`"),
                known: known(&jobs),
            });
        }
        for entry in jobs.values() {
            if entry.enabled && entry.job_type == JobType::Cluster {
                self.check_lock(entry)?;
            }
        }
        Ok(())
    }

    fn check_lock(&self, entry: &Entry) -> Result<Arc<TickLock>, ScheduleError> {
        let mut slot = lock(&self.inner.lock);
        if let Some(existing) = slot.as_ref() {
            return Ok(Arc::clone(existing));
        }
        let url = self
            .inner
            .config
            .redis_url
            .as_deref()
            .ok_or_else(|| ScheduleError::NoRedis {
                job: entry.name.to_string(),
            })?;
        let ttl = Duration::from_millis(self.inner.config.lock_ttl_ms);
        let opened = Arc::new(TickLock::open(&entry.name, url, ttl)?);
        *slot = Some(Arc::clone(&opened));
        Ok(opened)
    }

    /// Starts both sides in this process: runs on ticks, and the timers. For one process
    /// (plain axum, `--single`); a cluster starts [`start_worker`](Self::start_worker) in each
    /// worker and [`start_agent`](Self::start_agent) in the agent.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let scheduler = yolk_schedule::Scheduler::local();
    /// scheduler.start()?;
    /// scheduler.stop();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(&self) -> Result<(), ScheduleError> {
        self.start_worker();
        self.start_agent()
    }

    /// The worker side: listens for ticks and runs them. Idempotent. Start it before the
    /// agent sends its first tick (in a yolk app, `will_ready`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let scheduler = yolk_schedule::Scheduler::local();
    /// scheduler.start_worker();
    /// scheduler.start_worker();
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start_worker(&self) {
        if self.inner.worker_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut ticks = self.inner.messenger.subscribe(RUN_TOPIC);
        let weak = Arc::downgrade(&self.inner);
        let handle = tokio::spawn(async move {
            while let Some(message) = ticks.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                on_tick(&inner, &message);
            }
        });
        lock(&self.inner.tasks).push(handle.abort_handle());
    }

    /// The agent side: a timer per enabled job, and the reports. Idempotent. Start it once
    /// the app is ready (in a yolk app, the agent's `server_did_ready`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let scheduler = yolk_schedule::Scheduler::local();
    /// scheduler.start_agent()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start_agent(&self) -> Result<(), ScheduleError> {
        self.validate()?;
        if self.inner.agent_started.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let mut reports = self.inner.messenger.subscribe(REPORT_TOPIC);
        let weak = Arc::downgrade(&self.inner);
        let handle = tokio::spawn(async move {
            while let Some(message) = reports.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                match message.decode::<Report>() {
                    Ok(report) => record(&inner, report),
                    Err(error) => tracing::warn!(target: "yolk_schedule", "{error}"),
                }
            }
        });
        lock(&self.inner.tasks).push(handle.abort_handle());
        let entries: Vec<_> = read(&self.inner.jobs)
            .values()
            .filter(|entry| entry.enabled)
            .cloned()
            .collect();
        for entry in entries {
            self.spawn_timer(entry);
        }
        Ok(())
    }

    /// Stops the timers and the listeners; runs in progress finish on their own.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let scheduler = yolk_schedule::Scheduler::local();
    /// scheduler.start()?;
    /// scheduler.stop();
    /// # Ok(())
    /// # }
    /// ```
    pub fn stop(&self) {
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
    }

    fn spawn_timer(&self, entry: Arc<Entry>) {
        let weak = Arc::downgrade(&self.inner);
        let handle = tokio::spawn(timer(weak, entry));
        lock(&self.inner.tasks).push(handle.abort_handle());
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// The agent's loop for one job: wait for the next time, send the tick, repeat.
async fn timer(inner: Weak<Inner>, entry: Arc<Entry>) {
    let mut tick: u64 = 0;
    if entry.immediate {
        tick += 1;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        dispatch(&strong, &entry, tick, Utc::now()).await;
    }
    match (&entry.trigger, entry.job_type) {
        // Fixed rate on the monotonic clock, from the moment the app is ready.
        (Trigger::Interval(every), JobType::Worker | JobType::All | JobType::Agent) => {
            let mut interval =
                tokio::time::interval_at(tokio::time::Instant::now() + *every, *every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                interval.tick().await;
                tick += 1;
                let Some(strong) = inner.upgrade() else {
                    return;
                };
                dispatch(&strong, &entry, tick, Utc::now()).await;
            }
        }
        // Wall-clock times: cron, and intervals that instances must agree on.
        _ => {
            let mut after = Utc::now();
            loop {
                let Some(next) = next_time(&entry, after) else {
                    entry
                        .logger
                        .write(Level::Warn, "the cron expression never fires again");
                    return;
                };
                sleep_until_wall(next).await;
                tick = if entry.job_type == JobType::Cluster {
                    u64::try_from(next.timestamp_millis()).unwrap_or_default()
                } else {
                    tick + 1
                };
                let Some(strong) = inner.upgrade() else {
                    return;
                };
                dispatch(&strong, &entry, tick, next).await;
                // Late (a suspended machine)? Skip the missed times rather than burst.
                after = next.max(Utc::now());
            }
        }
    }
}

/// The next wall-clock time of `entry` after `after`; intervals are aligned to multiples of
/// the interval since the Unix epoch, so that every instance computes the same times.
fn next_time(entry: &Entry, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match &entry.trigger {
        Trigger::Interval(every) => aligned_next(after, *every),
        Trigger::Cron { .. } => entry.trigger.next_after(after),
    }
}

fn aligned_next(after: DateTime<Utc>, every: Duration) -> Option<DateTime<Utc>> {
    let every = i64::try_from(every.as_millis()).ok()?.max(1);
    let now = after.timestamp_millis();
    let next = (now.div_euclid(every) + 1).checked_mul(every)?;
    DateTime::from_timestamp_millis(next)
}

/// Sleeps until the wall clock reads `at`, waking at least once a minute to look again: the
/// monotonic clock that `sleep` uses stands still while the machine is suspended, and the wall
/// clock may be stepped.
async fn sleep_until_wall(at: DateTime<Utc>) {
    loop {
        let left = at - Utc::now();
        match left.to_std() {
            Ok(left) if !left.is_zero() => {
                tokio::time::sleep(left.min(Duration::from_secs(60))).await;
            }
            _ => return,
        }
    }
}

/// Sends one tick to its worker(s); in a `cluster` job, only once the Redis lock is taken.
/// An `agent` tick runs here.
async fn dispatch(inner: &Arc<Inner>, entry: &Arc<Entry>, tick: u64, at: DateTime<Utc>) {
    let to = match entry.job_type {
        JobType::All => Recipient::App,
        JobType::Worker | JobType::Cluster => Recipient::Random,
        JobType::Agent => {
            count_dispatched(inner, entry);
            let weak = Arc::downgrade(inner);
            let entry = Arc::clone(entry);
            tokio::spawn(async move {
                let report = execute(&entry, tick, Some(at)).await;
                if let Some(inner) = weak.upgrade() {
                    record(&inner, report);
                }
            });
            return;
        }
    };
    if entry.job_type == JobType::Cluster {
        let Some(tick_lock) = lock(&inner.lock).clone() else {
            entry.logger.write(
                Level::Error,
                &format!("tick {tick} not sent: no Redis lock is configured"),
            );
            return;
        };
        let key = format!(
            "{}{}:{}:{}",
            inner.config.lock_prefix,
            inner.app,
            entry.name,
            at.timestamp_millis()
        );
        match tick_lock.acquire(&key).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(target: "yolk_schedule", job = &*entry.name, tick, "another instance runs this tick");
                return;
            }
            Err(error) => {
                entry.logger.write(
                    Level::Error,
                    &format!("tick {tick} not sent: the Redis lock failed: {error}"),
                );
                return;
            }
        }
    }
    let payload = Dispatch {
        job: entry.name.to_string(),
        tick,
        due_ms: Some(at.timestamp_millis()),
    };
    let sent = inner
        .messenger
        .message(RUN_TOPIC, &payload)
        .and_then(|message| inner.messenger.send(to, message));
    match sent {
        Ok(()) => count_dispatched(inner, entry),
        Err(error) => entry
            .logger
            .write(Level::Error, &format!("tick {tick} not sent: {error}")),
    }
}

fn count_dispatched(inner: &Inner, entry: &Entry) {
    lock(&inner.stats)
        .entry(entry.name.to_string())
        .or_default()
        .dispatched += 1;
}

/// A worker got a tick: run it in a task of its own and report back.
fn on_tick(inner: &Arc<Inner>, message: &Message) {
    let dispatch = match message.decode::<Dispatch>() {
        Ok(dispatch) => dispatch,
        Err(error) => {
            tracing::warn!(target: "yolk_schedule", "{error}");
            return;
        }
    };
    let entry = match read(&inner.jobs).get(&dispatch.job) {
        Some(entry) => Arc::clone(entry),
        None => {
            tracing::warn!(target: "yolk_schedule", "a tick for `{}`, which this process does not know", dispatch.job);
            return;
        }
    };
    let messenger = Arc::clone(&inner.messenger);
    tokio::spawn(async move {
        let due = dispatch.due_ms.and_then(DateTime::from_timestamp_millis);
        let report = execute(&entry, dispatch.tick, due).await;
        if let Err(error) = messenger.send_to_agent(REPORT_TOPIC, &report) {
            tracing::warn!(target: "yolk_schedule", job = &*entry.name, "report not delivered: {error}");
        }
    });
}

/// Runs one tick of `entry` here, due at `due`: skipped when a run is in flight (and skipping
/// is on); a failure or a panic is caught, logged and reported.
async fn execute(entry: &Arc<Entry>, tick: u64, due: Option<DateTime<Utc>>) -> Report {
    let pid = std::process::id();
    let report = |outcome, started: Option<Instant>| Report {
        job: entry.name.to_string(),
        tick,
        pid,
        outcome,
        duration_ms: started.map_or(0, |started| {
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
        }),
    };
    let running = entry.in_flight.fetch_add(1, Ordering::SeqCst);
    if entry.skip_if_running && running > 0 {
        entry.in_flight.fetch_sub(1, Ordering::SeqCst);
        entry.logger.write(
            Level::Warn,
            &format!("tick {tick} skipped: the previous run is still going"),
        );
        return report(Outcome::Skipped, None);
    }
    let started = Instant::now();
    let context = JobContext {
        job: Arc::clone(&entry.name),
        tick,
        due,
        logger: entry.logger.clone(),
    };
    // The closure itself may panic before it returns its future.
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| entry.task.call(context))) {
        Ok(future) => match tokio::spawn(future).await {
            Ok(Ok(())) => Outcome::Succeeded,
            Ok(Err(error)) => Outcome::Failed(error.to_string()),
            Err(join) if join.is_panic() => Outcome::Panicked(panic_message(&join.into_panic())),
            Err(_) => Outcome::Failed("the run was cancelled".to_owned()),
        },
        Err(payload) => Outcome::Panicked(panic_message(&payload)),
    };
    entry.in_flight.fetch_sub(1, Ordering::SeqCst);
    let report = report(outcome, Some(started));
    let ms = report.duration_ms;
    match &report.outcome {
        Outcome::Succeeded => entry
            .logger
            .write(Level::Info, &format!("tick {tick} succeeded in {ms} ms")),
        Outcome::Failed(error) => entry.logger.write(
            Level::Error,
            &format!("tick {tick} failed after {ms} ms: {error}"),
        ),
        Outcome::Panicked(message) => entry.logger.write(
            Level::Error,
            &format!("tick {tick} panicked after {ms} ms: {message}"),
        ),
        Outcome::Skipped => {}
    }
    report
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

fn record(inner: &Inner, report: Report) {
    let mut stats = lock(&inner.stats);
    let stats = stats.entry(report.job.clone()).or_default();
    match report.outcome {
        Outcome::Succeeded => stats.succeeded += 1,
        Outcome::Failed(_) | Outcome::Panicked(_) => stats.failed += 1,
        Outcome::Skipped => stats.skipped += 1,
    }
    stats.last = Some(report);
}

fn known(jobs: &BTreeMap<String, Arc<Entry>>) -> String {
    if jobs.is_empty() {
        "(none)".to_owned()
    } else {
        jobs.keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_intervals_agree_across_instances() {
        let every = Duration::from_secs(10);
        let a = DateTime::from_timestamp_millis(1_000_003_000).unwrap();
        let b = DateTime::from_timestamp_millis(1_000_007_999).unwrap();
        assert_eq!(aligned_next(a, every), aligned_next(b, every));
        assert_eq!(
            aligned_next(a, every).unwrap().timestamp_millis(),
            1_000_010_000
        );
        // Exactly on a boundary: the next one.
        let on = DateTime::from_timestamp_millis(1_000_010_000).unwrap();
        assert_eq!(
            aligned_next(on, every).unwrap().timestamp_millis(),
            1_000_020_000
        );
    }

    #[tokio::test]
    async fn a_worker_tick_carries_when_it_was_due() {
        let (sender, mut due) = tokio::sync::mpsc::unbounded_channel();
        let scheduler = Scheduler::local()
            .job(Job::interval("w", "20ms", move |ctx| {
                let _ = sender.send(ctx.due());
                async { Ok(()) }
            }))
            .unwrap();
        let before = Utc::now();
        scheduler.start().unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), due.recv())
            .await
            .unwrap()
            .unwrap()
            .expect("a tick has a due time");
        scheduler.stop();
        assert!(first >= before && first <= Utc::now(), "{first}");
        // A tick from an agent of an older binary has none, and still runs.
        let old: Dispatch = serde_json::from_str(r#"{"job":"w","tick":1}"#).unwrap();
        assert_eq!(old.due_ms, None);
    }

    #[tokio::test]
    async fn a_run_in_flight_makes_the_next_tick_skip() {
        let (release, released) = tokio::sync::watch::channel(false);
        let scheduler = Scheduler::local()
            .job(Job::interval("slow", "1h", move |_| {
                let mut released = released.clone();
                async move {
                    let _ = released.wait_for(|r| *r).await;
                    Ok(())
                }
            }))
            .unwrap();
        let first = tokio::spawn({
            let scheduler = scheduler.clone();
            async move { scheduler.run("slow").await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = scheduler.run("slow").await.unwrap();
        assert_eq!(second.outcome, Outcome::Skipped);
        release.send(true).unwrap();
        assert!(first.await.unwrap().is_ok());
        // Free again.
        assert!(scheduler.run("slow").await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn overlap_is_allowed_when_skipping_is_off() {
        let (release, released) = tokio::sync::watch::channel(false);
        let scheduler = Scheduler::local()
            .job(
                Job::interval("slow", "1h", move |_| {
                    let mut released = released.clone();
                    async move {
                        let _ = released.wait_for(|r| *r).await;
                        Ok(())
                    }
                })
                .skip_if_running(false),
            )
            .unwrap();
        let first = tokio::spawn({
            let scheduler = scheduler.clone();
            async move { scheduler.run("slow").await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = tokio::spawn({
            let scheduler = scheduler.clone();
            async move { scheduler.run("slow").await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        release.send(true).unwrap();
        assert!(first.await.unwrap().is_ok());
        assert!(second.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn config_overrides_apply_and_unknown_names_are_errors() {
        let mut config = ScheduleConfig::default();
        config.jobs.insert(
            "sweep".into(),
            crate::JobConfig {
                disable: Some(true),
                ..Default::default()
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let messenger = Arc::new(InProcessMessenger::new());
        let scheduler = Scheduler::new("app", "local", messenger, config.clone(), dir.path())
            .job(Job::interval("sweep", "1s", |_| async { Ok(()) }))
            .unwrap();
        assert!(!scheduler.is_enabled("sweep"));
        scheduler.validate().unwrap();

        config
            .jobs
            .insert("typo".into(), crate::JobConfig::default());
        let messenger = Arc::new(InProcessMessenger::new());
        let scheduler = Scheduler::new("app", "local", messenger, config, dir.path())
            .job(Job::interval("sweep", "1s", |_| async { Ok(()) }))
            .unwrap();
        let error = scheduler.validate().unwrap_err().to_string();
        assert!(error.contains("[schedule.jobs.typo]"), "{error}");
        assert!(error.contains("sweep"), "{error}");
    }
}
