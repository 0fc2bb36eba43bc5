//! End to end: the `schedule-demo` binary as a real cluster (a master, an agent, 2 workers),
//! its jobs appending `KIND PID TICK MILLIS` lines to one file with `O_APPEND`.
#![cfg(feature = "demo")]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Cluster, by_tick, runs, wait_for_runs};
use yolk_test::process::{Signal, children_of, kill};
#[cfg(feature = "redis")]
use yolk_test::redis::RedisServer;

/// `worker` runs once per tick across the workers; `all` once on each worker per tick;
/// `agent` once per tick in the agent, never in a worker; the cron job at every even second;
/// the job that panics on odd ticks is logged and its next tick runs, with both workers still
/// alive.
#[test]
fn two_workers_run_worker_all_cron_and_panicking_jobs() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("runs.txt");
    let out_str = out.to_str().unwrap();
    let cluster = Cluster::start(
        "schedule-e2e",
        &[
            ("SCHEDULE_DEMO_OUT", out_str),
            ("SCHEDULE_DEMO_JOBS", "worker,all,agent,cron,panic"),
            ("SCHEDULE_DEMO_EVERY", "500ms"),
        ],
    );
    wait_for_runs(
        &out,
        Duration::from_secs(60),
        "5 worker ticks and 3 cron ticks",
        |runs| by_tick(runs, "worker").len() >= 6 && by_tick(runs, "cron").len() >= 3,
    );
    cluster.stop();
    let runs = runs(&out);

    // `all`: each tick on both workers (the last tick may have been cut by the stop).
    let all = by_tick(&runs, "all");
    let last_all = *all.keys().last().unwrap();
    let mut workers = BTreeSet::new();
    for (tick, runs) in all.iter().filter(|(tick, _)| **tick < last_all) {
        let pids: BTreeSet<u32> = runs.iter().map(|run| run.pid).collect();
        assert_eq!(runs.len(), 2, "tick {tick}: {runs:?}");
        assert_eq!(pids.len(), 2, "tick {tick}: {runs:?}");
        workers.extend(pids);
    }
    assert_eq!(
        workers.len(),
        2,
        "the same two workers throughout: {workers:?}"
    );

    // `worker`: exactly once per tick, ticks 1..=n with none missing, on those workers.
    let worker = by_tick(&runs, "worker");
    let ticks: Vec<u64> = worker.keys().copied().collect();
    assert_eq!(
        ticks,
        (1..=ticks.len() as u64).collect::<Vec<_>>(),
        "{runs:#?}"
    );
    for (tick, runs) in &worker {
        assert_eq!(
            runs.len(),
            1,
            "tick {tick} ran {} times: {runs:?}",
            runs.len()
        );
        assert!(workers.contains(&runs[0].pid), "{runs:?}");
    }

    // `agent`: exactly once per tick, ticks 1..=n, all in one process that is no worker.
    let agent = by_tick(&runs, "agent");
    let ticks: Vec<u64> = agent.keys().copied().collect();
    assert!(ticks.len() >= 4, "{agent:?}");
    assert_eq!(ticks, (1..=ticks.len() as u64).collect::<Vec<_>>());
    let agent_pids: BTreeSet<u32> = agent.values().flatten().map(|run| run.pid).collect();
    assert!(agent.values().all(|runs| runs.len() == 1), "{agent:?}");
    assert_eq!(agent_pids.len(), 1, "{agent:?}");
    assert!(
        workers.is_disjoint(&agent_pids),
        "{agent_pids:?} {workers:?}"
    );

    // `cron` (`*/2 * * * * *`): once per tick, on an even second, 2 s apart.
    let cron = by_tick(&runs, "cron");
    let mut seconds = Vec::new();
    for (tick, runs) in &cron {
        assert_eq!(runs.len(), 1, "cron tick {tick}: {runs:?}");
        let at = runs[0].at_ms;
        assert_eq!((at / 1000) % 2, 0, "not an even second: {at}");
        assert!(at % 1000 < 700, "late in its second: {at}");
        seconds.push(at / 1000);
    }
    for pair in seconds.windows(2) {
        assert_eq!(pair[1] - pair[0], 2, "{seconds:?}");
    }

    // `panic`: tick 1 panicked, tick 2 still ran, and the log says so.
    let panic = by_tick(&runs, "panic");
    assert!(
        panic.contains_key(&1) && panic.contains_key(&2),
        "{panic:?}"
    );
    let log = cluster.schedule_log();
    assert!(log.contains("[panic] tick 1 panicked after"), "{log}");
    assert!(log.contains("odd tick 1"), "{log}");
    assert!(log.contains("[panic] tick 2 succeeded in"), "{log}");
    assert!(log.contains("[worker] tick 1 succeeded in"), "{log}");
    assert!(log.contains("[agent] tick 1 succeeded in"), "{log}");
    // No worker died of it: no respawn was needed.
    assert!(
        !cluster.stderr().contains("respawn"),
        "{}",
        cluster.stderr()
    );
}

