//! [`Watcher`]: what an app calls. In the agent (or a single process) it watches through the
//! [`Hub`]; in a worker it subscribes to the agent's hub through the messenger.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use yolk_core::messenger::{AGENT_CHANGED, Messenger, MessengerExt, Recipient};

use crate::error::WatchError;
use crate::event::Event;
use crate::hub::{Hub, SubscriptionId, WatchStats};

pub(crate) const TOPIC_WATCH: &str = "watcher:watch";
pub(crate) const TOPIC_UNWATCH: &str = "watcher:unwatch";
pub(crate) const TOPIC_EVENTS: &str = "watcher:events";
pub(crate) const TOPIC_STATS: &str = "watcher:stats";

/// What `watch` calls with each debounced batch of changes.
///
/// Implemented for every `Fn(&[Event]) + Send + Sync + 'static`. It runs on the watcher's
/// thread or task and must not block: hand slow work to a channel or a spawned task.
pub trait OnChange: Send + Sync + 'static {
    /// Called with one debounced batch: one event per changed path.
    fn on_change(&self, events: &[Event]);
}

impl<F> OnChange for F
where
    F: Fn(&[Event]) + Send + Sync + 'static,
{
    fn on_change(&self, events: &[Event]) {
        self(events);
    }
}

/// One path or several: what [`Watcher::watch`] takes.
///
/// ```
/// use std::path::PathBuf;
/// use yolk_watcher::IntoPaths;
///
/// assert_eq!("config".into_paths(), vec![PathBuf::from("config")]);
/// assert_eq!(["src", "config"].into_paths().len(), 2);
/// assert_eq!(vec![PathBuf::from("src")].into_paths().len(), 1);
/// ```
pub trait IntoPaths {
    /// The paths.
    fn into_paths(self) -> Vec<PathBuf>;
}

impl IntoPaths for &str {
    fn into_paths(self) -> Vec<PathBuf> {
        vec![self.into()]
    }
}

impl IntoPaths for String {
    fn into_paths(self) -> Vec<PathBuf> {
        vec![self.into()]
    }
}

impl IntoPaths for &Path {
    fn into_paths(self) -> Vec<PathBuf> {
        vec![self.to_owned()]
    }
}

impl IntoPaths for PathBuf {
    fn into_paths(self) -> Vec<PathBuf> {
        vec![self]
    }
}

impl IntoPaths for &PathBuf {
    fn into_paths(self) -> Vec<PathBuf> {
        vec![self.clone()]
    }
}

impl<T: AsRef<Path>> IntoPaths for Vec<T> {
    fn into_paths(self) -> Vec<PathBuf> {
        self.iter().map(|path| path.as_ref().to_owned()).collect()
    }
}

impl<T: AsRef<Path>> IntoPaths for &[T] {
    fn into_paths(self) -> Vec<PathBuf> {
        self.iter().map(|path| path.as_ref().to_owned()).collect()
    }
}

impl<T: AsRef<Path>, const N: usize> IntoPaths for [T; N] {
    fn into_paths(self) -> Vec<PathBuf> {
        self.iter().map(|path| path.as_ref().to_owned()).collect()
    }
}

/// Options of one watch.
///
/// ```
/// let options = yolk_watcher::WatchOptions::default().allow_missing(true);
/// assert!(options.allows_missing());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchOptions {
    allow_missing: bool,
}

impl WatchOptions {
    /// Accept paths that do not exist yet: their nearest existing parent is watched, and their
    /// events are reported once they appear. Default: `false` (a missing path is
    /// [`WatchError::Missing`]).
    #[must_use]
    pub fn allow_missing(mut self, allow: bool) -> Self {
        self.allow_missing = allow;
        self
    }

    /// True when missing paths are accepted.
    pub fn allows_missing(&self) -> bool {
        self.allow_missing
    }
}

