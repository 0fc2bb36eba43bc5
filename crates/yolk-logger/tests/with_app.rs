//! The logger plugin through the loader and the test harness.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::routing::get;
use yolk_core::App;
use yolk_logger::{CHECK_SIZE_JOB, Level, Logger, Loggers, ROTATE_JOB};
use yolk_schedule::{Schedule, Scheduler};
use yolk_test::TestApp;

fn builder(dir: &std::path::Path) -> yolk_core::AppBuilder {
    App::builder()
        .name("shop")
        .base_dir(dir)
        .plugin(Logger::default())
        .route(
            "/orders",
            get(|| async {
                tracing::info!("listed orders");
                "orders"
            }),
        )
        .route("/health", get(|| async { "ok" }))
}

fn write_config(dir: &Path, toml: &str) {
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(dir.join("config/config.default.toml"), toml).unwrap();
}

/// Waits (10 s at most) for a file in `dir` whose name starts with `prefix`.
async fn file_starting_with(dir: &Path, prefix: &str) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(prefix));
        if let Some(found) = found {
            return found.path();
        }
        assert!(
            Instant::now() < deadline,
            "no {prefix}… in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Logs requests until the app log is back: every process has reopened its files.
async fn wait_for_reopen(app: &TestApp, loggers: &Loggers) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        app.get("/orders").await.assert_text("orders");
        loggers.flush();
        if loggers.dir().join("shop-web.log").exists() {
            return;
        }
        assert!(Instant::now() < deadline, "never reopened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_plugin_writes_the_files_and_one_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "[middleware_options.request_log]\nignore = [\"/health\"]\n",
    );
    let app = TestApp::new(builder(dir.path())).await.unwrap();
    let loggers = app.service::<Loggers>().unwrap();
    let _guard = tracing::subscriber::set_default(loggers.subscriber());
    app.get("/orders").await.assert_text("orders");
    app.get("/health").await.assert_text("ok");
    app.close().await;
    let read =
        |name: &str| std::fs::read_to_string(dir.path().join("logs/shop").join(name)).unwrap();
    let app_log = read("shop-web.log");
    assert!(app_log.contains("[-/127.0.0.1/-/"), "{app_log}");
    assert!(
        app_log.contains("ms GET /orders] listed orders"),
        "{app_log}"
    );
    let core = read("yolk-web.log");
    assert!(core.contains("ms GET /orders] 200 "), "{core}");
    assert!(
        !core.contains("/health"),
        "ignored by middleware_options: {core}"
    );
    assert!(dir.path().join("run/logger-agent.pid").exists());
}

#[tokio::test]
async fn a_quiet_apps_line_reaches_the_file_after_the_flush_interval() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "[logger]\nflush_interval_ms = 50\n");
    let app = TestApp::new(builder(dir.path())).await.unwrap();
    let loggers = app.service::<Loggers>().unwrap();
    let _guard = tracing::subscriber::set_default(loggers.subscriber());
    // One request and nothing more: no full buffer, no flush call, no shutdown.
    app.get("/orders").await.assert_text("orders");
    let core = dir.path().join("logs/shop/yolk-web.log");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&core)
        .unwrap_or_default()
        .contains("ms GET /orders] 200 ")
    {
        assert!(
            Instant::now() < deadline,
            "the line never reached {}",
            core.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.close().await;
}

#[tokio::test]
async fn config_sections_and_variables_reach_the_loggers() {
    let dir = tempfile::tempdir().unwrap();
    let builder = builder(dir.path())
        .config("logger.dir", "elsewhere")
        .vars([("YOLK_LOGGER__CONSOLE_LEVEL", "error")]);
    let app = TestApp::new(builder).await.unwrap();
    let loggers = app.service::<Loggers>().unwrap();
    assert!(loggers.dir().ends_with("elsewhere"));
    assert_eq!(loggers.console_level(), Level::Error);
    app.close().await;
}

#[tokio::test]
async fn a_bad_level_stops_start_up_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let error = TestApp::new(builder(dir.path()).config("logger.level", "loud"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("logger") && error.contains("DEBUG, INFO"),
        "{error}"
    );
}

#[tokio::test]
async fn console_defaults_per_env() {
    let dir = tempfile::tempdir().unwrap();
    let unittest = TestApp::new(builder(dir.path())).await.unwrap();
    let loggers = unittest.service::<Loggers>().unwrap();
    assert_eq!(loggers.console_level(), Level::Warn);
    assert!(loggers.console_enabled(), "unittest keeps the console");
    unittest.close().await;

    let local = TestApp::with_env(builder(dir.path()), "local")
        .await
        .unwrap();
    let loggers = local.service::<Loggers>().unwrap();
    assert_eq!(loggers.console_level(), Level::Info);
    assert!(loggers.console_enabled(), "local keeps the console");
    local.close().await;

    let prod = builder(dir.path()).config("keys", "a-key-long-enough-for-prod");
    let prod = TestApp::with_env(prod, "prod").await.unwrap();
    let loggers = prod.service::<Loggers>().unwrap();
    assert!(
        !loggers.console_enabled(),
        "prod turns the console off once ready"
    );
    prod.close().await;
}

#[tokio::test]
async fn rotate_topic_rotates_and_every_process_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(builder(dir.path())).await.unwrap();
    let loggers = app.service::<Loggers>().unwrap();
    let _guard = tracing::subscriber::set_default(loggers.subscriber());
    app.get("/orders").await.assert_text("orders");
    loggers.flush();
    use yolk_core::messenger::MessengerExt;
    app.context()
        .messenger()
        .send_to_agent(yolk_logger::ROTATE_TOPIC, &())
        .unwrap();
    let rotated = file_starting_with(loggers.dir(), "shop-web.log.").await;
    // Wait for the reopen, then log again: the line goes to a new shop-web.log.
    wait_for_reopen(&app, &loggers).await;
    let old = std::fs::read_to_string(rotated).unwrap();
    assert!(old.contains("listed orders"), "{old}");
    app.close().await;
}

