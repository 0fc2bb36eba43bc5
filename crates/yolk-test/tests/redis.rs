//! `RedisServer` with the real `redis-server`: it answers on its port, keeps what it is told
//! until stopped, comes back empty on the same port, and is gone once dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use yolk_test::process::children_of;
use yolk_test::redis::RedisServer;

/// Sends one inline command; the reply's first line.
fn command(port: u16, line: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "{line}\r\n")?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    Ok(reply.trim_end().to_owned())
}

/// The `redis-server` processes this test process started.
fn servers() -> Vec<u32> {
    children_of(std::process::id())
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.starts_with("redis-server"))
        })
        .collect()
}

#[test]
fn a_server_serves_stops_restarts_empty_and_goes_when_dropped() {
    let Some(mut redis) = RedisServer::start_or_skip() else {
        return;
    };
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/", redis.port()));
    assert_eq!(command(redis.port(), "PING").unwrap(), "+PONG");
    assert_eq!(command(redis.port(), "SET greeting hello").unwrap(), "+OK");
    assert_eq!(command(redis.port(), "GET greeting").unwrap(), "$5");
    let running = servers();
    assert_eq!(running.len(), 1, "{running:?}");

    redis.stop();
    assert!(command(redis.port(), "PING").is_err(), "still answering");
    assert!(servers().is_empty());

    redis.restart().unwrap();
    assert_eq!(
        command(redis.port(), "GET greeting").unwrap(),
        "$-1",
        "nothing kept"
    );
    assert_eq!(servers().len(), 1);

    drop(redis);
    assert!(servers().is_empty());
}
