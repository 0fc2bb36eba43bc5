//! The plugin through `App::builder()` and `yolk_test::TestApp`: source by env and config,
//! custom sources, and the agent sharing one OS watch between workers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{AGENT_PID, Mesh, channel, next};
use yolk_core::App;
use yolk_core::plugin::Role;
use yolk_test::TestApp;
use yolk_watcher::{
    DevelopmentSource, EventKind, EventSink, EventSource, SourceWatch, WatchError, WatchTarget,
    Watcher, WatcherPlugin,
};

/// Wraps the development source and counts the OS watches it opens.
#[derive(Debug)]
struct Counting {
    inner: DevelopmentSource,
    watches: Arc<AtomicUsize>,
}

impl EventSource for Counting {
    fn watch(&self, target: &WatchTarget, sink: EventSink) -> Result<SourceWatch, WatchError> {
        self.watches.fetch_add(1, Ordering::SeqCst);
        self.inner.watch(target, sink)
    }
}

fn counting() -> (Arc<Counting>, Arc<AtomicUsize>) {
    let watches = Arc::new(AtomicUsize::new(0));
    let source = Counting {
        inner: DevelopmentSource::new(Duration::from_millis(50)),
        watches: watches.clone(),
    };
    (Arc::new(source), watches)
}

#[tokio::test]
async fn unittest_env_watches_for_real() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(
        App::builder()
            .base_dir(dir.path())
            .plugin(WatcherPlugin::default()),
    )
    .await
    .unwrap();
    let watcher = app
        .service::<Watcher>()
        .expect("the plugin provides a Watcher");
    let (callback, mut rx) = channel();
    let _handle = watcher.watch(dir.path(), callback).await.unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let events = next(&mut rx).await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Created && e.path.ends_with("a.txt")),
        "{events:?}"
    );
}

#[tokio::test]
async fn prod_defaults_to_the_no_op_source() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::builder()
        .base_dir(dir.path())
        .env("prod")
        .plugin(WatcherPlugin::default())
        .build()
        .await
        .unwrap();
    let watcher = app.context().get::<Watcher>().unwrap();
    let (callback, mut rx) = channel();
    let _handle = watcher.watch(dir.path(), callback).await.unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let got = tokio::time::timeout(Duration::from_millis(600), rx.recv()).await;
    assert!(got.is_err(), "the default source reports nothing: {got:?}");
}

#[tokio::test]
async fn type_in_config_picks_a_registered_source() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/config.default.toml"),
        "[watcher]\ntype = \"counting\"\n",
    )
    .unwrap();
    let (source, watches) = counting();
    let app = App::builder()
        .base_dir(dir.path())
        .env("prod")
        .plugin(WatcherPlugin::default().event_source("counting", source))
        .build()
        .await
        .unwrap();
    let watcher = app.context().get::<Watcher>().unwrap();
    let _handle = watcher
        .watch(dir.path(), |_: &[yolk_watcher::Event]| {})
        .await
        .unwrap();
    assert_eq!(watches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unknown_type_stops_start_up_naming_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let error = App::builder()
        .base_dir(dir.path())
        .config("watcher", serde_json::json!({ "type": "chokidar" }))
        .plugin(WatcherPlugin::default())
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("\"chokidar\""), "{error}");
    assert!(error.contains("`default`, `development`"), "{error}");
}

#[tokio::test]
async fn an_unknown_key_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = App::builder()
        .base_dir(dir.path())
        .config("watcher", serde_json::json!({ "debounce": 10 }))
        .plugin(WatcherPlugin::default())
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("debounce"), "{error}");
}

