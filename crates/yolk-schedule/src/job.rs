//! A job: its name, trigger, type, options and the work it runs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use yolk_core::BoxError;

use crate::log::JobLogger;

/// Where a tick runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobType {
    /// On one worker, chosen at random, per tick (Egg's `type: 'worker'`).
    #[default]
    Worker,
    /// On every worker, per tick (Egg's `type: 'all'`).
    All,
    /// On one worker of one instance per tick, across every instance that shares the Redis
    /// (a per-tick lock). Interval ticks are aligned to the wall clock so that instances agree
    /// on them.
    Cluster,
    /// In the agent itself, beside its timers, per tick: work done once for the whole
    /// cluster that no worker should race for — the logger's rotation, multipart's temp
    /// sweep. In one process, in that process.
    Agent,
}

impl JobType {
    /// `worker`, `all`, `cluster` or `agent`.
    ///
    /// ```
    /// assert_eq!(yolk_schedule::JobType::All.as_str(), "all");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::All => "all",
            Self::Cluster => "cluster",
            Self::Agent => "agent",
        }
    }
}

/// A boxed future, as [`Task::call`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The work a job runs; implemented for every `Fn(JobContext) -> impl Future<Output =
/// Result<(), BoxError>>`.
pub trait Task: Send + Sync + 'static {
    /// Runs one tick.
    fn call(&self, context: JobContext) -> BoxFuture<Result<(), BoxError>>;
}

impl<F, Fut> Task for F
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn call(&self, context: JobContext) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(self(context))
    }
}

/// What a run sees: the job's name, the tick, when it was due, and a logger to the schedule
/// log.
#[derive(Clone, Debug)]
pub struct JobContext {
    pub(crate) job: Arc<str>,
    pub(crate) tick: u64,
    pub(crate) due: Option<DateTime<Utc>>,
    pub(crate) logger: JobLogger,
}

impl JobContext {
    /// The job's name.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local().job(Job::interval("hello", "1h", |ctx| async move {
    ///     assert_eq!(ctx.name(), "hello");
    ///     Ok(())
    /// }))?;
    /// assert!(scheduler.run("hello").await?.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        &self.job
    }

    /// The tick's id: a counter per job from 1 (0 for a run on demand), or for a `cluster`
    /// job the tick's scheduled time in milliseconds since the Unix epoch, which every
    /// instance agrees on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local().job(Job::interval("hello", "1h", |ctx| async move {
    ///     assert_eq!(ctx.tick(), 0);
    ///     Ok(())
    /// }))?;
    /// scheduler.run("hello").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// When the tick was due: the time a cron expression named (so a job that runs at
    /// midnight knows which midnight, however late it starts), or for an interval or an
    /// `immediate` tick the time the agent sent it; `None` for a run on demand
    /// ([`Scheduler::run`](crate::Scheduler::run)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local().job(Job::interval("hello", "1h", |ctx| async move {
    ///     assert_eq!(ctx.due(), None);
    ///     Ok(())
    /// }))?;
    /// assert!(scheduler.run("hello").await?.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn due(&self) -> Option<DateTime<Utc>> {
        self.due
    }

    /// The logger: lines go to the schedule log (and to `tracing`), tagged with the job.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// use yolk_schedule::{Job, Scheduler};
    /// let log = dir.path().join("schedule.log");
    /// let scheduler = Scheduler::local().with_log_file(&log).job(Job::interval(
    ///     "hello",
    ///     "1h",
    ///     |ctx| async move {
    ///         ctx.logger().info("swept 3 files");
    ///         Ok(())
    ///     },
    /// ))?;
    /// scheduler.run("hello").await?;
    /// assert!(std::fs::read_to_string(&log)?.contains("[hello] swept 3 files"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn logger(&self) -> &JobLogger {
        &self.logger
    }
}

#[derive(Clone, Debug)]
pub(crate) enum TriggerSpec {
    Interval(String),
    Cron {
        expression: String,
        time_zone: Option<String>,
    },
}

