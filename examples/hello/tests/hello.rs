//! The hello app through the harness, and the real binary over a real socket.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use http::StatusCode;
use tempfile::TempDir;
use yolk::AppBuilder;
use yolk_test::TestApp;

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

/// Kills and reaps the child unless the test already did.
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// `GET path` over a fresh connection; the whole response, or the I/O error.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

#[test]
fn the_binary_serves_and_stops_on_sigterm() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_hello"))
        .args(["--port", &port.to_string()])
        .env_remove("YOLK_ENV")
        .env_remove("YOLK_KEYS")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the hello binary starts");
    let mut reaper = Reaper(Some(child));
    let pid = reaper.0.as_ref().unwrap().id();

    let deadline = Instant::now() + Duration::from_secs(10);
    let response = loop {
        match http_get(port, "/") {
            Ok(response) => break response,
            Err(error) if Instant::now() < deadline => {
                let child = reaper.0.as_mut().unwrap();
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("hello exited early with {status} (last error: {error})");
                }
                sleep(Duration::from_millis(50));
            }
            Err(error) => panic!("hello did not answer on port {port} within 10 s: {error}"),
        }
    };
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nHello, yolk"), "{response}");

    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let child = reaper.0.as_mut().unwrap();
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "hello did not exit within 10 s of SIGTERM"
        );
        sleep(Duration::from_millis(50));
    };
    let output = reaper.0.take().unwrap().wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        status.success(),
        "hello exited with {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("started on http://127.0.0.1:{port}")),
        "stdout:\n{stdout}"
    );
}
