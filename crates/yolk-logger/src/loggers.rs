//! [`Loggers`]: every logger of one process, and [`LogLayer`], the `tracing` layer that writes
//! events to them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_log::{AsLog as _, NormalizeEvent};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::Registry;

use crate::config::{Level, LoggerConfig, LoggerEntry, Rotate, rank};
use crate::context::with_request;
use crate::error::LoggerError;
use crate::format::{self, Head, Scratch};
use crate::writer::{FileWriter, WriterOptions};

/// The variable that overrides the console level: `YOLK_LOG=debug`.
pub const CONSOLE_LEVEL_VAR: &str = "YOLK_LOG";

/// Targets whose events go to the core logger: the framework and the libraries under it.
const CORE_TARGETS: &[&str] = &[
    "yolk",
    "tower",
    "tower_http",
    "hyper",
    "hyper_util",
    "h2",
    "axum",
    "tokio",
    "mio",
];

fn is_core(target: &str) -> bool {
    CORE_TARGETS.iter().any(|prefix| {
        target
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::") || rest.starts_with('_'))
    })
}

/// One logger: its levels and its outputs.
#[derive(Debug, Clone)]
struct Sink {
    name: String,
    level: u8,
    console: Option<u8>,
    text: Option<Arc<FileWriter>>,
    json: Option<Arc<FileWriter>>,
}

/// A file the app writes, and how it rotates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// Its path.
    pub path: PathBuf,
    /// How it rotates.
    pub rotate: Rotate,
}

#[derive(Debug)]
struct Inner {
    /// The process id in decimal, as every line shows it.
    pid: String,
    dir: PathBuf,
    app: Sink,
    core: Sink,
    error: Sink,
    custom: Vec<(String, Sink)>,
    console: u8,
    console_off: AtomicBool,
    stdout_only: bool,
    stdout_json: bool,
    floor: AtomicU8,
    writers: Vec<Arc<FileWriter>>,
    files: Vec<LogFile>,
}

/// Every logger of one process: the app, core (or agent), error and custom loggers, their
/// files and their console output.
///
/// Built from a [`LoggerConfig`] by [`Loggers::builder`]; [`Loggers::layer`] is the `tracing`
/// layer that writes to them. Cheap to clone.
///
/// ```
/// use yolk_logger::{LoggerConfig, Loggers};
///
/// let dir = tempfile::tempdir()?;
/// let loggers = Loggers::builder("shop").base_dir(dir.path()).console_level_var(None).build()?;
/// tracing::subscriber::with_default(loggers.subscriber(), || {
///     tracing::info!("an order");
///     tracing::error!(target: "yolk_core", "a failure");
/// });
/// loggers.flush();
/// let app = std::fs::read_to_string(dir.path().join("logs/shop/shop-web.log"))?;
/// assert!(app.contains(" INFO ") && app.ends_with("an order\n"));
/// let core = std::fs::read_to_string(loggers.dir().join("yolk-web.log"))?;
/// assert!(core.ends_with("a failure\n"));
/// let errors = std::fs::read_to_string(loggers.dir().join("common-error.log"))?;
/// assert!(errors.ends_with("a failure\n"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Loggers {
    inner: Arc<Inner>,
}

/// Builds [`Loggers`]: the same path for the plugin and for a plain axum app.
#[derive(Debug, Clone)]
#[must_use]
pub struct LoggersBuilder {
    app_name: String,
    config: LoggerConfig,
    base_dir: PathBuf,
    env: String,
    agent: bool,
    console_var: Option<String>,
}

impl Loggers {
    /// Starts building the loggers of app `app_name`: base directory `.`, environment
    /// `local`, the default [`LoggerConfig`], `YOLK_LOG` read from the environment.
    ///
    /// ```
    /// let builder = yolk_logger::Loggers::builder("shop");
    /// # let _ = builder;
    /// ```
    pub fn builder(app_name: impl Into<String>) -> LoggersBuilder {
        LoggersBuilder {
            app_name: app_name.into(),
            config: LoggerConfig::default(),
            base_dir: PathBuf::from("."),
            env: "local".to_owned(),
            agent: false,
            console_var: std::env::var(CONSOLE_LEVEL_VAR).ok(),
        }
    }

