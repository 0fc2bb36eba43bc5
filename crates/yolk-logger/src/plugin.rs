//! [`Logger`]: the logger as a yolk plugin.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use yolk_core::messenger::MessengerExt;
use yolk_core::plugin::Role;
use yolk_core::request::ProxyConfig;
use yolk_core::{AppContext, BoxError, Config, ConfigError, Middleware, Plugin};
use yolk_schedule::{Job, PluginJobs};

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
/// The yolk-schedule job that rotates the `day` and `hour` files: a cron job in the local
/// zone, at each midnight (each full hour when a file rotates hourly), run in the agent. Run
/// on demand (`Scheduler::run`), it rotates every file now, as `rotate-logs` does.
///
/// ```
/// assert_eq!(yolk_logger::ROTATE_JOB, "logger.rotate");
/// ```
pub const ROTATE_JOB: &str = "logger.rotate";
/// The yolk-schedule job that rotates the `size` files that reached `max_size`: every
/// `size_check_ms` and once at start, run in the agent.
///
/// ```
/// assert_eq!(yolk_logger::CHECK_SIZE_JOB, "logger.check_size");
/// ```
pub const CHECK_SIZE_JOB: &str = "logger.check_size";

/// The logger plugin: reads `[logger]`, installs the process's `tracing` subscriber, adds the
/// `request_log` middleware, and in the agent rotates the files for the whole cluster.
///
/// - `config_did_load`: builds [`Loggers`] and installs them as the global subscriber (once
///   per process; when one is already set it warns and goes on), provides them as a service,
///   and reopens the files whenever the agent broadcasts [`REOPEN_TOPIC`];
/// - `did_load`: adds its periodic rotation as yolk-schedule jobs of type `agent`:
///   [`ROTATE_JOB`] (`logger.rotate`, at each local midnight or full hour) and
///   [`CHECK_SIZE_JOB`] (`logger.check_size`, every `size_check_ms`), each only when some file
///   rotates that way. With the schedule plugin in the app they are its jobs (in
///   `logs/yolk-schedule.log`, run on demand with `Scheduler::run`); without it the logger
///   runs them on a scheduler of its own in the agent;
/// - `did_ready`: turns the console off when `disable_console_after_ready` holds;
/// - `agent`: writes `run/logger-agent.pid`, starts those jobs when the schedule plugin is not
///   there, and rotates on `SIGUSR1` and on [`ROTATE_TOPIC`]. Every rotation renames in the
///   agent, once for the cluster, then broadcasts [`REOPEN_TOPIC`];
/// - `before_close`: stops its own jobs, writes every buffered line.
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
    rotation: OnceLock<Rotation>,
    jobs: PluginJobs,
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

    fn optional_dependencies(&self) -> &[&'static str] {
        // Loaded first when enabled, so that `did_load` hands the rotation jobs to it.
        &["schedule"]
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

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        let loggers = self.loggers()?;
        let rotator =
            Rotator::new(loggers.dir(), loggers.files().to_vec()).with_limits(&self.config);
        let rotation = Rotation {
            rotator: Arc::new(rotator),
            messenger: Arc::clone(app.messenger()),
        };
        let hourly = rotation.rotator.has(Rotate::Hour);
        let daily = rotation.rotator.has(Rotate::Day);
        if hourly || daily {
            let expression = if hourly { "0 0 * * * *" } else { "0 0 0 * * *" };
            let rotate = rotation.clone();
            let job = Job::cron(ROTATE_JOB, expression, move |ctx| {
                let rotate = rotate.clone();
                let due = ctx.due().map(|due| due.timestamp());
                async move {
                    for trigger in scheduled(due, hourly, daily) {
                        rotate.run(trigger).await?;
                    }
                    Ok(())
                }
            });
            self.jobs.add(app, job.time_zone("local").agent())?;
        }
        if rotation.rotator.has(Rotate::Size) {
            let every = format!("{}ms", self.config.size_check_ms.max(100));
            let check = rotation.clone();
            let job = Job::interval(CHECK_SIZE_JOB, every, move |_| {
                let check = check.clone();
                async move {
                    check.run(Trigger::Size).await?;
                    Ok(())
                }
            });
            self.jobs.add(app, job.agent().immediate(true))?;
        }
        let _ = self.rotation.set(rotation);
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
        let rotation = self
            .rotation
            .get()
            .ok_or("the logger plugin's did_load did not run")?;
        write_pid_file(app.base_dir())?;
        self.jobs.start(app)?;
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut usr1 = signal(SignalKind::user_defined1())?;
            let rotation = rotation.clone();
            tokio::spawn(async move {
                while usr1.recv().await.is_some() {
                    rotation.run_logged(Trigger::Now).await;
                }
            });
        }
        let mut asked = app.messenger().subscribe(ROTATE_TOPIC);
        let rotation = rotation.clone();
        tokio::spawn(async move {
            while asked.recv().await.is_some() {
                rotation.run_logged(Trigger::Now).await;
            }
        });
        Ok(())
    }

    async fn before_close(&self, _app: &AppContext) -> Result<(), BoxError> {
        self.jobs.stop();
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
    async fn run(&self, trigger: Trigger) -> Result<(), BoxError> {
        let rotator = Arc::clone(&self.rotator);
        let rotated = tokio::task::spawn_blocking(move || rotator.rotate(trigger)).await??;
        if rotated.renamed.is_empty() {
            return Ok(());
        }
        tracing::info!(
            target: "yolk_logger::rotate",
            "rotated {} log files ({trigger:?})",
            rotated.renamed.len()
        );
        let attempts = 5;
        let mut attempt = 1;
        loop {
            match self.messenger.broadcast(REOPEN_TOPIC, &()) {
                Ok(()) => return Ok(()),
                Err(error) if attempt < attempts => {
                    tracing::warn!(target: "yolk_logger::rotate", "reopen request failed (attempt {attempt}): {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    attempt += 1;
                }
                Err(error) => {
                    return Err(format!(
                        "rotated, but the reopen request failed {attempts} times: {error}"
                    )
                    .into());
                }
            }
        }
    }

    /// [`run`](Self::run) for a rotation asked for by a signal or a message: a failure is
    /// logged, as nobody waits for the outcome.
    async fn run_logged(&self, trigger: Trigger) {
        if let Err(error) = self.run(trigger).await {
            tracing::error!(target: "yolk_logger::rotate", "{error}");
        }
    }
}

/// What a tick of [`ROTATE_JOB`] due at `due` (Unix seconds, a local full hour or midnight)
/// rotates: the hour that ended there, and at a local midnight the day too; a run on demand
/// (`None`) rotates every file now.
fn scheduled(due: Option<i64>, hourly: bool, daily: bool) -> Vec<Trigger> {
    let Some(boundary) = due else {
        return vec![Trigger::Now];
    };
    let mut triggers = Vec::new();
    if hourly {
        triggers.push(Trigger::Scheduled {
            boundary,
            hourly: true,
        });
    }
    let at = clock::civil(boundary);
    if daily && at.hour == 0 && at.minute == 0 {
        triggers.push(Trigger::Scheduled {
            boundary,
            hourly: false,
        });
    }
    triggers
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::clock::midnight;

    /// Marks the child processes of the test below.
    const ZONE_CHILD: &str = "YOLK_LOGGER_TEST_ZONE_CHILD";

    /// The job's cron, read in yolk-schedule's `local` zone, fires at the midnights the
    /// rotator's clock computes — here, and (as both clocks read `TZ` once per process) in
    /// child processes in zones with a 45-minute offset and with European and American
    /// daylight saving time, across their changes.
    #[test]
    fn the_cron_fires_at_the_clocks_local_midnights() {
        let trigger = yolk_schedule::Trigger::cron(ROTATE_JOB, "0 0 0 * * *", Some("local"));
        let trigger = trigger.unwrap();
        let days = [(2026, 1, 10), (2026, 3, 8), (2026, 3, 29), (2026, 7, 1)];
        for (year, month, day) in days.into_iter().chain([(2026, 10, 25), (2026, 11, 1)]) {
            let at = midnight(year, month, day);
            let noon = chrono::DateTime::from_timestamp(at - 12 * 3600, 0).unwrap();
            let next = trigger.next_after(noon).unwrap();
            assert_eq!(next.timestamp(), at, "{year}-{month}-{day}");
        }
        if std::env::var_os(ZONE_CHILD).is_some() {
            assert_ne!(
                clock::offset_at(midnight(2026, 1, 10)),
                0,
                "TZ was not read"
            );
            return;
        }
        let name = "plugin::tests::the_cron_fires_at_the_clocks_local_midnights";
        for tz in [
            "<+0545>-5:45",
            "CET-1CEST,M3.5.0,M10.5.0/3",
            "EST5EDT,M3.2.0,M11.1.0",
        ] {
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", name])
                .env("TZ", tz)
                .env(ZONE_CHILD, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("1 passed"),
                "TZ={tz}:\n{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }

    #[test]
    fn a_tick_rotates_the_hour_and_at_midnight_the_day() {
        let midnight = midnight(2026, 11, 24);
        let hour = |boundary| Trigger::Scheduled {
            boundary,
            hourly: true,
        };
        let day = |boundary| Trigger::Scheduled {
            boundary,
            hourly: false,
        };
        assert_eq!(
            scheduled(Some(midnight), true, true),
            [hour(midnight), day(midnight)]
        );
        assert_eq!(scheduled(Some(midnight), false, true), [day(midnight)]);
        let ten = midnight + 10 * 3600;
        assert_eq!(scheduled(Some(ten), true, true), [hour(ten)]);
        // A daily-only tick that is no midnight (a cron overridden in the config) rotates
        // nothing, rather than naming a day that has not ended.
        assert!(scheduled(Some(ten), false, true).is_empty());
        // On demand: everything, now.
        assert_eq!(scheduled(None, true, true), [Trigger::Now]);
    }
}
