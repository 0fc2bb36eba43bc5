//! The multipart plugin in a yolk app, through `App::builder().plugin(..)` and `TestApp`.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use axum::routing::post;
use common::{Form, files_under};
use http::StatusCode;
use serde_json::json;
use yolk_core::App;
use yolk_multipart::{MultipartPlugin, SWEEP_JOB, Upload, Whitelist};
use yolk_schedule::{Schedule, Scheduler};
use yolk_test::TestApp;

async fn files(upload: Upload) -> String {
    upload
        .files
        .iter()
        .map(|file| format!("{}:{}", file.file_name(), file.size()))
        .collect::<Vec<_>>()
        .join(",")
}

fn builder(base: &Path, config: &str) -> yolk_core::AppBuilder {
    std::fs::create_dir_all(base.join("config")).unwrap();
    std::fs::write(base.join("config/config.default.toml"), config).unwrap();
    App::builder()
        .base_dir(base)
        .route("/upload", post(files))
        .route("/big/upload", post(files))
}

fn upload<'a>(app: &'a TestApp, path: &str, body: Vec<u8>) -> yolk_test::TestRequest<'a> {
    app.post(path)
        .header("content-type", &Form::content_type())
        .body(body)
}

fn one_file(size: usize) -> Vec<u8> {
    Form::new().file("f", "a.png", vec![b'x'; size]).finish()
}

#[tokio::test]
async fn limits_from_the_config_files_globally_and_per_path() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("uploads");
    let config = format!(
        "[multipart]\ntmpdir = {:?}\nfile_size = \"1kb\"\n\n[[multipart.routes]]\nmatch = \"/big\"\nfile_size = \"4kb\"\n",
        tmp.display().to_string()
    );
    let app = TestApp::new(builder(dir.path(), &config).plugin(MultipartPlugin::new()))
        .await
        .unwrap();
    upload(&app, "/upload", one_file(1024))
        .await
        .assert_text("a.png:1024");
    upload(&app, "/upload", one_file(1025))
        .await
        .assert_status(StatusCode::PAYLOAD_TOO_LARGE)
        .assert_text("file_size limit of 1 KiB exceeded for field \"f\"");
    upload(&app, "/big/upload", one_file(4096))
        .await
        .assert_text("a.png:4096");
    upload(&app, "/big/upload", one_file(4097))
        .header("accept", "application/json")
        .await
        .assert_status(StatusCode::PAYLOAD_TOO_LARGE)
        .assert_json(&json!({"message": "file_size limit of 4 KiB exceeded for field \"f\""}));
    assert!(files_under(&tmp).is_empty());
    app.close().await;
}

#[tokio::test]
async fn a_wrong_key_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let error = TestApp::new(
        builder(dir.path(), "[multipart]\nfilesize = \"1kb\"\n").plugin(MultipartPlugin::new()),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("filesize"), "{error}");
    let error = TestApp::new(
        builder(dir.path(), "[multipart]\nfile_size = \"ten\"\n").plugin(MultipartPlugin::new()),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("file_size"), "{error}");
}

#[tokio::test]
async fn whitelist_from_config_and_from_code() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("uploads");
    let config = format!(
        "[multipart]\ntmpdir = {:?}\nfile_extensions = [\".pdf\", \"\"]\n",
        tmp.display().to_string()
    );
    let app = TestApp::new(builder(dir.path(), &config).plugin(MultipartPlugin::new()))
        .await
        .unwrap();
    for name in ["a.pdf", "Makefile", "b.PNG"] {
        let body = Form::new().file("f", name, b"1").finish();
        upload(&app, "/upload", body)
            .await
            .assert_text(&format!("{name}:1"));
    }
    let body = Form::new().file("f", "a.exe", b"1").finish();
    upload(&app, "/upload", body)
        .await
        .assert_status(StatusCode::BAD_REQUEST)
        .assert_text_contains("Invalid filename: a.exe")
        .assert_text_contains(".avi, .pdf, (no extension))");

    let plugin = MultipartPlugin::new().with_whitelist(Whitelist::predicate(|n| n == "ok.bin"));
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(builder(dir.path(), "").plugin(plugin))
        .await
        .unwrap();
    let body = Form::new().file("f", "ok.bin", b"1").finish();
    upload(&app, "/upload", body).await.assert_text("ok.bin:1");
    let body = Form::new().file("f", "a.png", b"1").finish();
    upload(&app, "/upload", body)
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn disabling_the_middleware_leaves_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[middleware_options.multipart]\nenable = false\n";
    let app = TestApp::new(builder(dir.path(), config).plugin(MultipartPlugin::new()))
        .await
        .unwrap();
    upload(&app, "/upload", one_file(1))
        .await
        .assert_status(StatusCode::INTERNAL_SERVER_ERROR)
        .assert_text_contains("need `MultipartLayer`");
}

