//! A real 2-worker cluster of `log-demo` under continuous requests, rotated by `SIGUSR1` to the
//! agent several times: afterwards every acknowledged id is logged exactly once across the
//! current and the rotated files, and every line is whole.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

const BIN: &str = env!("CARGO_BIN_EXE_log-demo");

/// The master in its own process group, killed with the group when dropped.
struct Cluster {
    master: Child,
    pid: u32,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(group) = Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
        }
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}

fn start(dir: &std::path::Path) -> (Cluster, String) {
    let mut master = Command::new(BIN)
        .args(["start", "--workers", "2", "--port", "0", "--env", "local"])
        .current_dir(dir)
        .env("YOLK_LOGGER__CONSOLE_LEVEL", "none")
        // Lines reach the file within 100 ms, so each rotation finds some to rename.
        .env("YOLK_LOGGER__FLUSH_INTERVAL_MS", "100")
        .env_remove("YOLK_ENV")
        .env_remove("YOLK_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("log-demo starts");
    let pid = master.id();
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = master.stderr.take().unwrap();
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buffer) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    let (sender, lines) = std::sync::mpsc::channel();
    let stdout = master.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = sender.send(line);
        }
    });
    let cluster = Cluster {
        master,
        pid,
        stderr,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).unwrap_or_else(|_| {
            panic!("no ready line; stderr:\n{}", cluster.stderr.lock().unwrap())
        });
        if let Some(rest) = line.strip_prefix("yolk started on http://") {
            let address = rest.split_whitespace().next().unwrap().to_owned();
            return (cluster, address);
        }
    }
}

fn get(address: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("incomplete response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_owned()))
}

fn whole_line(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 24
        && b[..23].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            19 => *c == b',',
            _ => c.is_ascii_digit(),
        })
        && line[24..].starts_with("INFO ")
}

#[test]
fn rotation_under_load_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cluster, address) = start(dir.path());
    let pid_file = yolk_logger::pid_file(dir.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    let agent: i32 = loop {
        if let Ok(text) = std::fs::read_to_string(&pid_file)
            && let Ok(pid) = text.trim().parse()
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "no {}", pid_file.display());
        std::thread::sleep(Duration::from_millis(50));
    };

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let stop = Arc::clone(&stop);
            let acknowledged = Arc::clone(&acknowledged);
            let address = address.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("id-{client}-{n}");
                    n += 1;
                    if let Ok((200, body)) = get(&address, &format!("/log/{id}")) {
                        assert_eq!(body, id);
                        acknowledged.lock().unwrap().push(id);
                    }
                }
            })
        })
        .collect();

    let rotations = 5;
    for _ in 0..rotations {
        std::thread::sleep(Duration::from_millis(400));
        // `log-demo rotate-logs`: SIGUSR1 to the master (found by its pid file), which hands it
        // to the agent, as a logrotate `postrotate` would.
        let status = Command::new(BIN)
            .args(["rotate-logs", "--base-dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    std::thread::sleep(Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    assert!(agent > 0);

    // A graceful stop writes every buffered line.
    rustix::process::kill_process(Pid::from_raw(cluster.pid as i32).unwrap(), Signal::TERM)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(45);
    while cluster.master.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the master did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }

    let log_dir = dir.path().join("logs/log-demo");
    let mut files: Vec<String> = std::fs::read_dir(&log_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("log-demo-web.log"))
        .collect();
    files.sort();
    assert!(
        files.len() > rotations / 2 + 1,
        "too few rotated files: {files:?}\nstderr:\n{}",
        cluster.stderr.lock().unwrap()
    );
    let mut seen: HashMap<String, u32> = HashMap::new();
    for name in &files {
        let text = std::fs::read_to_string(log_dir.join(name)).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{name} ends mid-line"
        );
        for line in text.lines() {
            assert!(whole_line(line), "torn line in {name}: {line:?}");
            let id = line
                .rsplit_once("] logged ")
                .map(|(_, id)| id.to_owned())
                .unwrap_or_else(|| panic!("unexpected line in {name}: {line}"));
            *seen.entry(id).or_default() += 1;
        }
    }
    let acknowledged = acknowledged.lock().unwrap();
    assert!(
        acknowledged.len() > 100,
        "too little load: {}",
        acknowledged.len()
    );
    for id in acknowledged.iter() {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "{id} is logged {:?} times",
            seen.get(id)
        );
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    eprintln!(
        "{} ids over {} files ({} rotations)",
        acknowledged.len(),
        files.len(),
        rotations
    );
}
