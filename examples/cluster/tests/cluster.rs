//! End-to-end tests of the cluster: the real `cluster-demo` binary, real processes and sockets.

mod common;

use std::time::{Duration, Instant};

use common::{Cluster, EXIT_TIMEOUT, LONG, Load, json_pid, run};
use yolk_test::cluster::ClusterError;
use yolk_test::process::{Signal, alive, kill, wait_gone};

#[test]
fn starts_agent_then_workers_prints_the_ready_line_then_runs_server_did_ready() {
    let cluster = Cluster::start(&["--workers", "2"]);
    let line = cluster.ready_line();
    assert!(
        line.starts_with("yolk started on http://127.0.0.1:"),
        "{line}"
    );
    assert!(line.contains(" (2 workers) in "), "{line}");
    assert!(line.ends_with(" ms"), "{line}");

    assert!(cluster.get_ok("/").starts_with("hello from worker "));
    cluster.poll("/hooks", LONG, |body| {
        body.contains("server_did_ready: true")
    });
    // The agent's ticks reach the workers.
    cluster.poll("/agent", LONG, |body| body.starts_with("tick "));

    let run_dir = cluster.base_dir().join("run");
    let names: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("agent_timing_"))
            .count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("application_timing_"))
            .count(),
        2,
        "{names:?}"
    );
    assert!(names.contains(&"cluster-demo.pid".to_owned()), "{names:?}");

    cluster.signal(Signal::TERM);
    let status = cluster.wait_exit(EXIT_TIMEOUT).expect("the master exits");
    assert!(status.success(), "{status:?}\n{}", cluster.stderr());
    cluster.assert_nothing_left();
    assert!(!run_dir.join("cluster-demo.pid").exists());
}

