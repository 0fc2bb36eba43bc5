//! Event sources: what turns a path into events. `development` watches for real, `default`
//! watches nothing; an app may register its own.

use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use notify::{PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, NoCache, new_debouncer_opt};

use crate::config::{Polling, WatcherConfig};
use crate::error::WatchError;
use crate::event::{Event, collapse, from_notify};

/// Where a source's events go: called with each debounced batch, from the source's own
/// thread. It must not block.
pub type EventSink = Arc<dyn Fn(Vec<Event>) + Send + Sync>;

/// One path for a source to watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchTarget {
    /// The absolute path.
    pub path: PathBuf,
    /// Watch everything under it (a directory), or the path alone.
    pub recursive: bool,
}

/// A running watch: dropping it stops the watch.
pub struct SourceWatch {
    guard: Option<Box<dyn Any + Send>>,
}

impl SourceWatch {
    /// Wraps whatever keeps the watch alive; it is dropped when the watch ends.
    ///
    /// ```
    /// let watch = yolk_watcher::SourceWatch::new(std::sync::Arc::new(()));
    /// assert!(watch.is_active());
    /// ```
    pub fn new(guard: impl Any + Send) -> Self {
        Self {
            guard: Some(Box::new(guard)),
        }
    }

    /// A watch that watches nothing.
    ///
    /// ```
    /// assert!(!yolk_watcher::SourceWatch::inactive().is_active());
    /// ```
    pub fn inactive() -> Self {
        Self { guard: None }
    }

    /// True when something is kept alive for this watch.
    pub fn is_active(&self) -> bool {
        self.guard.is_some()
    }
}

impl fmt::Debug for SourceWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceWatch")
            .field("active", &self.is_active())
            .finish()
    }
}

/// Turns a path into events: Egg's event source.
///
/// The agent owns the sources; each path is watched once, whatever the number of
/// subscribers. Register one with
/// [`WatcherPlugin::event_source`](crate::WatcherPlugin::event_source).
///
/// ```
/// use yolk_watcher::{EventSink, EventSource, SourceWatch, WatchError, WatchTarget};
///
/// /// Reports nothing, and counts the paths it was asked to watch.
/// #[derive(Debug, Default)]
/// struct Counting(std::sync::atomic::AtomicUsize);
///
/// impl EventSource for Counting {
///     fn watch(&self, _target: &WatchTarget, _sink: EventSink) -> Result<SourceWatch, WatchError> {
///         self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
///         Ok(SourceWatch::inactive())
///     }
/// }
///
/// let source = Counting::default();
/// let target = WatchTarget { path: "/app".into(), recursive: true };
/// source.watch(&target, std::sync::Arc::new(|_events| {})).unwrap();
/// assert_eq!(source.0.load(std::sync::atomic::Ordering::SeqCst), 1);
/// ```
pub trait EventSource: Send + Sync + fmt::Debug + 'static {
    /// Starts watching `target`, sending each debounced batch to `sink` until the returned
    /// [`SourceWatch`] is dropped.
    ///
    /// # Errors
    ///
    /// A [`WatchError`] naming the path when it cannot be watched.
    fn watch(&self, target: &WatchTarget, sink: EventSink) -> Result<SourceWatch, WatchError>;
}

/// The `development` source: notify with its full debouncer, native notifications with a
/// polling fallback.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use yolk_watcher::{DevelopmentSource, EventKind, EventSource, WatchTarget};
///
/// let dir = tempfile::tempdir().unwrap();
/// let source = DevelopmentSource::new(Duration::from_millis(50));
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let target = WatchTarget { path: dir.path().canonicalize().unwrap(), recursive: true };
/// let _watch = source
///     .watch(&target, Arc::new(move |events| sink.lock().unwrap().extend(events)))
///     .unwrap();
/// std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
/// for _ in 0..100 {
///     if !seen.lock().unwrap().is_empty() { break; }
///     std::thread::sleep(Duration::from_millis(50));
/// }
/// assert_eq!(seen.lock().unwrap()[0].kind, EventKind::Created);
/// ```
#[derive(Clone, Debug)]
pub struct DevelopmentSource {
    debounce: Duration,
    polling: Polling,
    poll_interval: Duration,
    compare_contents: bool,
}

impl DevelopmentSource {
    /// Native notifications (polling where they fail), debounced by `debounce`.
    pub fn new(debounce: Duration) -> Self {
        let defaults = WatcherConfig::default();
        Self {
            debounce,
            polling: defaults.polling,
            poll_interval: defaults.poll_interval(),
            compare_contents: defaults.poll_compare_contents,
        }
    }

    /// From the `[watcher]` section.
    pub fn from_config(config: &WatcherConfig) -> Self {
        Self {
            debounce: config.debounce(),
            polling: config.polling,
            poll_interval: config.poll_interval(),
            compare_contents: config.poll_compare_contents,
        }
    }

    /// When to poll. Default: [`Polling::Auto`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use yolk_watcher::{DevelopmentSource, Polling};
    ///
    /// let source = DevelopmentSource::new(Duration::from_millis(200))
    ///     .with_polling(Polling::Always)
    ///     .with_poll_interval(Duration::from_millis(100));
    /// assert_eq!(source.polling(), Polling::Always);
    /// ```
    #[must_use]
    pub fn with_polling(mut self, polling: Polling) -> Self {
        self.polling = polling;
        self
    }

