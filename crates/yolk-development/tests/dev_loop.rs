//! `cargo yolk dev` end to end, on a copy of `examples/hello`: a client requests `/` the whole
//! time while the greeting changes, the build breaks and is fixed; it must see the new code
//! each time and never a connection error or a 5xx.
//!
//! It builds a whole app (the first run builds yolk's dependencies into its own target
//! directory, later runs are incremental), so it is `#[ignore]`d in the everyday run and runs
//! with `cargo xtask dev-e2e` (`cargo test -p yolk-development --test dev_loop -- --ignored`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use yolk_test::process::{ProcessGroup, Signal, kill_group};

const GREETING: &str = "\"Hello, yolk\"";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Copies `examples/hello` into `dir` as a crate of its own workspace, depending on the real
/// crates by path, with the workspace's lock file and profiles so builds are alike.
fn copy_hello(dir: &Path) -> PathBuf {
    let root = workspace();
    let app = dir.join("hello");
    for sub in ["src", "config"] {
        std::fs::create_dir_all(app.join(sub)).unwrap();
        for entry in std::fs::read_dir(root.join("examples/hello").join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), app.join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::copy(root.join("examples/hello/README.md"), app.join("README.md")).unwrap();
    std::fs::copy(root.join("Cargo.lock"), app.join("Cargo.lock")).unwrap();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let manifest: toml::Table = manifest.parse().unwrap();
    let deps = &manifest["workspace"]["dependencies"];
    let mut yolk = deps["yolk"].as_table().unwrap().clone();
    yolk.insert(
        "path".into(),
        root.join("crates/yolk").display().to_string().into(),
    );
    let mut cargo = toml::Table::new();
    cargo.insert(
        "package".into(),
        toml::toml! { name = "hello" version = "0.1.0" edition = "2024" publish = false }.into(),
    );
    let mut dependencies = toml::Table::new();
    dependencies.insert("yolk".into(), yolk.into());
    dependencies.insert("yolk-development".into(), toml::toml! { path = "" }.into());
    dependencies["yolk-development"]
        .as_table_mut()
        .unwrap()
        .insert(
            "path".into(),
            root.join("crates/yolk-development")
                .display()
                .to_string()
                .into(),
        );
    dependencies.insert("tokio".into(), deps["tokio"].clone());
    dependencies.insert(
        "tracing-subscriber".into(),
        deps["tracing-subscriber"].clone(),
    );
    cargo.insert("dependencies".into(), dependencies.into());
    cargo.insert("workspace".into(), toml::Table::new().into());
    cargo.insert("profile".into(), manifest["profile"].clone());
    std::fs::write(app.join("Cargo.toml"), toml::to_string(&cargo).unwrap()).unwrap();
    // The development plugin, as an app enables it for `local`.
    let main = std::fs::read_to_string(app.join("src/main.rs")).unwrap();
    let main = main.replacen(
        "hello::app()",
        "hello::app().plugin(yolk_development::Development::default())",
        1,
    );
    assert!(
        main.contains("yolk_development"),
        "src/main.rs builds the app with hello::app()"
    );
    std::fs::write(app.join("src/main.rs"), main).unwrap();
    app
}

/// The dev tool in its own process group, which it shares with everything it starts.
struct Dev {
    process: ProcessGroup,
}

impl Dev {
    fn start(app: &Path, port: u16) -> Self {
        let target = std::env::var_os("YOLK_DEV_E2E_TARGET")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target/dev-e2e"));
        // `YOLK_*` variables are config overrides for the app: the command leaves the test's
        // own out.
        let process = ProcessGroup::spawn(
            yolk_test::cluster::command(env!("CARGO_BIN_EXE_cargo-yolk"), app)
                .args([
                    "yolk",
                    "dev",
                    "--port",
                    &port.to_string(),
                    "--debounce-ms",
                    "100",
                ])
                .env("CARGO_TARGET_DIR", target)
                .env("RUST_LOG", "warn"),
        )
        .unwrap();
        Self { process }
    }

    /// How much the dev tool has said so far, to wait for what it says after.
    fn mark(&self) -> usize {
        self.process.stderr().len()
    }

    /// Waits for a line containing `needle` that the dev tool says after `mark`.
    fn wait_line(&self, needle: &str, mark: usize, timeout: Duration) -> String {
        self.process
            .wait_for_stderr(timeout, |said| {
                said.get(mark..)?
                    .lines()
                    .find(|line| line.contains(needle))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|error| panic!("no line with `{needle}`: {error}"))
    }
}

impl Drop for Dev {
    /// Stops the dev tool and its cluster gracefully, within 30 s; then the group is killed.
    fn drop(&mut self) {
        let _ = kill_group(self.process.pid(), Signal::TERM);
        self.process.wait_exit(Duration::from_secs(30));
    }
}

/// One GET with `accept`; the status and body.
fn get(port: u16, path: &str, accept: &str) -> std::io::Result<(u16, String)> {
    yolk_test::net::get_with(&format!("127.0.0.1:{port}"), path, &[("Accept", accept)])
        .map(|response| (response.status, response.body))
}

/// Requests `/` in a loop until stopped, counting failures and remembering the last body.
struct Client {
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    last: Arc<Mutex<String>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Client {
    fn start(port: u16) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let failures: Arc<Mutex<Vec<String>>> = Arc::default();
        let last: Arc<Mutex<String>> = Arc::default();
        let thread = {
            let (stop, requests, failures, last) = (
                stop.clone(),
                requests.clone(),
                failures.clone(),
                last.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match get(port, "/", "*/*") {
                        Ok((status, body)) if status < 500 => *last.lock().unwrap() = body,
                        Ok((status, body)) => {
                            failures.lock().unwrap().push(format!("{status}: {body}"))
                        }
                        Err(error) => failures.lock().unwrap().push(error.to_string()),
                    }
                    requests.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Self {
            stop,
            requests,
            failures,
            last,
            thread: Some(thread),
        }
    }

    fn wait_body(&self, expected: &str, timeout: Duration) -> Duration {
        let started = Instant::now();
        while *self.last.lock().unwrap() != expected {
            assert!(
                started.elapsed() < timeout,
                "`{expected}` not served within {timeout:?}; last: {:?}",
                self.last.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        started.elapsed()
    }

    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        (
            self.requests.load(Ordering::SeqCst),
            self.failures.lock().unwrap().clone(),
        )
    }
}

fn edit(app: &Path, from: &str, to: &str) {
    let path = app.join("src/lib.rs");
    let text = std::fs::read_to_string(&path).unwrap();
    // The last occurrence: the handler, after the doc example that quotes the greeting.
    let at = text
        .rfind(from)
        .unwrap_or_else(|| panic!("`{from}` not in src/lib.rs"));
    let text = format!("{}{to}{}", &text[..at], &text[at + from.len()..]);
    std::fs::write(&path, text).unwrap();
}

#[test]
#[ignore = "builds a whole app for minutes: run with `cargo xtask dev-e2e`"]
fn edit_break_fix_with_a_client_that_never_sees_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let app = copy_hello(dir.path());
    let port = yolk_test::net::free_port().unwrap();
    let dev = Dev::start(&app, port);
    dev.wait_line("serving on", 0, Duration::from_secs(900));
    let client = Client::start(port);
    client.wait_body("Hello, yolk", Duration::from_secs(30));

    // A one-line change: the new greeting is served.
    let mark = dev.mark();
    let saved = Instant::now();
    edit(&app, GREETING, "\"Hello, reloaded\"");
    client.wait_body("Hello, reloaded", Duration::from_secs(300));
    let save_to_new = saved.elapsed();
    let cycle = dev.wait_line("from save to serving", mark, Duration::from_secs(60));
    eprintln!("save to new response: {save_to_new:?}; {cycle}");

    // A broken build: the old code keeps serving, the terminal names the file and line.
    let mark = dev.mark();
    edit(&app, "\"Hello, reloaded\"", "\"Hello, broken\" + 1");
    let failed = dev.wait_line("build failed", mark, Duration::from_secs(300));
    assert!(failed.contains("src/lib.rs:"), "{failed}");
    assert_eq!(
        get(port, "/", "*/*").unwrap(),
        (200, "Hello, reloaded".to_owned())
    );
    // A browser navigation gets the error page, naming the file and line.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (status, page) = loop {
        let (status, page) = get(port, "/", "text/html,application/xhtml+xml").unwrap();
        if status == 500 || Instant::now() > deadline {
            break (status, page);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status, 500, "{page}");
    assert!(
        page.contains("Build failed") && page.contains("src/lib.rs:34"),
        "{page}"
    );
    let (_, generation) = get(port, "/__yolk_dev/events", "text/event-stream").unwrap();

    // Fixed: the new code is served.
    edit(&app, "\"Hello, broken\" + 1", "\"Hello, fixed\"");
    client.wait_body("Hello, fixed", Duration::from_secs(300));
    // The error page's script sees a new generation and reloads onto the new code.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(port, "/__yolk_dev/events", "text/event-stream")
        .unwrap()
        .1
        == generation
    {
        assert!(
            Instant::now() < deadline,
            "the generation did not move past {generation:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        get(port, "/", "text/html").unwrap(),
        (200, "Hello, fixed".to_owned())
    );

    let (requests, failures) = client.finish();
    assert!(requests > 50, "the client kept asking: {requests} requests");
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failed: {failures:?}",
        failures.len()
    );
}
