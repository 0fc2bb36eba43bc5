//! The scheduler beside a plain axum server on a real socket, no loader: jobs tick while the
//! server answers, and a handler reads what the jobs did.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use yolk_schedule::{Job, Scheduler};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_tick_beside_a_plain_axum_server() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("schedule.log");
    let ticks = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&ticks);
    let scheduler = Scheduler::local()
        .with_log_file(&log)
        .job(Job::interval("tick", "25ms", move |_| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }))
        .unwrap()
        .job(Job::interval("boom", "25ms", |_| async { panic!("boom") }))
        .unwrap();
    scheduler.start().unwrap();

    let app = Router::new()
        .route(
            "/ticks",
            get(|State(ticks): State<Arc<AtomicU64>>| async move {
                ticks.load(Ordering::SeqCst).to_string()
            }),
        )
        .with_state(Arc::clone(&ticks));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let address = address.clone();
        let body = tokio::task::spawn_blocking(move || yolk_test::net::get(&address, "/ticks"))
            .await
            .unwrap()
            .unwrap()
            .body;
        if body.parse::<u64>().unwrap() >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the job did not tick");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The panicking job never took the server or the other job down (printing a panic's
    // backtrace may take a while, so wait for its report).
    while scheduler.stats("boom").unwrap().failed == 0 {
        assert!(Instant::now() < deadline, "{:?}", scheduler.stats("boom"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(scheduler.stats("tick").unwrap().succeeded >= 3);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("[boom] tick 1 panicked after"), "{text}");
    scheduler.stop();
    server.abort();
}

#[tokio::test]
async fn cron_jobs_fire_on_their_second() {
    let fired = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&fired);
    let scheduler = Scheduler::local()
        .job(Job::cron("every-second", "* * * * * *", move |_| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().unwrap().push(chrono::Utc::now());
                Ok(())
            }
        }))
        .unwrap();
    scheduler.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while fired.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "the cron job did not fire");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    scheduler.stop();
    let fired = fired.lock().unwrap().clone();
    for pair in fired.windows(2) {
        let seconds = pair[1].timestamp() - pair[0].timestamp();
        assert_eq!(seconds, 1, "{fired:?}");
    }
    for at in &fired {
        // At the start of its second, not a wandering offset.
        assert!(at.timestamp_subsec_millis() < 500, "{fired:?}");
    }
}

/// An `agent` job runs in the process holding the timers: no worker side is started here, and
/// each run knows the second its cron tick was due.
#[tokio::test]
async fn agent_jobs_run_beside_the_timers_knowing_when_they_were_due() {
    let due = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&due);
    let scheduler = Scheduler::local()
        .job(
            Job::cron("here", "* * * * * *", move |ctx| {
                let sink = Arc::clone(&sink);
                async move {
                    sink.lock().unwrap().push((ctx.tick(), ctx.due()));
                    Ok(())
                }
            })
            .agent(),
        )
        .unwrap();
    scheduler.start_agent().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while scheduler.stats("here").unwrap().succeeded < 2 {
        assert!(Instant::now() < deadline, "{:?}", scheduler.stats("here"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    scheduler.stop();
    let due = due.lock().unwrap().clone();
    assert_eq!(due[0].0, 1);
    assert_eq!(due[1].0, 2);
    let (first, second) = (due[0].1.unwrap(), due[1].1.unwrap());
    assert_eq!(first.timestamp_subsec_millis(), 0, "{first}");
    assert_eq!((second - first).num_milliseconds(), 1000);
    let stats = scheduler.stats("here").unwrap();
    assert!(stats.dispatched >= 2 && stats.failed == 0, "{stats:?}");
}