/// A job, built from code: a name, an interval or a cron expression, the work, and options.
///
/// ```
/// use yolk_schedule::{Job, JobType};
///
/// let job = Job::cron("report", "0 0 9 * * MON", |ctx| async move {
///     ctx.logger().info("weekly report sent");
///     Ok(())
/// })
/// .time_zone("Europe/Berlin")
/// .all()
/// .env(["prod"]);
/// assert_eq!(job.name(), "report");
/// assert_eq!(job.job_type(), JobType::All);
/// ```
#[derive(Clone)]
pub struct Job {
    pub(crate) name: String,
    pub(crate) trigger: TriggerSpec,
    pub(crate) job_type: JobType,
    pub(crate) immediate: bool,
    pub(crate) disable: bool,
    pub(crate) env: Option<Vec<String>>,
    pub(crate) skip_if_running: Option<bool>,
    pub(crate) task: Arc<dyn Task>,
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("name", &self.name)
            .field("trigger", &self.trigger)
            .field("job_type", &self.job_type)
            .field("immediate", &self.immediate)
            .field("disable", &self.disable)
            .field("env", &self.env)
            .field("skip_if_running", &self.skip_if_running)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// A job every `every` (`"500ms"`, `"10s"`, `"5m"`, `"1h"`, `"1d"`), at a fixed rate from
    /// the moment the app is ready. The interval is checked when the job is registered.
    ///
    /// ```
    /// let job = yolk_schedule::Job::interval("sweep", "10s", |_| async { Ok(()) });
    /// assert_eq!(job.name(), "sweep");
    /// ```
    pub fn interval<F, Fut>(name: impl Into<String>, every: impl Into<String>, task: F) -> Self
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        Self::new(
            name.into(),
            TriggerSpec::Interval(every.into()),
            Arc::new(task),
        )
    }

    /// A job at the times of a cron `expression`: 6 fields, seconds first
    /// (`"0 30 2 * * *"` is 02:30:00 every day), in UTC unless [`time_zone`](Self::time_zone)
    /// says otherwise. The expression is checked when the job is registered.
    ///
    /// ```
    /// let job = yolk_schedule::Job::cron("nightly", "0 30 2 * * *", |_| async { Ok(()) });
    /// assert_eq!(job.name(), "nightly");
    /// ```
    pub fn cron<F, Fut>(name: impl Into<String>, expression: impl Into<String>, task: F) -> Self
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        Self::new(
            name.into(),
            TriggerSpec::Cron {
                expression: expression.into(),
                time_zone: None,
            },
            Arc::new(task),
        )
    }

    /// A job every `every` running a [`Task`] (a type of your own rather than a closure).
    ///
    /// ```
    /// use yolk_core::BoxError;
    /// use yolk_schedule::{BoxFuture, Job, JobContext, Task};
    ///
    /// struct Sweep;
    /// impl Task for Sweep {
    ///     fn call(&self, _: JobContext) -> BoxFuture<Result<(), BoxError>> {
    ///         Box::pin(async { Ok(()) })
    ///     }
    /// }
    /// assert_eq!(Job::interval_task("sweep", "10s", Sweep).name(), "sweep");
    /// ```
    pub fn interval_task(
        name: impl Into<String>,
        every: impl Into<String>,
        task: impl Task,
    ) -> Self {
        Self::new(
            name.into(),
            TriggerSpec::Interval(every.into()),
            Arc::new(task),
        )
    }

    fn new(name: String, trigger: TriggerSpec, task: Arc<dyn Task>) -> Self {
        Self {
            name,
            trigger,
            job_type: JobType::Worker,
            immediate: false,
            disable: false,
            env: None,
            skip_if_running: None,
            task,
        }
    }

    /// The job's name.
    ///
    /// ```
    /// assert_eq!(yolk_schedule::Job::interval("a", "1s", |_| async { Ok(()) }).name(), "a");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where its ticks run. Default: [`JobType::Worker`].
    ///
    /// ```
    /// use yolk_schedule::{Job, JobType};
    /// let job = Job::interval("a", "1s", |_| async { Ok(()) });
    /// assert_eq!(job.job_type(), JobType::Worker);
    /// ```
    pub fn job_type(&self) -> JobType {
        self.job_type
    }

    /// Sets where its ticks run. Default: [`JobType::Worker`].
    ///
    /// ```
    /// use yolk_schedule::{Job, JobType};
    /// let job = Job::interval("a", "1s", |_| async { Ok(()) }).with_type(JobType::All);
    /// assert_eq!(job.job_type(), JobType::All);
    /// ```
    #[must_use]
    pub fn with_type(mut self, job_type: JobType) -> Self {
        self.job_type = job_type;
        self
    }

    /// On one worker per tick (the default).
    ///
    /// ```
    /// use yolk_schedule::{Job, JobType};
    /// let job = Job::interval("a", "1s", |_| async { Ok(()) }).all().worker();
    /// assert_eq!(job.job_type(), JobType::Worker);
    /// ```
    #[must_use]
    pub fn worker(self) -> Self {
        self.with_type(JobType::Worker)
    }

    /// On every worker per tick.
    ///
    /// ```
    /// use yolk_schedule::{Job, JobType};
    /// let job = Job::interval("a", "1s", |_| async { Ok(()) }).all();
    /// assert_eq!(job.job_type(), JobType::All);
    /// ```
    #[must_use]
    pub fn all(self) -> Self {
        self.with_type(JobType::All)
    }

    /// In the agent itself, per tick ([`JobType::Agent`]).
    ///
    /// ```
    /// use yolk_schedule::{Job, JobType};
    /// let job = Job::interval("a", "1m", |_| async { Ok(()) }).agent();
    /// assert_eq!(job.job_type(), JobType::Agent);
    /// ```
    #[must_use]
    pub fn agent(self) -> Self {
        self.with_type(JobType::Agent)
    }

    /// Once per tick across every instance sharing the Redis.
    ///
    /// ```
    /// use yolk_schedule::{Job, JobType};
    /// let job = Job::interval("a", "1m", |_| async { Ok(()) }).cluster();
    /// assert_eq!(job.job_type(), JobType::Cluster);
    /// ```
    #[must_use]
    pub fn cluster(self) -> Self {
        self.with_type(JobType::Cluster)
    }

    /// The time zone of a cron expression, an IANA name such as `"Europe/Berlin"`, or
    /// `"local"` for the machine's own zone ([`Zone::Local`](crate::Zone::Local)); checked
    /// when the job is registered. Default: UTC. Ignored by interval jobs.
    ///
    /// ```
    /// let job = yolk_schedule::Job::cron("a", "0 0 9 * * *", |_| async { Ok(()) })
    ///     .time_zone("Asia/Shanghai");
    /// assert!(format!("{job:?}").contains("Asia/Shanghai"));
    /// ```
    #[must_use]
    pub fn time_zone(mut self, time_zone: impl Into<String>) -> Self {
        if let TriggerSpec::Cron {
            time_zone: zone, ..
        } = &mut self.trigger
        {
            *zone = Some(time_zone.into());
        }
        self
    }

    /// Runs once right after the app is ready, besides its ticks. Default: `false`.
    ///
    /// For a `cluster` job this run is once per instance (instances start at different
    /// times, so they share no tick to lock); its regular ticks stay once across instances.
    ///
    /// ```
    /// let job = yolk_schedule::Job::interval("a", "1h", |_| async { Ok(()) }).immediate(true);
    /// assert!(format!("{job:?}").contains("immediate: true"));
    /// ```
    #[must_use]
    pub fn immediate(mut self, immediate: bool) -> Self {
        self.immediate = immediate;
        self
    }

    /// Turns the job off; it still runs on demand ([`Scheduler::run`](crate::Scheduler::run)).
    /// Default: `false`.
    ///
    /// ```
    /// let job = yolk_schedule::Job::interval("a", "1h", |_| async { Ok(()) }).disable(true);
    /// assert!(format!("{job:?}").contains("disable: true"));
    /// ```
    #[must_use]
    pub fn disable(mut self, disable: bool) -> Self {
        self.disable = disable;
        self
    }

    /// Runs only in these environments (`"prod"`, `"local"`, …). Default: every environment.
    ///
    /// ```
    /// let job = yolk_schedule::Job::interval("a", "1h", |_| async { Ok(()) }).env(["prod"]);
    /// assert!(format!("{job:?}").contains("\"prod\""));
    /// ```
    #[must_use]
    pub fn env<I, S>(mut self, envs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.env = Some(envs.into_iter().map(Into::into).collect());
        self
    }

    /// Whether a tick that finds the previous run still going on a worker is skipped there
    /// (`true`) or starts a second run. Default: `[schedule] skip_if_running` (`true`).
    ///
    /// ```
    /// let job = yolk_schedule::Job::interval("a", "1s", |_| async { Ok(()) })
    ///     .skip_if_running(false);
    /// assert!(format!("{job:?}").contains("skip_if_running: Some(false)"));
    /// ```
    #[must_use]
    pub fn skip_if_running(mut self, skip: bool) -> Self {
        self.skip_if_running = Some(skip);
        self
    }
}
