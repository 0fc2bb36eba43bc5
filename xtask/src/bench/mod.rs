//! `cargo xtask bench`: requests/s of the same route on several servers, one load generator,
//! alternating rounds.
//!
//! The servers and the load generator are binaries of `crates/yolk-bench`, built in release
//! mode. Every server of a suite is started once on `127.0.0.1:0` (the port is read from its
//! `listening on 127.0.0.1:PORT` line); then, round after round, `load` is run against each
//! server in turn (in reverse every other round), so drift of the machine (heat, other work)
//! spreads evenly over all of them.
//! Servers run pinned to the last CPU and the load generator to the others (`taskset`; see
//! [`pinning`]), so a server's requests/s reflects its cost per request rather than how the
//! kernel shares two cores among three busy threads; `--no-pin` turns this off.
//! The table gives each server's median, min and max requests/s, its p99 latency and its ratio
//! to the suite's baseline: the median of the rounds' ratios, each against the baseline's
//! figure of the same round. The closing `bench: ...` line sums up the ratios.
//!
//! To add a server, add one [`ServerSpec`] line to its suite in [`SUITES`]; to add a benchmark,
//! add a [`Suite`] (for example a cluster suite whose servers take `--workers N`).
//!
//! A server may be loaded as a returning client rather than a new one: its spec lists headers
//! that `load` sends with every request ([`ServerSpec::with_load_headers`], passed as
//! `load --header "name: value"`). The `security` suite sends a `csrfToken` cookie that way, so
//! the security layer checks an existing secret instead of minting one per request; any value
//! works, since the secret is the client's. A server of the cookieless worst case simply lists
//! none.

mod instructions;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A server binary of `yolk-bench` taking part in a suite.
#[derive(Debug)]
struct ServerSpec {
    /// Name shown in the table.
    name: &'static str,
    /// Binary in `crates/yolk-bench/src/bin/`.
    bin: &'static str,
    /// Extra arguments, before the `--port 0 --exit-on-stdin-eof` every server gets.
    args: &'static [&'static str],
    /// Headers (`name: value`) the load generator sends with every request to this server.
    load_headers: &'static [&'static str],
}

impl ServerSpec {
    const fn new(name: &'static str, bin: &'static str) -> Self {
        Self {
            name,
            bin,
            args: &[],
            load_headers: &[],
        }
    }

    /// The same binary with extra arguments (for suites that vary a server's setup).
    const fn with_args(self, args: &'static [&'static str]) -> Self {
        Self { args, ..self }
    }

    /// Loads this server with these headers (`name: value`) on every request, for example a
    /// cookie a returning client carries.
    const fn with_load_headers(self, load_headers: &'static [&'static str]) -> Self {
        Self {
            load_headers,
            ..self
        }
    }
}

/// The cookie of a returning client of the security stack: it already has its CSRF secret.
const CSRF_CLIENT: &[&str] = &["cookie: csrfToken=bench-client-secret-0123456"];

/// One comparison: a path requested on every server, against one baseline.
#[derive(Debug)]
struct Suite {
    name: &'static str,
    about: &'static str,
    /// Path requested, starting with `/`.
    path: &'static str,
    /// Name of the server the others are compared to; must be one of `servers`.
    baseline: &'static str,
    servers: &'static [ServerSpec],
}

impl Suite {
    /// The index of the baseline among `servers` (`suites_are_consistent` checks there is one).
    fn baseline_index(&self) -> Result<usize, String> {
        self.servers
            .iter()
            .position(|spec| spec.name == self.baseline)
            .ok_or_else(|| {
                format!(
                    "baseline `{}` is not a server of `{}`",
                    self.baseline, self.name
                )
            })
    }
}

