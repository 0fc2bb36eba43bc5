//! The plugin through `App::builder()` and `yolk_test::TestApp`.

use yolk_core::App;
use yolk_development::{Development, DevelopmentConfig};
use yolk_test::TestApp;

#[tokio::test]
async fn local_serves_the_trace_of_this_process_with_every_hook() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_env(
        App::builder()
            .base_dir(dir.path())
            .plugin(Development::default()),
        "local",
    )
    .await
    .unwrap();
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
    let app = TestApp::with_env(
        App::builder()
            .base_dir(dir.path())
            .plugin(Development::default()),
        "prod",
    )
    .await
    .unwrap();
    assert_eq!(app.get("/__loader_trace__").send().await.status(), 404);
}

#[tokio::test]
async fn the_path_is_configurable_and_dead_processes_are_hidden() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("run")).unwrap();
    // A pid no process has: its file is left over from an earlier run.
    std::fs::write(
        dir.path().join("run/agent_timing_4294967295.json"),
        r#"[{"plugin":"ghost","hook":"agent","start_ms":0.0,"duration_ms":1.0}]"#,
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
    let app = TestApp::with_env(
        App::builder()
            .base_dir(dir.path())
            .plugin(Development::default()),
        "local",
    )
    .await
    .unwrap();
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
        message.contains("application_timing_") && message.contains("not a list of hook timings"),
        "{message}"
    );
}
