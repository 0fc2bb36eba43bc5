//! Running lifecycle hooks: in plugin order (`before_close` in reverse), each timed and bounded.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{AppContext, Plugin};
use crate::error::{BoxError, Error};
use crate::messenger::BoxFuture;

/// A lifecycle hook, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Hook {
    /// [`Plugin::config_will_load`]
    ConfigWillLoad,
    /// [`Plugin::configure`]
    Configure,
    /// [`Plugin::config_did_load`]
    ConfigDidLoad,
    /// [`Plugin::did_load`]
    DidLoad,
    /// [`Plugin::will_ready`]
    WillReady,
    /// [`Plugin::did_ready`]
    DidReady,
    /// [`Plugin::server_did_ready`]
    ServerDidReady,
    /// [`Plugin::before_close`]
    BeforeClose,
    /// [`Plugin::agent`]
    Agent,
}

impl Hook {
    /// The hook's name as the [`Plugin`] method is named.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfigWillLoad => "config_will_load",
            Self::Configure => "configure",
            Self::ConfigDidLoad => "config_did_load",
            Self::DidLoad => "did_load",
            Self::WillReady => "will_ready",
            Self::DidReady => "did_ready",
            Self::ServerDidReady => "server_did_ready",
            Self::BeforeClose => "before_close",
            Self::Agent => "agent",
        }
    }

    fn call<'a>(
        self,
        plugin: &'a dyn Plugin,
        app: &'a AppContext,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        match self {
            Self::ConfigWillLoad => plugin.config_will_load(app),
            Self::Configure => Box::pin(async { Ok(()) }),
            Self::ConfigDidLoad => plugin.config_did_load(app),
            Self::DidLoad => plugin.did_load(app),
            Self::WillReady => plugin.will_ready(app),
            Self::DidReady => plugin.did_ready(app),
            Self::ServerDidReady => plugin.server_did_ready(app),
            Self::BeforeClose => plugin.before_close(app),
            Self::Agent => plugin.agent(app),
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One timed step of a process's boot, for `run/*_timing_{pid}.json` and the boot trace: a
/// plugin's hook, or one of the cluster master's own steps.
///
/// ```
/// use std::time::Instant;
/// use yolk_core::plugin::BootStep;
///
/// let began = Instant::now();
/// let started = Instant::now();
/// let step = BootStep::until_now("session", "did_load", began, started);
/// assert_eq!(step.hook, "did_load");
/// assert!(step.end_ms() >= step.start_ms);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootStep {
    /// The plugin (`master` for the master's own steps).
    pub plugin: String,
    /// The hook (`did_load`, `agent`, …), or the master's step (`bind_socket`,
    /// `start_agent`, `start_workers`; after a reload `start_agent` and `roll_workers`).
    pub hook: String,
    /// When it started, in milliseconds since the process began to boot.
    pub start_ms: f64,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
}

impl BootStep {
    /// Step `hook` of `plugin`, from `started` until now, on the time axis that began at
    /// `began`.
    pub fn until_now(plugin: &str, hook: &str, began: Instant, started: Instant) -> Self {
        let millis = |duration: Duration| duration.as_secs_f64() * 1000.0;
        Self {
            plugin: plugin.to_owned(),
            hook: hook.to_owned(),
            start_ms: millis(started.saturating_duration_since(began)),
            duration_ms: millis(started.elapsed()),
        }
    }

    /// When it ended, in milliseconds since the process began to boot.
    pub fn end_ms(&self) -> f64 {
        self.start_ms + self.duration_ms
    }
}

/// One process's boot, as `run/{prefix}_timing_{pid}.json` holds it for the boot trace: when
/// it began on the wall clock every process of a cluster shares, and its steps, timed from
/// then. The app writes its hooks (prefix `application` or `agent`); the cluster's master
/// writes its own steps (prefix `master`).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use yolk_core::plugin::{BootStep, Timeline};
///
/// let dir = tempfile::tempdir().unwrap();
/// let booted_at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
/// let step = BootStep {
///     plugin: "master".into(),
///     hook: "bind_socket".into(),
///     start_ms: 0.2,
///     duration_ms: 0.1,
/// };
/// let file = Timeline::new(booted_at, vec![step.clone()]).write(dir.path(), "master").unwrap();
/// assert!(file.ends_with(format!("master_timing_{}.json", std::process::id())));
///
/// let read: Timeline = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
/// assert_eq!(read.booted_at_unix_ms, 1_700_000_000_123.0);
/// assert_eq!(read.booted_at(), booted_at);
/// assert_eq!(read.steps, [step]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// When the process began to boot, in milliseconds since the Unix epoch (to the
    /// microsecond): the time axis shared by every process.
    pub booted_at_unix_ms: f64,
    /// The steps, each timed in milliseconds from `booted_at_unix_ms`.
    pub steps: Vec<BootStep>,
}

