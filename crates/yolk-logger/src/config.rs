//! The `[logger]` section: files, levels, formats, buffering and rotation.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A log level, Egg's five: `DEBUG`, `INFO`, `WARN`, `ERROR` and `NONE` (nothing).
///
/// Written in the config in any case (`"info"`, `"INFO"`). `tracing`'s `TRACE` events sit
/// below `DEBUG` and are never written.
///
/// ```
/// use yolk_logger::Level;
///
/// assert_eq!("warn".parse::<Level>()?, Level::Warn);
/// assert!(Level::Error > Level::Info);
/// assert!(Level::Info.allows(&tracing::Level::ERROR));
/// assert!(!Level::None.allows(&tracing::Level::ERROR));
/// # Ok::<_, yolk_logger::LoggerError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Everything but `TRACE`.
    Debug = 1,
    /// `INFO`, `WARN`, `ERROR`.
    Info = 2,
    /// `WARN` and `ERROR`.
    Warn = 3,
    /// `ERROR` only.
    Error = 4,
    /// Nothing.
    None = 5,
}

impl Level {
    /// Whether an event at `level` passes this threshold.
    pub fn allows(self, level: &tracing::Level) -> bool {
        rank(level) >= self as u8
    }

    /// The level's name as written in log lines: `DEBUG`, `INFO`, `WARN`, `ERROR`, `NONE`.
    ///
    /// ```
    /// assert_eq!(yolk_logger::Level::Warn.as_str(), "WARN");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
            Self::None => "NONE",
        }
    }

    pub(crate) fn from_rank(rank: u8) -> Self {
        match rank {
            0 | 1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            4 => Self::Error,
            _ => Self::None,
        }
    }
}

/// `tracing`'s level as a number comparable with [`Level`]: `TRACE` 0 … `ERROR` 4.
pub(crate) fn rank(level: &tracing::Level) -> u8 {
    match *level {
        tracing::Level::TRACE => 0,
        tracing::Level::DEBUG => 1,
        tracing::Level::INFO => 2,
        tracing::Level::WARN => 3,
        tracing::Level::ERROR => 4,
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = crate::LoggerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_uppercase().as_str() {
            "DEBUG" => Ok(Self::Debug),
            "INFO" => Ok(Self::Info),
            "WARN" | "WARNING" => Ok(Self::Warn),
            "ERROR" => Ok(Self::Error),
            "NONE" | "OFF" => Ok(Self::None),
            _ => Err(crate::LoggerError::Level {
                value: text.to_owned(),
            }),
        }
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How a file rotates.
///
/// ```
/// use yolk_logger::Rotate;
///
/// let rotate: Rotate = serde_json::from_str("\"hour\"")?;
/// assert_eq!(rotate, Rotate::Hour);
/// # Ok::<_, serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Rotate {
    /// At local midnight: `file.log` → `file.log.YYYY-MM-DD` (the day that ended).
    #[default]
    Day,
    /// Every hour: `file.log` → `file.log.YYYY-MM-DD-HH` (the hour that ended).
    Hour,
    /// Once the file reaches `max_size`: `file.log` → `file.log.1`, older ones shifted up to
    /// `max_files`.
    Size,
    /// Never, except on demand (`SIGUSR1`, the `rotate-logs` message).
    None,
}

/// What a writer does when its queue of lines is full.
///
/// ```
/// assert_eq!(yolk_logger::OnFull::default(), yolk_logger::OnFull::Wait);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnFull {
    /// The logging thread waits for room: no line is ever lost.
    #[default]
    Wait,
    /// The line is dropped and counted; the file later gets a `dropped N lines` record.
    Drop,
}

