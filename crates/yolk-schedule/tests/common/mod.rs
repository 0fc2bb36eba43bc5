//! Real clusters of the `schedule-demo` binary, through `yolk_test::cluster` (each in a temp
//! dir and a process group of its own, killed and reaped on drop whatever the test's outcome),
//! and the runs its jobs write.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use yolk_test::process::poll_until;

#[cfg(feature = "demo")]
pub const BIN: &str = env!("CARGO_BIN_EXE_schedule-demo");

/// A running `schedule-demo` master with 2 workers.
#[cfg(feature = "demo")]
pub struct Cluster {
    cluster: yolk_test::cluster::Cluster,
    /// When the ready line came, in ms since the Unix epoch.
    pub ready_at_ms: i64,
}

#[cfg(feature = "demo")]
impl Cluster {
    /// `schedule-demo start --port 0 --env local --workers 2 --title TITLE` with `env`, in a
    /// temp dir of its own; waits for the ready line.
    pub fn start(title: &str, env: &[(&str, &str)]) -> Self {
        let cluster = yolk_test::cluster::Cluster::builder(BIN)
            .args(["--env", "local", "--workers", "2", "--title", title])
            .envs(env.iter().copied())
            .start()
            .unwrap_or_else(|error| panic!("{error}"));
        Self {
            cluster,
            ready_at_ms: chrono::Utc::now().timestamp_millis(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.cluster.process().pid()
    }

    pub fn stderr(&self) -> String {
        self.cluster.process().stderr()
    }

    /// The schedule log, empty when not written yet.
    pub fn schedule_log(&self) -> String {
        std::fs::read_to_string(self.cluster.dir().join("logs/yolk-schedule.log"))
            .unwrap_or_default()
    }

    /// SIGTERM, then waits (bounded) for the master; SIGKILL to the group if it hangs.
    pub fn stop(&self) {
        self.cluster.process().stop(Duration::from_secs(30));
    }
}

/// One line a demo job wrote: `KIND PID TICK MILLIS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub kind: String,
    pub pid: u32,
    pub tick: u64,
    pub at_ms: i64,
}

/// The runs in `path`, in order.
pub fn runs(path: &Path) -> Vec<Run> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some(Run {
                kind: fields.next()?.to_owned(),
                pid: fields.next()?.parse().ok()?,
                tick: fields.next()?.parse().ok()?,
                at_ms: fields.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// The runs of `kind` grouped by tick.
pub fn by_tick(runs: &[Run], kind: &str) -> BTreeMap<u64, Vec<Run>> {
    let mut ticks: BTreeMap<u64, Vec<Run>> = BTreeMap::new();
    for run in runs.iter().filter(|run| run.kind == kind) {
        ticks.entry(run.tick).or_default().push(run.clone());
    }
    ticks
}

/// Polls `check` over the runs in `path` until it passes.
pub fn wait_for_runs(path: &Path, timeout: Duration, what: &str, check: impl Fn(&[Run]) -> bool) {
    let mut last = Vec::new();
    let done = poll_until(timeout, || {
        last = runs(path);
        check(&last).then_some(())
    });
    assert!(
        done.is_some(),
        "timed out waiting for {what}; runs: {last:#?}"
    );
}