    /// How often the poller scans. Default: 500 ms.
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Whether the poller hashes file contents (its modification times have whole-second
    /// resolution). Default: `true`.
    #[must_use]
    pub fn with_poll_compare_contents(mut self, compare: bool) -> Self {
        self.compare_contents = compare;
        self
    }

    /// When this source polls.
    pub fn polling(&self) -> Polling {
        self.polling
    }

    fn native(&self, target: &WatchTarget, sink: EventSink) -> Result<SourceWatch, WatchError> {
        let mut debouncer: Debouncer<RecommendedWatcher, NoCache> = new_debouncer_opt(
            pairing_window(self.debounce),
            None,
            handler(sink, self.debounce),
            NoCache,
            notify::Config::default(),
        )
        .map_err(|source| notify_error(&target.path, source))?;
        debouncer
            .watch(&target.path, mode(target))
            .map_err(|source| notify_error(&target.path, source))?;
        Ok(SourceWatch::new(debouncer))
    }

    fn poll(&self, target: &WatchTarget, sink: EventSink) -> Result<SourceWatch, WatchError> {
        let config = notify::Config::default()
            .with_poll_interval(self.poll_interval)
            .with_compare_contents(self.compare_contents);
        let mut debouncer: Debouncer<PollWatcher, NoCache> = new_debouncer_opt(
            pairing_window(self.debounce),
            None,
            handler(sink, self.debounce),
            NoCache,
            config,
        )
        .map_err(|source| notify_error(&target.path, source))?;
        debouncer
            .watch(&target.path, mode(target))
            .map_err(|source| notify_error(&target.path, source))?;
        Ok(SourceWatch::new(debouncer))
    }
}

impl Default for DevelopmentSource {
    fn default() -> Self {
        Self::from_config(&WatcherConfig::default())
    }
}

impl EventSource for DevelopmentSource {
    fn watch(&self, target: &WatchTarget, sink: EventSink) -> Result<SourceWatch, WatchError> {
        match self.polling {
            Polling::Never => self.native(target, sink),
            Polling::Always => self.poll(target, sink),
            Polling::Auto => self.native(target, sink.clone()).or_else(|error| {
                tracing::warn!(
                    "watcher: native notifications failed ({error}); polling `{}` every {:?} instead",
                    target.path.display(),
                    self.poll_interval
                );
                self.poll(target, sink)
            }),
        }
    }
}

/// The `default` source: watches nothing, and says so.
///
/// ```
/// use std::sync::Arc;
/// use yolk_watcher::{EventSource, NoopSource, WatchTarget};
///
/// let target = WatchTarget { path: "/app".into(), recursive: true };
/// let watch = NoopSource.watch(&target, Arc::new(|_| {})).unwrap();
/// assert!(!watch.is_active());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopSource;

impl EventSource for NoopSource {
    fn watch(&self, target: &WatchTarget, _sink: EventSink) -> Result<SourceWatch, WatchError> {
        tracing::warn!(
            "watcher: `{}` is not watched: the event source is `default`, which watches nothing (set `[watcher] type = \"development\"` to watch)",
            target.path.display()
        );
        Ok(SourceWatch::inactive())
    }
}

fn mode(target: &WatchTarget) -> RecursiveMode {
    if target.recursive {
        RecursiveMode::Recursive
    } else {
        RecursiveMode::NonRecursive
    }
}

fn notify_error(path: &Path, source: notify::Error) -> WatchError {
    WatchError::Notify {
        path: path.to_owned(),
        source: Box::new(source),
    }
}

/// Feeds notify's debounced batches (which pair renames) to a thread that waits until the
/// watch has been quiet for `quiet`, then hands one collapsed batch to `sink`: a burst of
/// writes, however long, is one call.
fn handler(sink: EventSink, quiet: Duration) -> impl FnMut(DebounceEventResult) + Send + 'static {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<Event>>();
    let spawned = std::thread::Builder::new()
        .name("yolk-watcher".to_owned())
        .spawn(move || {
            while let Ok(mut pending) = rx.recv() {
                loop {
                    match rx.recv_timeout(quiet) {
                        Ok(more) => pending.extend(more),
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                let events = collapse(pending);
                if !events.is_empty() {
                    sink(events);
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!("watcher: cannot start the debounce thread: {error}");
    }
    move |result: DebounceEventResult| match result {
        Ok(batch) => {
            let mut events = Vec::with_capacity(batch.len());
            for event in &batch {
                from_notify(event, &mut events);
            }
            if !events.is_empty() {
                let _ = tx.send(events);
            }
        }
        Err(errors) => {
            for error in errors {
                tracing::warn!("watcher: {error}");
            }
        }
    }
}

/// notify's own debounce window: short, only to pair the two halves of a rename; the quiet
/// window that collapses bursts is ours.
fn pairing_window(debounce: Duration) -> Duration {
    (debounce / 4).clamp(Duration::from_millis(10), Duration::from_millis(50))
}
