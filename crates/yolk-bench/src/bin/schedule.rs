//! `GET /` → `Hello, yolk` on yolk-core's `App` with the schedule plugin: what running jobs
//! beside the server costs the requests.
//!
//! Usage: `schedule --mode none|idle|busy [--port P] [--exit-on-stdin-eof]`; prints
//! `listening on 127.0.0.1:PORT`.
//!
//! - `none`: this binary without the plugin (the control for the two below);
//! - `idle`: 20 jobs registered, none due during the run (the timers sleep);
//! - `busy`: a `worker` job every 10 ms and an `all` job every 25 ms, each doing a little work
//!   and writing its line to the schedule log, all through the messenger, while the load runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use yolk_schedule::{Job, Schedule};

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = yolk_bench::take_mode(&mut args, "busy");
    let work = Arc::new(AtomicU64::new(0));
    let mut schedule = Schedule::new();
    let mut with_plugin = true;
    match mode.as_str() {
        "none" => with_plugin = false,
        "idle" => {
            for i in 0..20 {
                schedule = schedule.job(Job::interval(format!("idle-{i}"), "1h", |_| async {
                    Ok(())
                }));
            }
        }
        "busy" => {
            let worker = Arc::clone(&work);
            schedule = schedule.job(Job::interval("busy-worker", "10ms", move |_| {
                let work = Arc::clone(&worker);
                async move {
                    work.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
            }));
            let all = Arc::clone(&work);
            schedule = schedule.job(
                Job::interval("busy-all", "25ms", move |_| {
                    let work = Arc::clone(&all);
                    async move {
                        work.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                })
                .all(),
            );
        }
        other => {
            eprintln!("schedule: unknown --mode `{other}` (none, idle, busy)");
            std::process::exit(2);
        }
    }
    let mut app = yolk_bench::hello_app("schedule");
    if with_plugin {
        app = app.plugin(schedule);
    }
    yolk_bench::serve_app_with("schedule", args, app).await
}
