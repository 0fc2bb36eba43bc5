//! The agent in a real cluster: one OS watch serving every worker, rolled onto the new binary by
//! a reload with the workers' watches following it, and the boot trace of every process.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Cluster, EXIT_TIMEOUT, LONG, Load, json_pid};
use yolk_core::plugin::Timeline;
use yolk_test::process::{Signal, kill, wait_gone};

/// A cluster of two workers, each watching `dir` from start-up; `env` adds to its environment.
fn watching_with(dir: &Path, env: &[(&str, &str)]) -> Cluster {
    let dir = dir.to_str().expect("a UTF-8 temp path");
    let mut all = vec![
        ("YOLK_DEMO__WATCH_DIR", dir),
        ("YOLK_WATCHER__DEBOUNCE_MS", "50"),
    ];
    all.extend_from_slice(env);
    Cluster::start_with(&["--workers", "2"], &all).unwrap_or_else(|error| panic!("{error}"))
}

fn watching(dir: &Path) -> Cluster {
    watching_with(dir, &[])
}

/// The file names worker `pid` saw change, when it answers.
fn watched_by(cluster: &Cluster, pid: u32) -> Option<Vec<String>> {
    match cluster.get(&format!("/messenger/watched-of/{pid}")) {
        Ok((200, body)) => Some(serde_json::from_str(&body).expect("a JSON list")),
        _ => None,
    }
}

/// Whether worker `pid` answers that it saw `name` change.
fn seen_by(cluster: &Cluster, pid: u32, name: &str) -> bool {
    watched_by(cluster, pid).is_some_and(|names| names.iter().any(|n| n == name))
}

/// Writes `name` under `dir`, and waits until each of `workers` has seen it change.
fn change_reaches(cluster: &Cluster, dir: &Path, name: &str, workers: &[u32]) {
    std::fs::write(dir.join(name), name).unwrap();
    for &pid in workers {
        cluster.wait_until(&format!("worker {pid} to see {name} change"), || {
            seen_by(cluster, pid, name)
        });
    }
}

/// The agent's counts, as a worker asks for them: `(os_watches, subscriptions)`.
fn watch_stats(cluster: &Cluster) -> (u64, u64) {
    let stats: serde_json::Value = serde_json::from_str(&cluster.get_ok("/watch/stats")).unwrap();
    let count = |key: &str| stats[key].as_u64().unwrap_or_else(|| panic!("{stats}"));
    (count("os_watches"), count("subscriptions"))
}

/// The inotify instances process `pid` holds, from `/proc`.
fn inotify_instances(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|target| target.to_string_lossy() == "anon_inode:inotify")
        .count()
}

fn stop(cluster: Cluster) {
    cluster.signal(Signal::TERM);
    let status = cluster.wait_exit(EXIT_TIMEOUT).expect("the master exits");
    assert!(status.success(), "{status:?}\n{}", cluster.stderr());
    cluster.assert_nothing_left();
}

#[test]
fn two_workers_share_one_os_watch_held_by_the_agent() {
    let watched = tempfile::tempdir().unwrap();
    // Native watching only, so the OS watches can be counted.
    let cluster = watching_with(watched.path(), &[("YOLK_WATCHER__POLLING", "never")]);
    let agent = json_pid(&cluster.get_ok("/messenger/agent"));
    let workers = cluster.worker_pids(2);

    // Each worker subscribed at start-up; the agent watches the directory once for both.
    assert_eq!(watch_stats(&cluster), (1, 2));
    assert_eq!(inotify_instances(agent), 1, "one OS watcher, in the agent");
    for &pid in &workers {
        assert_eq!(
            inotify_instances(pid),
            0,
            "worker {pid} watches nothing itself"
        );
    }

    change_reaches(&cluster, watched.path(), "shared.toml", &workers);
    stop(cluster);
}

#[test]
fn an_agent_restarted_after_a_crash_serves_the_watches_the_workers_held() {
    let watched = tempfile::tempdir().unwrap();
    let cluster = watching(watched.path());
    let agent = json_pid(&cluster.get_ok("/messenger/agent"));
    let workers = cluster.worker_pids(2);
    kill(agent, Signal::KILL).unwrap();
    cluster.wait_for_stderr(&format!("agent {agent} exited (killed by signal 9)"), LONG);
    cluster.poll("/messenger/agent", LONG, |body| json_pid(body) != agent);

    change_reaches(&cluster, watched.path(), "after-restart.txt", &workers);
    assert_eq!(cluster.worker_pids(2), workers, "the same workers");
    assert_eq!(watch_stats(&cluster), (1, 2));
    stop(cluster);
}

