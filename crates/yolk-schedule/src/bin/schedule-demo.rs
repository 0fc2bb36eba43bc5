//! `schedule-demo start --workers 2`: a cluster whose jobs append `KIND PID TICK MILLIS` lines
//! to the file in `SCHEDULE_DEMO_OUT`, for the end-to-end tests.
//!
//! - `SCHEDULE_DEMO_JOBS`: which jobs, comma-separated: `worker`, `all`, `agent`, `cron`
//!   (every 2 s on the even second), `panic` (panics on odd ticks), `cluster` (needs
//!   `YOLK_SCHEDULE__REDIS_URL`).
//! - `SCHEDULE_DEMO_EVERY`: the interval of the interval jobs. Default: `1s`.

use std::fs::OpenOptions;
use std::io::Write;

use axum::routing::get;
use yolk_core::{App, AppBuilder, BoxError};
use yolk_schedule::{Job, JobContext, Schedule};

fn append(kind: &str, context: &JobContext) -> Result<(), BoxError> {
    let Some(path) = std::env::var_os("SCHEDULE_DEMO_OUT") else {
        return Ok(());
    };
    let line = format!(
        "{kind} {} {} {}\n",
        std::process::id(),
        context.tick(),
        chrono::Utc::now().timestamp_millis()
    );
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(line.as_bytes())?;
    Ok(())
}

fn app() -> AppBuilder {
    let jobs = std::env::var("SCHEDULE_DEMO_JOBS").unwrap_or_default();
    let every = std::env::var("SCHEDULE_DEMO_EVERY").unwrap_or_else(|_| "1s".to_owned());
    let mut schedule = Schedule::new();
    for kind in jobs
        .split(',')
        .map(str::trim)
        .filter(|kind| !kind.is_empty())
    {
        let job = match kind {
            "worker" => Job::interval("worker", every.as_str(), |ctx| async move {
                append("worker", &ctx)
            }),
            "all" => Job::interval(
                "all",
                every.as_str(),
                |ctx| async move { append("all", &ctx) },
            )
            .all(),
            "agent" => Job::interval("agent", every.as_str(), |ctx| async move {
                append("agent", &ctx)
            })
            .agent(),
            "cron" => Job::cron("cron", "*/2 * * * * *", |ctx| async move {
                append("cron", &ctx)
            }),
            "panic" => Job::interval("panic", every.as_str(), |ctx| async move {
                append("panic", &ctx)?;
                assert!(ctx.tick() % 2 == 0, "odd tick {}", ctx.tick());
                Ok(())
            }),
            "cluster" => Job::interval("cluster", every.as_str(), |ctx| async move {
                append("cluster", &ctx)
            })
            .cluster(),
            other => panic!("SCHEDULE_DEMO_JOBS: unknown job `{other}`"),
        };
        schedule = schedule.job(job);
    }
    App::builder()
        .name("schedule-demo")
        .plugin(schedule)
        .route("/", get(|| async { "schedule-demo" }))
}

fn main() -> std::process::ExitCode {
    yolk_cluster::run(app)
}
