//! The crate's one error type.

use std::path::PathBuf;
use std::time::Duration;

use yolk_core::MessengerError;

/// Why a watch could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// A path to watch does not exist, and `allow_missing` was not set.
    #[error(
        "cannot watch `{}`: no such file or directory (create it first, or pass `WatchOptions::allow_missing`)",
        path.display()
    )]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// `watch` was given no path.
    #[error("`watch` needs at least one path")]
    NoPath,
    /// The operating system's watcher (or the poller) refused the path.
    #[error("cannot watch `{}`: {source}", path.display())]
    Notify {
        /// The path.
        path: PathBuf,
        /// notify's error.
        #[source]
        source: Box<notify::Error>,
    },
    /// The config names an event source nobody registered.
    #[error(
        "`[watcher] type = \"{name}\"` names no event source: use one of {known} or register it with `WatcherPlugin::event_source`"
    )]
    UnknownSource {
        /// The configured name.
        name: String,
        /// The registered names, quoted and comma-separated.
        known: String,
    },
    /// The agent could not be reached, or did not answer in time.
    #[error("the watcher in the agent did not take the watch: {source}")]
    Agent {
        /// The messenger's error.
        #[source]
        source: MessengerError,
    },
    /// The agent refused the watch for a reason other than a missing path.
    #[error("the watcher in the agent refused the watch: {message}")]
    Refused {
        /// The agent's message.
        message: String,
    },
    /// A request to the agent timed out.
    #[error("the watcher in the agent did not answer within {timeout:?}")]
    Timeout {
        /// How long it waited.
        timeout: Duration,
    },
}

impl From<MessengerError> for WatchError {
    fn from(source: MessengerError) -> Self {
        match source {
            MessengerError::Timeout { timeout, .. } => Self::Timeout { timeout },
            source => Self::Agent { source },
        }
    }
}