/// With the schedule plugin, the rotation is two of its jobs: listed, logged in
/// `yolk-schedule.log`, overridden by `[schedule.jobs]`, and run on demand.
#[tokio::test]
async fn with_the_schedule_plugin_rotation_runs_as_its_jobs() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "[logger]\nmax_size = 1\n\n[logger.core]\nrotate = \"size\"\n\n\
         [schedule.jobs.\"logger.check_size\"]\nimmediate = false\n",
    );
    let app = TestApp::new(builder(dir.path()).plugin(Schedule::new()))
        .await
        .unwrap();
    let scheduler = app.service::<Scheduler>().unwrap();
    assert_eq!(scheduler.job_names(), [CHECK_SIZE_JOB, ROTATE_JOB]);
    assert!(scheduler.is_enabled(ROTATE_JOB) && scheduler.is_enabled(CHECK_SIZE_JOB));
    let loggers = app.service::<Loggers>().unwrap();
    let _guard = tracing::subscriber::set_default(loggers.subscriber());
    app.get("/orders").await.assert_text("orders");
    loggers.flush();

    // The size check: the core log (`size`) reached 1 byte; the app log (`day`) stays.
    let report = scheduler.run(CHECK_SIZE_JOB).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    let numbered = std::fs::read_to_string(loggers.dir().join("yolk-web.log.1")).unwrap();
    assert!(numbered.contains("GET /orders] 200 "), "{numbered}");
    assert!(loggers.dir().join("shop-web.log").exists());

    // The rotation, run on demand: every file now, as `rotate-logs` does.
    let report = scheduler.run(ROTATE_JOB).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    let dated = file_starting_with(loggers.dir(), "shop-web.log.").await;
    let old = std::fs::read_to_string(&dated).unwrap();
    assert!(old.contains("listed orders"), "{old}");
    wait_for_reopen(&app, &loggers).await;
    let log = std::fs::read_to_string(dir.path().join("logs/yolk-schedule.log")).unwrap();
    assert!(
        log.contains("[logger.check_size] tick 0 succeeded"),
        "{log}"
    );
    assert!(log.contains("[logger.rotate] tick 0 succeeded"), "{log}");
    app.close().await;
}

/// Without the schedule plugin, the logger runs the same jobs on a scheduler of its own: the
/// size check ticks every `size_check_ms`.
#[tokio::test]
async fn without_the_schedule_plugin_the_size_check_still_ticks() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "[logger]\nmax_size = 1\nsize_check_ms = 100\n\n[logger.core]\nrotate = \"size\"\n",
    );
    let app = TestApp::new(builder(dir.path())).await.unwrap();
    assert!(!yolk_schedule::is_scheduled(app.context()));
    let loggers = app.service::<Loggers>().unwrap();
    let _guard = tracing::subscriber::set_default(loggers.subscriber());
    app.get("/orders").await.assert_text("orders");
    loggers.flush();
    let numbered = file_starting_with(loggers.dir(), "yolk-web.log.1").await;
    let text = std::fs::read_to_string(numbered).unwrap();
    assert!(text.contains("GET /orders] 200 "), "{text}");
    assert!(!dir.path().join("logs/yolk-schedule.log").exists());
    app.close().await;
}
