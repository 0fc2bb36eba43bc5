//! Drives the real `cluster-demo` binary through `yolk_test::cluster`: each cluster in its own
//! temp dir and process group, on a free port, killed and reaped on drop whatever the test's
//! outcome; and what the tests ask of the demo's routes.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use yolk_test::cluster::ClusterError;
use yolk_test::process::{ProcessGroup, Signal};

pub const BIN: &str = env!("CARGO_BIN_EXE_cluster-demo");

pub const EXIT_TIMEOUT: Duration = Duration::from_secs(45);
/// How long a test waits for the cluster to reach a state.
pub const LONG: Duration = Duration::from_secs(30);

/// The demo's agent ticks every 100 ms, so the tests see ticks soon.
const TICK: (&str, &str) = ("YOLK_DEMO__TICK_MS", "100");

/// Runs a short command (`status`, `stop`, `reload`) to completion.
pub fn run(dir: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    run_with(dir, args, &[])
}

/// As [`run`], with extra environment.
pub fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let process = ProcessGroup::spawn(
        yolk_test::cluster::command(BIN, dir)
            .args(args)
            .env(TICK.0, TICK.1)
            .envs(env.iter().copied()),
    )
    .expect("cluster-demo starts");
    let status = process.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|| {
        panic!(
            "`{}` did not finish; stderr: {}",
            args.join(" "),
            process.stderr()
        )
    });
    (status, process.stdout(), process.stderr())
}

/// A running master.
pub struct Cluster(yolk_test::cluster::Cluster);

impl Cluster {
    /// Starts `cluster-demo start --port 0 --env local` plus `args`, and waits for the ready line.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(args, &[]).unwrap_or_else(|error| panic!("{error}"))
    }

    /// As [`Cluster::start`], with extra environment.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Result<Self, ClusterError> {
        yolk_test::cluster::Cluster::builder(BIN)
            .args(["--env", "local"])
            .args(args)
            .env(TICK.0, TICK.1)
            .envs(env.iter().copied())
            .start()
            .map(Self)
    }

    pub fn pid(&self) -> u32 {
        self.0.process().pid()
    }

    pub fn address(&self) -> &str {
        self.0.address()
    }

    pub fn ready_line(&self) -> &str {
        self.0.ready_line()
    }

    pub fn base_dir(&self) -> PathBuf {
        self.0.dir().to_owned()
    }

    pub fn stderr(&self) -> String {
        self.0.process().stderr()
    }

    /// Waits until stderr contains `needle`.
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) {
        self.0
            .process()
            .wait_for_stderr(timeout, |lines| lines.contains(needle).then_some(()))
            .unwrap_or_else(|error| panic!("stderr never showed `{needle}`: {error}"));
    }

    pub fn signal(&self, signal: Signal) {
        self.0
            .process()
            .signal(signal)
            .unwrap_or_else(|error| panic!("signal {signal:?} to the master: {error}"));
    }

    /// Waits for the master to exit, then (bounded) for the last of its output.
    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        self.0.process().wait_exit(timeout)
    }

    /// `GET path`, a fresh connection each time.
    pub fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        self.0
            .get(path)
            .map(|response| (response.status, response.body))
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
        let address = self.address().to_owned();
        let slow = std::thread::spawn(move || {
            yolk_test::net::get(&address, &format!("/slow?ms={ms}&mark=inflight"))
                .map(|response| (response.status, response.body))
        });
        let deadline = Instant::now() + LONG;
        while !mark.exists() {
            assert!(Instant::now() < deadline, "the slow request never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        slow
    }

    /// Asserts that no process of this cluster's group is left (zombies aside).
    pub fn assert_nothing_left(&self) {
        self.0.process().assert_nothing_left();
    }
}

pub fn json_pid(body: &str) -> u32 {
    let value: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid in {body}")) as u32
}

/// Requests `/` in a loop on fresh connections until told to stop; counts outcomes.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    pub fn start(address: &str, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                let address = address.to_owned();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match yolk_test::net::get(&address, "/") {
                            Ok(response) if response.status == 200 => {
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