/// One logger's file and levels: `[logger.app]`, `[logger.core]`, `[logger.agent]`,
/// `[logger.error]` and each `[logger.custom.NAME]`.
///
/// ```
/// use yolk_logger::{Level, LoggerEntry};
///
/// let entry: LoggerEntry = toml::from_str("file = 'pay.log'\nlevel = 'debug'")?;
/// assert_eq!(entry.file.as_deref(), Some("pay.log"));
/// assert_eq!(entry.level, Some(Level::Debug));
/// # Ok::<_, toml::de::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggerEntry {
    /// The file's name in the log directory (or an absolute path). Default: the logger's own
    /// (`{app}-web.log`, `yolk-web.log`, `yolk-agent.log`, `common-error.log`, `NAME.log`).
    pub file: Option<String>,
    /// The file level. Default: `[logger] level`.
    pub level: Option<Level>,
    /// The console level. Default: `[logger] console_level`.
    pub console_level: Option<Level>,
    /// How this file rotates. Default: `[logger] rotate`.
    pub rotate: Option<Rotate>,
}

/// The `[logger]` section.
///
/// ```toml
/// [logger]
/// level = "info"
/// console_level = "warn"
/// output_json = true
/// rotate = "day"
/// max_days = 31
///
/// [logger.custom.payments]
/// file = "payments.log"
/// level = "debug"
/// ```
///
/// ```
/// use yolk_logger::{Level, LoggerConfig, Rotate};
///
/// let config = LoggerConfig::default();
/// assert_eq!(config.level, Level::Info);
/// assert_eq!(config.rotate, Rotate::Day);
/// assert_eq!(config.max_days, 31);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggerConfig {
    /// The log directory, relative to the app's base directory unless absolute.
    /// Default: `logs/{app}`.
    pub dir: Option<PathBuf>,
    /// The file level of every logger that sets none. Default: `INFO`.
    pub level: Level,
    /// The console level of every logger that sets none; `YOLK_LOG` overrides it.
    /// Default: by environment, as Egg: `WARN` in `unittest`, else `INFO`.
    pub console_level: Option<Level>,
    /// Turn the console off once the app is ready (the files keep everything).
    /// Default: by environment, as Egg: `false` in `local` and `unittest`, else `true`.
    pub disable_console_after_ready: Option<bool>,
    /// Write no files: every line at its file level goes to stdout (`ERROR` to stderr), for
    /// containers. Default: `false`.
    pub stdout_only: bool,
    /// Also write JSON lines, to `NAME.json.log` beside each `NAME.log` (to stdout with
    /// `stdout_only`). Default: `false`.
    pub output_json: bool,
    /// With `output_json`, write only the JSON files, no text ones. Default: `false`.
    pub json_only: bool,
    /// Write the one-line-per-request record (method, URL, status, duration) at `INFO` to the
    /// core log; the `request_log` middleware. Default: `true`.
    pub request_log: bool,
    /// How files rotate unless a logger says otherwise. Default: `day`.
    pub rotate: Rotate,
    /// With `rotate = "size"`, the size that triggers rotation, in bytes. Default: 50 MiB.
    pub max_size: u64,
    /// With `rotate = "size"`, how many rotated files to keep (`file.log.1` …). Default: `10`.
    pub max_files: u32,
    /// Rotated files dated more than this many days before today are deleted; `0` keeps
    /// them all. Default: `31`.
    pub max_days: u32,
    /// How often the agent checks sizes for `rotate = "size"` (the `logger.check_size` job),
    /// in milliseconds, at least 100. Default: `60000`.
    pub size_check_ms: u64,
    /// A file's buffer is written once it holds this many bytes. Default: `65536`.
    pub buffer_bytes: usize,
    /// A non-empty buffer is written at the latest after this many milliseconds.
    /// Default: `1000`.
    pub flush_interval_ms: u64,
    /// How many lines may wait for each file's writer. Default: `16384`.
    pub queue_lines: usize,
    /// What a full queue does: `wait` (no line lost) or `drop` (counted). Default: `wait`.
    pub on_full: OnFull,
    /// The app logger (events of the app's own code): `{app}-web.log`.
    pub app: LoggerEntry,
    /// The core logger (events of yolk, tower, hyper, axum, tokio): `yolk-web.log`.
    pub core: LoggerEntry,
    /// The agent's logger (every event of the agent process): `yolk-agent.log`.
    pub agent: LoggerEntry,
    /// Every `ERROR` of every logger, once more: `common-error.log`. Its level is always
    /// `ERROR`.
    pub error: LoggerEntry,
    /// Named loggers: events whose `tracing` target is `NAME` (or `NAME::…`) go to their file
    /// only, e.g. `tracing::info!(target: "payments", …)`.
    pub custom: BTreeMap<String, LoggerEntry>,
}