/// Writes an upload temp file under `tmp` (in an hour directory of 2020) last modified two
/// days ago: what a crashed request leaves.
fn leftover(tmp: &Path, name: &str) -> std::path::PathBuf {
    let hour = tmp.join("2020/01/02/03");
    std::fs::create_dir_all(&hour).unwrap();
    let path = hour.join(name);
    std::fs::write(&path, b"crashed").unwrap();
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    path
}

async fn wait_until_gone(path: &Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} is still there",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_agent_sweeps_leftovers_of_crashed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("uploads");
    let leftover = leftover(&tmp, "0123456789abcdef0123456789abcdef.png");
    let recent = leftover.with_file_name("fedcba9876543210fedcba9876543210.png");
    std::fs::write(&recent, b"in progress").unwrap();
    let foreign = tmp.join("keep-me.txt");
    std::fs::write(&foreign, b"not an upload").unwrap();

    let config = format!("[multipart]\ntmpdir = {:?}\n", tmp.display().to_string());
    let app = TestApp::new(builder(dir.path(), &config).plugin(MultipartPlugin::new()))
        .await
        .unwrap();
    wait_until_gone(&leftover).await;
    assert!(recent.exists() && foreign.exists());
    app.close().await;
}

/// With the schedule plugin, the sweep is its job: listed, overridden by `[schedule.jobs]`
/// (no run at start here), logged in `yolk-schedule.log`, and run on demand.
#[tokio::test]
async fn with_the_schedule_plugin_the_sweep_is_its_job() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("uploads");
    let config = format!(
        "[multipart]\ntmpdir = {:?}\n\n[schedule.jobs.\"multipart.sweep\"]\nimmediate = false\n",
        tmp.display().to_string()
    );
    let builder = builder(dir.path(), &config)
        .plugin(MultipartPlugin::new())
        .plugin(Schedule::new());
    let app = TestApp::new(builder).await.unwrap();
    let scheduler = app.service::<Scheduler>().unwrap();
    assert_eq!(scheduler.job_names(), [SWEEP_JOB]);
    let leftover = leftover(&tmp, "0123456789abcdef0123456789abcdef.bin");
    let recent = leftover.with_file_name("fedcba9876543210fedcba9876543210.bin");
    std::fs::write(&recent, b"in progress").unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(leftover.exists(), "swept without being asked");

    let report = scheduler.run(SWEEP_JOB).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert!(!leftover.exists() && recent.exists());
    let log = std::fs::read_to_string(dir.path().join("logs/yolk-schedule.log")).unwrap();
    assert!(
        log.contains("[multipart.sweep] removed 1 leftover uploads and 0 empty directories"),
        "{log}"
    );
    assert!(log.contains("[multipart.sweep] tick 0 succeeded"), "{log}");
    app.close().await;
}

/// Without the schedule plugin the plugin runs the same job on a scheduler of its own: once
/// at start, then every `sweep_interval_secs`.
#[tokio::test]
async fn without_the_schedule_plugin_the_sweep_runs_on_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("uploads");
    let at_start = leftover(&tmp, "0123456789abcdef0123456789abcdef.png");
    let config = format!(
        "[multipart]\ntmpdir = {:?}\nsweep_interval_secs = 1\n",
        tmp.display().to_string()
    );
    let app = TestApp::new(builder(dir.path(), &config).plugin(MultipartPlugin::new()))
        .await
        .unwrap();
    assert!(!yolk_schedule::is_scheduled(app.context()));
    wait_until_gone(&at_start).await;
    // Let the run at start finish, then leave another file for a later tick.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let later = leftover(&tmp, "fedcba9876543210fedcba9876543210.png");
    wait_until_gone(&later).await;
    app.close().await;
}
