//! `RedisStore` against a real `redis-server` started on a free port (and always killed):
//! the Set-Cookie rules, regenerate, TTL on the key, and a Redis restart mid-test.
#![cfg(feature = "redis")]

mod common;

use std::time::{Duration, Instant};

use http::StatusCode;
use yolk_session::{MaxAge, RedisStore, SessionLayer};
use yolk_test::redis::RedisServer;

use common::Client;

#[tokio::test]
async fn redis_store_set_cookie_rules_and_regenerate() {
    let Some(server) = RedisServer::start_or_skip() else {
        return;
    };
    let store = RedisStore::open(&server.url()).unwrap();
    common::set_cookie_rules(SessionLayer::with_store(store.clone())).await;
    common::regenerate_drops_old_id(SessionLayer::with_store(store)).await;
}

#[tokio::test]
async fn redis_keys_carry_the_session_ttl() {
    let Some(server) = RedisServer::start_or_skip() else {
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
    let Some(mut server) = RedisServer::start_or_skip() else {
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
    server.restart().unwrap();
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