impl Default for LoggerConfig {
    fn default() -> Self {
        Self {
            dir: None,
            level: Level::Info,
            console_level: None,
            disable_console_after_ready: None,
            stdout_only: false,
            output_json: false,
            json_only: false,
            request_log: true,
            rotate: Rotate::Day,
            max_size: 50 * 1024 * 1024,
            max_files: 10,
            max_days: 31,
            size_check_ms: 60_000,
            buffer_bytes: 64 * 1024,
            flush_interval_ms: 1000,
            queue_lines: 16 * 1024,
            on_full: OnFull::Wait,
            app: LoggerEntry::default(),
            core: LoggerEntry::default(),
            agent: LoggerEntry::default(),
            error: LoggerEntry::default(),
            custom: BTreeMap::new(),
        }
    }
}

impl LoggerConfig {
    /// The console level in environment `env`, before `YOLK_LOG`: `console_level`, else
    /// Egg's default for the environment.
    ///
    /// ```
    /// use yolk_logger::{Level, LoggerConfig};
    ///
    /// let config = LoggerConfig::default();
    /// assert_eq!(config.console_level_for("local"), Level::Info);
    /// assert_eq!(config.console_level_for("unittest"), Level::Warn);
    /// assert_eq!(config.console_level_for("prod"), Level::Info);
    /// ```
    pub fn console_level_for(&self, env: &str) -> Level {
        self.console_level.unwrap_or(if env == "unittest" {
            Level::Warn
        } else {
            Level::Info
        })
    }

    /// Whether the console goes off once the app is ready in environment `env`.
    ///
    /// ```
    /// use yolk_logger::LoggerConfig;
    ///
    /// let config = LoggerConfig::default();
    /// assert!(!config.console_off_after_ready("local"));
    /// assert!(config.console_off_after_ready("prod"));
    /// ```
    pub fn console_off_after_ready(&self, env: &str) -> bool {
        self.disable_console_after_ready
            .unwrap_or(!matches!(env, "local" | "unittest"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_egg_style_section() {
        let config: LoggerConfig = toml::from_str(
            "level = 'DEBUG'\nconsole_level = 'none'\nrotate = 'size'\n\
             [custom.payments]\nfile = 'pay.log'\n",
        )
        .unwrap();
        assert_eq!(config.level, Level::Debug);
        assert_eq!(config.console_level, Some(Level::None));
        assert_eq!(config.rotate, Rotate::Size);
        assert_eq!(config.custom["payments"].file.as_deref(), Some("pay.log"));
    }

    #[test]
    fn unknown_key_and_bad_level_are_errors() {
        let error = toml::from_str::<LoggerConfig>("levle = 'info'").unwrap_err();
        assert!(error.to_string().contains("levle"), "{error}");
        let error = toml::from_str::<LoggerConfig>("level = 'loud'").unwrap_err();
        assert!(
            error.to_string().contains("DEBUG, INFO, WARN, ERROR"),
            "{error}"
        );
    }

    #[test]
    fn levels_order_against_tracing() {
        assert!(Level::Debug.allows(&tracing::Level::DEBUG));
        assert!(!Level::Debug.allows(&tracing::Level::TRACE));
        assert!(!Level::Warn.allows(&tracing::Level::INFO));
        assert!(Level::Error.allows(&tracing::Level::ERROR));
    }
}