/// Whether `tool --version` runs and succeeds.
fn has_tool(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Every suite, run in this order.
const SUITES: &[Suite] = &[
    Suite {
        name: "hello",
        about: "GET / -> \"Hello, yolk\": bare axum vs yolk",
        path: "/",
        baseline: "bare_axum",
        servers: &[
            ServerSpec::new("bare_axum", "bare_axum"),
            ServerSpec::new("yolk_core", "yolk_core"),
        ],
    },
    Suite {
        name: CLUSTER_SUITE,
        about: "GET / -> \"Hello, yolk\": a 2-worker cluster vs one process (--single)",
        path: "/",
        baseline: "single",
        servers: &[
            ServerSpec::new("single", "yolk_cluster").with_args(&[
                "--single",
                "--title",
                "bench-single",
            ]),
            ServerSpec::new("cluster_2", "yolk_cluster").with_args(&[
                "--workers",
                "2",
                "--title",
                "bench-cluster",
            ]),
        ],
    },
    Suite {
        name: "onerror",
        about: "GET / -> \"Hello, yolk\": yolk with the onerror plugin (prod) vs yolk and bare axum",
        path: "/",
        baseline: "bare_axum",
        servers: &[
            ServerSpec::new("bare_axum", "bare_axum"),
            ServerSpec::new("yolk_core", "yolk_core"),
            ServerSpec::new("yolk_onerror", "yolk_onerror"),
        ],
    },
    Suite {
        name: "session",
        about: "GET / with a small encrypted cookie session: none vs untouched vs read vs write",
        path: "/",
        baseline: "no_session",
        servers: &[
            ServerSpec::new("no_session", "session").with_args(&["--mode", "none"]),
            ServerSpec::new("untouched", "session").with_args(&["--mode", "untouched"]),
            ServerSpec::new("session_read", "session").with_args(&["--mode", "read"]),
            ServerSpec::new("session_write", "session").with_args(&["--mode", "write"]),
        ],
    },
    Suite {
        name: "security",
        about: "GET / -> \"Hello, yolk\" with a csrfToken cookie: yolk without vs with yolk-security's \
                defaults (and plain axum both ways); new_client: no cookie, a new secret each request",
        path: "/",
        baseline: "yolk_core",
        servers: &[
            ServerSpec::new("yolk_core", "yolk_core").with_load_headers(CSRF_CLIENT),
            ServerSpec::new("yolk_security", "yolk_security").with_load_headers(CSRF_CLIENT),
            ServerSpec::new("new_client", "yolk_security"),
            ServerSpec::new("bare_axum", "bare_axum").with_load_headers(CSRF_CLIENT),
            ServerSpec::new("axum_security", "security").with_load_headers(CSRF_CLIENT),
        ],
    },
    Suite {
        name: "logger",
        about: "GET / on a yolk app with the logger plugin (one line per request to a file) vs the \
                same app without it; the file server also prints lines/s written by one thread",
        path: "/",
        baseline: "log_off",
        servers: &[
            ServerSpec::new("log_off", "logger").with_args(&["--mode", "off"]),
            ServerSpec::new("log_file", "logger").with_args(&["--mode", "file"]),
        ],
    },
    Suite {
        name: UPLOAD_SUITE,
        about: "GET / -> \"Hello, yolk\" behind MultipartLayer vs bare axum; then a 1 GiB upload \
                streamed to disk: yolk-multipart vs bare multer (MB/s, server peak RSS)",
        path: "/",
        baseline: "bare_axum",
        servers: &[
            ServerSpec::new("bare_axum", "bare_axum"),
            ServerSpec::new("multipart_layer", "multipart"),
        ],
    },
    Suite {
        name: "schedule",
        about: "GET / -> \"Hello, yolk\": one binary without the schedule plugin, with 20 idle jobs, with jobs ticking every 10 and 25 ms",
        path: "/",
        baseline: "schedule_none",
        servers: &[
            ServerSpec::new("schedule_none", "schedule").with_args(&["--mode", "none"]),
            ServerSpec::new("schedule_idle", "schedule").with_args(&["--mode", "idle"]),
            ServerSpec::new("schedule_busy", "schedule").with_args(&["--mode", "busy"]),
            ServerSpec::new("yolk_core", "yolk_core"),
        ],
    },
];

/// The suite that compares a cluster with one process.
const CLUSTER_SUITE: &str = "cluster";

/// The suite after which the upload measurement runs, and its binary and arguments.
const UPLOAD_SUITE: &str = "multipart";
const UPLOAD_BIN: &str = "multipart";
const UPLOAD_ARGS: &[&str] = &["--upload-bench", "--mib", "1024", "--rounds", "3"];
/// How long the upload measurement may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// The rolling-reload measurement, run after the suites.
const RELOAD_SUITE: &str = "reload";
const RELOAD_ABOUT: &str = "time from start to the ready line of a 2-worker cluster, then failed requests during 3 \
     rolling reloads (SIGHUP) under load";
/// How many reloads, and the time between them.
const RELOADS: u32 = 3;
const RELOAD_EVERY: Duration = Duration::from_millis(1500);
/// The cluster the reload measurement starts.
const RELOAD_SERVER: ServerSpec = ServerSpec::new("cluster_2", "yolk_cluster").with_args(&[
    "--workers",
    "2",
    "--title",
    "bench-reload",
]);

/// The load generator binary in `yolk-bench`.
const LOAD_BIN: &str = "load";
/// How long a server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long past its own duration a load run may take before it is killed.
const LOAD_SLACK: Duration = Duration::from_secs(15);

const HELP: &str = "\
Usage: cargo xtask bench [options]

Builds crates/yolk-bench in release mode, starts every server of a suite on 127.0.0.1,
then alternates rounds of the `load` generator against each and prints requests/s.

Options:
  --suite NAME        run only this suite (default: all; see --list)
  --duration-ms D     measured time of each load run (default 3000)
  --warmup-ms W       unmeasured warm-up before each load run (default 500)
  --rounds R          rounds; each round loads every server once (default 5)
  --connections C     keep-alive connections of the load generator (default 32)
  --load-threads T    load generator threads (default 1)
  --instructions      count each server's user-space instructions per request under
                      valgrind's callgrind instead of timing it: exact and repeatable
                      (needs valgrind; skips the cluster, upload and reload measurements)
  --no-pin            do not pin the servers to the last CPU and the load generator to the
                      others (pinning needs `taskset` and 2+ CPUs; without it, server and
                      load fight over the same cores and rounds spread far more)
  --list              list the suites and their servers
  -h, --help          this message";

#[derive(Debug, Clone)]
struct Options {
    suite: Option<String>,
    duration_ms: u64,
    warmup_ms: u64,
    rounds: usize,
    connections: usize,
    load_threads: usize,
    /// CPU lists for `taskset -c`: the servers', then the load generator's; `None` unpinned.
    pinning: Option<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            suite: None,
            duration_ms: 3000,
            warmup_ms: 500,
            rounds: 5,
            connections: 32,
            load_threads: 1,
            pinning: None,
        }
    }
}