    /// The `tracing` layer writing to these loggers, to compose into a subscriber.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path()).build()?;
    /// let subscriber = tracing_subscriber::registry().with(loggers.layer());
    /// # let _ = subscriber;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn layer(&self) -> LogLayer {
        LogLayer {
            loggers: self.clone(),
        }
    }

    /// A subscriber with only these loggers: for `tracing::subscriber::with_default` or
    /// `set_global_default`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path()).build()?;
    /// let _guard = tracing::subscriber::set_default(loggers.subscriber());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscriber(&self) -> tracing_subscriber::layer::Layered<LogLayer, Registry> {
        use tracing_subscriber::layer::SubscriberExt;
        tracing_subscriber::registry().with(self.layer())
    }

    /// Installs [`subscriber`](Self::subscriber) as the process's global subscriber, and
    /// forwards the `log` crate's records to it (unless the process already has a `log`
    /// logger).
    ///
    /// # Errors
    ///
    /// [`LoggerError::SubscriberAlreadySet`] when the process already has one.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path()).build()?;
    /// let _ = loggers.init(); // Err when this process already has a global subscriber
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn init(&self) -> Result<(), LoggerError> {
        tracing::subscriber::set_global_default(self.subscriber())
            .map_err(|_| LoggerError::SubscriberAlreadySet)?;
        // Many libraries log through the `log` crate: their records go to these loggers too,
        // by their own target. A `log` logger set earlier keeps them. Records below every
        // logger's level are dropped by `log` itself, before a record is built (the floor only
        // rises later, as the console is turned off).
        let _ = tracing_log::LogTracer::builder()
            .with_max_level(self.inner.floor_filter().as_log())
            .init();
        Ok(())
    }

    /// The log directory.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path()).build()?;
    /// assert!(loggers.dir().ends_with("logs/shop"));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Every file of the app (of every process, not only this one's) with how it rotates:
    /// what the agent rotates.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path()).build()?;
    /// let names: Vec<_> = loggers.files().iter().map(|f| f.path.file_name().unwrap().to_owned()).collect();
    /// assert_eq!(names, ["shop-web.log", "yolk-web.log", "yolk-agent.log", "common-error.log"]);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn files(&self) -> &[LogFile] {
        &self.inner.files
    }

    /// Writes every buffered line of this process to its file; returns once done.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path()).build()?;
    /// loggers.flush();
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self) {
        for writer in &self.inner.writers {
            writer.flush();
        }
    }

    /// Writes every buffered line, then reopens every file of this process by its path: what
    /// each process does after a rotation renamed its files.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path()).build()?;
    /// loggers.reopen();
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn reopen(&self) {
        for writer in &self.inner.writers {
            writer.reopen();
        }
    }

    /// Turns the console output off (`stdout_only` output stays): what happens once the app
    /// is ready when `disable_console_after_ready` holds.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path()).build()?;
    /// loggers.disable_console();
    /// assert!(!loggers.console_enabled());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn disable_console(&self) {
        self.inner.console_off.store(true, Ordering::Relaxed);
        let floor = self.inner.file_floor();
        self.inner.floor.store(floor, Ordering::Relaxed);
    }

    /// Whether anything may still go to the console.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path())
    ///     .env("unittest").console_level_var(None).build()?;
    /// assert!(loggers.console_enabled());
    /// assert_eq!(loggers.console_level(), yolk_logger::Level::Warn);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn console_enabled(&self) -> bool {
        !self.inner.console_off.load(Ordering::Relaxed) && self.inner.console < Level::None as u8
    }

    /// The console level of loggers that set none.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path())
    ///     .console_level_var(Some("error")).build()?;
    /// assert_eq!(loggers.console_level(), yolk_logger::Level::Error);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn console_level(&self) -> Level {
        Level::from_rank(self.inner.console)
    }

    fn sink(&self, target: &str) -> &Sink {
        let inner = &*self.inner;
        for (name, sink) in &inner.custom {
            if let Some(rest) = target.strip_prefix(name.as_str())
                && (rest.is_empty() || rest.starts_with("::"))
            {
                return sink;
            }
        }
        if is_core(target) {
            &inner.core
        } else {
            &inner.app
        }
    }

    fn write_event(&self, event: &Event<'_>) {
        let inner = &*self.inner;
        // A record of the `log` crate arrives as an event of tracing-log's own callsite; its
        // real target and level are in its `log.*` fields.
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let level = rank(metadata.level());
        let sink = self.sink(metadata.target());
        let has_files = sink.text.is_some() || sink.json.is_some();
        let to_file = has_files && level >= sink.level;
        let to_error = level >= Level::Error as u8
            && (inner.error.text.is_some() || inner.error.json.is_some());
        let to_stdout = if inner.stdout_only {
            level >= sink.level
        } else {
            !inner.console_off.load(Ordering::Relaxed)
                && level >= sink.console.unwrap_or(inner.console)
        };
        if !(to_file || to_error || to_stdout) {
            return;
        }
        let ms = crate::clock::now_ms();
        let want_text = (to_file && sink.text.is_some())
            || (to_error && inner.error.text.is_some())
            || (to_stdout && !inner.stdout_json);
        let want_json = (to_file && sink.json.is_some())
            || (to_error && inner.error.json.is_some())
            || (to_stdout && inner.stdout_json);
        format::with_fields(event, |scratch| {
            let Scratch { fields, text, json } = scratch;
            with_request(|request| {
                let head = Head {
                    ms,
                    level: metadata.level(),
                    pid: &inner.pid,
                    request,
                };
                if want_text {
                    format::text_line(text, &head, fields);
                }
                if want_json {
                    format::json_line(json, &head, &sink.name, fields);
                }
            });
            if to_stdout {
                console(level, if inner.stdout_json { json } else { text });
            }
            if to_error {
                send(inner.error.text.as_ref(), text);
                send(inner.error.json.as_ref(), json);
            }
            if to_file {
                send(sink.text.as_ref(), text);
                send(sink.json.as_ref(), json);
            }
        });
    }
}

