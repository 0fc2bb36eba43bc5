//! [`Logger`]: the logger as a yolk plugin.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use yolk_core::messenger::MessengerExt;
use yolk_core::plugin::Role;
use yolk_core::request::ProxyConfig;
use yolk_core::{AppContext, BoxError, Config, ConfigError, Middleware, Plugin};

use crate::clock;
use crate::config::{LoggerConfig, Rotate};
use crate::error::LoggerError;
use crate::layer::RequestLogLayer;
use crate::loggers::Loggers;
use crate::rotate::{Rotator, Trigger};

/// The messenger topic on which the agent tells every process to reopen its files.
pub const REOPEN_TOPIC: &str = "yolk-logger:reopen";
/// The messenger topic on which any process asks the agent to rotate now.
pub const ROTATE_TOPIC: &str = "yolk-logger:rotate";
/// The file under `run/` holding the pid of the process that rotates (the agent, or the one
/// process in single mode): `kill -USR1 $(cat run/logger-agent.pid)` rotates now.
pub const PID_FILE: &str = "logger-agent.pid";

/// The logger plugin: reads `[logger]`, installs the process's `tracing` subscriber, adds the
/// `request_log` middleware, and in the agent rotates the files for the whole cluster.
///
/// - `config_did_load`: builds [`Loggers`] and installs them as the global subscriber (once
///   per process; when one is already set it warns and goes on), provides them as a service,
///   and reopens the files whenever the agent broadcasts [`REOPEN_TOPIC`];
/// - `did_ready`: turns the console off when `disable_console_after_ready` holds;
/// - `agent`: writes `run/logger-agent.pid`, rotates on schedule (midnight, each hour, size
///   checks), on `SIGUSR1` and on [`ROTATE_TOPIC`], then broadcasts [`REOPEN_TOPIC`];
/// - `before_close`: writes every buffered line.
///
/// ```
/// use yolk_core::App;
/// use yolk_logger::{Logger, Loggers};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let app = App::builder().name("shop").base_dir(dir.path()).plugin(Logger::default()).build().await?;
/// let loggers = app.context().get::<Loggers>().expect("the plugin provides its loggers");
/// assert!(loggers.dir().ends_with("logs/shop"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Logger {
    config: LoggerConfig,
    loggers: OnceLock<Loggers>,
}

impl Logger {
    /// The plugin with Egg's defaults, its config read from `[logger]`.
    ///
    /// ```
    /// assert_eq!(yolk_logger::Logger::new().config().max_days, 31);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Defaults for `[logger]` given in code; the config files still override them.
    ///
    /// ```
    /// use yolk_logger::{Logger, LoggerConfig};
    ///
    /// let plugin = Logger::new().with_config(LoggerConfig { output_json: true, ..LoggerConfig::default() });
    /// assert!(plugin.config().output_json);
    /// ```
    #[must_use]
    pub fn with_config(mut self, config: LoggerConfig) -> Self {
        self.config = config;
        self
    }

    /// The plugin's settings.
    pub fn config(&self) -> &LoggerConfig {
        &self.config
    }

    fn loggers(&self) -> Result<&Loggers, BoxError> {
        self.loggers
            .get()
            .ok_or_else(|| "the logger plugin's config_did_load did not run".into())
    }
}

#[async_trait]
impl Plugin for Logger {
    fn name(&self) -> &'static str {
        "logger"
    }

    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        self.config = config.section(self.name(), &self.config)?;
        Ok(())
    }

    async fn config_did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        let loggers = Loggers::builder(app.name())
            .base_dir(app.base_dir())
            .env(app.env())
            .agent(app.role() == Role::Agent)
            .config(self.config.clone())
            .build()?;
        if let Err(error) = loggers.init() {
            tracing::warn!(
                "{error}; this app's loggers get events only where their subscriber is the default"
            );
        }
        let mut reopen = app.messenger().subscribe(REOPEN_TOPIC);
        let reopening = loggers.clone();
        tokio::spawn(async move {
            while reopen.recv().await.is_some() {
                let loggers = reopening.clone();
                let _ = tokio::task::spawn_blocking(move || loggers.reopen()).await;
            }
        });
        app.provide(loggers.clone());
        let _ = self.loggers.set(loggers);
        Ok(())
    }

    async fn did_ready(&self, app: &AppContext) -> Result<(), BoxError> {
        if self.config.console_off_after_ready(app.env()) && !self.config.stdout_only {
            self.loggers()?.disable_console();
        }
        Ok(())
    }

    fn middleware(&self, app: &AppContext) -> Vec<Middleware> {
        let proxy = ProxyConfig {
            proxy: app.app_config().proxy,
            max_ips_count: app.app_config().max_ips_count,
        };
        let layer = RequestLogLayer::new()
            .with_proxy(proxy)
            .with_request_line(self.config.request_log);
        vec![Middleware::new("request_log", layer)]
    }

    async fn agent(&self, app: &AppContext) -> Result<(), BoxError> {
        let loggers = self.loggers()?;
        let rotator =
            Rotator::new(loggers.dir(), loggers.files().to_vec()).with_limits(&self.config);
        write_pid_file(app.base_dir())?;
        let rotation = Rotation {
            rotator: Arc::new(rotator),
            messenger: Arc::clone(app.messenger()),
        };
        if rotation.rotator.has(Rotate::Day) || rotation.rotator.has(Rotate::Hour) {
            tokio::spawn(rotation.clone().schedule());
        }
        if rotation.rotator.has(Rotate::Size) {
            let every = Duration::from_millis(self.config.size_check_ms.max(100));
            tokio::spawn(rotation.clone().check_sizes(every));
        }
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut usr1 = signal(SignalKind::user_defined1())?;
            let rotation = rotation.clone();
            tokio::spawn(async move {
                while usr1.recv().await.is_some() {
                    rotation.run(Trigger::Now).await;
                }
            });
        }
        let mut asked = app.messenger().subscribe(ROTATE_TOPIC);
        tokio::spawn(async move {
            while asked.recv().await.is_some() {
                rotation.run(Trigger::Now).await;
            }
        });
        Ok(())
    }

    async fn before_close(&self, _app: &AppContext) -> Result<(), BoxError> {
        if let Some(loggers) = self.loggers.get() {
            let loggers = loggers.clone();
            tokio::task::spawn_blocking(move || loggers.flush()).await?;
        }
        Ok(())
    }
}