/// Runs `bench` with the arguments after the task name.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut options = Options::default();
    let mut pin = true;
    let mut count_instructions = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--suite" => options.suite = Some(crate::flag_value(arg, &mut iter)?.to_owned()),
            "--duration-ms" => options.duration_ms = crate::flag_number(arg, &mut iter)?,
            "--warmup-ms" => options.warmup_ms = crate::flag_number(arg, &mut iter)?,
            "--rounds" => options.rounds = crate::flag_number(arg, &mut iter)?,
            "--connections" => options.connections = crate::flag_number(arg, &mut iter)?,
            "--load-threads" => options.load_threads = crate::flag_number(arg, &mut iter)?,
            "--no-pin" => pin = false,
            "--instructions" => count_instructions = true,
            "--list" => {
                list_suites();
                return Ok(());
            }
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(());
            }
            other => return Err(format!("unknown option `{other}` for bench\n\n{HELP}")),
        }
    }
    if options.rounds == 0 || options.duration_ms == 0 || options.connections == 0 {
        return Err("`--rounds`, `--duration-ms` and `--connections` must be > 0".to_owned());
    }
    if pin {
        options.pinning = pinning();
    }
    match &options.pinning {
        Some((server, load)) => {
            println!("bench: servers pinned to CPU {server}, the load generator to CPU {load}");
        }
        None => println!("bench: not pinned: servers and the load generator share every CPU"),
    }
    let reload_only = options.suite.as_deref() == Some(RELOAD_SUITE);
    let suites: Vec<&Suite> = match &options.suite {
        Some(_) if reload_only => Vec::new(),
        Some(name) => vec![
            SUITES
                .iter()
                .find(|suite| suite.name == name)
                .ok_or_else(|| format!("no suite `{name}` (see `cargo xtask bench --list`)"))?,
        ],
        None => SUITES.iter().collect(),
    };

    let bin_dir = build()?;
    if count_instructions {
        // Under callgrind, a cluster's workers (re-executed by the master) are not counted.
        let suites: Vec<&Suite> = suites
            .into_iter()
            .filter(|suite| suite.name != CLUSTER_SUITE)
            .collect();
        let summaries = instructions::run(&suites, &bin_dir, &options)?;
        println!("bench: {}", summaries.join("; "));
        return Ok(());
    }
    let mut summaries = Vec::new();
    for suite in suites {
        summaries.push(run_suite(suite, &bin_dir, &options)?);
        if suite.name == UPLOAD_SUITE {
            summaries.push(upload_to_disk(&bin_dir)?);
        }
    }
    if options.suite.is_none() || reload_only {
        summaries.push(reload_under_load(&bin_dir, &options)?);
    }
    println!("bench: {}", summaries.join("; "));
    Ok(())
}

fn list_suites() {
    println!("{RELOAD_SUITE}: {RELOAD_ABOUT}");
    for suite in SUITES {
        println!("{}: {} (path {})", suite.name, suite.about, suite.path);
        for server in suite.servers {
            let baseline = if server.name == suite.baseline {
                " (baseline)"
            } else {
                ""
            };
            let headers: String = server
                .load_headers
                .iter()
                .map(|header| format!(" [load --header \"{header}\"]"))
                .collect();
            println!(
                "  {} = {} {}{headers}{baseline}",
                server.name,
                server.bin,
                server.args.join(" ")
            );
        }
    }
}