/// An agent and two workers, each an app with its own messenger and pid, routed as the
/// cluster's master routes them.
#[tokio::test]
async fn two_workers_share_one_os_watch_in_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    // A directory of its own: the apps write their `run/` files into `dir`.
    let root = dir.path().canonicalize().unwrap().join("watched");
    std::fs::create_dir(&root).unwrap();
    let (source, watches) = counting();
    let mesh = Mesh::new();
    let build = |role: Role, pid: u32| {
        App::builder()
            .base_dir(dir.path())
            .env("local")
            .role(role)
            .messenger(mesh.join(pid))
            .plugin(WatcherPlugin::default().event_source("development", source.clone()))
            .build()
    };
    let agent = build(Role::Agent, AGENT_PID).await.unwrap();
    agent.start_agent().await;
    let first = build(Role::Worker, 2).await.unwrap();
    let second = build(Role::Worker, 3).await.unwrap();

    let (one, mut rx_one) = channel();
    let (two, mut rx_two) = channel();
    let w1 = first.context().get::<Watcher>().unwrap();
    let w2 = second.context().get::<Watcher>().unwrap();
    let h1 = w1.watch(&root, one).await.unwrap();
    let h2 = w2.watch(root.as_path(), two).await.unwrap();

    assert_eq!(
        watches.load(Ordering::SeqCst),
        1,
        "one OS watch for both workers"
    );
    let stats = agent
        .context()
        .get::<Watcher>()
        .unwrap()
        .stats()
        .await
        .unwrap();
    assert_eq!((stats.os_watches, stats.subscriptions), (1, 2));
    assert_eq!(
        w1.stats().await.unwrap(),
        stats,
        "a worker sees the agent's counts"
    );

    let file = root.join("shared.toml");
    std::fs::write(&file, "x = 1").unwrap();
    for rx in [&mut rx_one, &mut rx_two] {
        let events = next(rx).await;
        assert_eq!(
            (events[0].path.as_path(), events[0].kind),
            (file.as_path(), EventKind::Created)
        );
    }

    let missing = root.join("nope");
    let error = w1
        .watch(&missing, |_: &[yolk_watcher::Event]| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&error, WatchError::Missing { path } if *path == missing),
        "{error}"
    );

    drop(h1);
    drop(h2);
    for _ in 0..100 {
        if w1.stats().await.unwrap().os_watches == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        w1.stats().await.unwrap(),
        Default::default(),
        "the last one out stops the OS watch"
    );
}

/// A restarted agent serves the watches its predecessor had: workers renew them when the
/// master announces it, and a second announcement does not double them.
#[tokio::test]
async fn a_restarted_agent_gets_the_workers_watches_again() {
    let dir = tempfile::tempdir().unwrap();
    // A directory of its own: the apps write their `run/` files into `dir`.
    let root = dir.path().canonicalize().unwrap().join("watched");
    std::fs::create_dir(&root).unwrap();
    let mesh = Mesh::new();
    let build = |role: Role, pid: u32| {
        App::builder()
            .base_dir(dir.path())
            .env("local")
            .config("watcher", serde_json::json!({ "debounce_ms": 50 }))
            .role(role)
            .messenger(mesh.join(pid))
            .plugin(WatcherPlugin::default())
            .build()
    };
    let first_agent = build(Role::Agent, AGENT_PID).await.unwrap();
    let worker = build(Role::Worker, 2).await.unwrap();
    let watcher = worker.context().get::<Watcher>().unwrap();
    let (callback, mut rx) = channel();
    let _handle = watcher.watch(&root, callback).await.unwrap();

    // The agent dies; the master starts a new one under the agent's address.
    drop(first_agent);
    let second_agent = build(Role::Agent, AGENT_PID).await.unwrap();
    let agent_watcher = second_agent.context().get::<Watcher>().unwrap();
    assert_eq!(agent_watcher.stats().await.unwrap().subscriptions, 0);
    mesh.announce_agent();
    for _ in 0..100 {
        if agent_watcher.stats().await.unwrap().subscriptions == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(agent_watcher.stats().await.unwrap().subscriptions, 1);

    let file = root.join("after-restart.txt");
    std::fs::write(&file, "x").unwrap();
    let events = next(&mut rx).await;
    assert_eq!(events[0].path, file);
    let more = common::drain(&mut rx, Duration::from_millis(300)).await;
    assert!(
        more.is_empty(),
        "the first agent's watch ended with it: {more:?}"
    );

    // Announced again (the worker cannot tell a renewal was taken): still one watch, and
    // one batch per change.
    mesh.announce_agent();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        agent_watcher.stats().await.unwrap(),
        yolk_watcher::WatchStats {
            os_watches: 1,
            subscriptions: 1
        }
    );
    let file = root.join("after-renewal.txt");
    std::fs::write(&file, "x").unwrap();
    let events = next(&mut rx).await;
    assert_eq!(events[0].path, file);
    let more = common::drain(&mut rx, Duration::from_millis(500)).await;
    assert!(more.is_empty(), "one batch per change: {more:?}");
}
