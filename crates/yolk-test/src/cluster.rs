//! A yolk app's binary started as a real cluster — master, agent, workers — for an end-to-end
//! test: `BIN start --port 0` in a temporary directory of its own, in a process group of its
//! own (a [`ProcessGroup`]), ready once it prints `yolk started on http://ADDRESS …`, and killed
//! with everything it started when dropped.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::net;
use crate::process::{ProcessGroup, SpawnError, WaitError, wait_group_empty};

/// What the master prints, as its first line on stdout, once every worker listens.
const READY: &str = "yolk started on http://";
/// How long [`ClusterBuilder::start`] waits for the ready line unless told otherwise: generous,
/// as a loaded machine may be slow to start a few processes.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a master that ended its output without a ready line has to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(45);

/// The address in yolk's ready line (`yolk started on http://ADDRESS …`), the line a cluster
/// or a single process prints once it serves; `None` for any other line.
///
/// ```
/// use yolk_test::cluster::ready_address;
///
/// let line = "yolk started on http://127.0.0.1:41234 (2 workers) in 80 ms";
/// assert_eq!(ready_address(line), Some("127.0.0.1:41234"));
/// assert_eq!(ready_address("starting…"), None);
/// ```
pub fn ready_address(line: &str) -> Option<&str> {
    line.strip_prefix(READY)?.split_whitespace().next()
}

/// A command running `bin` in `dir`, with stdin from `/dev/null` and without the test's own
/// `YOLK_*` variables (which the app would read as config overrides, `YOLK_ENV` among them) or
/// `LISTEN_FDS` / `LISTEN_PID` (a socket handed to the test is not the app's to take).
///
/// For the app's short commands (`status`, `stop`, `reload`) and for anything a [`Cluster`]
/// does not cover; [`Cluster::builder`] starts from it.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let output = yolk_test::cluster::command("sh", dir.path())
///     .args(["-c", "echo ${YOLK_ENV-unset} in $(pwd -P)"])
///     .output()?;
/// let expected = format!("unset in {}\n", dir.path().canonicalize()?.display());
/// assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn command(bin: impl AsRef<OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(bin);
    command.current_dir(dir).stdin(std::process::Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.as_encoded_bytes().starts_with(b"YOLK_") {
            command.env_remove(key);
        }
    }
    command.env_remove("LISTEN_FDS").env_remove("LISTEN_PID");
    command
}

/// A cluster did not become ready.
///
/// ```
/// use yolk_test::cluster::{Cluster, ClusterError};
///
/// // `sh start --port 0`: there is no script `start`, so sh exits without a ready line.
/// let error = Cluster::builder("sh").start().unwrap_err();
/// let ClusterError::Exited { status, stderr, left, .. } = &error else {
///     panic!("{error}");
/// };
/// assert_eq!(status.and_then(|status| status.code()), Some(2));
/// assert!(stderr.contains("start"), "{stderr}");
/// assert!(left.is_empty());
/// assert!(error.to_string().starts_with("`sh` exited without a ready line (exit status: 2)"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The temporary directory could not be created.
    #[error("cannot create a temporary directory for the cluster: {0}")]
    Dir(#[source] std::io::Error),
    /// The binary could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The master ended its output without printing the ready line.
    #[error("`{bin}` exited without a ready line ({}); stderr:\n{stderr}", exit_text(.status))]
    Exited {
        /// The binary.
        bin: String,
        /// How the master exited; `None` when it did not within 45 s after its output ended.
        status: Option<ExitStatus>,
        /// The master's stderr.
        stderr: String,
        /// The processes still in its group 20 s later, which should be none.
        left: Vec<u32>,
    },
    /// No line came within the ready timeout.
    #[error("`{bin}` printed no ready line within {timeout:?}; stderr:\n{stderr}")]
    NotReady {
        /// The binary.
        bin: String,
        /// The ready timeout.
        timeout: Duration,
        /// The master's stderr.
        stderr: String,
    },
    /// The first line was not the ready line.
    #[error("`{bin}` printed `{line}` where `{READY}ADDRESS …` belongs; stderr:\n{stderr}")]
    UnexpectedLine {
        /// The binary.
        bin: String,
        /// The line it printed.
        line: String,
        /// The master's stderr.
        stderr: String,
    },
}