/// Builds `yolk-bench` in release mode; returns the directory holding its binaries.
fn build() -> Result<PathBuf, String> {
    println!("==> bench: cargo build --release -p yolk-bench --locked");
    let status = crate::cargo(["build", "--release", "-p", "yolk-bench", "--locked"])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !status.success() {
        return Err(format!("building yolk-bench failed ({status})"));
    }
    Ok(crate::target_dir()?.join("release"))
}

/// The CPU lists that keep the servers and the load generator apart: the last CPU for the
/// servers, the others for the load. `None` with fewer than 2 CPUs or without `taskset`.
///
/// Apart, each server's requests/s measures its own cost per request; together, the kernel's
/// scheduling of three busy threads on two cores moves the figures more than the code does.
fn pinning() -> Option<(String, String)> {
    let cpus = thread::available_parallelism().map_or(1, usize::from);
    if cpus < 2 || !has_tool("taskset") {
        return None;
    }
    let load = if cpus == 2 {
        "0".to_owned()
    } else {
        format!("0-{}", cpus - 2)
    };
    Some(((cpus - 1).to_string(), load))
}

/// The CPUs the servers are pinned to, if any.
fn server_cpus(options: &Options) -> Option<&str> {
    options.pinning.as_ref().map(|(server, _)| server.as_str())
}

/// How a server process is started.
#[derive(Debug, Clone, Copy)]
enum Launch<'a> {
    /// Directly, or under `taskset -c CPUS`.
    Pinned(Option<&'a str>),
    /// Under valgrind's callgrind, instrumentation off until switched on, its dumps written to
    /// this path with `.PID` appended.
    Callgrind(&'a Path),
}

impl Launch<'_> {
    fn command(self, program: &Path) -> Command {
        match self {
            Self::Pinned(cpus) => pinned(program, cpus),
            Self::Callgrind(out) => {
                let mut command = Command::new("valgrind");
                command
                    .args(["-q", "--tool=callgrind", "--instr-atstart=no"])
                    .arg(format!("--callgrind-out-file={}.%p", out.display()))
                    .arg(program);
                command
            }
        }
    }

    /// How long the server may take to listen: valgrind starts a program slowly.
    fn start_timeout(self) -> Duration {
        match self {
            Self::Pinned(_) => START_TIMEOUT,
            Self::Callgrind(_) => START_TIMEOUT * 4,
        }
    }
}