fn console(level: u8, line: &[u8]) {
    if level >= Level::Error as u8 {
        let _ = std::io::stderr().lock().write_all(line);
    } else {
        let _ = std::io::stdout().lock().write_all(line);
    }
}

/// Appends `line` to `writer`, when the logger has that output (and so the line was built).
fn send(writer: Option<&Arc<FileWriter>>, line: &[u8]) {
    if let Some(writer) = writer {
        writer.write_line(line);
    }
}

impl Inner {
    /// The lowest level any logger takes, as a level filter.
    fn floor_filter(&self) -> LevelFilter {
        match self.floor.load(Ordering::Relaxed) {
            0 => LevelFilter::TRACE,
            1 => LevelFilter::DEBUG,
            2 => LevelFilter::INFO,
            3 => LevelFilter::WARN,
            4 => LevelFilter::ERROR,
            _ => LevelFilter::OFF,
        }
    }

    /// The lowest event rank any file (or `stdout_only`) takes.
    fn file_floor(&self) -> u8 {
        let sinks = [&self.app, &self.core, &self.error]
            .into_iter()
            .chain(self.custom.iter().map(|(_, sink)| sink));
        sinks
            .filter(|sink| self.stdout_only || sink.text.is_some() || sink.json.is_some())
            .map(|sink| sink.level)
            .min()
            .unwrap_or(Level::None as u8)
    }

    fn console_floor(&self) -> u8 {
        if self.stdout_only {
            return Level::None as u8;
        }
        [&self.app, &self.core]
            .into_iter()
            .chain(self.custom.iter().map(|(_, sink)| sink))
            .map(|sink| sink.console.unwrap_or(self.console))
            .min()
            .unwrap_or(self.console)
    }
}

