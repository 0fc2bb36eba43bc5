//! The development source over a real temp dir: each kind of change, debouncing, polling.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{channel, drain, next};
use yolk_watcher::{DevelopmentSource, EventKind, Polling, WatchOptions, Watcher};

fn watcher(polling: Polling) -> Watcher {
    let source = DevelopmentSource::new(Duration::from_millis(100))
        .with_polling(polling)
        .with_poll_interval(Duration::from_millis(50));
    Watcher::local(Arc::new(source))
}

fn tempdir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().canonicalize().unwrap();
    (dir, path)
}

#[tokio::test]
async fn create_modify_remove_rename_in_a_directory() {
    let (_dir, root) = tempdir();
    let watcher = watcher(Polling::Never);
    let (callback, mut rx) = channel();
    let _handle = watcher.watch(&root, callback).await.unwrap();
    let file = root.join("sub/a.txt");
    std::fs::create_dir(root.join("sub")).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = drain(&mut rx, Duration::from_millis(300)).await;

    std::fs::write(&file, "one").unwrap();
    let events = next(&mut rx).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].path.as_path(), events[0].kind),
        (file.as_path(), EventKind::Created)
    );

    std::fs::write(&file, "two").unwrap();
    let events = next(&mut rx).await;
    assert_eq!(
        (events[0].path.as_path(), events[0].kind),
        (file.as_path(), EventKind::Modified)
    );

    let renamed = root.join("sub/b.txt");
    std::fs::rename(&file, &renamed).unwrap();
    let events = next(&mut rx).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, EventKind::Renamed);
    assert_eq!(events[0].path, renamed);
    assert_eq!(events[0].from.as_deref(), Some(file.as_path()));

    std::fs::remove_file(&renamed).unwrap();
    let events = next(&mut rx).await;
    assert_eq!(
        (events[0].path.as_path(), events[0].kind),
        (renamed.as_path(), EventKind::Removed)
    );
}

#[tokio::test]
async fn a_single_file_can_be_watched() {
    let (_dir, root) = tempdir();
    let file = root.join("config.toml");
    let other = root.join("other.toml");
    std::fs::write(&file, "a = 1").unwrap();
    let watcher = watcher(Polling::Never);
    let (callback, mut rx) = channel();
    let _handle = watcher.watch(file.as_path(), callback).await.unwrap();
    std::fs::write(&other, "b = 1").unwrap();
    std::fs::write(&file, "a = 2").unwrap();
    let events = next(&mut rx).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].path, file);
}

#[tokio::test]
async fn debouncing_collapses_a_burst_into_one_call() {
    let (_dir, root) = tempdir();
    let file = root.join("burst.txt");
    std::fs::write(&file, "0").unwrap();
    let watcher = watcher(Polling::Never);
    let (callback, mut rx) = channel();
    let _handle = watcher.watch(&root, callback).await.unwrap();
    for n in 0..50 {
        std::fs::write(&file, n.to_string()).unwrap();
    }
    let batches = drain(&mut rx, Duration::from_millis(1_500)).await;
    assert_eq!(
        batches.len(),
        1,
        "one call for the whole burst: {batches:?}"
    );
    assert_eq!(batches[0].len(), 1, "one event for the path: {batches:?}");
    assert_eq!(batches[0][0].kind, EventKind::Modified);
}

#[tokio::test]
async fn the_polling_fallback_sees_changes_too() {
    let (_dir, root) = tempdir();
    let watcher = watcher(Polling::Always);
    let (callback, mut rx) = channel();
    let _handle = watcher.watch(&root, callback).await.unwrap();
    let file = root.join("polled.txt");
    std::fs::write(&file, "one").unwrap();
    assert_eq!(kind_of(&mut rx, &file).await, EventKind::Created);

    // Within the same second as the creation: mtimes alone would miss it.
    std::fs::write(&file, "two").unwrap();
    assert_eq!(kind_of(&mut rx, &file).await, EventKind::Modified);

    std::fs::remove_file(&file).unwrap();
    assert_eq!(kind_of(&mut rx, &file).await, EventKind::Removed);
}

/// The kind of the next event about `path` (the poller also reports its directory).
async fn kind_of(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<yolk_watcher::Event>>,
    path: &std::path::Path,
) -> EventKind {
    loop {
        let batch = next(rx).await;
        if let Some(event) = batch.into_iter().find(|event| event.path == path) {
            return event.kind;
        }
    }
}

#[tokio::test]
async fn a_missing_path_is_an_error_naming_it_unless_allowed() {
    let (_dir, root) = tempdir();
    let watcher = watcher(Polling::Never);
    let missing = root.join("not-yet");
    let error = watcher
        .watch(&missing, |_: &[yolk_watcher::Event]| {})
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains(&*missing.to_string_lossy()),
        "{error}"
    );
    assert!(error.to_string().contains("allow_missing"), "{error}");

    let (callback, mut rx) = channel();
    let _handle = watcher
        .watch_with(
            &missing,
            WatchOptions::default().allow_missing(true),
            callback,
        )
        .await
        .unwrap();
    std::fs::write(root.join("unrelated"), "x").unwrap();
    std::fs::write(&missing, "here").unwrap();
    let events = next(&mut rx).await;
    assert_eq!(events.len(), 1, "only the watched path: {events:?}");
    assert_eq!(
        (events[0].path.as_path(), events[0].kind),
        (missing.as_path(), EventKind::Created)
    );
}

#[tokio::test]
async fn dropping_the_handle_stops_the_os_watch() {
    let (_dir, root) = tempdir();
    let watcher = watcher(Polling::Never);
    let first = watcher
        .watch(&root, |_: &[yolk_watcher::Event]| {})
        .await
        .unwrap();
    let second = watcher
        .watch([&root, &root], |_: &[yolk_watcher::Event]| {})
        .await
        .unwrap();
    let stats = watcher.stats().await.unwrap();
    assert_eq!((stats.os_watches, stats.subscriptions), (1, 2));
    drop(first);
    assert_eq!(watcher.stats().await.unwrap().os_watches, 1);
    drop(second);
    assert_eq!(watcher.stats().await.unwrap().os_watches, 0);
}
