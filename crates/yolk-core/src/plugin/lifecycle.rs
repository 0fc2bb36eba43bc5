//! Running lifecycle hooks: in plugin order (`before_close` in reverse), each timed and bounded.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

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

/// How long one hook of one plugin took, for `run/*_timing_{pid}.json` and the boot trace.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct HookTiming {
    /// The plugin.
    pub plugin: String,
    /// The hook.
    pub hook: Hook,
    /// When it started, in milliseconds since the app began to boot.
    pub start_ms: f64,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
}

/// Runs hooks and records their timings.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    booted_at: Instant,
    timeout: Duration,
    timings: Mutex<Vec<HookTiming>>,
}

impl Lifecycle {
    pub(crate) fn new(booted_at: Instant, timeout: Duration) -> Self {
        Self {
            booted_at,
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
        let timing = HookTiming {
            plugin: plugin.to_owned(),
            hook,
            start_ms: millis(started.duration_since(self.booted_at)),
            duration_ms: millis(started.elapsed()),
        };
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

    pub(crate) fn timings(&self) -> Vec<HookTiming> {
        self.timings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
