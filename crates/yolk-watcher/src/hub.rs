//! The agent's side: one OS watch per path, shared by every subscriber.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use serde::{Deserialize, Serialize};

use crate::error::WatchError;
use crate::event::Event;
use crate::source::{EventSink, EventSource, SourceWatch, WatchTarget};

/// How many OS watches serve how many subscriptions.
///
/// ```
/// let stats = yolk_watcher::WatchStats::default();
/// assert_eq!((stats.os_watches, stats.subscriptions), (0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchStats {
    /// Paths watched by the event source: one per distinct path, whatever the number of
    /// subscribers.
    pub os_watches: usize,
    /// Live `watch` calls, across every process.
    pub subscriptions: usize,
}

/// The watches of one process (the agent, or a single process), shared by path.
///
/// ```
/// use std::sync::Arc;
/// use yolk_watcher::{Hub, NoopSource};
///
/// let dir = tempfile::tempdir().unwrap();
/// let hub = Hub::new(Arc::new(NoopSource));
/// let a = hub.subscribe(vec![dir.path().into()], false, Arc::new(|_| {})).unwrap();
/// let b = hub.subscribe(vec![dir.path().into()], false, Arc::new(|_| {})).unwrap();
/// assert_eq!(hub.stats().os_watches, 1);
/// assert_eq!(hub.stats().subscriptions, 2);
/// hub.unsubscribe(a);
/// hub.unsubscribe(b);
/// assert_eq!(hub.stats().os_watches, 0);
/// ```
#[derive(Clone, Debug)]
pub struct Hub {
    source: Arc<dyn EventSource>,
    state: Arc<Mutex<State>>,
}

/// A subscription's id in a [`Hub`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(u64);

#[derive(Default)]
struct State {
    next_id: u64,
    watches: HashMap<PathBuf, Entry>,
    subscriptions: HashMap<SubscriptionId, Subscription>,
}

struct Entry {
    _watch: SourceWatch,
    subscribers: BTreeSet<SubscriptionId>,
}

struct Subscription {
    paths: Vec<PathBuf>,
    sink: EventSink,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("watches", &self.watches.len())
            .field("subscriptions", &self.subscriptions.len())
            .finish()
    }
}

impl Hub {
    /// A hub over `source`.
    pub fn new(source: Arc<dyn EventSource>) -> Self {
        Self {
            source,
            state: Arc::default(),
        }
    }

    /// Watches `paths` (files, or directories recursively), sending each batch of events under
    /// them to `sink`. A path already watched is not watched again.
    ///
    /// # Errors
    ///
    /// [`WatchError::Missing`] naming the first path that does not exist, unless
    /// `allow_missing` (then the nearest existing parent is watched, and the path's events are
    /// reported once it appears); [`WatchError::NoPath`] for no path; the source's error.
    pub fn subscribe(
        &self,
        paths: Vec<PathBuf>,
        allow_missing: bool,
        sink: EventSink,
    ) -> Result<SubscriptionId, WatchError> {
        if paths.is_empty() {
            return Err(WatchError::NoPath);
        }
        let mut resolved = Vec::with_capacity(paths.len());
        for path in paths {
            let (path, target) = resolve(&path, allow_missing)?;
            if !resolved.iter().any(|(seen, _)| seen == &path) {
                resolved.push((path, target));
            }
        }
        let mut state = self.lock();
        state.next_id += 1;
        let id = SubscriptionId(state.next_id);
        let mut added: Vec<PathBuf> = Vec::new();
        for (path, target) in &resolved {
            if let Some(entry) = state.watches.get_mut(path) {
                entry.subscribers.insert(id);
                continue;
            }
            match self.source.watch(target, self.fan_out(path.clone())) {
                Ok(watch) => {
                    state.watches.insert(
                        path.clone(),
                        Entry {
                            _watch: watch,
                            subscribers: BTreeSet::from([id]),
                        },
                    );
                    added.push(path.clone());
                }
                Err(error) => {
                    let mut stopped = Vec::new();
                    for (path, _) in &resolved {
                        stopped.extend(remove_subscriber(&mut state, path, id));
                    }
                    drop(state);
                    drop(stopped);
                    return Err(error);
                }
            }
        }
        let paths = resolved.into_iter().map(|(path, _)| path).collect();
        state.subscriptions.insert(id, Subscription { paths, sink });
        tracing::debug!(
            "watcher: {} OS watches for {} subscriptions",
            state.watches.len(),
            state.subscriptions.len()
        );
        Ok(id)
    }