/// Watches files and directories. Cheap to clone; reach it with
/// `Inject<Watcher>` in a handler or `app.get::<Watcher>()` in a hook.
///
/// In the agent or a single process it owns the watches; in a worker each `watch` is a
/// subscription to the agent's, so N workers cost one OS watch per path.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use yolk_watcher::{DevelopmentSource, EventKind, Watcher};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let watcher = Watcher::local(Arc::new(DevelopmentSource::new(Duration::from_millis(50))));
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
/// let _handle = watcher
///     .watch(dir.path(), move |events: &[yolk_watcher::Event]| {
///         let _ = tx.send(events.to_vec());
///     })
///     .await?;
/// std::fs::write(dir.path().join("a.toml"), "x = 1")?;
/// let events = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await?.unwrap();
/// assert_eq!(events[0].kind, EventKind::Created);
/// assert!(events[0].path.ends_with("a.toml"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Watcher {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    Local(Hub),
    Remote(Arc<Remote>),
}

type Callback = Arc<dyn OnChange>;

struct Remote {
    messenger: Arc<dyn Messenger>,
    timeout: Duration,
    next_id: AtomicU64,
    callbacks: Arc<Mutex<HashMap<u64, Callback>>>,
    requests: Mutex<HashMap<u64, WatchRequest>>,
    dispatcher: OnceLock<()>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// A watcher that owns its watches, over `source`.
    pub fn local(source: Arc<dyn crate::EventSource>) -> Self {
        Self::from_hub(Hub::new(source))
    }

    /// A watcher over an existing hub (the agent's).
    pub fn from_hub(hub: Hub) -> Self {
        Self {
            backend: Backend::Local(hub),
        }
    }

    /// A worker's watcher: each watch is a subscription to the agent's hub, asked through
    /// `messenger` and answered within `timeout`.
    pub fn remote(messenger: Arc<dyn Messenger>, timeout: Duration) -> Self {
        Self {
            backend: Backend::Remote(Arc::new(Remote {
                messenger,
                timeout,
                next_id: AtomicU64::new(0),
                callbacks: Arc::default(),
                requests: Mutex::default(),
                dispatcher: OnceLock::new(),
            })),
        }
    }

    /// Watches `paths` — files, or directories with everything under them — and calls
    /// `callback` with each debounced batch of changes until the returned handle is dropped.
    ///
    /// # Errors
    ///
    /// [`WatchError::Missing`] naming a path that does not exist (see
    /// [`watch_with`](Self::watch_with) to allow it); the source's error; in a worker, the
    /// agent's refusal or a messenger failure.
    pub async fn watch(
        &self,
        paths: impl IntoPaths,
        callback: impl OnChange,
    ) -> Result<WatchHandle, WatchError> {
        self.watch_with(paths, WatchOptions::default(), callback)
            .await
    }

    /// [`watch`](Self::watch) with options.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use yolk_watcher::{NoopSource, WatchError, WatchOptions, Watcher};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let watcher = Watcher::local(Arc::new(NoopSource));
    /// let missing = "/surely/not/here";
    /// let error = watcher.watch(missing, |_: &[yolk_watcher::Event]| {}).await.unwrap_err();
    /// assert!(matches!(error, WatchError::Missing { .. }));
    /// let options = WatchOptions::default().allow_missing(true);
    /// assert!(watcher.watch_with(missing, options, |_: &[yolk_watcher::Event]| {}).await.is_ok());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`watch`](Self::watch).
    pub async fn watch_with(
        &self,
        paths: impl IntoPaths,
        options: WatchOptions,
        callback: impl OnChange,
    ) -> Result<WatchHandle, WatchError> {
        let paths = paths.into_paths();
        let callback: Callback = Arc::new(callback);
        match &self.backend {
            Backend::Local(hub) => {
                let sink = Arc::new(move |events: Vec<Event>| callback.on_change(&events));
                let id = hub.subscribe(paths, options.allow_missing, sink)?;
                Ok(WatchHandle {
                    inner: Some(HandleInner::Local {
                        hub: hub.clone(),
                        id,
                    }),
                })
            }
            Backend::Remote(remote) => remote.watch(paths, options, callback).await,
        }
    }

