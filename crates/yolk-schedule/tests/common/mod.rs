//! Real clusters of the `schedule-demo` binary and a real `redis-server`, each in a temp dir
//! and a process group of its own, killed and reaped on drop whatever the test's outcome.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

#[cfg(feature = "demo")]
pub const BIN: &str = env!("CARGO_BIN_EXE_schedule-demo");
/// Generous: the machine may be loaded.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `schedule-demo` master with 2 workers.
#[cfg(feature = "demo")]
pub struct Cluster {
    pub dir: tempfile::TempDir,
    master: Child,
    pub pid: u32,
    stderr: Arc<Mutex<String>>,
    /// When the ready line came, in ms since the Unix epoch.
    pub ready_at_ms: i64,
}

#[cfg(feature = "demo")]
impl Cluster {
    /// `schedule-demo start --port 0 --workers 2 --title TITLE` with `env`, in a temp dir of
    /// its own; waits for the ready line.
    pub fn start(title: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut master = Command::new(BIN)
            .args(["start", "--port", "0", "--env", "local", "--workers", "2"])
            .args(["--title", title])
            .current_dir(dir.path())
            .env_remove("YOLK_ENV")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("schedule-demo starts");
        let pid = master.id();
        let (sender, lines) = channel();
        let stdout = master.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut pipe = master.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let mut cluster = Self {
            dir,
            master,
            pid,
            stderr,
            ready_at_ms: 0,
        };
        match lines.recv_timeout(READY_TIMEOUT) {
            Ok(line) if line.starts_with("yolk started on http://") => {
                cluster.ready_at_ms = chrono::Utc::now().timestamp_millis();
                cluster
            }
            other => panic!("no ready line ({other:?}); stderr:\n{}", cluster.stderr()),
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn base_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// The schedule log, empty when not written yet.
    pub fn schedule_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/yolk-schedule.log")).unwrap_or_default()
    }

    /// SIGTERM, then waits (bounded) for the master; SIGKILL to the group if it hangs.
    pub fn stop(&mut self) {
        if let Some(pid) = Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process(pid, Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.master.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_group(self.pid);
    }
}

#[cfg(feature = "demo")]
impl Drop for Cluster {
    fn drop(&mut self) {
        kill_group(self.pid);
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}

pub fn kill_group(pgid: u32) {
    if let Some(pgid) = Pid::from_raw(pgid as i32) {
        let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
    }
}

/// One line a demo job wrote: `KIND PID TICK MILLIS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub kind: String,
    pub pid: u32,
    pub tick: u64,
    pub at_ms: i64,
}

/// The runs in `path`, in order.
pub fn runs(path: &Path) -> Vec<Run> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some(Run {
                kind: fields.next()?.to_owned(),
                pid: fields.next()?.parse().ok()?,
                tick: fields.next()?.parse().ok()?,
                at_ms: fields.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// The runs of `kind` grouped by tick.
pub fn by_tick(runs: &[Run], kind: &str) -> BTreeMap<u64, Vec<Run>> {
    let mut ticks: BTreeMap<u64, Vec<Run>> = BTreeMap::new();
    for run in runs.iter().filter(|run| run.kind == kind) {
        ticks.entry(run.tick).or_default().push(run.clone());
    }
    ticks
}

/// Polls `check` over the runs in `path` until it passes.
pub fn wait_for_runs(path: &Path, timeout: Duration, what: &str, check: impl Fn(&[Run]) -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        let runs = runs(path);
        if check(&runs) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; runs: {runs:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `redis-server` on 127.0.0.1, killed and reaped when dropped.
pub struct RedisServer {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one on a free port, or `None` when `redis-server` is not installed (outside CI).
    pub fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not installed; .ci/run installs it"
            );
            eprintln!("redis-server not installed: skipping the Redis tests");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            port,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The live child processes of `parent`, from `/proc`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return children;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces, so split after the `)`.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 1 && fields[0] != "Z" && fields[1] == parent.to_string() {
            children.push(pid);
        }
    }
    children
}

pub fn kill(pid: u32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}