/// `program` as a command, run under `taskset -c cpus` when `cpus` is given (taskset execs
/// the program, so the pid stays the program's).
fn pinned(program: &Path, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.args(["-c", cpus]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// A child process that is killed and reaped when dropped, whatever happened before.
#[derive(Debug)]
struct ChildGuard {
    name: String,
    child: Child,
}

impl ChildGuard {
    fn spawn(name: &str, cmd: &mut Command) -> Result<Self, String> {
        let child = cmd
            .spawn()
            .map_err(|err| format!("cannot start {name} ({:?}): {err}", cmd.get_program()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    /// Fails if the process has already exited.
    fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{} exited early ({status})", self.name)),
            Err(err) => Err(format!("cannot check on {}: {err}", self.name)),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Closing stdin alone ends a server started with --exit-on-stdin-eof; kill to be sure.
        drop(self.child.stdin.take());
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A server of a suite, up and listening.
#[derive(Debug)]
struct RunningServer {
    spec: &'static ServerSpec,
    port: u16,
    process: ChildGuard,
}

/// Starts a server on port 0 and waits for its `listening on 127.0.0.1:PORT` line.
fn start_server(
    spec: &'static ServerSpec,
    bin_dir: &Path,
    launch: Launch<'_>,
) -> Result<RunningServer, String> {
    let program = bin_dir.join(spec.bin);
    let mut process = ChildGuard::spawn(
        spec.name,
        launch
            .command(&program)
            .args(spec.args)
            .args(["--port", "0", "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )?;
    let stdout = process.child.stdout.take().expect("stdout is piped");
    let (port_tx, port_rx) = mpsc::channel();
    let name = spec.name;
    // Reads the port, then keeps draining stdout so the server never blocks on a full pipe.
    thread::spawn(move || {
        let mut port_tx = Some(port_tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            match parse_listening_line(&line) {
                Some(port) if port_tx.is_some() => {
                    let _ = port_tx.take().expect("checked").send(port);
                }
                _ => eprintln!("[{name}] {line}"),
            }
        }
    });
    let timeout = launch.start_timeout();
    match port_rx.recv_timeout(timeout) {
        Ok(port) => Ok(RunningServer {
            spec,
            port,
            process,
        }),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "{} printed no `listening on 127.0.0.1:PORT` line within {} s",
            spec.name,
            timeout.as_secs()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let status = process.child.wait().map_err(|err| err.to_string());
            Err(format!(
                "{} exited before listening ({status:?})",
                spec.name
            ))
        }
    }
}

/// One load run's figures, as printed by the `load` binary.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    requests: f64,
    errors: f64,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    /// Every response of the run, warm-up included.
    answered: f64,
    /// The server's CPU time (all its processes and threads) per answered request, in µs;
    /// `None` where `/proc` cannot tell.
    cpu_us: Option<f64>,
}

impl Sample {
    fn parse(line: &str) -> Option<Self> {
        Some(Self {
            requests: json_number(line, "requests")?,
            errors: json_number(line, "errors")?,
            rps: json_number(line, "rps")?,
            p50_us: json_number(line, "p50_us")?,
            p99_us: json_number(line, "p99_us")?,
            answered: json_number(line, "answered")?,
            cpu_us: None,
        })
    }
}

/// CPU time, in ns, that process `pid`, its threads and its descendants have run so far
/// (`/proc/PID/task/TID/schedstat`); `None` without `/proc`.
fn tree_cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let dir = task.path();
        if let Ok(schedstat) = std::fs::read_to_string(dir.join("schedstat")) {
            total += schedstat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
        // A child may have been started by any thread, so every thread's list is read.
        for child in std::fs::read_to_string(dir.join("children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|child| child.parse().ok())
        {
            total += tree_cpu_ns(child).unwrap_or(0);
        }
    }
    Some(total)
}

/// Runs the load generator once against a server, bounded in time.
fn run_load(
    bin_dir: &Path,
    server: &mut RunningServer,
    path: &str,
    options: &Options,
) -> Result<Sample, String> {
    server.process.check_alive()?;
    let url = format!("http://127.0.0.1:{}{path}", server.port);
    let server_pid = server.process.child.id();
    let cpu_before = tree_cpu_ns(server_pid);
    let cpus = options.pinning.as_ref().map(|(_, load)| load.as_str());
    let mut load = ChildGuard::spawn(
        LOAD_BIN,
        pinned(&bin_dir.join(LOAD_BIN), cpus)
            .args(["--url", &url])
            .args(["--connections", &options.connections.to_string()])
            .args(["--duration-ms", &options.duration_ms.to_string()])
            .args(["--warmup-ms", &options.warmup_ms.to_string()])
            .args(["--threads", &options.load_threads.to_string()])
            .args(
                server
                    .spec
                    .load_headers
                    .iter()
                    .flat_map(|header| ["--header", header]),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )?;
    let deadline = Instant::now()
        + Duration::from_millis(options.duration_ms + options.warmup_ms)
        + LOAD_SLACK;
    let status = loop {
        match load.child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => return Err(format!("load against {} did not finish", server.spec.name)),
            Err(err) => return Err(format!("cannot wait for load: {err}")),
        }
    };
    let mut output = String::new();
    if let Some(mut stdout) = load.child.stdout.take() {
        stdout
            .read_to_string(&mut output)
            .map_err(|err| format!("cannot read load's output: {err}"))?;
    }
    if !status.success() {
        return Err(format!(
            "load against {} failed ({status})",
            server.spec.name
        ));
    }
    let cpu_after = tree_cpu_ns(server_pid);
    let mut sample = output
        .lines()
        .rev()
        .find_map(Sample::parse)
        .ok_or_else(|| format!("load printed no result line: {output:?}"))?;
    if let (Some(before), Some(after)) = (cpu_before, cpu_after)
        && sample.answered > 0.0
    {
        sample.cpu_us = Some(after.saturating_sub(before) as f64 / 1e3 / sample.answered);
    }
    if sample.requests == 0.0 {
        return Err(format!(
            "no successful request to {} ({} errors)",
            server.spec.name, sample.errors
        ));
    }
    Ok(sample)
}

/// Runs one suite; returns its part of the closing `bench:` line.
fn run_suite(suite: &'static Suite, bin_dir: &Path, options: &Options) -> Result<String, String> {
    println!(
        "\n==> bench suite `{}`: {} — {} round(s) of {} ms (+{} ms warm-up), {} connection(s)",
        suite.name,
        suite.about,
        options.rounds,
        options.duration_ms,
        options.warmup_ms,
        options.connections
    );
    // Dropping `servers` (also on `?`) kills and reaps every server.
    let mut servers = Vec::new();
    for spec in suite.servers {
        let server = start_server(spec, bin_dir, Launch::Pinned(server_cpus(options)))?;
        println!("    {} listening on 127.0.0.1:{}", spec.name, server.port);
        servers.push(server);
    }

    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); servers.len()];
    for round in 1..=options.rounds {
        // Every other round runs the servers in reverse, so that no server always goes first
        // (after the generator's idle pause) or last.
        let mut order: Vec<usize> = (0..servers.len()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for index in order {
            let server = &mut servers[index];
            let runs = &mut samples[index];
            let sample = run_load(bin_dir, server, suite.path, options)?;
            println!(
                "    round {round}/{}  {:<14} {:>10.0} req/s  p50 {:>6} us  p99 {:>6} us  errors {}  server cpu {} us/req",
                options.rounds,
                server.spec.name,
                sample.rps,
                sample.p50_us,
                sample.p99_us,
                sample.errors,
                sample
                    .cpu_us
                    .map_or("?".to_owned(), |cpu| format!("{cpu:.2}"))
            );
            runs.push(sample);
        }
    }
    drop(servers);

    let baseline_runs = &samples[suite.baseline_index()?];
    let rows: Vec<Row> = suite
        .servers
        .iter()
        .zip(&samples)
        .map(|(spec, runs)| Row::new(spec.name, runs, baseline_runs))
        .collect();
    print_table(suite, &rows);
    Ok(summary(suite, &rows))
}

/// Starts a 2-worker cluster (timing it to its ready line), then runs one load while the
/// master gets `RELOADS` SIGHUPs, and counts the failed requests and the replaced workers.
fn reload_under_load(bin_dir: &Path, options: &Options) -> Result<String, String> {
    println!("\n==> bench `{RELOAD_SUITE}`: {RELOAD_ABOUT}");
    let started = Instant::now();
    let mut server = start_server(
        &RELOAD_SERVER,
        bin_dir,
        Launch::Pinned(server_cpus(options)),
    )?;
    let ready_ms = started.elapsed().as_millis();
    let master = server.process.child.id();
    let workers_before = children(master);
    let load_options = Options {
        duration_ms: u64::try_from((RELOAD_EVERY * (RELOADS + 1)).as_millis()).unwrap_or(u64::MAX),
        warmup_ms: 0,
        ..options.clone()
    };
    let signaller = thread::spawn(move || {
        for _ in 0..RELOADS {
            thread::sleep(RELOAD_EVERY);
            let _ = Command::new("kill")
                .args(["-HUP", &master.to_string()])
                .status();
        }
    });
    let sample = run_load(bin_dir, &mut server, "/", &load_options);
    let _ = signaller.join();
    let sample = sample?;
    let workers_after = children(master);
    let replaced = workers_before
        .iter()
        .filter(|pid| !workers_after.contains(pid))
        .count();
    println!(
        "    start to ready line: {ready_ms} ms\n    {RELOADS} reloads under load: {:.0} requests, {:.0} failed, {:.0} req/s; {replaced} of {} original children replaced",
        sample.requests,
        sample.errors,
        sample.rps,
        workers_before.len()
    );
    Ok(format!(
        "{RELOAD_SUITE}: ready in {ready_ms} ms, {:.0} failed of {:.0} requests over {RELOADS} reloads",
        sample.errors,
        sample.requests + sample.errors
    ))
}

/// Runs `multipart --upload-bench`: a 1 GiB upload streamed to disk by yolk-multipart and by
/// bare multer, each server in its own process; returns its part of the closing line.
fn upload_to_disk(bin_dir: &Path) -> Result<String, String> {
    println!(
        "\n==> bench `{UPLOAD_SUITE}` upload: {}",
        UPLOAD_ARGS.join(" ")
    );
    let mut bench = ChildGuard::spawn(
        UPLOAD_BIN,
        Command::new(bin_dir.join(UPLOAD_BIN))
            .args(UPLOAD_ARGS)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )?;
    let stdout = bench.child.stdout.take().ok_or("no stdout")?;
    let (line_tx, line_rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            let _ = line_tx.send(line);
        }
    });
    let deadline = Instant::now() + UPLOAD_TIMEOUT;
    let status = loop {
        match bench.child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Ok(None) => return Err("the upload measurement did not finish".to_owned()),
            Err(err) => return Err(format!("cannot wait for the upload measurement: {err}")),
        }
    };
    if !status.success() {
        return Err(format!("the upload measurement failed ({status})"));
    }
    thread::sleep(Duration::from_millis(100));
    let last = line_rx
        .try_iter()
        .filter(|line| line.starts_with('{'))
        .last()
        .ok_or("the upload measurement printed no result line")?;
    let figure = |key: &str| json_number(&last, key).unwrap_or(f64::NAN);
    Ok(format!(
        "upload: 1 GiB to disk, yolk-multipart {:.0} MB/s = {:.3}x bare multer ({:.0} MB/s), \
         server peak RSS growth {:.1} MiB (multer {:.1} MiB)",
        figure("yolk_mbps"),
        figure("ratio"),
        figure("multer_mbps"),
        figure("yolk_rss_growth_mib"),
        figure("multer_rss_growth_mib")
    ))
}

/// The pids of `pid`'s children (Linux `/proc`); empty elsewhere.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|child| child.parse().ok())
        .collect()
}

/// One server's figures over all rounds.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    name: &'static str,
    median_rps: f64,
    min_rps: f64,
    max_rps: f64,
    /// Median over the rounds of each round's p99.
    p99_us: f64,
    errors: f64,
    /// Median server CPU µs per request, when every round measured it.
    cpu_us: Option<f64>,
    /// Median over the rounds of this server's requests/s over the baseline's in the same
    /// round: pairing each round's figures cancels the drift of a shared machine between
    /// rounds, which a ratio of the two medians keeps.
    ratio: f64,
    /// Requests per second of server CPU, relative to the baseline's, paired by round as
    /// `ratio` is: how many of this server's requests one core serves for each of the
    /// baseline's. Unlike `ratio`, it holds when the load generator, not the server, sets the
    /// pace. `None` unless every round measured both servers' CPU.
    capacity: Option<f64>,
}

impl Row {
    fn new(name: &'static str, runs: &[Sample], baseline: &[Sample]) -> Self {
        let rps: Vec<f64> = runs.iter().map(|s| s.rps).collect();
        let p99: Vec<f64> = runs.iter().map(|s| s.p99_us).collect();
        let cpu: Option<Vec<f64>> = runs.iter().map(|s| s.cpu_us).collect();
        let ratios: Vec<f64> = runs
            .iter()
            .zip(baseline)
            .map(|(run, base)| run.rps / base.rps)
            .collect();
        let capacities: Option<Vec<f64>> = runs
            .iter()
            .zip(baseline)
            .map(|(run, base)| Some(base.cpu_us? / run.cpu_us?))
            .collect();
        Self {
            name,
            median_rps: median(&rps),
            min_rps: rps.iter().copied().fold(f64::INFINITY, f64::min),
            max_rps: rps.iter().copied().fold(0.0, f64::max),
            p99_us: median(&p99),
            errors: runs.iter().map(|s| s.errors).sum(),
            cpu_us: cpu.map(|cpu| median(&cpu)),
            ratio: median(&ratios),
            capacity: capacities.map(|capacities| median(&capacities)),
        }
    }
}

fn print_table(suite: &Suite, rows: &[Row]) {
    let ratio_header = format!("vs {}", suite.baseline);
    println!("\nbench `{}` ({})", suite.name, suite.about);
    let header = format!(
        "{:<14} {:>12} {:>12} {:>12} {:>10} {:>8} {:>14} {:>12} {:>12}",
        "server",
        "median rps",
        "min rps",
        "max rps",
        "p99 us",
        "errors",
        ratio_header,
        "cpu us/req",
        "capacity vs"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for row in rows {
        println!(
            "{:<14} {:>12.0} {:>12.0} {:>12.0} {:>10.0} {:>8} {:>14.3} {:>12} {:>12}",
            row.name,
            row.median_rps,
            row.min_rps,
            row.max_rps,
            row.p99_us,
            row.errors,
            row.ratio,
            row.cpu_us.map_or("?".to_owned(), |cpu| format!("{cpu:.2}")),
            row.capacity
                .map_or("?".to_owned(), |capacity| format!("{capacity:.3}"))
        );
    }
    println!(
        "(capacity: requests per second of server CPU, against {}; the server's cost per \
         request, whatever the load generator's pace)\n",
        suite.baseline
    );
}

/// `hello: bare_axum 51234 rps (baseline), yolk_core 50001 rps = 0.976x bare_axum (capacity
/// 0.951x)`.
fn summary(suite: &Suite, rows: &[Row]) -> String {
    let parts: Vec<String> = rows
        .iter()
        .map(|row| {
            if row.name == suite.baseline {
                format!("{} {:.0} rps (baseline)", row.name, row.median_rps)
            } else {
                let capacity = row.capacity.map_or(String::new(), |capacity| {
                    format!(" (capacity {capacity:.3}x)")
                });
                format!(
                    "{} {:.0} rps = {:.3}x {}{capacity}",
                    row.name, row.median_rps, row.ratio, suite.baseline
                )
            }
        })
        .collect();
    format!("{}: {}", suite.name, parts.join(", "))
}

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// The port in a server's `listening on 127.0.0.1:PORT` line (see `yolk_bench::listen`), or in
/// the cluster's ready line `yolk started on http://127.0.0.1:PORT …`.
fn parse_listening_line(line: &str) -> Option<u16> {
    let line = line.trim();
    let rest = match line.strip_prefix("listening on 127.0.0.1:") {
        Some(rest) => rest,
        None => line.split_once("started on http://127.0.0.1:")?.1,
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

/// The number after `"key":` in a flat JSON object (enough for `load`'s one line).
fn json_number(json: &str, key: &str) -> Option<f64> {
    let pattern = format!("\"{key}\":");
    let start = json.find(&pattern)? + pattern.len();
    let rest = json[start..].trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_are_consistent() {
        for (i, suite) in SUITES.iter().enumerate() {
            assert!(
                SUITES[i + 1..].iter().all(|other| other.name != suite.name),
                "duplicate suite {}",
                suite.name
            );
            assert!(
                suite.path.starts_with('/'),
                "{}: path needs a /",
                suite.name
            );
            if let Err(error) = suite.baseline_index() {
                panic!("{error}");
            }
            for (j, server) in suite.servers.iter().enumerate() {
                for header in server.load_headers {
                    let (name, value) = header.split_once(':').expect("`name: value`");
                    assert!(
                        !name.trim().is_empty() && !value.trim().is_empty(),
                        "{}: bad load header `{header}`",
                        server.name
                    );
                }
                assert!(
                    suite.servers[j + 1..].iter().all(|s| s.name != server.name),
                    "{}: duplicate server {}",
                    suite.name,
                    server.name
                );
            }
        }
    }

    #[test]
    fn every_server_binary_exists() {
        let bins = crate::project_root().join("crates/yolk-bench/src/bin");
        for suite in SUITES {
            for server in suite.servers {
                let source = bins.join(format!("{}.rs", server.bin));
                assert!(
                    source.is_file(),
                    "{} has no {}",
                    server.name,
                    source.display()
                );
            }
        }
        assert!(bins.join(format!("{LOAD_BIN}.rs")).is_file());
    }

    #[test]
    fn parses_load_output() {
        let line = r#"{"requests":1500,"errors":2,"seconds":1.000,"rps":1500.0,"p50_us":210,"p99_us":980,"answered":1800}"#;
        assert_eq!(
            Sample::parse(line),
            Some(Sample {
                requests: 1500.0,
                errors: 2.0,
                rps: 1500.0,
                p50_us: 210.0,
                p99_us: 980.0,
                answered: 1800.0,
                cpu_us: None,
            })
        );
        assert_eq!(Sample::parse("load: refusing http://example.com"), None);
    }

    #[test]
    fn tree_cpu_counts_threads_and_children() {
        let me = std::process::id();
        let before = tree_cpu_ns(me).expect("/proc is readable");
        // A busy child of a busy thread: both must count.
        let child = thread::spawn(|| {
            let mut child = Command::new("sh")
                .args([
                    "-c",
                    "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; sleep 2",
                ])
                .spawn()
                .expect("sh starts");
            thread::sleep(Duration::from_millis(1500));
            let during = tree_cpu_ns(std::process::id()).expect("/proc is readable");
            let _ = child.kill();
            let _ = child.wait();
            during
        });
        let during = child.join().expect("no panic");
        assert!(
            during - before >= 10_000_000,
            "the busy child's CPU time is counted: {} ns",
            during - before
        );
    }

    #[test]
    fn listening_line_and_median() {
        assert_eq!(
            parse_listening_line("listening on 127.0.0.1:4000"),
            Some(4000)
        );
        assert_eq!(parse_listening_line("listening on [::1]:4000"), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn ratios_in_summary() {
        let sample = |rps, cpu_us| Sample {
            requests: rps,
            errors: 0.0,
            rps,
            p50_us: 1.0,
            p99_us: 2.0,
            answered: rps,
            cpu_us,
        };
        let baseline = [
            sample(100.0, Some(9.0)),
            sample(300.0, Some(8.0)),
            sample(200.0, Some(10.0)),
        ];
        let rows = vec![
            Row::new("bare_axum", &baseline, &baseline),
            Row::new(
                "other",
                &[
                    sample(150.0, Some(10.0)),
                    sample(150.0, Some(10.0)),
                    sample(150.0, Some(10.0)),
                ],
                &baseline,
            ),
            Row::new(
                "unmeasured",
                &[sample(150.0, Some(1.0)), sample(100.0, None)],
                &baseline,
            ),
        ];
        assert_eq!(rows[0].median_rps, 200.0);
        assert_eq!((rows[0].min_rps, rows[0].max_rps), (100.0, 300.0));
        assert_eq!(rows[0].cpu_us, Some(9.0));
        assert_eq!((rows[0].ratio, rows[0].capacity), (1.0, Some(1.0)));
        // Paired by round: 150/100, 150/300, 150/200 -> median 0.75 (the ratio of the
        // medians would also be 0.75 here); capacity 9/10, 8/10, 10/10 -> 0.9.
        assert_eq!((rows[1].ratio, rows[1].capacity), (0.75, Some(0.9)));
        assert_eq!(rows[2].cpu_us, None);
        assert_eq!(rows[2].capacity, None);
        assert_eq!(
            summary(&SUITES[0], &rows),
            "hello: bare_axum 200 rps (baseline), other 150 rps = 0.750x bare_axum (capacity \
             0.900x), unmeasured 125 rps = 0.917x bare_axum"
        );
    }
}