/// `type = "cluster"`: two separate masters (2 workers each) share one real `redis-server`;
/// each tick runs once across both.
#[cfg(feature = "redis")]
#[test]
fn cluster_jobs_run_once_per_tick_across_two_masters() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("runs.txt");
    let out_str = out.to_str().unwrap();
    let url = redis.url();
    let env = [
        ("SCHEDULE_DEMO_OUT", out_str),
        ("SCHEDULE_DEMO_JOBS", "cluster"),
        ("SCHEDULE_DEMO_EVERY", "500ms"),
        ("YOLK_SCHEDULE__REDIS_URL", url.as_str()),
    ];
    let first = Cluster::start("schedule-a", &env);
    let second = Cluster::start("schedule-b", &env);
    let both_up = first.ready_at_ms.max(second.ready_at_ms) + 1000;
    wait_for_runs(
        &out,
        Duration::from_secs(60),
        "6 ticks with both masters up",
        |runs| {
            by_tick(runs, "cluster")
                .keys()
                .filter(|tick| **tick as i64 > both_up)
                .count()
                >= 6
        },
    );
    first.stop();
    second.stop();
    let runs = runs(&out);
    let ticks = by_tick(&runs, "cluster");
    let checked: Vec<_> = ticks
        .iter()
        .filter(|(tick, _)| **tick as i64 > both_up)
        .collect();
    assert!(checked.len() >= 6, "{ticks:?}");
    for (tick, runs) in &checked {
        assert_eq!(
            runs.len(),
            1,
            "tick {tick} ran {} times: {runs:?}",
            runs.len()
        );
        assert_eq!(**tick % 500, 0, "ticks are aligned to the interval: {tick}");
    }
    // Consecutive ticks, none lost.
    for pair in checked.windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, 500, "{:?}", ticks.keys());
    }
}

/// The agent holds the timers: when it dies, the master restarts it and the ticks resume (its
/// tick counter starts again at 1) on the same workers, which never noticed.
#[test]
fn ticks_resume_when_the_agent_is_restarted() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("runs.txt");
    let out_str = out.to_str().unwrap();
    let cluster = Cluster::start(
        "schedule-agent",
        &[
            ("SCHEDULE_DEMO_OUT", out_str),
            ("SCHEDULE_DEMO_JOBS", "all"),
            ("SCHEDULE_DEMO_EVERY", "300ms"),
        ],
    );
    wait_for_runs(&out, Duration::from_secs(60), "3 ticks", |runs| {
        by_tick(runs, "all").len() >= 3
    });
    let workers: BTreeSet<u32> = runs(&out).iter().map(|run| run.pid).collect();
    assert_eq!(workers.len(), 2, "{workers:?}");
    let agents: Vec<u32> = children_of(cluster.pid())
        .into_iter()
        .filter(|pid| !workers.contains(pid))
        .collect();
    assert_eq!(
        agents.len(),
        1,
        "the master's children: {agents:?} besides {workers:?}"
    );
    kill(agents[0], Signal::KILL).unwrap();
    let before = runs(&out).len();
    wait_for_runs(
        &out,
        Duration::from_secs(60),
        "tick 1 again, from the new agent",
        |runs| {
            runs[before.min(runs.len())..]
                .iter()
                .any(|run| run.tick == 1)
        },
    );
    wait_for_runs(
        &out,
        Duration::from_secs(60),
        "tick 2 of the new agent",
        |runs| {
            runs[before.min(runs.len())..]
                .iter()
                .filter(|run| run.tick == 2)
                .count()
                == 2
        },
    );
    cluster.stop();
    let after: BTreeSet<u32> = runs(&out)[before..].iter().map(|run| run.pid).collect();
    assert_eq!(after, workers, "the same workers ran the new agent's ticks");
}
