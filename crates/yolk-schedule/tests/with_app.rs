//! The plugin through `App::builder()` and `yolk_test::TestApp` (single process: the timers
//! start with `server_did_ready`, the runs go through the in-process messenger).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use yolk_core::{App, AppContext, BoxError, Plugin};
use yolk_schedule::{Job, Outcome, Schedule, Scheduler};
use yolk_test::TestApp;

fn counter_job(name: &str, every: &str, count: &Arc<AtomicU64>) -> Job {
    let count = Arc::clone(count);
    Job::interval(name, every, move |_| {
        let count = Arc::clone(&count);
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    })
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn interval_jobs_tick_after_ready_and_report_to_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let builder = App::builder()
        .base_dir(dir.path())
        .plugin(Schedule::new().job(counter_job("count", "30ms", &count)));
    let app = TestApp::new(builder).await.unwrap();
    let scheduler = app.service::<Scheduler>().unwrap();
    eventually("3 successful runs reported", || {
        scheduler.stats("count").unwrap().succeeded >= 3
    })
    .await;
    let stats = scheduler.stats("count").unwrap();
    assert!(stats.dispatched >= stats.succeeded);
    assert_eq!(stats.failed, 0);
    assert!(stats.last.unwrap().is_ok());
    let log = std::fs::read_to_string(dir.path().join("logs/yolk-schedule.log")).unwrap();
    assert!(log.contains("[count] tick 1 succeeded in "), "{log}");
    app.close().await;
}

#[tokio::test]
async fn a_failing_or_panicking_job_is_logged_and_the_next_tick_runs() {
    let dir = tempfile::tempdir().unwrap();
    let builder = App::builder().base_dir(dir.path()).plugin(
        Schedule::new()
            .job(Job::interval("panics", "30ms", |ctx| async move {
                assert!(ctx.tick() % 2 == 0, "odd tick {}", ctx.tick());
                Ok(())
            }))
            .job(Job::interval("fails", "30ms", |_| async {
                Err::<(), BoxError>("the upstream refused".into())
            })),
    );
    let app = TestApp::new(builder).await.unwrap();
    let scheduler = app.service::<Scheduler>().unwrap();
    eventually("a panic and a later success", || {
        let stats = scheduler.stats("panics").unwrap();
        stats.failed >= 1 && stats.succeeded >= 1 && stats.failed + stats.succeeded >= 3
    })
    .await;
    eventually("two failures", || {
        scheduler.stats("fails").unwrap().failed >= 2
    })
    .await;
    let log = std::fs::read_to_string(dir.path().join("logs/yolk-schedule.log")).unwrap();
    assert!(log.contains("ERROR"), "{log}");
    assert!(log.contains("[panics] tick 1 panicked after"), "{log}");
    assert!(log.contains("odd tick 1"), "{log}");
    assert!(log.contains("[panics] tick 2 succeeded"), "{log}");
    assert!(log.contains("[fails] tick 1 failed after"), "{log}");
    assert!(log.contains("the upstream refused"), "{log}");
    // The app still serves.
    assert_eq!(app.get("/nowhere").await.status(), 404);
    app.close().await;
}

#[tokio::test]
async fn immediate_runs_once_at_ready_disabled_and_other_env_jobs_never_tick() {
    let dir = tempfile::tempdir().unwrap();
    let immediate = Arc::new(AtomicU64::new(0));
    let disabled = Arc::new(AtomicU64::new(0));
    let prod_only = Arc::new(AtomicU64::new(0));
    let builder = App::builder().base_dir(dir.path()).plugin(
        Schedule::new()
            .job(counter_job("immediate", "1h", &immediate).immediate(true))
            .job(counter_job("disabled", "20ms", &disabled).disable(true))
            .job(counter_job("prod-only", "20ms", &prod_only).env(["prod"])),
    );
    let app = TestApp::new(builder).await.unwrap();
    let scheduler = app.service::<Scheduler>().unwrap();
    eventually("the immediate run", || {
        immediate.load(Ordering::SeqCst) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(immediate.load(Ordering::SeqCst), 1);
    assert_eq!(disabled.load(Ordering::SeqCst), 0);
    assert_eq!(prod_only.load(Ordering::SeqCst), 0);
    // On demand, a disabled job still runs.
    assert!(scheduler.run("disabled").await.unwrap().is_ok());
    assert_eq!(disabled.load(Ordering::SeqCst), 1);
    app.close().await;
}

#[tokio::test]
async fn config_files_override_jobs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/config.default.toml"),
        "[schedule]\nlog_file = \"run/schedule.log\"\n[schedule.jobs.noisy]\ndisable = true\n\
         [schedule.jobs.slow]\ninterval = \"20ms\"\n",
    )
    .unwrap();
    let noisy = Arc::new(AtomicU64::new(0));
    let slow = Arc::new(AtomicU64::new(0));
    let builder = App::builder().base_dir(dir.path()).plugin(
        Schedule::new()
            .job(counter_job("noisy", "20ms", &noisy))
            .job(counter_job("slow", "1h", &slow)),
    );
    let app = TestApp::new(builder).await.unwrap();
    eventually("the overridden interval", || {
        slow.load(Ordering::SeqCst) >= 2
    })
    .await;
    assert_eq!(noisy.load(Ordering::SeqCst), 0);
    assert!(dir.path().join("run/schedule.log").exists());
    app.close().await;
}