impl LoggersBuilder {
    /// The `[logger]` settings. Default: [`LoggerConfig::default`].
    ///
    /// ```
    /// use yolk_logger::{LoggerConfig, Loggers};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let config = LoggerConfig { output_json: true, ..LoggerConfig::default() };
    /// let loggers = Loggers::builder("shop").base_dir(dir.path()).config(config).build()?;
    /// assert!(loggers.files().iter().any(|f| f.path.ends_with("shop-web.json.log")));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(mut self, config: LoggerConfig) -> Self {
        self.config = config;
        self
    }

    /// The directory a relative `dir` is under. Default: `.`.
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = dir.into();
        self
    }

    /// The environment, which sets the console defaults. Default: `local`.
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = env.into();
        self
    }

    /// This process is a cluster's agent: its app and core events go to `yolk-agent.log`.
    /// Default: `false`.
    pub fn agent(mut self, agent: bool) -> Self {
        self.agent = agent;
        self
    }

    /// The value of `YOLK_LOG` to use instead of the environment's (`None`: unset).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let error = yolk_logger::Loggers::builder("shop").base_dir(dir.path())
    ///     .console_level_var(Some("loud")).build().unwrap_err();
    /// assert!(error.to_string().contains("YOLK_LOG"));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn console_level_var(mut self, value: Option<&str>) -> Self {
        self.console_var = value.map(str::to_owned);
        self
    }

    /// Opens the files and starts their writers.
    ///
    /// # Errors
    ///
    /// [`LoggerError::Io`] when the directory or a file cannot be created;
    /// [`LoggerError::Config`] for a bad `YOLK_LOG` or contradictory settings.
    pub fn build(self) -> Result<Loggers, LoggerError> {
        let config = &self.config;
        let mut console = config.console_level_for(&self.env);
        let mut console_override = false;
        if let Some(value) = self.console_var.as_deref().filter(|v| !v.trim().is_empty()) {
            console = value.parse().map_err(|_| LoggerError::Config {
                message: format!(
                    "{CONSOLE_LEVEL_VAR}=`{value}` is not a level: use DEBUG, INFO, WARN, ERROR or NONE"
                ),
            })?;
            console_override = true;
        }
        if config.json_only && !config.output_json {
            return Err(LoggerError::Config {
                message: "`json_only = true` needs `output_json = true`".to_owned(),
            });
        }
        if config.custom.keys().any(|name| name.is_empty()) {
            return Err(LoggerError::Config {
                message: "a custom logger needs a name: `[logger.custom.NAME]`".to_owned(),
            });
        }
        let dir = match &config.dir {
            Some(dir) => self.base_dir.join(dir),
            None => self.base_dir.join("logs").join(&self.app_name),
        };
        let options = WriterOptions {
            buffer_bytes: config.buffer_bytes.max(1),
            flush_interval: Duration::from_millis(config.flush_interval_ms.max(1)),
            queue_lines: config.queue_lines.max(1),
            on_full: config.on_full,
        };
        let app_file = format!("{}-web.log", self.app_name);
        let named: [(&str, &LoggerEntry, &str); 4] = [
            ("app", &config.app, &app_file),
            ("core", &config.core, "yolk-web.log"),
            ("agent", &config.agent, "yolk-agent.log"),
            ("error", &config.error, "common-error.log"),
        ];
        let mut files = Vec::new();
        let mut plan = |entry: &LoggerEntry, default: &str| -> (PathBuf, Option<PathBuf>) {
            let text = dir.join(entry.file.as_deref().unwrap_or(default));
            let json = config.output_json.then(|| json_path(&text));
            let rotate = entry.rotate.unwrap_or(config.rotate);
            if !config.json_only {
                files.push(LogFile {
                    path: text.clone(),
                    rotate,
                });
            }
            if let Some(json) = &json {
                files.push(LogFile {
                    path: json.clone(),
                    rotate,
                });
            }
            (text, json)
        };
        let mut paths: Vec<(PathBuf, Option<PathBuf>)> = named
            .iter()
            .map(|(_, entry, default)| plan(entry, default))
            .collect();
        let custom_paths: Vec<(PathBuf, Option<PathBuf>)> = config
            .custom
            .iter()
            .map(|(name, entry)| plan(entry, &format!("{name}.log")))
            .collect();
        if config.stdout_only {
            files.clear();
        }

        let mut opened: BTreeMap<PathBuf, Arc<FileWriter>> = BTreeMap::new();
        let mut open = |path: &Path| -> Result<Arc<FileWriter>, LoggerError> {
            if let Some(writer) = opened.get(path) {
                return Ok(Arc::clone(writer));
            }
            let writer = Arc::new(FileWriter::open(path, options)?);
            opened.insert(path.to_owned(), Arc::clone(&writer));
            Ok(writer)
        };
        let mut sink = |name: &str,
                        entry: &LoggerEntry,
                        (text, json): &(PathBuf, Option<PathBuf>),
                        level: Level|
         -> Result<Sink, LoggerError> {
            let files_on = !config.stdout_only;
            Ok(Sink {
                name: name.to_owned(),
                level: level as u8,
                console: if console_override {
                    None
                } else {
                    entry.console_level.map(|l| l as u8)
                },
                text: if files_on && !config.json_only {
                    Some(open(text)?)
                } else {
                    None
                },
                json: match json {
                    Some(json) if files_on => Some(open(json)?),
                    _ => None,
                },
            })
        };
        let level_of = |entry: &LoggerEntry| entry.level.unwrap_or(config.level);
        let (app, core) = if self.agent {
            let agent = sink("agent", &config.agent, &paths[2], level_of(&config.agent))?;
            (agent.clone(), agent)
        } else {
            (
                sink("app", &config.app, &paths[0], level_of(&config.app))?,
                sink("core", &config.core, &paths[1], level_of(&config.core))?,
            )
        };
        let error = sink("error", &config.error, &paths.remove(3), Level::Error)?;
        let mut custom = Vec::new();
        for ((name, entry), path) in config.custom.iter().zip(&custom_paths) {
            custom.push((name.clone(), sink(name, entry, path, level_of(entry))?));
        }
        let inner = Inner {
            pid: std::process::id().to_string(),
            dir,
            app,
            core,
            error,
            custom,
            console: console as u8,
            console_off: AtomicBool::new(false),
            stdout_only: config.stdout_only,
            stdout_json: config.output_json,
            floor: AtomicU8::new(0),
            writers: opened.into_values().collect(),
            files,
        };
        let floor = inner.file_floor().min(inner.console_floor());
        inner.floor.store(floor, Ordering::Relaxed);
        Ok(Loggers {
            inner: Arc::new(inner),
        })
    }
}

