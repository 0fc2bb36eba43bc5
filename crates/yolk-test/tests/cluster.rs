//! `Cluster` on a stand-in for a yolk app's binary — a shell script that prints what a master
//! prints — so that each way a start can go is checked: ready, exited, silent, another first
//! line; and the command's environment, directory and arguments.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use yolk_test::cluster::{Cluster, ClusterError, command};
use yolk_test::process::{alive, assert_group_empty};

const TIMEOUT: Duration = Duration::from_secs(10);

/// `start --port 0 …` as `FAKE_MODE` says; it names its pid, arguments and directory on stderr.
const FAKE_APP: &str = r#"#!/bin/sh
echo "pid: $$" >&2
echo "args: $*" >&2
echo "cwd: $(pwd -P)" >&2
case "$FAKE_MODE" in
ready)
    sleep 60 >/dev/null 2>&1 &
    echo "worker: $!" >&2
    trap 'echo stopping >&2; kill $!; exit 0' TERM
    echo "yolk started on http://$FAKE_ADDRESS (2 workers) in 5 ms"
    wait
    ;;
fail)
    echo "failed to start: fail_on_start" >&2
    exit 3
    ;;
chatty)
    echo "starting up"
    exec sleep 60
    ;;
*)
    exec sleep 60
    ;;
esac
"#;

/// The stand-in, written once per run before any test of this file starts a process: a file
/// being written while another thread forks may be held open by the fork, and running it then
/// fails with "text file busy".
fn fake_app() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fake-yolk-app");
        std::fs::write(&path, FAKE_APP).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    })
}

/// The value the stand-in printed on stderr after `name: `.
fn said(stderr: &str, name: &str) -> String {
    stderr
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no `{name}` in:\n{stderr}"))
        .to_owned()
}

/// Answers one request on a port of its own with `200 OK` and `body`; the request's head.
fn serve_once(body: &'static str) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 1024];
        while !request.windows(4).any(|window| window == b"\r\n\r\n") {
            let n = stream.read(&mut buffer).unwrap();
            assert_ne!(n, 0, "the request ended early");
            request.extend_from_slice(&buffer[..n]);
        }
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8(request).unwrap()
    });
    (address, server)
}

#[test]
fn a_ready_cluster_has_its_address_directory_and_processes_until_dropped() {
    let (address, server) = serve_once("hello from the fake");
    let cluster = Cluster::builder(fake_app())
        .args(["--workers", "2"])
        .env("FAKE_MODE", "ready")
        .env("FAKE_ADDRESS", &address)
        .start()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(cluster.address(), address);
    assert_eq!(
        cluster.ready_line(),
        format!("yolk started on http://{address} (2 workers) in 5 ms")
    );

    // The ready line (stdout) can be read before the lines the stand-in wrote to stderr
    // first: wait for the last of those.
    let stderr = cluster
        .process()
        .wait_for_stderr(TIMEOUT, |text| {
            text.contains("worker: ").then(|| text.to_owned())
        })
        .unwrap();
    assert_eq!(said(&stderr, "args"), "start --port 0 --workers 2");
    let dir = cluster.dir().to_owned();
    assert_eq!(
        said(&stderr, "cwd"),
        dir.canonicalize().unwrap().display().to_string()
    );
    let pid = cluster.process().pid();
    assert_eq!(said(&stderr, "pid"), pid.to_string());
    let worker: u32 = said(&stderr, "worker").parse().unwrap();
    let mut members = cluster.process().members();
    members.sort_unstable();
    assert_eq!(members, [pid.min(worker), pid.max(worker)]);

    let response = cluster.get("/hello").unwrap();
    assert_eq!(
        (response.status, response.body.as_str()),
        (200, "hello from the fake")
    );
    let request = server.join().unwrap();
    assert!(request.starts_with("GET /hello HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("\r\nConnection: close\r\n"), "{request}");

    drop(cluster);
    assert_group_empty(pid);
    assert!(!alive(worker));
    assert!(!dir.exists(), "{} is left", dir.display());
}

#[test]
fn a_graceful_stop_lets_the_master_finish() {
    let cluster = Cluster::builder(fake_app())
        .env("FAKE_MODE", "ready")
        .env("FAKE_ADDRESS", "127.0.0.1:1")
        .start()
        .unwrap_or_else(|error| panic!("{error}"));
    let status = cluster.process().stop(TIMEOUT).expect("stops on SIGTERM");
    assert!(status.success(), "{status}");
    assert!(cluster.process().stderr().ends_with("stopping\n"));
    cluster.process().assert_nothing_left();
}

#[test]
fn a_master_that_exits_first_is_an_error_with_its_status_and_stderr() {
    let error = Cluster::builder(fake_app())
        .env("FAKE_MODE", "fail")
        .start()
        .unwrap_err();
    let ClusterError::Exited {
        bin,
        status,
        stderr,
        left,
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(bin, &fake_app().display().to_string());
    assert_eq!(status.and_then(|status| status.code()), Some(3));
    assert!(stderr.contains("fail_on_start"), "{stderr}");
    assert!(left.is_empty(), "{left:?}");
    let message = error.to_string();
    assert!(
        message.contains("exited without a ready line (exit status: 3)"),
        "{message}"
    );
    assert!(message.contains("fail_on_start"), "{message}");
}

#[test]
fn a_silent_master_times_out_and_is_killed() {
    let started = Instant::now();
    let error = Cluster::builder(fake_app())
        .ready_timeout(Duration::from_millis(300))
        .start()
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let ClusterError::NotReady {
        timeout, stderr, ..
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(*timeout, Duration::from_millis(300));
    assert_group_empty(said(stderr, "pid").parse().unwrap());
    assert!(
        error.to_string().contains("no ready line within 300ms"),
        "{error}"
    );
}

#[test]
fn another_first_line_is_an_error_naming_it() {
    let error = Cluster::builder(fake_app())
        .env("FAKE_MODE", "chatty")
        .start()
        .unwrap_err();
    let ClusterError::UnexpectedLine { line, stderr, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(line, "starting up");
    assert_group_empty(said(stderr, "pid").parse().unwrap());
}

#[test]
fn a_missing_binary_is_an_error_naming_it() {
    let error = Cluster::builder(fake_app().with_file_name("no-such-app"))
        .start()
        .unwrap_err();
    assert!(matches!(error, ClusterError::Spawn(_)), "{error:?}");
    assert!(error.to_string().contains("no-such-app"), "{error}");
}

/// The test's own `YOLK_*` variables (config overrides for the app) and `LISTEN_*` (a socket
/// handed to the test) do not reach the app. This test runs itself again in a process of its
/// own with such variables set, as setting them here would race with the other tests.
#[test]
fn the_command_leaves_the_tests_yolk_and_listen_variables_out() {
    fake_app();
    let dir = tempfile::tempdir().unwrap();
    if std::env::var_os("YOLK_TEST_PROBE").is_some() {
        let output = command("sh", dir.path())
            .args([
                "-c",
                "echo ${YOLK_TEST_PROBE-unset} ${LISTEN_FDS-unset} $KEPT",
            ])
            .env("KEPT", "kept")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "unset unset kept\n"
        );
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_command_leaves_the_tests_yolk_and_listen_variables_out",
        ])
        .env("YOLK_TEST_PROBE", "1")
        .env("LISTEN_FDS", "3")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed"), "{stdout}");
}