    /// Ends subscription `id`; a path nobody watches any more stops being watched.
    pub fn unsubscribe(&self, id: SubscriptionId) {
        let mut state = self.lock();
        let Some(subscription) = state.subscriptions.remove(&id) else {
            return;
        };
        let mut stopped = Vec::new();
        for path in &subscription.paths {
            stopped.extend(remove_subscriber(&mut state, path, id));
        }
        drop(state);
        drop(stopped);
    }

    /// How many OS watches serve how many subscriptions.
    pub fn stats(&self) -> WatchStats {
        let state = self.lock();
        WatchStats {
            os_watches: state.watches.len(),
            subscriptions: state.subscriptions.len(),
        }
    }

    fn fan_out(&self, path: PathBuf) -> EventSink {
        let state: Weak<Mutex<State>> = Arc::downgrade(&self.state);
        Arc::new(move |events: Vec<Event>| {
            let Some(state) = state.upgrade() else {
                return;
            };
            let events: Vec<Event> = events.into_iter().filter(|e| e.is_under(&path)).collect();
            if events.is_empty() {
                return;
            }
            let sinks: Vec<EventSink> = {
                let state = state
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let Some(entry) = state.watches.get(&path) else {
                    return;
                };
                entry
                    .subscribers
                    .iter()
                    .filter_map(|id| state.subscriptions.get(id))
                    .map(|subscription| subscription.sink.clone())
                    .collect()
            };
            for sink in sinks {
                sink(events.clone());
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Removes `id` from the watch of `path`; returns the watch when nobody is left on it, to be
/// dropped outside the lock.
fn remove_subscriber(state: &mut State, path: &Path, id: SubscriptionId) -> Option<Entry> {
    let entry = state.watches.get_mut(path)?;
    entry.subscribers.remove(&id);
    if entry.subscribers.is_empty() {
        state.watches.remove(path)
    } else {
        None
    }
}

/// The absolute path to report under, and what to watch for it.
fn resolve(path: &Path, allow_missing: bool) -> Result<(PathBuf, WatchTarget), WatchError> {
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_owned())
    };
    if let Ok(canonical) = absolute.canonicalize() {
        let recursive = canonical.is_dir();
        return Ok((
            canonical.clone(),
            WatchTarget {
                path: canonical,
                recursive,
            },
        ));
    }
    if !allow_missing {
        return Err(WatchError::Missing {
            path: path.to_owned(),
        });
    }
    // Watch the nearest existing parent alone; the path's events are those under it.
    let mut parent = absolute.as_path();
    while let Some(next) = parent.parent() {
        parent = next;
        if let Ok(canonical) = parent.canonicalize() {
            let rest = absolute.strip_prefix(parent).unwrap_or(&absolute);
            return Ok((
                canonical.join(rest),
                WatchTarget {
                    path: canonical,
                    recursive: false,
                },
            ));
        }
    }
    Err(WatchError::Missing {
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::NoopSource;

    #[test]
    fn a_missing_path_is_named() {
        let hub = Hub::new(Arc::new(NoopSource));
        let error = hub
            .subscribe(vec!["/no/such/dir".into()], false, Arc::new(|_| {}))
            .unwrap_err();
        assert!(error.to_string().contains("`/no/such/dir`"), "{error}");
        assert_eq!(hub.stats(), WatchStats::default());
    }

    #[test]
    fn a_missing_path_is_allowed_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::new(Arc::new(NoopSource));
        let missing = dir.path().join("later/config");
        hub.subscribe(vec![missing], true, Arc::new(|_| {}))
            .unwrap();
        assert_eq!(hub.stats().os_watches, 1);
    }

    #[test]
    fn no_path_is_an_error() {
        let hub = Hub::new(Arc::new(NoopSource));
        let error = hub
            .subscribe(Vec::new(), false, Arc::new(|_| {}))
            .unwrap_err();
        assert!(matches!(error, WatchError::NoPath), "{error}");
    }
}