impl Timeline {
    /// A timeline that began at `booted_at`.
    pub fn new(booted_at: SystemTime, steps: Vec<BootStep>) -> Self {
        let since_epoch = booted_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self {
            // Whole microseconds: exact in an `f64` for the next few centuries.
            booted_at_unix_ms: since_epoch.as_micros() as f64 / 1000.0,
            steps,
        }
    }

    /// When the process began to boot, to the microsecond.
    pub fn booted_at(&self) -> SystemTime {
        // The cast saturates: a negative or NaN stamp is the epoch.
        UNIX_EPOCH + Duration::from_micros((self.booted_at_unix_ms * 1000.0).round() as u64)
    }

    /// Writes `{run_dir}/{prefix}_timing_{pid}.json` for this process; returns the file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Write`](crate::ConfigError::Write) naming the file that could not be
    /// written.
    pub fn write(&self, run_dir: &Path, prefix: &str) -> Result<PathBuf, crate::ConfigError> {
        let path = run_dir.join(format!("{prefix}_timing_{}.json", std::process::id()));
        let json = serde_json::to_vec_pretty(self).expect("timings serialise");
        crate::config::write_file(&path, &json)?;
        Ok(path)
    }
}

/// Runs hooks and records their timings.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    booted_at: Instant,
    /// `booted_at` on the wall clock, for the timeline other processes' are drawn against.
    booted_at_wall: SystemTime,
    timeout: Duration,
    timings: Mutex<Vec<BootStep>>,
}

impl Lifecycle {
    pub(crate) fn new(booted_at: Instant, timeout: Duration) -> Self {
        let booted_at_wall = SystemTime::now()
            .checked_sub(booted_at.elapsed())
            .unwrap_or_else(SystemTime::now);
        Self {
            booted_at,
            booted_at_wall,
            timeout,
            timings: Mutex::default(),
        }
    }

    /// Time since the app began to boot.
    pub(crate) fn elapsed(&self) -> Duration {
        self.booted_at.elapsed()
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Runs `hook` of every plugin in order, stopping at the first failure.
    pub(crate) async fn run(
        &self,
        hook: Hook,
        plugins: &[Box<dyn Plugin>],
        app: &AppContext,
    ) -> Result<(), Error> {
        for plugin in plugins {
            self.run_one(hook, plugin.as_ref(), app).await?;
        }
        Ok(())
    }

    /// Runs `hook` of every plugin in reverse order; a failure is logged and the others still
    /// run. Returns the failures.
    pub(crate) async fn run_all_reversed(
        &self,
        hook: Hook,
        plugins: &[Box<dyn Plugin>],
        app: &AppContext,
    ) -> Vec<Error> {
        let mut errors = Vec::new();
        for plugin in plugins.iter().rev() {
            if let Err(error) = self.run_one(hook, plugin.as_ref(), app).await {
                tracing::error!("{error}");
                errors.push(error);
            }
        }
        errors
    }

    /// Times a step of the loader itself, outside any plugin.
    pub(crate) fn record(&self, plugin: &str, hook: Hook, started: Instant) {
        let timing = BootStep::until_now(plugin, hook.as_str(), self.booted_at, started);
        self.timings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(timing);
    }

    pub(crate) async fn run_one(
        &self,
        hook: Hook,
        plugin: &dyn Plugin,
        app: &AppContext,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.timeout, hook.call(plugin, app)).await;
        self.record(plugin.name(), hook, started);
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(Error::Hook {
                plugin: plugin.name().to_owned(),
                hook,
                source,
            }),
            Err(_) => Err(Error::HookTimeout {
                plugin: plugin.name().to_owned(),
                hook,
                timeout: self.timeout,
            }),
        }
    }

    pub(crate) fn timings(&self) -> Vec<BootStep> {
        self.timings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The timings so far, on the shared time axis.
    pub(crate) fn timeline(&self) -> Timeline {
        Timeline::new(self.booted_at_wall, self.timings())
    }
}
