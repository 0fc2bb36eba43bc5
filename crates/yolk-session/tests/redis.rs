//! `RedisStore` against a real `redis-server` started on a free port (and always killed):
//! the Set-Cookie rules, regenerate, TTL on the key, and a Redis restart mid-test.
#![cfg(feature = "redis")]

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http::StatusCode;
use yolk_session::{MaxAge, RedisStore, SessionLayer};

use common::Client;

/// A `redis-server` on 127.0.0.1, killed and reaped when dropped.
struct RedisServer {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one on a free port, or `None` when `redis-server` is not installed (outside CI).
    fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not installed; .ci/run installs it"
            );
            eprintln!("redis-server not installed: skipping the Redis tests");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            port,
            child: None,
            dir: tempfile::tempdir().unwrap(),
        };
        server.spawn();
        Some(server)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn redis_store_set_cookie_rules_and_regenerate() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&server.url()).unwrap();
    common::set_cookie_rules(SessionLayer::with_store(store.clone())).await;
    common::regenerate_drops_old_id(SessionLayer::with_store(store)).await;
}

#[tokio::test]
async fn redis_keys_carry_the_session_ttl() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&server.url()).unwrap().with_prefix("t:");
    let layer =
        SessionLayer::with_store(store).with_max_age(MaxAge::Duration(Duration::from_secs(60)));
    let mut c = Client::new(layer);
    c.get("/set?v=ada").await;
    let id = c.get("/id").await.body;

    let client = redis::Client::open(server.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("t:{id}"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((55_000..=60_000).contains(&ttl), "PTTL {ttl}");

    // A browser-session cookie still gets a finite TTL (one day).
    let store = RedisStore::open(&server.url()).unwrap().with_prefix("t:");
    let mut c = Client::new(SessionLayer::with_store(store).with_max_age(MaxAge::Session));
    c.get("/set?v=ada").await;
    let id = c.get("/id").await.body;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("t:{id}"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 86_000_000 && ttl <= 86_400_000, "PTTL {ttl}");
}

#[tokio::test]
async fn redis_restart_mid_test_gives_503_then_recovers() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&server.url()).unwrap();
    let mut c = Client::new(SessionLayer::with_store(store));
    c.get("/set?v=ada").await;
    assert_eq!(c.get("/get").await.body, "ada");

    server.stop();
    // Loading: a 503 naming the store, JSON for JSON clients; never a panic.
    let reply = c
        .send_with(
            "/get",
            c.cookie.clone().as_deref(),
            Some("application/json"),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("session store `redis` is unavailable")
    );
    // Saving a new session: the response becomes a 503 too (not a silent loss).
    let reply = c.send_with("/set?v=eve", None, None).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert!(reply.body.contains("redis"), "{}", reply.body);
    assert_eq!(reply.set_cookie, None);
    // Requests that do not touch the session are unaffected.
    assert_eq!(c.get("/untouched").await.status, StatusCode::OK);

    // Restarted empty (no persistence): the connection comes back by itself.
    server.spawn();
    let deadline = Instant::now() + Duration::from_secs(10);
    let reply = loop {
        let reply = c.get("/get").await;
        if reply.status == StatusCode::OK || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "none", "the restarted Redis kept nothing");
    c.get("/set?v=grace").await;
    assert_eq!(c.get("/get").await.body, "grace");
}
