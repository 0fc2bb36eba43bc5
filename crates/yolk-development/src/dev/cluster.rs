//! The app's master, run as a child: its output passed through, its ready and reload lines
//! watched, SIGHUP to roll the agent and the workers onto the binary on disk.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::DevError;

/// How long a start or a reload may take before it is reported as stuck.
const TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) struct Cluster {
    child: Child,
    pid: u32,
    lines: mpsc::UnboundedReceiver<String>,
    pub(crate) url: String,
}

impl Cluster {
    pub(crate) async fn start(
        exe: &Path,
        dir: &Path,
        port: u16,
        workers: usize,
    ) -> Result<Self, DevError> {
        let mut child = Command::new(exe)
            .args([
                "start",
                "--workers",
                &workers.to_string(),
                "--port",
                &port.to_string(),
            ])
            .current_dir(dir)
            .env("YOLK_ENV", "local")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| DevError::Spawn {
                what: exe.display().to_string(),
                source,
            })?;
        let pid = child.id().unwrap_or_default();
        let (tx, lines) = mpsc::unbounded_channel();
        forward(child.stdout.take().expect("piped"), tx.clone(), false);
        forward(child.stderr.take().expect("piped"), tx, true);
        let mut cluster = Self {
            child,
            pid,
            lines,
            url: String::new(),
        };
        let line = cluster
            .wait_for(&["yolk started on "], &["start-up failed"])
            .await?;
        cluster.url = line
            .split("yolk started on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_default()
            .to_owned();
        Ok(cluster)
    }

    /// Rolls the agent and the workers onto the binary on disk; returns how long it took.
    pub(crate) async fn reload(&mut self) -> Result<Duration, DevError> {
        while self.lines.try_recv().is_ok() {}
        let started = Instant::now();
        signal(self.pid, Signal::HUP);
        self.wait_for(&["reload complete"], &["reload aborted", "reload ignored"])
            .await?;
        Ok(started.elapsed())
    }

    /// Stops the cluster gracefully (drain, `before_close`), killing it after a minute.
    pub(crate) async fn stop(mut self) {
        signal(self.pid, Signal::TERM);
        if tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }

    async fn wait_for(&mut self, done: &[&str], failed: &[&str]) -> Result<String, DevError> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let line = tokio::select! {
                line = self.lines.recv() => line,
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(DevError::Cluster("no answer from the master within 2 minutes".into()));
                }
            };
            let Some(line) = line else {
                let status = self.child.wait().await.ok();
                return Err(DevError::Cluster(format!(
                    "the app exited ({})",
                    status.map_or_else(|| "unknown status".to_owned(), |s| s.to_string())
                )));
            };
            if done.iter().any(|d| line.contains(d)) {
                return Ok(line);
            }
            if failed.iter().any(|f| line.contains(f)) {
                return Err(DevError::Cluster(line));
            }
        }
    }
}

fn forward(
    stream: impl AsyncRead + Unpin + Send + 'static,
    tx: mpsc::UnboundedSender<String>,
    stderr: bool,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
            let _ = tx.send(line);
        }
    });
}

fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}
