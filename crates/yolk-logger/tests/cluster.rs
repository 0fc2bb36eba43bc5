//! A real 2-worker cluster of `log-demo` under continuous requests, rotated by `SIGUSR1` to the
//! agent several times: afterwards every acknowledged id is logged exactly once across the
//! current and the rotated files, and every line is whole.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use yolk_test::cluster::Cluster;

const BIN: &str = env!("CARGO_BIN_EXE_log-demo");

fn start() -> Cluster {
    Cluster::builder(BIN)
        .args(["--workers", "2", "--env", "local"])
        .env("YOLK_LOGGER__CONSOLE_LEVEL", "none")
        // Lines reach the file within 100 ms, so each rotation finds some to rename.
        .env("YOLK_LOGGER__FLUSH_INTERVAL_MS", "100")
        .start()
        .unwrap_or_else(|error| panic!("{error}"))
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
    let cluster = start();
    let dir = cluster.dir();
    let pid_file = yolk_logger::pid_file(dir);
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
            let address = cluster.address().to_owned();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("id-{client}-{n}");
                    n += 1;
                    if let Ok(response) = yolk_test::net::get(&address, &format!("/log/{id}"))
                        && response.status == 200
                    {
                        assert_eq!(response.body, id);
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
        let status = yolk_test::cluster::command(BIN, dir)
            .args(["rotate-logs", "--base-dir"])
            .arg(dir)
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
    let stopped = cluster.process().stop(Duration::from_secs(45));
    assert!(
        stopped.is_some(),
        "the master did not stop:\n{}",
        cluster.process().stderr()
    );

    let log_dir = dir.join("logs/log-demo");
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
        cluster.process().stderr()
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
