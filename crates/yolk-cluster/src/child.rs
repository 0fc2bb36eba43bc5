//! The agent and the workers: processes the master started from the same binary.
//!
//! A child builds the app, reports `Ready` (or `Failed`) to the master, runs `server_did_ready`
//! on the master's `Go`, and stops gracefully on `Stop`, on SIGTERM, or when its channel to the
//! master closes — so children never outlive their master.

use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};
use yolk_core::AppBuilder;
use yolk_core::plugin::Role;

use crate::error::ClusterError;
use crate::fd;
use crate::frame::{Frame, read_frame, write_frame};
use crate::messenger::{IpcMessenger, OUTBOUND_CAPACITY};

/// The variable naming this process's role (`agent` or `worker`); set only on children.
pub(crate) const ROLE_VAR: &str = "__YOLK_ROLE";
/// The variable naming the fd of the child's channel to the master.
pub(crate) const IPC_FD_VAR: &str = "__YOLK_IPC_FD";
/// The variable naming the fd of the shared listening socket (workers only).
pub(crate) const LISTEN_FD_VAR: &str = "__YOLK_LISTEN_FD";
/// The variable carrying the environment (`local`, `prod`, …) to the children.
pub(crate) const ENV_VAR: &str = "__YOLK_ENV";
/// The variable carrying the base directory to the children.
pub(crate) const BASE_DIR_VAR: &str = "__YOLK_BASE_DIR";

/// How long a child waits for its last frames to reach the master before it exits.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// What the master tells the child's main task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Control {
    Running,
    Go,
    Stop,
}

/// Runs this process as `role`; returns its exit code.
pub(crate) async fn run(role: Role, build: &dyn Fn() -> AppBuilder) -> u8 {
    let channel = match connect() {
        Ok(channel) => channel,
        Err(error) => {
            eprintln!("error: {error}");
            return 1;
        }
    };
    let (mut reader, mut writer) = channel.into_split();
    let (outbound, mut queued) = mpsc::channel::<Frame>(OUTBOUND_CAPACITY);
    let flushed = tokio::spawn(async move {
        while let Some(frame) = queued.recv().await {
            let last = matches!(frame, Frame::Failed { .. });
            if write_frame(&mut writer, &frame).await.is_err() || last {
                break;
            }
        }
    });
    let pid = std::process::id();
    let messenger = IpcMessenger::new(pid, outbound.clone());

    // The master's first frame names the members, so sends during start-up are checked.
    match tokio::time::timeout(Duration::from_secs(30), read_frame(&mut reader)).await {
        Ok(Ok(Some(frame))) => {
            messenger.handle(frame);
        }
        _ => {
            eprintln!("error: the master did not greet this {role:?} process; exiting");
            return 1;
        }
    }
    let (control_tx, mut control) = watch::channel(Control::Running);
    {
        let messenger = messenger.clone();
        tokio::spawn(async move {
            loop {
                match read_frame(&mut reader).await {
                    Ok(Some(frame)) => match messenger.handle(frame) {
                        Some(Frame::Go) => {
                            control_tx.send_if_modified(|state| {
                                let was_running = *state == Control::Running;
                                if was_running {
                                    *state = Control::Go;
                                }
                                was_running
                            });
                        }
                        Some(Frame::Stop) => {
                            let _ = control_tx.send(Control::Stop);
                        }
                        Some(other) => {
                            tracing::warn!(pid, "unexpected frame from the master: {other:?}");
                        }
                        None => {}
                    },
                    Ok(None) | Err(_) => {
                        messenger.close("the master is gone");
                        let _ = control_tx.send(Control::Stop);
                        break;
                    }
                }
            }
        });
    }
    let terminated = watch_signals();

    let env = std::env::var(ENV_VAR).unwrap_or_else(|_| "local".to_owned());
    let mut builder = build()
        .role(role)
        .messenger(Arc::new(messenger.clone()))
        .env(env);
    if let Ok(dir) = std::env::var(BASE_DIR_VAR) {
        builder = builder.base_dir(PathBuf::from(dir));
    }
    let listener = if role == Role::Worker {
        match take_listener() {
            Ok(listener) => Some(listener),
            Err(error) => {
                return fail(&outbound, flushed, error.to_string()).await;
            }
        }
    } else {
        None
    };
    let app = match builder.build().await {
        Ok(app) => app,
        Err(error) => return fail(&outbound, flushed, error.to_string()).await,
    };
    let drain = Duration::from_millis(app.context().app_config().drain_timeout_ms);

    let (stop_serving, serving_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = listener.map(|listener| {
        let service = app.service();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = serving_stopped.await;
            };
            yolk_core::server::serve(service, listener, shutdown, drain).await
        })
    });
    if role == Role::Agent {
        keep_user_signal();
        app.start_agent().await;
    }
    let ready = Frame::Ready {
        drain_timeout_ms: u64::try_from(drain.as_millis()).unwrap_or(u64::MAX),
    };
    if outbound.send(ready).await.is_err() {
        return 1;
    }

    let mut did_ready = false;
    loop {
        let state = *control.borrow_and_update();
        match state {
            Control::Go if !did_ready => {
                did_ready = true;
                if let Err(error) = app.server_did_ready().await {
                    tracing::error!(pid, "{error}");
                }
            }
            Control::Stop => break,
            _ => {}
        }
        let mut terminated = terminated.clone();
        tokio::select! {
            changed = control.changed() => if changed.is_err() { break },
            Ok(_) = terminated.wait_for(|t| *t) => break,
        }
    }

    let _ = stop_serving.send(());
    let mut code = 0;
    if let Some(server) = server {
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(pid, "serving ended with an error: {error}");
                code = 1;
            }
            Err(_) => code = 1,
        }
    }
    app.close().await;
    code
}