/// The agent's rotation work.
#[derive(Clone, Debug)]
struct Rotation {
    rotator: Arc<Rotator>,
    messenger: Arc<dyn yolk_core::Messenger>,
}

impl Rotation {
    /// Rotates, then tells every process to reopen its files.
    async fn run(&self, trigger: Trigger) {
        let rotator = Arc::clone(&self.rotator);
        let outcome = tokio::task::spawn_blocking(move || rotator.rotate(trigger)).await;
        match outcome {
            Ok(Ok(rotated)) if !rotated.renamed.is_empty() => {
                tracing::info!(
                    target: "yolk_logger::rotate",
                    "rotated {} log files ({trigger:?})",
                    rotated.renamed.len()
                );
                for attempt in 1..=5 {
                    match self.messenger.broadcast(REOPEN_TOPIC, &()) {
                        Ok(()) => break,
                        Err(error) => {
                            tracing::warn!(target: "yolk_logger::rotate", "reopen request failed (attempt {attempt}): {error}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(target: "yolk_logger::rotate", "{error}"),
            Err(error) => {
                tracing::error!(target: "yolk_logger::rotate", "rotation stopped: {error}")
            }
        }
    }

    /// Sleeps to each local midnight (each full hour when a file rotates hourly) and rotates.
    async fn schedule(self) {
        let hourly = self.rotator.has(Rotate::Hour);
        let daily = self.rotator.has(Rotate::Day);
        loop {
            let now = clock::now_ms().div_euclid(1000);
            let boundary = clock::next_boundary(now, hourly);
            loop {
                let now_ms = clock::now_ms();
                let left = boundary * 1000 - now_ms;
                if left <= 0 {
                    break;
                }
                // Wake at least every minute: the wall clock may jump.
                let wait = u64::try_from(left.min(60_000)).unwrap_or(60_000);
                tokio::time::sleep(Duration::from_millis(wait + 5)).await;
            }
            if hourly {
                self.run(Trigger::Scheduled {
                    boundary,
                    hourly: true,
                })
                .await;
            }
            let at = clock::civil(boundary);
            if daily && at.hour == 0 && at.minute == 0 {
                self.run(Trigger::Scheduled {
                    boundary,
                    hourly: false,
                })
                .await;
            }
        }
    }

    async fn check_sizes(self, every: Duration) {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.run(Trigger::Size).await;
        }
    }
}

/// `run/logger-agent.pid` under `base_dir`.
///
/// ```
/// assert!(yolk_logger::pid_file("/srv/shop").ends_with("run/logger-agent.pid"));
/// ```
pub fn pid_file(base_dir: impl AsRef<Path>) -> PathBuf {
    base_dir.as_ref().join("run").join(PID_FILE)
}

fn write_pid_file(base_dir: &Path) -> Result<(), LoggerError> {
    let path = pid_file(base_dir);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|source| LoggerError::io("create", parent, source))?;
    }
    std::fs::write(&path, format!("{}\n", std::process::id()))
        .map_err(|source| LoggerError::io("write", &path, source))
}

/// Asks the running app under `base_dir` to rotate its logs now: sends `SIGUSR1` to the
/// process named by `run/logger-agent.pid`. The `rotate-logs` command of an app binary, and
/// what a `logrotate(8)` `postrotate` script calls. Returns the pid signalled.
///
/// # Errors
///
/// [`LoggerError::Io`] when the pid file cannot be read or the process cannot be signalled;
/// [`LoggerError::Config`] when the pid file holds no pid.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let error = yolk_logger::rotate_logs(dir.path()).unwrap_err();
/// assert!(error.to_string().contains("logger-agent.pid"));
/// # Ok::<_, std::io::Error>(())
/// ```
pub fn rotate_logs(base_dir: impl AsRef<Path>) -> Result<u32, LoggerError> {
    let path = pid_file(base_dir);
    let text =
        std::fs::read_to_string(&path).map_err(|source| LoggerError::io("read", &path, source))?;
    let pid: i32 = text.trim().parse().map_err(|_| LoggerError::Config {
        message: format!("{} holds `{}`, not a pid", path.display(), text.trim()),
    })?;
    let target = rustix::process::Pid::from_raw(pid).ok_or_else(|| LoggerError::Config {
        message: format!("{} holds pid {pid}, which is not a process", path.display()),
    })?;
    rustix::process::kill_process(target, rustix::process::Signal::USR1)
        .map_err(|e| LoggerError::io("signal the process of", &path, e.into()))?;
    Ok(u32::try_from(pid).unwrap_or_default())
}