#[tokio::test]
async fn bad_jobs_and_overrides_stop_start_up_with_a_precise_message() {
    let dir = tempfile::tempdir().unwrap();
    let error = App::builder()
        .base_dir(dir.path())
        .plugin(Schedule::new().job(Job::interval("sweep", "10 minutes", |_| async { Ok(()) })))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("job `sweep`: interval `10 minutes`"),
        "{error}"
    );

    let error = App::builder()
        .base_dir(dir.path())
        .plugin(Schedule::new().job(
            Job::cron("nightly", "0 30 2 * * *", |_| async { Ok(()) }).time_zone("Europe/Berlln"),
        ))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("time zone `Europe/Berlln`"), "{error}");

    let error = App::builder()
        .base_dir(dir.path())
        .config(
            "schedule",
            serde_json::json!({ "jobs": { "swep": { "disable": true } } }),
        )
        .plugin(Schedule::new().job(Job::interval("sweep", "1s", |_| async { Ok(()) })))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("[schedule.jobs.swep]"), "{error}");
    assert!(error.contains("sweep"), "{error}");

    let error = App::builder()
        .base_dir(dir.path())
        .plugin(Schedule::new().job(Job::interval("once", "1m", |_| async { Ok(()) }).cluster()))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("redis_url"), "{error}");

    let error = App::builder()
        .base_dir(dir.path())
        .config("schedule", serde_json::json!({ "skip_if_runing": false }))
        .plugin(Schedule::new())
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("skip_if_runing"), "{error}");
}

/// Another plugin (the logger's rotation, multipart's sweep) registers its job through
/// `yolk_schedule::register`, before or after the schedule plugin loads.
#[derive(Debug)]
struct Rotator {
    name: &'static str,
    runs: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl Plugin for Rotator {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        let job = counter_job(&format!("{}.job", self.name), "20ms", &self.runs);
        yolk_schedule::register(app, job)?;
        Ok(())
    }
}

#[tokio::test]
async fn other_plugins_register_jobs_before_and_after_the_schedule_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let before = Arc::new(AtomicU64::new(0));
    let after = Arc::new(AtomicU64::new(0));
    let builder = App::builder()
        .base_dir(dir.path())
        .plugin(Rotator {
            name: "before",
            runs: Arc::clone(&before),
        })
        .plugin(Schedule::new())
        .plugin(Rotator {
            name: "after",
            runs: Arc::clone(&after),
        });
    let app = TestApp::new(builder).await.unwrap();
    let scheduler = app.service::<Scheduler>().unwrap();
    assert_eq!(scheduler.job_names(), ["after.job", "before.job"]);
    eventually("both jobs tick", || {
        before.load(Ordering::SeqCst) >= 2 && after.load(Ordering::SeqCst) >= 2
    })
    .await;
    app.close().await;
}

#[tokio::test]
async fn run_schedule_on_demand_reports_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let builder = App::builder()
        .base_dir(dir.path())
        .plugin(
            Schedule::new().job(Job::cron("yearly", "0 0 0 1 1 *", |ctx| async move {
                ctx.logger().info("happy new year");
                Ok(())
            })),
        );
    let app = TestApp::new(builder).await.unwrap();
    let scheduler = app.service::<Scheduler>().unwrap();
    let report = scheduler.run("yearly").await.unwrap();
    assert_eq!(report.outcome, Outcome::Succeeded);
    assert_eq!(report.pid, std::process::id());
    let error = scheduler.run("montly").await.unwrap_err().to_string();
    assert!(
        error.contains("no job is named `montly`; the jobs are: yearly"),
        "{error}"
    );
    let log = std::fs::read_to_string(dir.path().join("logs/yolk-schedule.log")).unwrap();
    assert!(log.contains("[yearly] happy new year"), "{log}");
    app.close().await;
}

/// Handlers reach the scheduler through `Inject<Scheduler>`, e.g. an admin route that runs a
/// job now.
#[tokio::test]
async fn handlers_run_jobs_through_inject() {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::post;
    use yolk_core::Inject;

    async fn run_now(
        scheduler: Inject<Scheduler>,
        Path(name): Path<String>,
    ) -> Result<axum::Json<yolk_schedule::Report>, (StatusCode, String)> {
        scheduler
            .run(&name)
            .await
            .map(axum::Json)
            .map_err(|error| (StatusCode::NOT_FOUND, error.to_string()))
    }

    let dir = tempfile::tempdir().unwrap();
    let builder = App::builder()
        .base_dir(dir.path())
        .plugin(Schedule::new().job(Job::interval("sweep", "1h", |_| async { Ok(()) })))
        .route("/jobs/{name}/run", post(run_now));
    let app = TestApp::new(builder).await.unwrap();
    let response = app.post("/jobs/sweep/run").await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: serde_json::Value = serde_json::from_str(&response.text()).unwrap();
    assert_eq!(report["job"], "sweep");
    assert_eq!(report["outcome"]["status"], "succeeded");
    let response = app.post("/jobs/swep/run").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response.text().contains("the jobs are: sweep"),
        "{}",
        response.text()
    );
    app.close().await;
}
