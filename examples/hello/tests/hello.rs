//! The hello app through the harness, and the real binary over a real socket.

use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use http::StatusCode;
use tempfile::TempDir;
use yolk::AppBuilder;
use yolk_test::TestApp;
use yolk_test::process::{ProcessGroup, Signal};

/// A base directory holding a copy of the app's real `config/`, so `run/` files stay out of
/// the repository while the default key is the one the app ships with.
fn base_dir() -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/config.default.toml");
    std::fs::copy(shipped, config.join("config.default.toml")).unwrap();
    dir
}

/// The app on `dir`, reading `YOLK_*` overrides from `vars` only, never from the environment
/// the tests run in.
fn builder(dir: &TempDir, vars: &[(&str, &str)]) -> AppBuilder {
    hello::app().base_dir(dir.path()).vars(vars.iter().copied())
}

async fn boot(dir: &TempDir) -> TestApp {
    TestApp::new(builder(dir, &[])).await.expect("hello boots")
}

#[tokio::test]
async fn greets() {
    let dir = base_dir();
    let app = boot(&dir).await;
    app.get("/")
        .await
        .assert_status(StatusCode::OK)
        .assert_text("Hello, yolk");
    assert_eq!(app.context().name(), "hello");
}

#[tokio::test]
async fn counts_visits_across_requests() {
    let dir = base_dir();
    let app = boot(&dir).await;
    for expected in ["1", "2", "3"] {
        app.get("/visits")
            .await
            .assert_status(StatusCode::OK)
            .assert_text(expected);
    }
    assert_eq!(app.cookie("visits").as_deref(), Some("3"));
}

#[tokio::test]
async fn visits_cookie_is_signed() {
    let dir = base_dir();
    let app = boot(&dir).await;
    let res = app.get("/visits").await;
    let set = res.set_cookies();
    assert_eq!(set.len(), 2, "{res:?}");
    assert!(set[0].starts_with("visits=1;"), "{set:?}");
    assert!(set[1].starts_with("visits.sig="), "{set:?}");
    let sig = app.cookie("visits.sig").expect("visits.sig in the jar");
    let expected = app.context().keys().sign(b"visits=1").unwrap();
    assert_eq!(sig, expected);
}

#[tokio::test]
async fn a_tampered_count_starts_again() {
    let dir = base_dir();
    let app = boot(&dir).await;
    app.get("/visits").await.assert_text("1");
    app.get("/visits").await.assert_text("2");

    app.set_cookie("visits", "1000");
    let res = app.get("/visits").await;
    res.assert_text("1");
    // Only the fresh signature is sent, not the expiry of the bad one before it.
    assert_eq!(
        res.set_cookies()
            .iter()
            .filter(|c| c.starts_with("visits.sig="))
            .count(),
        1,
        "{res:?}"
    );
    app.get("/visits").await.assert_text("2");
}

#[tokio::test]
async fn a_signed_but_non_numeric_count_starts_again() {
    let dir = base_dir();
    let app = boot(&dir).await;
    let sig = app.context().keys().sign(b"visits=lots").unwrap();
    app.set_cookie("visits", "lots");
    app.set_cookie("visits.sig", &sig);
    app.get("/visits").await.assert_text("1");
}

#[tokio::test]
async fn yolk_keys_overrides_the_shipped_key() {
    let dir = base_dir();
    let shipped = boot(&dir).await;
    shipped.get("/visits").await.assert_text("1");
    let value = shipped.cookie("visits").unwrap();
    let sig = shipped.cookie("visits.sig").unwrap();

    let other_dir = base_dir();
    let rotated = TestApp::new(builder(
        &other_dir,
        &[("YOLK_KEYS", "other-key-0123456789abcdef")],
    ))
    .await
    .unwrap();
    assert_eq!(
        rotated.config().get::<String>("keys").unwrap().as_deref(),
        Some("other-key-0123456789abcdef")
    );
    rotated.set_cookie("visits", &value);
    rotated.set_cookie("visits.sig", &sig);
    rotated.get("/visits").await.assert_text("1");

    // The same cookies still count on with the shipped key.
    shipped.get("/visits").await.assert_text("2");
}

#[test]
fn the_binary_serves_and_stops_on_sigterm() {
    let port = yolk_test::net::free_port().expect("a free port");
    let address = format!("127.0.0.1:{port}");
    let hello = ProcessGroup::spawn(
        Command::new(env!("CARGO_BIN_EXE_hello"))
            .args(["--port", &port.to_string()])
            .env_remove("YOLK_ENV")
            .env_remove("YOLK_KEYS")
            .env("RUST_LOG", "info"),
    )
    .expect("the hello binary starts");

    let deadline = Instant::now() + Duration::from_secs(10);
    let response = loop {
        match yolk_test::net::get(&address, "/") {
            Ok(response) => break response,
            Err(error) if Instant::now() < deadline => {
                if let Some(status) = hello.wait_exit(Duration::ZERO) {
                    panic!("hello exited early with {status} (last error: {error})");
                }
                sleep(Duration::from_millis(50));
            }
            Err(error) => panic!("hello did not answer on port {port} within 10 s: {error}"),
        }
    };
    assert!(
        response.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{response:?}"
    );
    assert_eq!(response.body, "Hello, yolk");

    hello.signal(Signal::TERM).expect("hello runs");
    let status = hello
        .wait_exit(Duration::from_secs(10))
        .expect("hello exits within 10 s of SIGTERM");
    let stdout = hello.stdout();
    assert!(
        status.success(),
        "hello exited with {status}\nstdout:\n{stdout}\nstderr:\n{}",
        hello.stderr()
    );
    assert!(
        stdout.contains(&format!("started on http://{address}")),
        "stdout:\n{stdout}"
    );
}
