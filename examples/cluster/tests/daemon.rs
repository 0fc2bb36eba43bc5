//! `start --daemon`: the launching process returns once the cluster is ready.
#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{run, run_with};
use rustix::process::{Pid, WaitOptions};
use yolk_test::process::{Signal, assert_group_empty, kill_group, poll_until};

/// Kills and reaps a daemon's process group on drop, pass or fail.
struct Daemon(u32);

impl Drop for Daemon {
    fn drop(&mut self) {
        // Nothing to do when the group is gone already.
        let _ = kill_group(self.0, Signal::KILL);
        reap(self.0);
    }
}

/// The daemon's master is re-parented to this process (a child subreaper), so it can be
/// reaped here instead of lingering as a zombie.
fn become_subreaper() {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).expect("prctl");
}

fn reap(pid: u32) {
    let Some(pid) = Pid::from_raw(pid as i32) else {
        return;
    };
    // Reaped, or not ours to reap: either way done.
    let _ = poll_until(Duration::from_secs(20), || {
        match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG) {
            Ok(None) => None,
            _ => Some(()),
        }
    });
}

fn master_pid(dir: &Path, title: &str) -> u32 {
    let file = dir.join("run").join(format!("{title}.pid"));
    std::fs::read_to_string(&file)
        .unwrap_or_else(|error| panic!("{}: {error}", file.display()))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_daemon_returns_once_ready_and_stops_through_its_pid_file() {
    become_subreaper();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "start",
        "--daemon",
        "--env",
        "local",
        "--workers",
        "2",
        "--port",
        "0",
        "--title",
        "bg",
    ];
    let (status, stdout, stderr) = run(dir.path(), &args);
    let pid = master_pid(dir.path(), "bg");
    let _daemon = Daemon(pid);
    assert!(status.success(), "{stdout}{stderr}");
    let line = stdout.lines().next().unwrap_or_default();
    let address = yolk_test::cluster::ready_address(line)
        .unwrap_or_else(|| panic!("no ready line: {stdout}"));
    assert!(line.contains("(2 workers)"), "{line}");
    let response = yolk_test::net::get(address, "/").unwrap();
    assert_eq!(response.status, 200);
    assert!(
        response.body.starts_with("hello from worker"),
        "{}",
        response.body
    );
    let log = std::fs::read_to_string(dir.path().join("logs/master-stdout.log")).unwrap();
    assert!(log.contains(line), "{log}");

    let (status, _, _) = run(dir.path(), &["status", "--title", "bg"]);
    assert!(status.success());
    let (status, stdout, stderr) = run(dir.path(), &["stop", "--title", "bg"]);
    assert!(status.success(), "{stdout}{stderr}");
    reap(pid);
    assert_group_empty(pid);
    let log = std::fs::read_to_string(dir.path().join("logs/master-stderr.log")).unwrap();
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn a_daemon_that_cannot_start_reports_why_and_leaves_nothing() {
    become_subreaper();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "start",
        "--daemon",
        "--env",
        "local",
        "--workers",
        "2",
        "--port",
        "0",
        "--title",
        "bad",
    ];
    let (status, stdout, stderr) =
        run_with(dir.path(), &args, &[("YOLK_DEMO__FAIL_ON_START", "true")]);
    let log = std::fs::read_to_string(dir.path().join("logs/master-stderr.log")).unwrap();
    // `[yolk master PID] ...`
    let pid: u32 = log
        .split("[yolk master ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no master line in the log: {log}"));
    let _daemon = Daemon(pid);
    assert!(!status.success(), "{stdout}");
    assert!(stderr.contains("the daemon did not start"), "{stderr}");
    assert!(stderr.contains("fail_on_start"), "{stderr}");
    assert!(stderr.contains("master-stderr.log"), "{stderr}");
    reap(pid);
    assert_group_empty(pid);
    assert!(!dir.path().join("run/bad.pid").exists());
}
