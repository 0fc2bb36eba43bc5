//! The plugin through `App::builder()` and `yolk_test::TestApp`.

use yolk_core::App;
use yolk_development::{Development, DevelopmentConfig};
use yolk_test::TestApp;

/// The development plugin alone, booted in `env`.
async fn dev_app(dir: &std::path::Path, env: &str) -> TestApp {
    TestApp::with_env(
        App::builder().base_dir(dir).plugin(Development::default()),
        env,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn local_serves_the_trace_of_this_process_with_every_hook() {
    let dir = tempfile::tempdir().unwrap();
    let app = dev_app(dir.path(), "local").await;
    let page = app.get("/__loader_trace__").send().await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let html = page.text();
    for hook in [
        "config_will_load",
        "configure",
        "config_did_load",
        "did_load",
        "will_ready",
        "did_ready",
    ] {
        assert!(
            html.contains(&format!("development · {hook}")),
            "{hook} missing"
        );
    }
    assert!(html.contains(&format!("worker {}", std::process::id())));
    assert!(html.contains("Slowest steps"));
    assert!(!html.contains("<script"), "self-contained, no script");
    assert!(
        !html.contains("http://") || html.contains("http://www.w3.org/2000/svg"),
        "no external resource"
    );
}

#[tokio::test]
async fn other_environments_serve_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = dev_app(dir.path(), "prod").await;
    assert_eq!(app.get("/__loader_trace__").send().await.status(), 404);
}

#[tokio::test]
async fn the_path_is_configurable_and_dead_processes_are_hidden() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("run")).unwrap();
    // A pid no process has: its file is left over from an earlier run.
    std::fs::write(
        dir.path().join("run/agent_timing_4294967295.json"),
        r#"{"booted_at_unix_ms":1700000000000,"steps":[{"plugin":"ghost","hook":"agent","start_ms":0.0,"duration_ms":1.0}]}"#,
    )
    .unwrap();
    let config = DevelopmentConfig {
        trace_path: "/_trace".into(),
        ..DevelopmentConfig::default()
    };
    let app = TestApp::with_env(
        App::builder()
            .base_dir(dir.path())
            .plugin(Development::with_config(config)),
        "local",
    )
    .await
    .unwrap();
    let html = app.get("/_trace").send().await.text();
    assert!(html.contains("development · did_load"));
    assert!(!html.contains("ghost"), "the dead process is hidden");
}

#[tokio::test]
async fn a_broken_timing_file_is_a_500_naming_it_in_json_for_api_clients() {
    let dir = tempfile::tempdir().unwrap();
    let app = dev_app(dir.path(), "local").await;
    let broken = format!("run/application_timing_{}.json", std::process::id());
    std::fs::write(dir.path().join(&broken), "not json").unwrap();
    let response = app
        .get("/__loader_trace__")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(response.status(), 500);
    let body: serde_json::Value = response.json().unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("application_timing_") && message.contains("not a boot timeline"),
        "{message}"
    );
}

fn broken_build(dir: &std::path::Path, generation: u64) {
    std::fs::create_dir_all(dir.join("run")).unwrap();
    let status = yolk_development::dev::BuildStatus {
        generation,
        errors: vec![yolk_development::dev::CompileError {
            message: "cannot add `{integer}` to `&str`".into(),
            file: Some("src/lib.rs".into()),
            line: Some(34),
            column: Some(21),
            rendered: "\u{1b}[1merror[E0369]\u{1b}[0m: cannot add `{integer}` to `&str`\n --> src/lib.rs:34:21".into(),
        }],
    };
    std::fs::write(
        dir.join(yolk_development::dev::STATUS_FILE),
        serde_json::to_vec(&status).unwrap(),
    )
    .unwrap();
}

fn page_app(dir: &std::path::Path) -> yolk_core::AppBuilder {
    App::builder()
        .base_dir(dir)
        .plugin(Development::default())
        .route(
            "/",
            axum::routing::get(|| async {
                axum::response::Html("<html><body><p>home</p></body></html>")
            }),
        )
        .route("/api", axum::routing::get(|| async { "plain" }))
}

#[tokio::test]
async fn a_broken_build_is_an_error_page_for_browser_navigations_only() {
    let dir = tempfile::tempdir().unwrap();
    broken_build(dir.path(), 3);
    let app = TestApp::with_env(page_app(dir.path()), "local")
        .await
        .unwrap();
    let page = app
        .get("/")
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await;
    assert_eq!(page.status(), 500);
    let html = page.text();
    assert!(html.contains("src/lib.rs:34:21"), "{html}");
    assert!(
        html.contains("cannot add `{integer}` to `&amp;str`"),
        "{html}"
    );
    assert!(!html.contains('\u{1b}'), "no ANSI in the page");
    assert!(
        html.contains(yolk_development::EVENTS_PATH),
        "the page reloads itself"
    );

    // API clients keep getting the last good build's answers.
    let api = app
        .get("/api")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(
        (api.status().as_u16(), api.text()),
        (200, "plain".to_owned())
    );

    let events = app.get(yolk_development::EVENTS_PATH).send().await;
    assert_eq!(events.header("content-type"), Some("text/event-stream"));
    assert_eq!(events.text(), "retry: 1000\ndata: 3\n\n");
}

#[tokio::test]
async fn html_pages_get_the_live_reload_script_in_local_only() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_env(page_app(dir.path()), "local")
        .await
        .unwrap();
    let page = app.get("/").header("accept", "text/html").send().await;
    assert_eq!(page.status(), 200);
    let html = page.text();
    assert!(html.contains("<p>home</p><script>"), "{html}");
    assert!(html.ends_with("</script></body></html>"), "{html}");
    assert_eq!(
        app.get("/api")
            .header("accept", "text/html")
            .send()
            .await
            .text(),
        "plain"
    );

    let prod = TestApp::with_env(page_app(dir.path()), "prod")
        .await
        .unwrap();
    let html = prod
        .get("/")
        .header("accept", "text/html")
        .send()
        .await
        .text();
    assert!(!html.contains("<script>"), "{html}");
    assert_eq!(
        prod.get(yolk_development::EVENTS_PATH)
            .send()
            .await
            .status(),
        404
    );
}
