//! Child processes a test starts and must never leave behind.
//!
//! [`ProcessGroup`] runs a command in a process group of its own, captures its stdout and
//! stderr, and kills the whole group — the child and everything it started — when dropped,
//! whether the test passed or panicked. The functions beside it signal processes and read
//! `/proc` to check what is left (Linux).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustix::process::Pid;
pub use rustix::process::Signal;

/// How often the waits that cannot block on an event (an exit, `/proc`) look again.
const POLL: Duration = Duration::from_millis(20);
/// How long [`ProcessGroup::wait_exit`] waits for the pipes to close once the child exited:
/// processes it started may hold them a little longer.
const PIPES_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a group is given to empty: by [`assert_group_empty`], and by a cluster whose master
/// exited at start-up.
const GROUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A program could not be started.
///
/// ```
/// let error = yolk_test::process::ProcessGroup::spawn(
///     &mut std::process::Command::new("no-such-program-anywhere"),
/// )
/// .unwrap_err();
/// assert!(error.to_string().starts_with("could not start `no-such-program-anywhere`: "));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("could not start `{program}`: {source}")]
pub struct SpawnError {
    program: String,
    #[source]
    source: std::io::Error,
}

/// Nothing in a process's output matched before a wait ended: see
/// [`ProcessGroup::wait_for_stdout`].
///
/// ```
/// use std::time::Duration;
/// use yolk_test::process::{ProcessGroup, WaitError};
///
/// let process = ProcessGroup::spawn(std::process::Command::new("echo").arg("hello"))?;
/// let error = process
///     .wait_for_stdout(Duration::from_secs(10), |lines| lines.contains("bye").then_some(()))
///     .unwrap_err();
/// assert!(matches!(&error, WaitError::Closed { output } if output == "hello\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The time was up.
    #[error("nothing matched within {timeout:?}; the output so far:\n{output}")]
    TimedOut {
        /// How long the wait was.
        timeout: Duration,
        /// The whole output at that time.
        output: String,
    },
    /// The stream closed first: the process, and whatever it started, exited.
    #[error("the output ended with nothing matching:\n{output}")]
    Closed {
        /// The whole output.
        output: String,
    },
}

/// A child process in a process group of its own, with its output captured; dropping it kills
/// the whole group with `SIGKILL` and reaps the child.
///
/// Its stdin is `/dev/null`; its stdout and stderr are read as they come, by a thread each,
/// so the child never blocks on a full pipe.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use yolk_test::process::{ProcessGroup, assert_group_empty};
///
/// let process = ProcessGroup::spawn(Command::new("sh").args([
///     "-c",
///     "sleep 60 & echo started; echo 'a warning' >&2; wait",
/// ]))?;
/// process.wait_for_stdout(Duration::from_secs(10), |lines| {
///     lines.contains("started").then_some(())
/// })?;
/// process.wait_for_stderr(Duration::from_secs(10), |lines| {
///     lines.contains("a warning").then_some(())
/// })?;
/// assert_eq!(process.members().len(), 2, "sh and its sleep");
///
/// let group = process.pid();
/// drop(process); // the test ends, or panics: the sleep goes too
/// assert_group_empty(group);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ProcessGroup {
    pid: u32,
    child: Mutex<Child>,
    stdout: Arc<Capture>,
    stderr: Arc<Capture>,
}