#[test]
fn every_messenger_route_between_agent_and_workers() {
    let cluster = Cluster::start(&["--workers", "2"]);
    let agent = cluster.get_ok("/messenger/agent");
    assert!(agent.contains(r#""role":"agent""#), "{agent}");
    let agent_pid = json_pid(&agent);

    let workers = cluster.worker_pids(2);
    assert!(!workers.contains(&agent_pid));
    for &pid in &workers {
        let reply = cluster.get_ok(&format!("/messenger/to/{pid}"));
        assert_eq!(json_pid(&reply), pid);
        assert!(reply.contains(r#""role":"worker""#), "{reply}");
    }
    let reply = cluster.get_ok(&format!("/messenger/to/{agent_pid}"));
    assert_eq!(json_pid(&reply), agent_pid);

    // An unknown pid is an error the sender sees, at once.
    let started = Instant::now();
    let (status, body) = cluster.get("/messenger/to/2147483000").unwrap();
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("process 2147483000"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));

    assert_eq!(cluster.get_ok("/messenger/broadcast/b1"), "sent\n");
    assert_eq!(cluster.get_ok("/messenger/app/a1"), "sent\n");
    assert_eq!(cluster.get_ok("/messenger/via-agent/f1"), "sent\n");
    assert_eq!(cluster.get_ok("/messenger/random-note/r1"), "sent\n");

    let has = |body: &str, tag: &str| body.contains(&format!("\"{tag}\""));
    for &pid in &workers {
        // broadcast, send_to_app, and the agent's send_to_app all reach every worker.
        cluster.poll(&format!("/messenger/notes-of/{pid}"), LONG, |notes| {
            has(notes, "b1") && has(notes, "a1") && has(notes, "f1")
        });
    }
    // send_random reaches exactly one worker.
    let deadline = Instant::now() + LONG;
    loop {
        let with_r1 = workers
            .iter()
            .filter(|pid| has(&cluster.get_ok(&format!("/messenger/notes-of/{pid}")), "r1"))
            .count();
        if with_r1 == 1 {
            break;
        }
        assert!(
            with_r1 == 0 && Instant::now() < deadline,
            "r1 in {with_r1} workers"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // broadcast reaches the agent; messages for the workers do not.
    let notes = cluster.poll("/messenger/agent-notes", LONG, |notes| has(notes, "b1"));
    assert!(
        !has(&notes, "a1") && !has(&notes, "f1") && !has(&notes, "r1"),
        "{notes}"
    );

    // A 1 MiB message arrives intact, both ways.
    assert_eq!(cluster.get_ok("/messenger/big"), "ok 1048576\n");
    // Order is kept between two processes.
    let order = cluster.get_ok("/messenger/order/500");
    assert!(
        order.contains(r#""count":500"#) && order.contains(r#""in_order":true"#),
        "{order}"
    );

    cluster.signal(Signal::TERM);
    assert!(cluster.wait_exit(EXIT_TIMEOUT).expect("exits").success());
    cluster.assert_nothing_left();
}

#[test]
fn a_killed_or_crashed_worker_is_replaced_while_serving_continues() {
    let cluster = Cluster::start(&["--workers", "2"]);
    let old = cluster.worker_pids(2);
    let load = Load::start(cluster.address(), 2);
    kill(old[0], Signal::KILL).unwrap();
    cluster.wait_for_stderr(
        &format!("worker {} exited (killed by signal 9)", old[0]),
        LONG,
    );
    let served_after_kill = load.ok();
    // A replacement joins; the other worker kept serving meanwhile.
    cluster.wait_until("no replacement worker", || {
        !old.contains(&json_pid(&cluster.get_ok("/messenger/random")))
    });
    cluster.wait_until("serving stalled", || load.ok() >= served_after_kill + 20);
    let (ok, failed) = load.finish();
    assert!(ok > 0);
    // Only a request that the killed worker had already accepted can fail.
    assert!(failed.len() <= 2, "{failed:?}");

    // An abort in a handler (env `local`) is a crash like any other.
    let crashed = cluster.get("/crash");
    assert!(!matches!(crashed, Ok((200, _))), "{crashed:?}");
    cluster.wait_for_stderr("killed by signal 6", LONG);
    cluster.poll("/messenger/random", LONG, |_| true);
    cluster.wait_for_stderr(
        "exited (killed by signal 6); starting a new worker in",
        LONG,
    );

    cluster.signal(Signal::TERM);
    assert!(cluster.wait_exit(EXIT_TIMEOUT).expect("exits").success());
    cluster.assert_nothing_left();
}

#[test]
fn a_killed_agent_is_restarted_while_workers_keep_serving() {
    let cluster = Cluster::start(&["--workers", "2"]);
    let agent = json_pid(&cluster.get_ok("/messenger/agent"));
    kill(agent, Signal::KILL).unwrap();
    cluster.wait_for_stderr(&format!("agent {agent} exited (killed by signal 9)"), LONG);
    for _ in 0..10 {
        assert!(cluster.get_ok("/").starts_with("hello from worker"));
    }
    let body = cluster.poll("/messenger/agent", LONG, |body| json_pid(body) != agent);
    assert!(body.contains(r#""role":"agent""#), "{body}");
    cluster.signal(Signal::TERM);
    assert!(cluster.wait_exit(EXIT_TIMEOUT).expect("exits").success());
    cluster.assert_nothing_left();
}

#[test]
fn sigusr1_to_the_master_reaches_the_agent_and_ends_nobody() {
    let cluster = Cluster::start(&["--workers", "2"]);
    let agent = json_pid(&cluster.get_ok("/messenger/agent"));
    let workers = cluster.worker_pids(2);
    cluster.signal(Signal::USR1);
    cluster.signal(Signal::USR1);
    // The master forwarded both and is still serving; the agent and workers are the same.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(json_pid(&cluster.get_ok("/messenger/agent")), agent);
    assert_eq!(cluster.worker_pids(2), workers);
    assert!(!cluster.stderr().contains("exited"), "{}", cluster.stderr());
    cluster.signal(Signal::TERM);
    assert!(cluster.wait_exit(EXIT_TIMEOUT).expect("exits").success());
    cluster.assert_nothing_left();
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_zero() {
    let cluster = Cluster::start(&["--workers", "2"]);
    let workers = cluster.worker_pids(2);
    let agent = json_pid(&cluster.get_ok("/messenger/agent"));
    let started = Instant::now();
    let slow = cluster.slow_request(2000);
    cluster.signal(Signal::TERM);
    let (status, body) = slow.join().unwrap().expect("the slow request is answered");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("slept 2000 ms"), "{body}");
    assert!(started.elapsed() >= Duration::from_millis(2000));
    let exit = cluster.wait_exit(EXIT_TIMEOUT).expect("the master exits");
    assert!(exit.success(), "{exit:?}\n{}", cluster.stderr());
    for pid in workers.iter().copied().chain([agent]) {
        assert!(!alive(pid), "{pid} outlived the master");
    }
    // The agent stops last.
    let stderr = cluster.stderr();
    let agent_line = stderr
        .find(&format!("agent {agent} exited"))
        .expect("agent exit logged");
    for pid in &workers {
        let worker_line = stderr.find(&format!("worker {pid} exited")).unwrap();
        assert!(worker_line < agent_line, "{stderr}");
    }
    cluster.assert_nothing_left();
}

#[test]
fn a_rolling_reload_fails_no_request_and_a_failed_reload_keeps_the_old_workers() {
    let cluster = Cluster::start(&["--workers", "2", "--title", "rolling"]);
    let old = cluster.worker_pids(2);
    let load = Load::start(cluster.address(), 2);
    std::thread::sleep(Duration::from_millis(200));

    let (status, stdout, stderr) = run(&cluster.base_dir(), &["reload", "--title", "rolling"]);
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("reloading `rolling`"), "{stdout}");
    cluster.wait_for_stderr("reload complete", LONG);
    for &pid in &old {
        wait_gone(pid, LONG);
    }
    std::thread::sleep(Duration::from_millis(200));
    let (ok, failed) = load.finish();
    assert!(ok > 0);
    assert!(failed.is_empty(), "{} failed: {failed:?}", failed.len());
    let new = cluster.worker_pids(2);
    assert!(new.iter().all(|pid| !old.contains(pid)), "{old:?} {new:?}");

    // A new worker that cannot start aborts the reload; the others keep serving.
    let config = cluster.base_dir().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.default.toml"),
        "[demo]\nfail_on_start = true\n",
    )
    .unwrap();
    let load = Load::start(cluster.address(), 1);
    cluster.signal(Signal::HUP);
    cluster.wait_for_stderr("reload aborted", LONG);
    let (_, failed) = load.finish();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(cluster.stderr().contains("fail_on_start"));
    assert_eq!(cluster.worker_pids(2), new);

    cluster.signal(Signal::TERM);
    assert!(cluster.wait_exit(EXIT_TIMEOUT).expect("exits").success());
    cluster.assert_nothing_left();
}

#[test]
fn stop_and_status_find_the_master_through_its_pid_file() {
    let cluster = Cluster::start(&["--workers", "2", "--title", "demo-t"]);
    let dir = cluster.base_dir();
    let pid_file = dir.join("run").join("demo-t.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        cluster.pid().to_string()
    );
    let (status, stdout, _) = run(&dir, &["status", "--title", "demo-t"]);
    assert!(status.success());
    assert!(
        stdout.contains(&format!("running (master pid {})", cluster.pid())),
        "{stdout}"
    );
    // A second start under the same title is refused.
    let (status, _, stderr) = run(&dir, &["start", "--port", "0", "--title", "demo-t"]);
    assert!(!status.success());
    assert!(stderr.contains("already running"), "{stderr}");

    let (status, stdout, stderr) = run(&dir, &["stop", "--title", "demo-t"]);
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("stopped `demo-t`"), "{stdout}");
    let exit = cluster.wait_exit(EXIT_TIMEOUT).expect("the master exits");
    assert!(exit.success());
    assert!(!pid_file.exists());
    let (status, _, stderr) = run(&dir, &["status", "--title", "demo-t"]);
    assert!(!status.success());
    assert!(stderr.contains("not running"), "{stderr}");
    cluster.assert_nothing_left();
}

#[test]
fn a_worker_that_fails_to_start_fails_the_start_and_leaves_nothing() {
    let outcome = Cluster::start_with(&["--workers", "2"], &[("YOLK_DEMO__FAIL_ON_START", "true")]);
    let Err(ClusterError::Exited {
        status,
        stderr,
        left,
        ..
    }) = outcome
    else {
        panic!("the cluster started, or not as expected");
    };
    assert!(left.is_empty(), "processes left behind: {left:?}");
    let status = status.expect("the master exits");
    assert!(!status.success(), "{status:?}");
    assert!(stderr.contains("failed to start"), "{stderr}");
    assert!(stderr.contains("fail_on_start"), "{stderr}");
}

#[test]
fn single_mode_runs_agent_and_app_in_one_process() {
    let cluster = Cluster::start(&["--single"]);
    assert!(
        cluster.ready_line().contains("(single process)"),
        "{}",
        cluster.ready_line()
    );
    let body = cluster.get_ok("/");
    assert_eq!(body, format!("hello from single {}\n", cluster.pid()));
    cluster.poll("/agent", LONG, |body| body.starts_with("tick "));
    let reply = cluster.get_ok("/messenger/random");
    assert_eq!(json_pid(&reply), cluster.pid());
    // A reload has nothing to roll, and does not end the process.
    cluster.signal(Signal::HUP);
    cluster.wait_for_stderr("reload ignored", LONG);
    assert!(cluster.get_ok("/").starts_with("hello from single"));
    cluster.signal(Signal::TERM);
    assert!(cluster.wait_exit(EXIT_TIMEOUT).expect("exits").success());
    cluster.assert_nothing_left();
}

#[test]
fn a_crash_loop_backs_off_and_recovers() {
    let cluster = Cluster::start(&["--workers", "2"]);
    let old = cluster.worker_pids(2);
    // From now on a new worker cannot start.
    let config = cluster.base_dir().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let file = config.join("config.default.toml");
    std::fs::write(&file, "[demo]\nfail_on_start = true\n").unwrap();
    kill(old[0], Signal::KILL).unwrap();
    // Each failure waits twice as long as the one before: 100, 200, 400, 800 ms.
    cluster.wait_for_stderr("starting a new worker in 800 ms", LONG);
    let stderr = cluster.stderr();
    for delay in [100, 200, 400] {
        let line = format!("starting a new worker in {delay} ms");
        assert_eq!(stderr.matches(&line).count(), 1, "{stderr}");
    }
    // The surviving worker serves throughout.
    for _ in 0..5 {
        assert!(cluster.get_ok("/").starts_with("hello from worker"));
    }
    // Once the cause is fixed, the next attempt succeeds.
    std::fs::remove_file(&file).unwrap();
    cluster.wait_until("a replacement worker", || {
        !old.contains(&json_pid(&cluster.get_ok("/messenger/random")))
    });
    cluster.signal(Signal::TERM);
    assert!(cluster.wait_exit(EXIT_TIMEOUT).expect("exits").success());
    cluster.assert_nothing_left();
}

#[test]
fn children_exit_when_the_master_dies() {
    let cluster = Cluster::start(&["--workers", "2"]);
    let workers = cluster.worker_pids(2);
    let agent = json_pid(&cluster.get_ok("/messenger/agent"));
    cluster.signal(Signal::KILL);
    cluster.wait_exit(EXIT_TIMEOUT).expect("the master is gone");
    for pid in workers.into_iter().chain([agent]) {
        wait_gone(pid, LONG);
    }
    cluster.assert_nothing_left();
}

#[test]
fn a_session_written_through_one_worker_reads_through_the_other() {
    let cluster = Cluster::start(&["--workers", "2"]);
    let written = yolk_test::net::get(cluster.address(), "/session/write?value=ada").unwrap();
    assert_eq!(written.status, 200, "{}", written.body);
    let writer = json_pid(&written.body);
    let cookie = written
        .headers("set-cookie")
        .find(|cookie| cookie.starts_with("YOLK_SESS="))
        .and_then(|cookie| cookie.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie in:\n{}", written.head))
        .to_owned();

    // Fresh connections spread over both workers: read until the other one answers.
    cluster.wait_until("the other worker never answered", || {
        let yolk_test::net::Response { status, body, .. } =
            yolk_test::net::get_with(cluster.address(), "/session/read", &[("Cookie", &cookie)])
                .unwrap();
        assert_eq!(status, 200, "{body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["value"], "ada", "{body}");
        json_pid(&body) != writer
    });
    // Without the cookie, no worker sees the value.
    let body = yolk_test::net::get(cluster.address(), "/session/read")
        .unwrap()
        .body;
    assert!(body.contains("\"value\":null"), "{body}");
}