/// Reports a start-up failure to the master (or to stderr when it cannot be reached).
async fn fail(
    outbound: &mpsc::Sender<Frame>,
    flushed: tokio::task::JoinHandle<()>,
    error: String,
) -> u8 {
    if outbound
        .send(Frame::Failed {
            error: error.clone(),
        })
        .await
        .is_err()
    {
        eprintln!("error: {error}");
        return 1;
    }
    // The writer ends once it has written `Failed`.
    let _ = tokio::time::timeout(FLUSH_TIMEOUT, flushed).await;
    1
}

fn connect() -> Result<UnixStream, ClusterError> {
    let fd = fd::take_from_env(IPC_FD_VAR)?;
    let stream = StdUnixStream::from(fd);
    stream.set_nonblocking(true).map_err(ClusterError::Ipc)?;
    UnixStream::from_std(stream).map_err(ClusterError::Ipc)
}

fn take_listener() -> Result<tokio::net::TcpListener, ClusterError> {
    let fd = fd::take_from_env(LISTEN_FD_VAR)?;
    let listener = std::net::TcpListener::from(fd);
    listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(listener))
        .map_err(|source| ClusterError::io("cannot use the listening socket", source))
}

/// SIGINT and SIGHUP are the master's business (a terminal sends them to the whole group), so
/// children ignore them; SIGTERM stops this child gracefully.
fn watch_signals() -> watch::Receiver<bool> {
    use tokio::signal::unix::{SignalKind, signal};
    let (terminated, receiver) = watch::channel(false);
    for kind in [SignalKind::interrupt(), SignalKind::hangup()] {
        if let Ok(mut ignored) = signal(kind) {
            tokio::spawn(async move { while ignored.recv().await.is_some() {} });
        }
    }
    if let Ok(mut terminate) = signal(SignalKind::terminate()) {
        tokio::spawn(async move {
            if terminate.recv().await.is_some() {
                let _ = terminated.send(true);
            }
            // Keep the receiver alive so a second SIGTERM does not kill mid-drain.
            while terminate.recv().await.is_some() {}
        });
    }
    receiver
}

/// The master forwards SIGUSR1 to the agent for its plugins (the logger rotates on it). Its
/// default action would end the process, so the agent always listens, whether or not a
/// plugin does too.
fn keep_user_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::user_defined1()) {
        Ok(mut user1) => {
            tokio::spawn(async move { while user1.recv().await.is_some() {} });
        }
        Err(error) => eprintln!("warning: cannot listen for SIGUSR1 in the agent: {error}"),
    }
}
