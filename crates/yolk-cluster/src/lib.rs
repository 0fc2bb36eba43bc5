#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod backoff;
mod child;
pub mod cli;
mod error;
mod fd;
pub mod frame;
mod master;
pub mod messenger;
mod pidfile;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use yolk_core::AppBuilder;
use yolk_core::plugin::Role;

pub use cli::Cli;
pub use error::ClusterError;
pub use messenger::IpcMessenger;

/// The variable naming the fd on which a daemon's master reports `ok` or `error` to the
/// process that launched it.
const READY_FD_VAR: &str = "__YOLK_READY_FD";

/// Runs the app's command line: `start` (the default), `stop`, `status`, `reload`.
///
/// Call it from a plain `fn main` (it makes its own runtime). `build` is called in each
/// process that runs the app — the agent, every worker, or the one process of `--single` —
/// which then sets the role, the messenger, the environment and the base directory.
///
/// ```no_run
/// use axum::routing::get;
/// use yolk_core::App;
///
/// fn main() -> std::process::ExitCode {
///     yolk_cluster::run(|| App::builder().name("hello").route("/", get(|| async { "hi" })))
/// }
/// ```
pub fn run<F>(build: F) -> ExitCode
where
    F: Fn() -> AppBuilder,
{
    run_from(std::env::args_os(), build)
}

/// [`run`] with the command line given, not read from the process: for programs that take
/// arguments of their own and pass the rest on.
///
/// ```no_run
/// use yolk_core::App;
///
/// fn main() -> std::process::ExitCode {
///     let args = std::env::args().filter(|arg| arg != "--verbose");
///     yolk_cluster::run_from(args, || App::builder().name("hello"))
/// }
/// ```
pub fn run_from<I, T, F>(args: I, build: F) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
    F: Fn() -> AppBuilder,
{
    let role = match std::env::var(child::ROLE_VAR).as_deref() {
        Ok("agent") => Some(Role::Agent),
        Ok("worker") => Some(Role::Worker),
        _ => None,
    };
    let outcome = match role {
        Some(role) => {
            let code = runtime(true).block_on(child::run(role, &build));
            return ExitCode::from(code);
        }
        None => run_cli(Cli::parse_from(args), &build),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command line; [`run`] without the parsing and the exit code.
///
/// # Errors
///
/// Any [`ClusterError`]: the app or a child failed to start, the port is taken, the master
/// named by `--title` is not running, …
pub fn run_cli(mut cli: Cli, build: &dyn Fn() -> AppBuilder) -> Result<(), ClusterError> {
    if let Some(dir) = build().configured_base_dir() {
        cli.default_base_dir(dir);
    }
    match cli.command {
        Some(cli::Command::Stop(args)) => stop(&args),
        Some(cli::Command::Status(args)) => status(&args),
        Some(cli::Command::Reload(args)) => reload(&args),
        Some(cli::Command::RotateLogs(args)) => rotate_logs(&args),
        Some(cli::Command::Start(args)) => start(&args, build),
        None => start(&cli.start, build),
    }
}

fn start(args: &cli::StartArgs, build: &dyn Fn() -> AppBuilder) -> Result<(), ClusterError> {
    let ready_fd = match std::env::var_os(READY_FD_VAR) {
        Some(_) => Some(fd::take_from_env(READY_FD_VAR)?),
        None => None,
    };
    if args.daemon && ready_fd.is_none() {
        return launch_daemon(args);
    }
    let base_dir = args.title.base_dir()?;
    let pid_file = args.title.pid_file()?;
    let mut boot = master::Steps::begin();
    let listener = listener(&args.host, args.port)?;
    boot.record("bind_socket", boot.began());
    if args.single {
        return runtime(true).block_on(single(args, build, listener, base_dir, pid_file));
    }
    let options = master::Options {
        workers: args.worker_count(),
        host: args.host.clone(),
        port: args.port,
        env: args.env(),
        base_dir,
        pid_file,
        ready_fd,
    };
    runtime(false).block_on(master::run(options, listener, boot))
}

/// The socket systemd passed, else a new one bound to `host:port`.
fn listener(host: &str, port: u16) -> Result<TcpListener, ClusterError> {
    if let Some(fd) = fd::take_systemd_listener() {
        return Ok(TcpListener::from(fd));
    }
    TcpListener::bind((host, port)).map_err(|source| ClusterError::Bind {
        address: format!("{host}:{port}"),
        source,
    })
}

async fn single(
    args: &cli::StartArgs,
    build: &dyn Fn() -> AppBuilder,
    listener: TcpListener,
    base_dir: PathBuf,
    pid_file: PathBuf,
) -> Result<(), ClusterError> {
    let started = Instant::now();
    let _pid_file = pidfile::PidFile::create(&pid_file)?;
    let address = listener.local_addr().map_or_else(
        |_| format!("{}:{}", args.host, args.port),
        |a| a.to_string(),
    );
    listener
        .set_nonblocking(true)
        .map_err(|source| ClusterError::io("cannot use the listening socket", source))?;
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|source| ClusterError::io("cannot use the listening socket", source))?;
    let app = build()
        .role(Role::Single)
        .env(args.env())
        .base_dir(base_dir)
        .build()
        .await?;
    app.start_agent().await;
    // SIGHUP would end the process: a single process has no workers to roll.
    if let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                eprintln!("reload ignored: `--single` runs no workers to replace; restart instead");
            }
        });
    }
    println!(
        "yolk started on http://{address} (single process) in {} ms",
        started.elapsed().as_millis()
    );
    app.serve(listener, yolk_core::server::shutdown_signal())
        .await
        .map_err(ClusterError::from)
}