#[test]
fn a_reload_rolls_the_agent_and_the_workers_watches_follow_the_new_one() {
    let watched = tempfile::tempdir().unwrap();
    let cluster = watching(watched.path());
    let old_agent = json_pid(&cluster.get_ok("/messenger/agent"));
    let old_workers = cluster.worker_pids(2);

    let load = Load::start(cluster.address(), 2);
    // A slow request keeps one old worker alive, serving it, well into the reload.
    let slow = cluster.slow_request(5000);

    cluster.signal(Signal::HUP);
    // The new agent takes over first; the old one stops gracefully.
    cluster.wait_for_stderr(&format!("from agent {old_agent}"), LONG);
    cluster.wait_for_stderr(&format!("agent {old_agent} exited (exit code 0)"), LONG);
    let new_agent = json_pid(&cluster.get_ok("/messenger/agent"));
    assert_ne!(new_agent, old_agent);
    assert!(
        cluster.stderr().contains(&format!(
            "agent {new_agent} takes over from agent {old_agent}"
        )),
        "{}",
        cluster.stderr()
    );

    // With the old agent gone, a change reaches an old worker still serving: its watch was
    // renewed with the new agent.
    std::fs::write(watched.path().join("after-takeover.txt"), "x").unwrap();
    cluster.wait_until("an old worker to see a change after the takeover", || {
        old_workers
            .iter()
            .any(|&pid| seen_by(&cluster, pid, "after-takeover.txt"))
    });

    cluster.wait_for_stderr("reload complete", LONG);
    let (status, body) = slow.join().unwrap().expect("the slow request is answered");
    assert_eq!(status, 200, "{body}");
    let new_workers = cluster.worker_pids(2);
    assert!(
        new_workers.iter().all(|pid| !old_workers.contains(pid)),
        "{old_workers:?} {new_workers:?}"
    );
    for &pid in old_workers.iter().chain([&old_agent]) {
        wait_gone(pid, LONG);
    }
    let (ok, failed) = load.finish();
    assert!(ok > 0);
    assert!(failed.is_empty(), "{} failed: {failed:?}", failed.len());

    // The new agent serves messages, and the new workers' watches.
    let reply = cluster.get_ok("/messenger/agent");
    assert_eq!(json_pid(&reply), new_agent);
    assert!(reply.contains(r#""role":"agent""#), "{reply}");
    let order = cluster.get_ok("/messenger/order/50");
    assert!(order.contains(r#""count":50"#), "{order}");
    change_reaches(&cluster, watched.path(), "after-reload.txt", &new_workers);
    // The old workers' watches ended with them.
    assert_eq!(watch_stats(&cluster), (1, 2));
    stop(cluster);
}

/// Reads `run/{role}_timing_{pid}.json`.
fn timeline(cluster: &Cluster, role: &str, pid: u32) -> Timeline {
    let file = cluster
        .base_dir()
        .join("run")
        .join(format!("{role}_timing_{pid}.json"));
    let text = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_slice(&text).unwrap()
}

fn hooks(timeline: &Timeline) -> Vec<&str> {
    timeline
        .steps
        .iter()
        .map(|step| step.hook.as_str())
        .collect()
}

/// When `hook` of `timeline` starts, on the wall clock.
fn start_of(timeline: &Timeline, hook: &str) -> SystemTime {
    let step = timeline
        .steps
        .iter()
        .find(|step| step.hook == hook)
        .unwrap_or_else(|| panic!("no {hook} step"));
    timeline.booted_at() + Duration::from_secs_f64(step.start_ms / 1000.0)
}

#[test]
fn the_loader_trace_shows_the_master_the_agent_and_each_worker_on_one_axis() {
    let cluster = Cluster::start(&["--workers", "2"]);
    let agent = json_pid(&cluster.get_ok("/messenger/agent"));
    let workers = cluster.worker_pids(2);

    let master = timeline(&cluster, "master", cluster.pid());
    assert_eq!(
        hooks(&master),
        ["bind_socket", "start_agent", "start_workers"]
    );
    // Every process on the master's clock: the agent boots after the master started it, the
    // workers after it started them.
    let agent_boot = timeline(&cluster, "agent", agent).booted_at();
    assert!(agent_boot >= start_of(&master, "start_agent"));
    for &pid in &workers {
        let worker_boot = timeline(&cluster, "application", pid).booted_at();
        assert!(worker_boot >= start_of(&master, "start_workers"));
        assert!(worker_boot > agent_boot);
    }

    let page = cluster.get_ok("/__loader_trace__");
    let row = |name: String| {
        page.find(&format!(">{name} · "))
            .unwrap_or_else(|| panic!("no row for {name}:\n{page}"))
    };
    let master_row = row(format!("master {}", cluster.pid()));
    let agent_row = row(format!("agent {agent}"));
    assert!(master_row < agent_row);
    for &pid in &workers {
        assert!(agent_row < row(format!("worker {pid}")));
    }
    for step in ["bind_socket", "start_agent", "start_workers"] {
        assert!(page.contains(&format!("master · {step}")), "{step}");
    }

    // After a reload: the master's reload steps beside the new agent and workers alone.
    cluster.signal(Signal::HUP);
    cluster.wait_for_stderr("reload complete", LONG);
    for &pid in workers.iter().chain([&agent]) {
        wait_gone(pid, LONG);
    }
    let reload = timeline(&cluster, "master", cluster.pid());
    assert_eq!(hooks(&reload), ["start_agent", "roll_workers"]);
    assert!(reload.booted_at() > master.booted_at());
    let new_agent = json_pid(&cluster.get_ok("/messenger/agent"));
    let page = cluster.get_ok("/__loader_trace__");
    assert!(page.contains(&format!(">agent {new_agent} · ")), "{page}");
    assert!(page.contains("master · roll_workers"), "{page}");
    assert!(!page.contains(&format!(">agent {agent} · ")), "{page}");
    for pid in cluster.worker_pids(2) {
        assert!(page.contains(&format!(">worker {pid} · ")), "{page}");
    }
    stop(cluster);
}