impl ProcessGroup {
    /// Starts `command` as the leader of a new process group, with stdin from `/dev/null` and
    /// stdout and stderr captured (overriding what `command` set for them).
    ///
    /// ```
    /// let process = yolk_test::process::ProcessGroup::spawn(
    ///     std::process::Command::new("sleep").arg("60"),
    /// )?;
    /// assert_eq!(process.members(), [process.pid()]);
    /// # Ok::<(), yolk_test::process::SpawnError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`SpawnError`] naming the program when it cannot be started (not found, not
    /// executable).
    pub fn spawn(command: &mut Command) -> Result<Self, SpawnError> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|source| SpawnError {
                program: command.get_program().to_string_lossy().into_owned(),
                source,
            })?;
        let stdout = Capture::start(child.stdout.take().expect("stdout is piped"));
        let stderr = Capture::start(child.stderr.take().expect("stderr is piped"));
        Ok(Self {
            pid: child.id(),
            child: Mutex::new(child),
            stdout,
            stderr,
        })
    }

    /// The child's pid, which is also the id of its process group.
    ///
    /// ```
    /// # let process = yolk_test::process::ProcessGroup::spawn(
    /// #     std::process::Command::new("sleep").arg("60"),
    /// # )?;
    /// assert!(yolk_test::process::alive(process.pid()));
    /// # Ok::<(), yolk_test::process::SpawnError>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything written to stdout so far, lossily as UTF-8.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use yolk_test::process::ProcessGroup;
    /// let process = ProcessGroup::spawn(std::process::Command::new("echo").arg("hi"))?;
    /// process.wait_exit(Duration::from_secs(10)).expect("echo exits");
    /// assert_eq!(process.stdout(), "hi\n");
    /// # Ok::<(), yolk_test::process::SpawnError>(())
    /// ```
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// Everything written to stderr so far, lossily as UTF-8.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use yolk_test::process::ProcessGroup;
    /// let process =
    ///     ProcessGroup::spawn(std::process::Command::new("sh").args(["-c", "echo oops >&2"]))?;
    /// process.wait_exit(Duration::from_secs(10)).expect("sh exits");
    /// assert_eq!(process.stderr(), "oops\n");
    /// # Ok::<(), yolk_test::process::SpawnError>(())
    /// ```
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits until `find` returns `Some` for the complete lines written to stdout so far (all
    /// of the output once it ended), and returns that; `find` is called again each time more
    /// output comes.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use yolk_test::process::ProcessGroup;
    /// let process = ProcessGroup::spawn(std::process::Command::new("sh").args([
    ///     "-c",
    ///     "echo 'listening on 127.0.0.1:4242'; sleep 60",
    /// ]))?;
    /// let address = process.wait_for_stdout(Duration::from_secs(10), |lines| {
    ///     lines.lines().find_map(|line| line.strip_prefix("listening on ")).map(str::to_owned)
    /// })?;
    /// assert_eq!(address, "127.0.0.1:4242");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitError::TimedOut`] when nothing matched within `timeout`, [`WaitError::Closed`]
    /// when stdout ended first; both carry the output.
    pub fn wait_for_stdout<T>(
        &self,
        timeout: Duration,
        find: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, WaitError> {
        self.stdout.wait_for(timeout, find)
    }

    /// As [`wait_for_stdout`](Self::wait_for_stdout), on stderr.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use yolk_test::process::ProcessGroup;
    /// let process = ProcessGroup::spawn(std::process::Command::new("sh").args([
    ///     "-c",
    ///     "echo 'ready' >&2; sleep 60",
    /// ]))?;
    /// process.wait_for_stderr(Duration::from_secs(10), |lines| lines.contains("ready").then_some(()))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`wait_for_stdout`](Self::wait_for_stdout).
    pub fn wait_for_stderr<T>(
        &self,
        timeout: Duration,
        find: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, WaitError> {
        self.stderr.wait_for(timeout, find)
    }

    /// Sends `signal` to the child (not to its group).
    ///
    /// ```
    /// use std::time::Duration;
    /// use yolk_test::process::{ProcessGroup, Signal};
    ///
    /// let process = ProcessGroup::spawn(std::process::Command::new("sleep").arg("60"))?;
    /// process.signal(Signal::TERM)?;
    /// let status = process.wait_exit(Duration::from_secs(10)).expect("sleep exits");
    /// assert!(!status.success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The I/O error of `kill(2)`: `ESRCH` once the child was reaped by
    /// [`wait_exit`](Self::wait_exit).
    pub fn signal(&self, signal: Signal) -> std::io::Result<()> {
        kill(self.pid, signal)
    }

    /// Waits up to `timeout` for the child to exit, then up to 10 s more for its stdout and
    /// stderr to end, so that [`stderr`](Self::stderr) holds all the child wrote. `None` when
    /// the child is still running.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use yolk_test::process::ProcessGroup;
    /// let process = ProcessGroup::spawn(std::process::Command::new("sh").args(["-c", "exit 3"]))?;
    /// let status = process.wait_exit(Duration::from_secs(10)).expect("sh exits");
    /// assert_eq!(status.code(), Some(3));
    ///
    /// let sleeper = ProcessGroup::spawn(std::process::Command::new("sleep").arg("60"))?;
    /// assert_eq!(sleeper.wait_exit(Duration::from_millis(100)), None);
    /// # Ok::<(), yolk_test::process::SpawnError>(())
    /// ```
    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let status = {
            let mut child = lock(&self.child);
            poll_until(timeout, || child.try_wait().ok().flatten())?
        };
        let deadline = Instant::now() + PIPES_TIMEOUT;
        for capture in [&self.stdout, &self.stderr] {
            capture.wait_closed(deadline);
        }
        Some(status)
    }

    /// Stops the child gracefully: `SIGTERM` to it, then up to `timeout` for it to exit (see
    /// [`wait_exit`](Self::wait_exit)); if it does not, `SIGKILL` to its whole group and
    /// `None`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use yolk_test::process::ProcessGroup;
    /// let process = ProcessGroup::spawn(std::process::Command::new("sh").args([
    ///     "-c",
    ///     "trap 'echo stopping; exit 0' TERM; echo up; sleep 60 >/dev/null 2>&1 & wait",
    /// ]))?;
    /// process.wait_for_stdout(Duration::from_secs(10), |lines| lines.contains("up").then_some(()))?;
    /// let status = process.stop(Duration::from_secs(10)).expect("sh stops on SIGTERM");
    /// assert!(status.success());
    /// assert!(process.stdout().ends_with("stopping\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(&self, timeout: Duration) -> Option<ExitStatus> {
        // `ESRCH`: it was reaped already, and `wait_exit` returns its status.
        let _ = self.signal(Signal::TERM);
        let status = self.wait_exit(timeout);
        if status.is_none() {
            let _ = kill_group(self.pid, Signal::KILL);
        }
        status
    }

    /// The live processes of the group: the child (until it exits) and what it started.
    ///
    /// ```
    /// # let process = yolk_test::process::ProcessGroup::spawn(
    /// #     std::process::Command::new("sleep").arg("60"),
    /// # )?;
    /// assert_eq!(process.members(), [process.pid()]);
    /// # Ok::<(), yolk_test::process::SpawnError>(())
    /// ```
    pub fn members(&self) -> Vec<u32> {
        group_members(self.pid)
    }

    /// Waits (up to 20 s) until no live process is left in the group; panics naming those left.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use yolk_test::process::ProcessGroup;
    /// let process = ProcessGroup::spawn(&mut std::process::Command::new("true"))?;
    /// process.wait_exit(Duration::from_secs(10)).expect("true exits");
    /// process.assert_nothing_left();
    /// # Ok::<(), yolk_test::process::SpawnError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// When processes are still in the group after 20 s.
    pub fn assert_nothing_left(&self) {
        assert_group_empty(self.pid);
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // Nothing to do when the group is gone already.
        let _ = kill_group(self.pid, Signal::KILL);
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Sends `signal` to process `pid`.
///
/// ```
/// use yolk_test::process::{ProcessGroup, Signal, kill, wait_gone};
/// # use std::time::Duration;
/// let process = ProcessGroup::spawn(std::process::Command::new("sleep").arg("60"))?;
/// kill(process.pid(), Signal::KILL)?;
/// process.wait_exit(Duration::from_secs(10)).expect("killed");
/// wait_gone(process.pid(), Duration::from_secs(10));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The I/O error of `kill(2)`: `ESRCH` when there is no such process, `EINVAL` for pid 0.
pub fn kill(pid: u32, signal: Signal) -> std::io::Result<()> {
    Ok(rustix::process::kill_process(to_pid(pid)?, signal)?)
}

/// Sends `signal` to every process in group `pgid`.
///
/// ```
/// use yolk_test::process::{ProcessGroup, Signal, assert_group_empty, kill_group};
/// # use std::process::Command;
/// let process = ProcessGroup::spawn(Command::new("sh").args(["-c", "sleep 60 & sleep 60"]))?;
/// kill_group(process.pid(), Signal::KILL)?;
/// assert_group_empty(process.pid());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The I/O error of `killpg(2)`: `ESRCH` when the group is empty, `EINVAL` for pgid 0.
pub fn kill_group(pgid: u32, signal: Signal) -> std::io::Result<()> {
    Ok(rustix::process::kill_process_group(to_pid(pgid)?, signal)?)
}

/// Whether process `pid` runs: it exists and is not a zombie.
///
/// ```
/// assert!(yolk_test::process::alive(std::process::id()));
/// assert!(!yolk_test::process::alive(0));
/// ```
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|stat| stat.live())
}