    /// How many OS watches serve how many subscriptions, as the agent (or this process)
    /// counts them.
    ///
    /// # Errors
    ///
    /// In a worker, a messenger failure or timeout.
    pub async fn stats(&self) -> Result<WatchStats, WatchError> {
        match &self.backend {
            Backend::Local(hub) => Ok(hub.stats()),
            Backend::Remote(remote) => {
                let message = remote.messenger.message(TOPIC_STATS, &())?;
                let reply = remote
                    .messenger
                    .request(Recipient::Agent, message, remote.timeout)
                    .await?;
                Ok(reply.decode()?)
            }
        }
    }
}

impl Remote {
    async fn watch(
        self: &Arc<Self>,
        paths: Vec<PathBuf>,
        options: WatchOptions,
        callback: Callback,
    ) -> Result<WatchHandle, WatchError> {
        if paths.is_empty() {
            return Err(WatchError::NoPath);
        }
        self.start_dispatcher();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.callbacks).insert(id, callback);
        let handle = WatchHandle {
            inner: Some(HandleInner::Remote {
                remote: self.clone(),
                id,
            }),
        };
        let paths = paths.into_iter().map(|path| absolute(&path)).collect();
        let request = WatchRequest {
            id,
            paths,
            allow_missing: options.allow_missing,
        };
        // Kept before asking: should a new agent take over while the old one answers, the
        // renewal includes this watch. On failure the handle's drop forgets it.
        lock(&self.requests).insert(id, request.clone());
        self.ask(&request).await?;
        Ok(handle)
    }

    async fn ask(&self, request: &WatchRequest) -> Result<(), WatchError> {
        let message = self.messenger.message(TOPIC_WATCH, request)?;
        let reply = self
            .messenger
            .request(Recipient::Agent, message, self.timeout)
            .await?;
        match reply.decode::<WatchReply>()? {
            WatchReply::Watching => Ok(()),
            WatchReply::Missing { path } => Err(WatchError::Missing { path }),
            WatchReply::Refused { message } => Err(WatchError::Refused { message }),
        }
    }

    /// Asks a new agent for every watch this worker holds; the agent replaces a watch it
    /// already has under the same id, so a renewal never doubles one.
    async fn renew(&self) {
        let requests: Vec<WatchRequest> = lock(&self.requests).values().cloned().collect();
        for request in requests {
            if let Err(error) = self.ask(&request).await {
                tracing::warn!(
                    "watcher: the new agent did not take watch {} again: {error}",
                    request.id
                );
            }
        }
    }

    fn start_dispatcher(self: &Arc<Self>) {
        self.dispatcher.get_or_init(|| {
            // The master names a new agent (restarted, or rolled by a reload) once it serves.
            let mut agents = self.messenger.subscribe(AGENT_CHANGED);
            let remote = Arc::downgrade(self);
            tokio::spawn(async move {
                while agents.recv().await.is_some() {
                    let Some(remote) = remote.upgrade() else {
                        break;
                    };
                    remote.renew().await;
                }
            });
            let mut events = self.messenger.subscribe(TOPIC_EVENTS);
            let callbacks = self.callbacks.clone();
            tokio::spawn(async move {
                while let Some(message) = events.recv().await {
                    let batch: EventBatch = match message.decode() {
                        Ok(batch) => batch,
                        Err(error) => {
                            tracing::warn!("watcher: {error}");
                            continue;
                        }
                    };
                    let callback = lock(&callbacks).get(&batch.id).cloned();
                    if let Some(callback) = callback {
                        callback.on_change(&batch.events);
                    }
                }
            });
        });
    }
}

/// Keeps a watch alive: dropping it stops the watch (and, in a worker, tells the agent).
#[must_use = "dropping the handle stops the watch; call `.detach()` to keep it for the process's life"]
#[derive(Debug)]
pub struct WatchHandle {
    inner: Option<HandleInner>,
}

#[derive(Debug)]
enum HandleInner {
    Local { hub: Hub, id: SubscriptionId },
    Remote { remote: Arc<Remote>, id: u64 },
}