/// Starts the master in the background and waits for its `ok` or `error`.
fn launch_daemon(args: &cli::StartArgs) -> Result<(), ClusterError> {
    let base_dir = args.title.base_dir()?;
    let title = args.title.title()?;
    let logs = base_dir.join("logs");
    let stdout = args
        .stdout
        .clone()
        .unwrap_or_else(|| logs.join("master-stdout.log"));
    let stderr = args
        .stderr
        .clone()
        .unwrap_or_else(|| logs.join("master-stderr.log"));
    let exe = std::env::current_exe()
        .map_err(|source| ClusterError::io("cannot find this program's path", source))?;
    let (mut ready, ready_writer) =
        std::io::pipe().map_err(|source| ClusterError::io("cannot create a pipe", source))?;
    fd::set_inheritable(&ready_writer, true)
        .map_err(|source| ClusterError::io("cannot pass a pipe to the daemon", source))?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("start")
        .args(["--workers", &args.worker_count().to_string()])
        .args(["--port", &args.port.to_string()])
        .args(["--host", &args.host])
        .args(["--env", &args.env()])
        .args(["--title", &title])
        .arg("--base-dir")
        .arg(&base_dir)
        .env(
            READY_FD_VAR,
            std::os::fd::AsRawFd::as_raw_fd(&ready_writer).to_string(),
        )
        .stdin(std::process::Stdio::null())
        .stdout(append(&stdout)?)
        .stderr(append(&stderr)?);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let spawned = command.spawn();
    drop(ready_writer);
    spawned.map_err(|source| ClusterError::io("cannot start the daemon", source))?;
    let mut outcome = String::new();
    let _ = ready.read_to_string(&mut outcome);
    match outcome.trim_end().split_once('\t') {
        Some(("ok", line)) => {
            println!("{line}");
            Ok(())
        }
        Some((_, error)) => Err(ClusterError::Daemon {
            reason: error.to_owned(),
            stderr,
        }),
        None => Err(ClusterError::Daemon {
            reason: "it exited before it was ready".to_owned(),
            stderr,
        }),
    }
}

fn append(path: &Path) -> Result<std::fs::File, ClusterError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| {
            ClusterError::io(format!("cannot create {}", parent.display()), source)
        })?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| ClusterError::io(format!("cannot open {}", path.display()), source))
}

fn running(args: &cli::TitleArgs) -> Result<(String, u32), ClusterError> {
    let title = args.title()?;
    let pid_file = args.pid_file()?;
    match pidfile::read_live(&pid_file)? {
        Some(pid) => Ok((title, pid)),
        None => Err(ClusterError::NotRunning { title, pid_file }),
    }
}

fn status(args: &cli::TitleArgs) -> Result<(), ClusterError> {
    let (title, pid) = running(args)?;
    println!("`{title}` is running (master pid {pid})");
    Ok(())
}

fn reload(args: &cli::TitleArgs) -> Result<(), ClusterError> {
    let (title, pid) = running(args)?;
    pidfile::signal(pid, rustix::process::Signal::HUP)?;
    println!("reloading `{title}` (master pid {pid})");
    Ok(())
}

fn rotate_logs(args: &cli::TitleArgs) -> Result<(), ClusterError> {
    let (title, pid) = running(args)?;
    pidfile::signal(pid, rustix::process::Signal::USR1)?;
    println!("rotating the logs of `{title}` (master pid {pid})");
    Ok(())
}

fn stop(args: &cli::StopArgs) -> Result<(), ClusterError> {
    let (title, pid) = running(&args.title)?;
    let pid_file = args.title.pid_file()?;
    pidfile::signal(pid, rustix::process::Signal::TERM)?;
    let deadline = Instant::now() + args.timeout();
    // The master removes its pid file as its last act; a master that died leaves no process.
    while pidfile::is_alive(pid) && pidfile::read(&pid_file)? == Some(pid) {
        if Instant::now() >= deadline {
            return Err(ClusterError::StopTimeout {
                pid,
                timeout: args.timeout(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("stopped `{title}` (master pid {pid})");
    Ok(())
}

fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}
