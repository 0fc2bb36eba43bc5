//! End to end on 127.0.0.1: `bare_axum` on port 0, then a short `load` run against it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills and reaps the server however the test ends.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn number(json: &str, key: &str) -> f64 {
    let pattern = format!("\"{key}\":");
    let start = json
        .find(&pattern)
        .unwrap_or_else(|| panic!("{key} in {json}"))
        + pattern.len();
    let rest = &json[start..];
    let end = rest.find([',', '}']).expect("a JSON object");
    rest[..end].parse().expect("a number")
}

#[test]
fn load_counts_requests_to_bare_axum() {
    let mut server = Reap(
        Command::new(env!("CARGO_BIN_EXE_bare_axum"))
            .args(["--port", "0", "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start bare_axum"),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("read the listening line");
    let port = yolk_bench::parse_listening_line(&line).expect("listening on 127.0.0.1:PORT");

    let output = Command::new(env!("CARGO_BIN_EXE_load"))
        .args(["--url", &format!("http://127.0.0.1:{port}/")])
        .args([
            "--connections",
            "4",
            "--duration-ms",
            "300",
            "--warmup-ms",
            "50",
        ])
        .output()
        .expect("run load");
    assert!(output.status.success(), "{output:?}");
    let json = String::from_utf8(output.stdout).expect("utf-8");
    assert!(number(&json, "requests") > 0.0, "{json}");
    assert_eq!(number(&json, "errors"), 0.0, "{json}");
    assert_eq!(number(&json, "seconds"), 0.3, "{json}");
    assert!(number(&json, "p99_us") >= number(&json, "p50_us"), "{json}");
}

#[test]
fn load_refuses_other_hosts() {
    for url in ["http://localhost:80/", "http://192.0.2.1:80/"] {
        let output = Command::new(env!("CARGO_BIN_EXE_load"))
            .args(["--url", url, "--duration-ms", "100"])
            .output()
            .expect("run load");
        assert_eq!(output.status.code(), Some(2), "{url} was not refused");
        assert!(output.stdout.is_empty());
    }
}
