//! Drives the real `cluster-demo` binary: each cluster in its own temp dir and process group,
//! on a free port, killed and reaped on drop whatever the test's outcome.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

pub const BIN: &str = env!("CARGO_BIN_EXE_cluster-demo");

/// Generous: the machine may be loaded.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(45);
/// How long a test waits for the cluster to reach a state.
pub const LONG: Duration = Duration::from_secs(30);

/// A `cluster-demo` command run in `dir`, in a process group of its own.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .env("YOLK_DEMO__TICK_MS", "100")
        .env_remove("YOLK_ENV")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .stdin(Stdio::null());
    command
}

/// Runs a short command (`status`, `stop`, `reload`) to completion.
pub fn run(dir: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    run_with(dir, args, &[])
}

/// As [`run`], with extra environment.
pub fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let mut child = command(dir, args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("cluster-demo starts");
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = wait_timeout(&mut child, EXIT_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("`{}` did not finish; stderr: {stderr}", args.join(" "))
    });
    (status, stdout, stderr)
}

pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running master, its stdout lines and its stderr.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    master: Child,
    pub pid: u32,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_closed: Arc<std::sync::atomic::AtomicBool>,
    pub address: String,
    pub ready_line: String,
}

impl Cluster {
    /// Starts `cluster-demo start --port 0 --env local` plus `args`, and waits for the ready line.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(args, &[])
            .unwrap_or_else(|(_, stderr, _)| panic!("no ready line; stderr:\n{stderr}"))
    }

    /// As [`Cluster::start`], with extra environment; `Err((status, stderr))` when the master
    /// exited without a ready line.
    pub fn start_with(
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, (Option<ExitStatus>, String, Vec<u32>)> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut all = vec!["start", "--port", "0", "--env", "local"];
        all.extend_from_slice(args);
        let mut command = command(dir.path(), &all);
        command.envs(env.iter().copied());
        let mut master = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("cluster-demo starts");
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
        let stderr_closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let closed = Arc::clone(&stderr_closed);
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
            closed.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut cluster = Self {
            dir,
            master,
            pid,
            lines,
            stderr,
            stderr_closed,
            address: String::new(),
            ready_line: String::new(),
        };
        match cluster.lines.recv_timeout(READY_TIMEOUT) {
            Ok(line) => {
                let address = line
                    .strip_prefix("yolk started on http://")
                    .and_then(|rest| rest.split_whitespace().next())
                    .unwrap_or_else(|| panic!("unexpected first line: {line}"))
                    .to_owned();
                cluster.address = address;
                cluster.ready_line = line;
                Ok(cluster)
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = cluster.wait_exit(EXIT_TIMEOUT);
                let deadline = Instant::now() + Duration::from_secs(20);
                let mut left = group_members(cluster.pid);
                while !left.is_empty() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                    left = group_members(cluster.pid);
                }
                Err((status, cluster.stderr(), left))
            }
            Err(RecvTimeoutError::Timeout) => Err((None, cluster.stderr(), Vec::new())),
        }
    }

    pub fn base_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle`.
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "stderr never showed `{needle}`:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, signal: Signal) {
        kill(self.pid, signal);
    }

    /// Waits for the master to exit, then (bounded) for the last of its stderr.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = wait_timeout(&mut self.master, timeout)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.stderr_closed.load(std::sync::atomic::Ordering::SeqCst)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(status)
    }

    /// `GET path`, a fresh connection each time.
    pub fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        get(&self.address, path)
    }

    /// `GET path`, which must answer 200; its body.
    pub fn get_ok(&self, path: &str) -> String {
        match self.get(path) {
            Ok((200, body)) => body,
            other => panic!("GET {path}: {other:?}\nstderr:\n{}", self.stderr()),
        }
    }

    /// Polls `GET path` until `check` accepts a 200 body.
    pub fn poll(&self, path: &str, timeout: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.get(path);
            if let Ok((200, body)) = &last
                && check(body)
            {
                return body.clone();
            }
            assert!(
                Instant::now() < deadline,
                "GET {path} never passed; last: {last:?}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The workers' pids, as the master's random choice names them.
    pub fn worker_pids(&self, expected: usize) -> Vec<u32> {
        let mut pids = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while pids.len() < expected {
            assert!(Instant::now() < deadline, "saw only workers {pids:?}");
            let body = self.get_ok("/messenger/random");
            let pid = json_pid(&body);
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
        pids.sort_unstable();
        pids
    }

    /// Waits until `done` holds, checking every 50 ms; fails naming `what`, with the stderr.
    pub fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + LONG;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {LONG:?}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts `GET /slow?ms=…` on a thread and returns once a worker is handling it.
    pub fn slow_request(&self, ms: u64) -> std::thread::JoinHandle<std::io::Result<(u16, String)>> {
        let mark = self.base_dir().join("run").join("inflight");
        let _ = std::fs::remove_file(&mark);
        let address = self.address.clone();
        let slow =
            std::thread::spawn(move || get(&address, &format!("/slow?ms={ms}&mark=inflight")));
        let deadline = Instant::now() + LONG;
        while !mark.exists() {
            assert!(Instant::now() < deadline, "the slow request never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        slow
    }

    /// Asserts that no process of this cluster's group is left (zombies aside).
    pub fn assert_nothing_left(&self) {
        assert_group_empty(self.pid);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        kill_group(self.pid);
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}

pub fn json_pid(body: &str) -> u32 {
    let value: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid in {body}")) as u32
}

/// `GET path` on `address` over HTTP/1.1 with `Connection: close`.
pub fn get(address: &str, path: &str) -> std::io::Result<(u16, String)> {
    get_with(address, path, "").map(|(status, _head, body)| (status, body))
}

/// `GET path` on `address` with `headers` (whole `Name: value\r\n` lines) added; the status,
/// the response head and the body.
pub fn get_with(
    address: &str,
    path: &str,
    headers: &str,
) -> std::io::Result<(u16, String, String)> {
    let socket = address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{headers}\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("incomplete response: {response:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    Ok((status, head.to_owned(), body.to_owned()))
}

pub fn kill(pid: u32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

pub fn kill_group(pgid: u32) {
    if let Some(pgid) = Pid::from_raw(pgid as i32) {
        let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
    }
}

/// The live (not zombie) processes whose process group is `pgid`, from `/proc`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return members;
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
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces, so split after the `)`.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string() {
            members.push(pid);
        }
    }
    members
}

/// Waits (bounded) until no live process is left in group `pgid`.
pub fn assert_group_empty(pgid: u32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = group_members(pgid);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left behind in group {pgid}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether process `pid` is alive (not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Waits (bounded) until `pid` is gone.
pub fn wait_gone(pid: u32, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still alive");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Requests `/` in a loop on fresh connections until told to stop; counts outcomes.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<std::sync::Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    pub fn start(address: &str, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                let address = address.to_owned();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match get(&address, "/") {
                            Ok((200, _)) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            other => failed.lock().unwrap().push(format!("{other:?}")),
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            ok,
            failed,
            threads,
        }
    }

    pub fn ok(&self) -> usize {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stops the clients; the failures.
    pub fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in std::mem::take(&mut self.threads) {
            thread.join().unwrap();
        }
        let failed = self.failed.lock().unwrap().clone();
        (self.ok.load(Ordering::Relaxed), failed)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
