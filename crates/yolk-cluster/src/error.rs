use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a cluster command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The app failed to build or serve in this process.
    #[error(transparent)]
    App(#[from] yolk_core::Error),
    /// The listening socket could not be bound.
    #[error(
        "cannot listen on {address}: {source}; is another server using that port? Pick another with `--port`"
    )]
    Bind {
        /// `host:port`.
        address: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A child process could not be started.
    #[error("cannot start the {role} from {exe}: {source}")]
    Spawn {
        /// `agent` or `worker`.
        role: &'static str,
        /// The executable.
        exe: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A child reported that its app failed to start.
    #[error("the {role} (pid {pid}) failed to start: {error}")]
    ChildFailed {
        /// `agent` or `worker`.
        role: &'static str,
        /// Its pid.
        pid: u32,
        /// Its error.
        error: String,
    },
    /// A child exited before it was ready.
    #[error("the {role} (pid {pid}) exited ({status}) before it was ready; its error is above")]
    ChildExited {
        /// `agent` or `worker`.
        role: &'static str,
        /// Its pid.
        pid: u32,
        /// How it ended.
        status: String,
    },
    /// A child did not get ready in time.
    #[error("the {role} (pid {pid}) was not ready within {timeout:?}; check its hooks")]
    StartTimeout {
        /// `agent` or `worker`.
        role: &'static str,
        /// Its pid.
        pid: u32,
        /// The limit.
        timeout: Duration,
    },
    /// A descriptor named in the environment could not be taken.
    #[error("invalid inherited file descriptor in `{var}`: {reason}")]
    InheritedFd {
        /// The variable.
        var: String,
        /// What is wrong.
        reason: String,
    },
    /// The channel to the master failed.
    #[error("IPC channel to the master: {0}")]
    Ipc(#[source] io::Error),
    /// `start` while a master of that title runs.
    #[error(
        "`{title}` is already running (master pid {pid}, pid file {pid_file}); stop it first with `stop --title {title}`"
    )]
    AlreadyRunning {
        /// The title.
        title: String,
        /// The running master.
        pid: u32,
        /// The pid file.
        pid_file: PathBuf,
    },
    /// `stop` or `reload` while nothing of that title runs.
    #[error("`{title}` is not running (no live master in {pid_file})")]
    NotRunning {
        /// The title.
        title: String,
        /// The pid file looked at.
        pid_file: PathBuf,
    },
    /// The master did not exit in time after `stop`.
    #[error(
        "the master (pid {pid}) is still running after {timeout:?}; wait longer with `--timeout`, or end it with `kill -9 {pid}`"
    )]
    StopTimeout {
        /// The master.
        pid: u32,
        /// How long `stop` waited.
        timeout: Duration,
    },
    /// A daemon did not report ready.
    #[error("the daemon did not start: {reason}; see {stderr}")]
    Daemon {
        /// What happened.
        reason: String,
        /// The daemon's stderr log.
        stderr: PathBuf,
    },
    /// A file or signal operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ClusterError {
    pub(crate) fn io(what: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Self::Io {
            what: what.into(),
            source: source.into(),
        }
    }
}