/// The live processes whose parent is `ppid`.
///
/// ```
/// # use yolk_test::process::{ProcessGroup, children_of};
/// let process = ProcessGroup::spawn(std::process::Command::new("sleep").arg("60"))?;
/// assert!(children_of(std::process::id()).contains(&process.pid()));
/// # Ok::<(), yolk_test::process::SpawnError>(())
/// ```
pub fn children_of(ppid: u32) -> Vec<u32> {
    live_processes(|stat| stat.ppid == ppid)
}

/// The live processes in group `pgid`.
///
/// ```
/// # use yolk_test::process::{ProcessGroup, group_members};
/// let process = ProcessGroup::spawn(std::process::Command::new("sleep").arg("60"))?;
/// assert_eq!(group_members(process.pid()), [process.pid()]);
/// # Ok::<(), yolk_test::process::SpawnError>(())
/// ```
pub fn group_members(pgid: u32) -> Vec<u32> {
    live_processes(|stat| stat.pgrp == pgid)
}

/// Waits until process `pid` is gone (or a zombie); panics after `timeout`.
///
/// ```
/// # use std::time::Duration;
/// let process = yolk_test::process::ProcessGroup::spawn(&mut std::process::Command::new("true"))?;
/// yolk_test::process::wait_gone(process.pid(), Duration::from_secs(10));
/// # Ok::<(), yolk_test::process::SpawnError>(())
/// ```
///
/// # Panics
///
/// When the process still runs after `timeout`.
pub fn wait_gone(pid: u32, timeout: Duration) {
    assert!(
        poll_until(timeout, || (!alive(pid)).then_some(())).is_some(),
        "process {pid} still runs after {timeout:?}"
    );
}

