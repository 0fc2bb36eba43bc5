//! `ProcessGroup` on real `sh` and `sleep` processes: nothing outlives the guard, even when the
//! test panics; a stop that `SIGTERM` does not end ends with `SIGKILL`; waits see whole lines.

use std::process::Command;
use std::time::{Duration, Instant};

use yolk_test::process::{
    ProcessGroup, Signal, WaitError, alive, assert_group_empty, children_of, group_members, kill,
};

const TIMEOUT: Duration = Duration::from_secs(10);

fn sh(script: &str) -> ProcessGroup {
    ProcessGroup::spawn(Command::new("sh").args(["-c", script])).expect("sh starts")
}

/// The pids `sh` printed on its first line of stdout.
fn printed_pids(process: &ProcessGroup) -> Vec<u32> {
    process
        .wait_for_stdout(TIMEOUT, |lines| lines.lines().next().map(str::to_owned))
        .unwrap()
        .split_whitespace()
        .map(|pid| pid.parse().unwrap())
        .collect()
}

#[test]
fn a_panicking_test_leaves_nothing_behind() {
    let (sender, pids) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        // Two background processes that would outlive `sh` if only `sh` were killed.
        let process = sh("sleep 60 & a=$!; sleep 60 & echo $$ $a $!; wait");
        sender.send(printed_pids(&process)).unwrap();
        panic!("the test fails");
    })
    .join();
    assert!(outcome.is_err());
    let pids = pids.recv().unwrap();
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert_group_empty(pids[0]);
    for pid in pids {
        assert!(!alive(pid), "{pid} is alive");
    }
}

#[test]
fn members_and_children_come_from_proc() {
    let process = sh("sleep 60 >/dev/null 2>&1 & echo $$ $!; wait");
    let pids = printed_pids(&process);
    assert_eq!(pids[0], process.pid());
    let mut members = process.members();
    members.sort_unstable();
    let mut expected = pids.clone();
    expected.sort_unstable();
    assert_eq!(members, expected);
    assert_eq!(group_members(process.pid()), members);
    assert_eq!(children_of(process.pid()), [pids[1]]);
    assert!(children_of(std::process::id()).contains(&process.pid()));

    // Killing the child alone leaves its own child in the group.
    kill(process.pid(), Signal::KILL).unwrap();
    let status = process.wait_exit(Duration::from_millis(500));
    assert!(status.is_some_and(|status| !status.success()));
    assert_eq!(process.members(), [pids[1]]);
    assert!(kill(process.pid(), Signal::KILL).is_err(), "it was reaped");
}

#[test]
fn stop_ends_with_sigkill_when_sigterm_is_ignored() {
    let process = sh("trap '' TERM; echo up; while :; do sleep 1; done");
    process
        .wait_for_stdout(TIMEOUT, |lines| lines.contains("up").then_some(()))
        .unwrap();
    let started = Instant::now();
    assert_eq!(process.stop(Duration::from_millis(300)), None);
    assert!(started.elapsed() >= Duration::from_millis(300));
    process.assert_nothing_left();
}

#[test]
fn waits_see_only_whole_lines() {
    // The second line comes in two writes, 300 ms apart.
    let process = sh("echo first; printf 'sec'; sleep 0.3; echo ond; sleep 60");
    let started = Instant::now();
    let second = process
        .wait_for_stdout(TIMEOUT, |lines| lines.lines().nth(1).map(str::to_owned))
        .unwrap();
    assert_eq!(second, "second");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[test]
fn a_wait_ends_with_the_output_when_it_times_out_or_the_stream_ends() {
    let process = sh("echo 'not yet' >&2; sleep 60");
    let error = process
        .wait_for_stderr(Duration::from_millis(200), |lines| {
            lines.contains("ready").then_some(())
        })
        .unwrap_err();
    assert!(
        matches!(&error, WaitError::TimedOut { timeout, output }
            if *timeout == Duration::from_millis(200) && output == "not yet\n"),
        "{error:?}"
    );
    assert!(error.to_string().contains("not yet"), "{error}");

    let process = sh("echo bye >&2; exit 4");
    let error = process
        .wait_for_stderr(TIMEOUT, |lines| lines.contains("ready").then_some(()))
        .unwrap_err();
    assert!(
        matches!(&error, WaitError::Closed { output } if output == "bye\n"),
        "{error:?}"
    );
    let status = process.wait_exit(TIMEOUT).expect("sh exits");
    assert_eq!(status.code(), Some(4));
}

#[test]
fn wait_exit_waits_for_the_last_of_the_output() {
    // The output's last write comes after `sh` exits, from a process it started.
    let process = sh("(sleep 0.3; echo late >&2) & exit 0");
    let status = process.wait_exit(TIMEOUT).expect("sh exits");
    assert!(status.success());
    assert_eq!(process.stderr(), "late\n");
}