/// `app.log` → `app.json.log`.
fn json_path(text: &Path) -> PathBuf {
    let name = text
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let json = match name.strip_suffix(".log") {
        Some(stem) => format!("{stem}.json.log"),
        None => format!("{name}.json"),
    };
    text.with_file_name(json)
}

/// The `tracing` layer writing events to [`Loggers`]: see [`Loggers::layer`].
#[derive(Debug, Clone)]
pub struct LogLayer {
    loggers: Loggers,
}

impl LogLayer {
    /// The loggers this layer writes to.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let loggers = yolk_logger::Loggers::builder("shop").base_dir(dir.path()).build()?;
    /// assert_eq!(loggers.layer().loggers().dir(), loggers.dir());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn loggers(&self) -> &Loggers {
        &self.loggers
    }
}

impl<S: Subscriber> Layer<S> for LogLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if rank(metadata.level()) >= self.loggers.inner.floor.load(Ordering::Relaxed) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        rank(metadata.level()) >= self.loggers.inner.floor.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        self.loggers.write_event(event);
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.loggers.inner.floor_filter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_targets() {
        assert!(is_core("yolk_core::app"));
        assert!(is_core("yolk_logger::request"));
        assert!(is_core("hyper"));
        assert!(is_core("tower_http::trace"));
        assert!(!is_core("towering"));
        assert!(!is_core("shop::orders"));
    }

    #[test]
    fn json_twin_names() {
        assert_eq!(json_path(Path::new("/l/a.log")), Path::new("/l/a.json.log"));
        assert_eq!(json_path(Path::new("/l/a.txt")), Path::new("/l/a.txt.json"));
    }
}
