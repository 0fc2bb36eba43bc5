//! Records of the `log` crate, which many libraries use, reach the loggers once they are the
//! process's global subscriber. A file of its own: `init` sets process-wide state.

use yolk_logger::Loggers;

#[test]
fn log_records_go_to_the_logger_of_their_target() {
    let dir = tempfile::tempdir().unwrap();
    let loggers = Loggers::builder("shop")
        .base_dir(dir.path())
        .console_level_var(Some("none"))
        .build()
        .unwrap();
    loggers.init().unwrap();
    // Below every logger's level (files at INFO, console off), `log` drops a record itself.
    assert_eq!(log::max_level(), log::LevelFilter::Info);

    log::info!(target: "shop::orders", "order {} paid", 42);
    log::warn!(target: "hyper::proto", "connection reset");
    log::debug!(target: "shop::orders", "below the file level");
    loggers.flush();

    let app = std::fs::read_to_string(loggers.dir().join("shop-web.log")).unwrap();
    let core = std::fs::read_to_string(loggers.dir().join("yolk-web.log")).unwrap();
    let app_lines: Vec<&str> = app.lines().collect();
    assert_eq!(app_lines.len(), 1, "{app}");
    assert!(app_lines[0].contains(" INFO "), "{app}");
    // The message as logged, and none of tracing-log's `log.*` bookkeeping fields.
    assert!(app_lines[0].ends_with("order 42 paid"), "{app}");
    assert!(!app.contains("log."), "{app}");
    assert!(
        core.lines()
            .any(|line| line.contains(" WARN ") && line.ends_with("connection reset")),
        "{core}"
    );
    assert!(!core.contains("order 42 paid"), "{core}");
}
