//! `type = "cluster"` in process: two schedulers (two "instances") share a real
//! `redis-server`; and a Redis that cannot be reached costs ticks, logged, never a crash.
#![cfg(feature = "redis")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use yolk_schedule::{Job, Scheduler};
use yolk_test::redis::RedisServer;

type Seen = Arc<Mutex<BTreeMap<u64, Vec<&'static str>>>>;

fn instance(url: &str, who: &'static str, seen: &Seen) -> Scheduler {
    let seen = Arc::clone(seen);
    Scheduler::local()
        .with_redis_url(url)
        .job(
            Job::interval("once", "100ms", move |ctx| {
                let seen = Arc::clone(&seen);
                async move {
                    seen.lock()
                        .unwrap()
                        .entry(ctx.tick())
                        .or_default()
                        .push(who);
                    Ok(())
                }
            })
            .cluster(),
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_run_each_tick_once() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let seen: Seen = Arc::default();
    let a = instance(&redis.url(), "a", &seen);
    let b = instance(&redis.url(), "b", &seen);
    a.start().unwrap();
    b.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < 8 {
        assert!(Instant::now() < deadline, "{:?}", seen.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.stop();
    b.stop();
    let seen = seen.lock().unwrap().clone();
    for (tick, runs) in &seen {
        assert_eq!(runs.len(), 1, "tick {tick}: {runs:?}");
        assert_eq!(tick % 100, 0, "ticks are aligned: {tick}");
    }
    // The lock keys carry a TTL.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("yolk-schedule:app:once:{}", seen.keys().next().unwrap());
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((50_000..=60_000).contains(&ttl), "PTTL {key} = {ttl}");
}

#[tokio::test]
async fn an_unreachable_redis_skips_ticks_and_logs_why() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("schedule.log");
    let port = yolk_test::net::free_port().unwrap();
    let seen: Seen = Arc::default();
    let scheduler = instance(&format!("redis://127.0.0.1:{port}/"), "a", &seen).with_log_file(&log);
    scheduler.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.matches("the Redis lock failed").count() >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    scheduler.stop();
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(scheduler.stats("once").unwrap().dispatched, 0);
}
