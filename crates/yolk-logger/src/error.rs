//! [`LoggerError`]: what can go wrong setting up or rotating the logs.

use std::path::PathBuf;

/// An error of the logger: a bad setting, or a file or directory it cannot use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoggerError {
    /// A level that is not one of Egg's five.
    #[error("unknown log level `{value}`: expected one of DEBUG, INFO, WARN, ERROR, NONE")]
    Level {
        /// The value given.
        value: String,
    },
    /// A log file or directory that cannot be created, opened, renamed or deleted.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was tried: `open`, `create the log directory`, `rename`, ….
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A setting that contradicts another.
    #[error("[logger] {message}")]
    Config {
        /// What is wrong, and how to fix it.
        message: String,
    },
    /// A global `tracing` subscriber is already installed in this process.
    #[error(
        "a global tracing subscriber is already set in this process; compose \
         `Loggers::layer()` into it instead of calling `Loggers::init()`"
    )]
    SubscriberAlreadySet,
}

impl LoggerError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
