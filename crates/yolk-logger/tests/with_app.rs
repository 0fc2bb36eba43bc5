//! The logger plugin through the loader and the test harness.

use axum::routing::get;
use yolk_core::App;
use yolk_logger::{Level, Logger, Loggers};
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

#[tokio::test]
async fn the_plugin_writes_the_files_and_one_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/config.default.toml"),
        "[middleware_options.request_log]\nignore = [\"/health\"]\n",
    )
    .unwrap();
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
    let log_dir = loggers.dir().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let rotated = loop {
        let found = std::fs::read_dir(&log_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("shop-web.log."));
        if let Some(found) = found {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "never rotated");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // Wait for the reopen, then log again: the line goes to a new shop-web.log.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        app.get("/orders").await.assert_text("orders");
        loggers.flush();
        if log_dir.join("shop-web.log").exists() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never reopened");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let old = std::fs::read_to_string(log_dir.join(&rotated)).unwrap();
    assert!(old.contains("listed orders"), "{old}");
    app.close().await;
}