fn exit_text(status: &Option<ExitStatus>) -> String {
    status.map_or_else(
        || format!("it did not exit within {EXIT_TIMEOUT:?}"),
        |status| status.to_string(),
    )
}

/// Sets up a [`Cluster`]: the arguments after `start --port 0`, extra environment, the ready
/// timeout. See [`Cluster::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// use yolk_test::cluster::Cluster;
///
/// # let bin = "my-app";
/// let cluster = Cluster::builder(bin)
///     .args(["--env", "local", "--workers", "2"])
///     .env("YOLK_LOGGER__LEVEL", "debug")
///     .ready_timeout(Duration::from_secs(30))
///     .start()?;
/// assert!(cluster.ready_line().contains("(2 workers)"));
/// # Ok::<(), yolk_test::cluster::ClusterError>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `start`"]
pub struct ClusterBuilder {
    bin: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    ready_timeout: Duration,
}

impl ClusterBuilder {
    /// Adds `arg` after `start --port 0`.
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin).arg("--single").start()?;
    /// assert!(cluster.ready_line().contains("(single process)"));
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    pub fn arg(self, arg: impl AsRef<OsStr>) -> Self {
        self.args([arg])
    }

    /// Adds `args` after `start --port 0`.
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin)
    ///     .args(["--workers", "2", "--title", "e2e"])
    ///     .start()?;
    /// assert!(cluster.dir().join("run/e2e.pid").exists());
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    pub fn args(mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Self {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Sets the variable `key` for the app, e.g. a `YOLK_SECTION__KEY` config override.
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin)
    ///     .env("YOLK_ENV", "prod")
    ///     .env("YOLK_KEYS", "a-production-key-of-32-characters")
    ///     .start()?;
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    pub fn env(self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs([(key, value)])
    }

    /// Sets each `(key, value)` of `vars` for the app, as [`env`](Self::env) does.
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let overrides = [("YOLK_LOGGER__LEVEL", "debug"), ("YOLK_SCHEDULE__DISABLE", "true")];
    /// let cluster = yolk_test::cluster::Cluster::builder(bin).envs(overrides).start()?;
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    pub fn envs(
        mut self,
        vars: impl IntoIterator<Item = (impl AsRef<OsStr>, impl AsRef<OsStr>)>,
    ) -> Self {
        self.envs.extend(
            vars.into_iter()
                .map(|(key, value)| (key.as_ref().to_owned(), value.as_ref().to_owned())),
        );
        self
    }

    /// How long [`start`](Self::start) waits for the ready line. Default: 60 s.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin)
    ///     .ready_timeout(Duration::from_secs(120))
    ///     .start()?;
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Runs `BIN start --port 0 ARGS` in a new temporary directory, in a process group of its
    /// own, and waits for its first line on stdout, the ready line.
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin).start()?;
    /// assert!(cluster.address().starts_with("127.0.0.1:"));
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ClusterError`]: when the directory cannot be created or the binary started
    /// ([`Dir`](ClusterError::Dir), [`Spawn`](ClusterError::Spawn)); when the master ends its
    /// output first ([`Exited`](ClusterError::Exited): how it exited, its stderr, and any
    /// process it left behind); when no line comes in time ([`NotReady`](ClusterError::NotReady));
    /// when the first line is another ([`UnexpectedLine`](ClusterError::UnexpectedLine)). The
    /// processes are killed before it returns.
    pub fn start(self) -> Result<Cluster, ClusterError> {
        let dir = tempfile::tempdir().map_err(ClusterError::Dir)?;
        let process = ProcessGroup::spawn(
            command(&self.bin, dir.path())
                .args(["start", "--port", "0"])
                .args(&self.args)
                .envs(self.envs.iter().map(|(key, value)| (key, value))),
        )?;
        let bin = self.bin.to_string_lossy().into_owned();
        let first = process.wait_for_stdout(self.ready_timeout, |lines| {
            lines.lines().next().map(str::to_owned)
        });
        match first {
            Ok(line) => match ready_address(&line) {
                Some(address) => Ok(Cluster {
                    address: address.to_owned(),
                    ready_line: line,
                    process,
                    dir,
                }),
                None => Err(ClusterError::UnexpectedLine {
                    bin,
                    line,
                    stderr: process.stderr(),
                }),
            },
            Err(WaitError::Closed { .. }) => {
                let status = process.wait_exit(EXIT_TIMEOUT);
                let left = wait_group_empty(process.pid());
                Err(ClusterError::Exited {
                    bin,
                    status,
                    stderr: process.stderr(),
                    left,
                })
            }
            Err(WaitError::TimedOut { timeout, .. }) => Err(ClusterError::NotReady {
                bin,
                timeout,
                stderr: process.stderr(),
            }),
        }
    }
}

/// A yolk app running as a cluster, ready: its address, its ready line, its directory, and
/// its master as a [`ProcessGroup`] (to signal it, read its stderr, stop it, check that nothing
/// is left). Dropping it kills the master, the agent and the workers, then removes the
/// directory.
///
/// In a test of the crate that builds the app, the binary is `env!("CARGO_BIN_EXE_<name>")`.
///
/// ```no_run
/// use std::time::Duration;
/// use yolk_test::cluster::Cluster;
///
/// # let bin = "my-app";
/// let cluster = Cluster::builder(bin).args(["--env", "local", "--workers", "2"]).start()?;
/// assert_eq!(cluster.get("/")?.status, 200);
///
/// let stopped = cluster.process().stop(Duration::from_secs(30)).expect("a graceful stop");
/// assert!(stopped.success());
/// cluster.process().assert_nothing_left();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Cluster {
    // Dropped first: the processes go before their directory.
    process: ProcessGroup,
    address: String,
    ready_line: String,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// A builder for `bin start --port 0`; see [`ClusterBuilder`].
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin).start()?;
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    pub fn builder(bin: impl AsRef<OsStr>) -> ClusterBuilder {
        ClusterBuilder {
            bin: bin.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            ready_timeout: READY_TIMEOUT,
        }
    }

    /// The address it listens on, `host:port`, from the ready line.
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin).start()?;
    /// let port: u16 = cluster.address().rsplit_once(':').unwrap().1.parse().unwrap();
    /// assert_ne!(port, 0);
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The whole ready line, e.g. `yolk started on http://127.0.0.1:41234 (2 workers) in 80 ms`.
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin).args(["--workers", "2"]).start()?;
    /// assert!(cluster.ready_line().contains("(2 workers)"));
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    pub fn ready_line(&self) -> &str {
        &self.ready_line
    }

    /// Its directory (the app's base directory, where `run/` and `logs/` go), removed on drop.
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin).start()?;
    /// assert!(cluster.dir().join("logs").is_dir());
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The master's process group.
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin).args(["--workers", "2"]).start()?;
    /// // The master, the agent and two workers.
    /// assert_eq!(cluster.process().members().len(), 4);
    /// # Ok::<(), yolk_test::cluster::ClusterError>(())
    /// ```
    pub fn process(&self) -> &ProcessGroup {
        &self.process
    }

    /// `GET path` on a fresh connection: see [`net::get`].
    ///
    /// ```no_run
    /// # let bin = "my-app";
    /// let cluster = yolk_test::cluster::Cluster::builder(bin).start()?;
    /// assert_eq!(cluster.get("/nowhere")?.status, 404);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`net::get`].
    pub fn get(&self, path: &str) -> std::io::Result<net::Response> {
        net::get(&self.address, path)
    }
}