impl WatchHandle {
    /// Keeps the watch for the rest of the process's life.
    pub fn detach(mut self) {
        self.inner = None;
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        match self.inner.take() {
            None => {}
            Some(HandleInner::Local { hub, id }) => hub.unsubscribe(id),
            Some(HandleInner::Remote { remote, id }) => {
                lock(&remote.callbacks).remove(&id);
                lock(&remote.requests).remove(&id);
                if let Err(error) = remote.messenger.send_to_agent(TOPIC_UNWATCH, &id) {
                    tracing::debug!("watcher: unwatch {id}: {error}");
                }
            }
        }
    }
}

/// A worker asks the agent to watch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WatchRequest {
    pub(crate) id: u64,
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) allow_missing: bool,
}

/// The agent's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub(crate) enum WatchReply {
    Watching,
    Missing { path: PathBuf },
    Refused { message: String },
}

/// Events for one worker's watch.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EventBatch {
    pub(crate) id: u64,
    pub(crate) events: Vec<Event>,
}

/// Serves workers' watches from the agent's hub, until the messenger closes.
pub(crate) fn serve_agent(hub: Hub, messenger: Arc<dyn Messenger>) {
    let mut watches = messenger.subscribe(TOPIC_WATCH);
    let mut unwatches = messenger.subscribe(TOPIC_UNWATCH);
    let mut stats = messenger.subscribe(TOPIC_STATS);
    tokio::spawn(async move {
        let (gone_tx, mut gone) = tokio::sync::mpsc::unbounded_channel::<(u32, u64)>();
        let mut remote: HashMap<(u32, u64), SubscriptionId> = HashMap::new();
        loop {
            tokio::select! {
                message = watches.recv() => {
                    // The messenger is closed: this agent is done.
                    let Some(message) = message else { break };
                    let reply = match message.decode::<WatchRequest>() {
                        Err(error) => WatchReply::Refused { message: error.to_string() },
                        Ok(request) => {
                            let pid = message.from;
                            let key = (pid, request.id);
                            let sink_messenger = messenger.clone();
                            let gone_tx = gone_tx.clone();
                            let sink = Arc::new(move |events: Vec<Event>| {
                                let batch = EventBatch { id: key.1, events };
                                if let Err(error) = sink_messenger.send_to(pid, TOPIC_EVENTS, &batch) {
                                    tracing::warn!("watcher: events for process {pid} not delivered: {error}");
                                    if matches!(error, yolk_core::MessengerError::NoRecipient { .. }) {
                                        let _ = gone_tx.send(key);
                                    }
                                }
                            });
                            match hub.subscribe(request.paths, request.allow_missing, sink) {
                                Ok(id) => {
                                    // A renewal replaces the worker's earlier watch of that id.
                                    if let Some(earlier) = remote.insert(key, id) {
                                        hub.unsubscribe(earlier);
                                    }
                                    WatchReply::Watching
                                }
                                Err(WatchError::Missing { path }) => WatchReply::Missing { path },
                                Err(error) => WatchReply::Refused { message: error.to_string() },
                            }
                        }
                    };
                    reply_to(&*messenger, &message, &reply);
                    let counts = hub.stats();
                    tracing::info!(
                        "watcher: {} OS watches serve {} subscriptions",
                        counts.os_watches,
                        counts.subscriptions
                    );
                }
                Some(message) = unwatches.recv() => {
                    if let Ok(id) = message.decode::<u64>()
                        && let Some(subscription) = remote.remove(&(message.from, id))
                    {
                        hub.unsubscribe(subscription);
                    }
                }
                Some(message) = stats.recv() => {
                    reply_to(&*messenger, &message, &hub.stats());
                }
                Some(key) = gone.recv() => {
                    if let Some(subscription) = remote.remove(&key) {
                        hub.unsubscribe(subscription);
                    }
                }
            }
        }
    });
}

fn reply_to<T: Serialize>(messenger: &dyn Messenger, request: &yolk_core::Message, payload: &T) {
    let payload = serde_json::to_value(payload).unwrap_or(serde_json::Value::Null);
    if let Err(error) = messenger.reply(request, payload) {
        tracing::warn!("watcher: reply to process {}: {error}", request.from);
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_owned();
    }
    std::env::current_dir()
        .map(|dir| dir.join(path))
        .unwrap_or_else(|_| path.to_owned())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