/// Waits (up to 20 s) until no live process is left in group `pgid`; panics naming those left.
///
/// ```
/// # use std::time::Duration;
/// # use yolk_test::process::ProcessGroup;
/// let process = ProcessGroup::spawn(&mut std::process::Command::new("true"))?;
/// let group = process.pid();
/// drop(process);
/// yolk_test::process::assert_group_empty(group);
/// # Ok::<(), yolk_test::process::SpawnError>(())
/// ```
///
/// # Panics
///
/// When processes are still in the group after 20 s.
pub fn assert_group_empty(pgid: u32) {
    let left = wait_group_empty(pgid);
    assert!(
        left.is_empty(),
        "processes left behind in group {pgid}: {left:?}"
    );
}

/// Waits up to [`GROUP_TIMEOUT`] until group `pgid` is empty; those still in it.
pub(crate) fn wait_group_empty(pgid: u32) -> Vec<u32> {
    let mut left = Vec::new();
    // `left` is empty once the group is.
    let _ = poll_until(GROUP_TIMEOUT, || {
        left = group_members(pgid);
        left.is_empty().then_some(())
    });
    left
}

/// Calls `done` until it gives a value or `timeout` passed (`None`), every 20 ms: the wait
/// for a state no event announces (a file written, a log line, a request that passes).
///
/// ```
/// use std::time::{Duration, Instant};
/// use yolk_test::process::poll_until;
///
/// let start = Instant::now();
/// let waited = poll_until(Duration::from_secs(5), || {
///     (start.elapsed() > Duration::from_millis(50)).then(|| start.elapsed())
/// });
/// assert!(waited.unwrap() > Duration::from_millis(50));
/// assert_eq!(poll_until(Duration::from_millis(30), || None::<()>), None);
/// ```
pub fn poll_until<T>(timeout: Duration, mut done: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = done() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

fn to_pid(pid: u32) -> std::io::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("no process has pid {pid}"),
            )
        })
}

/// The fields of `/proc/PID/stat` that say whether a process runs and where it belongs.
struct Stat {
    state: char,
    ppid: u32,
    pgrp: u32,
}

impl Stat {
    /// Neither a zombie nor dead.
    fn live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so split after
    // the last `)`.
    let (_, rest) = text.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace();
    Some(Stat {
        state: fields.next()?.chars().next()?,
        ppid: fields.next()?.parse().ok()?,
        pgrp: fields.next()?.parse().ok()?,
    })
}

/// The live processes for which `matches` holds.
fn live_processes(matches: impl Fn(&Stat) -> bool) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|pid| stat(*pid).is_some_and(|stat| stat.live() && matches(&stat)))
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One output stream, read to its end by a thread of its own.
#[derive(Debug, Default)]
struct Capture {
    state: Mutex<CaptureState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct CaptureState {
    bytes: Vec<u8>,
    closed: bool,
}

impl Capture {
    fn start(mut pipe: impl Read + Send + 'static) -> Arc<Self> {
        let capture = Arc::new(Self::default());
        let sink = Arc::clone(&capture);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            loop {
                let read = pipe.read(&mut buffer);
                let mut state = lock(&sink.state);
                match read {
                    Ok(n) if n > 0 => state.bytes.extend_from_slice(&buffer[..n]),
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    _ => {
                        state.closed = true;
                        sink.changed.notify_all();
                        return;
                    }
                }
                sink.changed.notify_all();
            }
        });
        capture
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.state).bytes).into_owned()
    }

    fn wait_for<T>(
        &self,
        timeout: Duration,
        mut find: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, WaitError> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        loop {
            let text = String::from_utf8_lossy(&state.bytes);
            // Complete lines only, so that a line half written is never taken for all of it.
            let complete = if state.closed {
                &text[..]
            } else {
                text.rfind('\n').map_or("", |end| &text[..=end])
            };
            if let Some(found) = find(complete) {
                return Ok(found);
            }
            if state.closed {
                return Err(WaitError::Closed {
                    output: text.into_owned(),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WaitError::TimedOut {
                    timeout,
                    output: text.into_owned(),
                });
            }
            drop(text);
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits until the stream ended or `deadline` passed.
    fn wait_closed(&self, deadline: Instant) {
        let state = lock(&self.state);
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = self
            .changed
            .wait_timeout_while(state, left, |state| !state.closed);
    }
}
