//! A yolk cluster to run and to test the cluster against.
//!
//! - `GET /` names the worker's pid; `GET /slow?ms=N` answers after N ms (with `&mark=NAME`,
//!   it first creates `run/NAME`, so a test knows the request is in flight);
//! - `GET /agent` shows the latest tick the agent broadcast (every `demo.tick_ms`);
//! - `GET /crash` aborts the worker (env `local` only), to watch it being replaced;
//! - `GET /hooks` tells whether `server_did_ready` ran in this worker;
//! - `/messenger/...` exercises every messenger route between the agent and the workers;
//! - `GET /session/write?value=V` keeps `V` in the (encrypted cookie) session and
//!   `GET /session/read` shows it, each naming the worker that answered: a session written
//!   through one worker reads the same through any other;
//! - with `demo.watch_dir` set, every worker watches that directory (a subscription to the
//!   agent's one OS watch); `/messenger/watched-of/{pid}` lists the files a worker saw change,
//!   and `GET /watch/stats` asks the agent how many OS watches serve how many subscriptions;
//! - `GET /__loader_trace__` (env `local`): the boot of the master, the agent and each worker.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yolk_core::messenger::{Messenger, MessengerExt, Recipient};
use yolk_core::{App, AppBuilder, AppContext, AppState, BoxError, Config, ConfigError, Plugin};
use yolk_development::Development;
use yolk_session::{Session, SessionError, SessionPlugin};
use yolk_watcher::{Event, WatchHandle, Watcher, WatcherPlugin};

/// How long a route waits for a reply over the messenger.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The `demo` config section.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// How often the agent broadcasts a tick, in milliseconds. Default: `1000`.
    pub tick_ms: u64,
    /// Fail `did_load`, to see a start-up failure. Default: `false`.
    pub fail_on_start: bool,
    /// A directory every worker watches from start-up until it stops. Default: none.
    pub watch_dir: Option<PathBuf>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            tick_ms: 1000,
            fail_on_start: false,
            watch_dir: None,
        }
    }
}

/// The demo plugin: the agent's ticker and the test routes.
#[derive(Debug, Default)]
pub struct Demo {
    config: DemoConfig,
    state: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// The latest tick plus one; `0` before the first.
    tick: AtomicU64,
    notes: Mutex<Vec<String>>,
    server_did_ready: AtomicBool,
    /// The watch of `demo.watch_dir`, ended in `before_close`.
    watch: Mutex<Option<WatchHandle>>,
    /// The names of the files seen changing under `demo.watch_dir`.
    watched: Mutex<Vec<String>>,
}

impl Shared {
    fn notes(&self) -> Vec<String> {
        lock(&self.notes).clone()
    }

    fn note(&self, note: String) {
        lock(&self.notes).push(note);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The keys the demo signs and encrypts with unless `keys` is configured: a demo key, not
/// for production.
const DEMO_KEYS: &str = "cluster-demo-key-not-for-production";

/// The app: the demo plugin and its routes, cookie sessions, file watching, and the
/// development plugin's boot trace.
pub fn app() -> AppBuilder {
    App::builder()
        .name("cluster-demo")
        .config("keys", DEMO_KEYS)
        .plugin(Demo::default())
        .plugin(SessionPlugin::default())
        .plugin(WatcherPlugin::default())
        .plugin(Development::default())
        .route("/session/write", get(write_session))
        .route("/session/read", get(read_session))
}

#[derive(Debug, Deserialize)]
struct SessionValue {
    value: String,
}

async fn write_session(
    session: Session,
    Query(SessionValue { value }): Query<SessionValue>,
) -> Result<Json<Value>, SessionError> {
    session.insert("value", &value)?;
    Ok(Json(json!({ "pid": std::process::id(), "value": value })))
}

async fn read_session(session: Session) -> Result<Json<Value>, SessionError> {
    let value: Option<String> = session.get("value")?;
    Ok(Json(json!({ "pid": std::process::id(), "value": value })))
}

fn role_name(app: &AppContext) -> &'static str {
    if app.role().serves() && app.role().runs_agent() {
        "single"
    } else if app.role().serves() {
        "worker"
    } else {
        "agent"
    }
}

/// Answers `topic` requests with `answer(payload)`; records nothing.
fn answer<F>(messenger: &Arc<dyn Messenger>, topic: &str, answer: F)
where
    F: Fn(&Value) -> Value + Send + 'static,
{
    let mut requests = messenger.subscribe(topic);
    let messenger = Arc::clone(messenger);
    tokio::spawn(async move {
        while let Some(request) = requests.recv().await {
            if let Err(error) = messenger.reply(&request, answer(&request.payload)) {
                tracing::warn!("{error}");
            }
        }
    });
}

/// Records the `note` messages this process receives, and answers `notes` with them.
fn keep_notes(messenger: &Arc<dyn Messenger>, shared: &Arc<Shared>) {
    let mut notes = messenger.subscribe("note");
    let recorder = Arc::clone(shared);
    tokio::spawn(async move {
        while let Some(note) = notes.recv().await {
            let tag = note.payload.as_str().unwrap_or_default().to_owned();
            recorder.note(tag);
        }
    });
    let shared = Arc::clone(shared);
    answer(messenger, "notes", move |_| json!(shared.notes()));
}

#[async_trait::async_trait]
impl Plugin for Demo {
    fn name(&self) -> &'static str {
        "demo"
    }

    fn optional_dependencies(&self) -> &[&'static str] {
        &["watcher"]
    }

    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        self.config = config.section(self.name(), &self.config)?;
        Ok(())
    }

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        if self.config.fail_on_start {
            return Err("`demo.fail_on_start` is set: refusing to start".into());
        }
        if !app.role().serves() {
            return Ok(());
        }
        let messenger = app.messenger();
        let mut ticks = messenger.subscribe("tick");
        let shared = Arc::clone(&self.state);
        tokio::spawn(async move {
            while let Some(tick) = ticks.recv().await {
                if let Ok(n) = tick.decode::<u64>() {
                    shared.tick.store(n + 1, Ordering::Relaxed);
                }
            }
        });
        keep_notes(messenger, &self.state);
        let pid = messenger.pid();
        let role = role_name(app);
        answer(
            messenger,
            "ping",
            move |_| json!({ "pid": pid, "role": role }),
        );
        let shared = Arc::clone(&self.state);
        answer(messenger, "watched", move |_| json!(*lock(&shared.watched)));
        if let (Some(dir), Some(watcher)) = (&self.config.watch_dir, app.get::<Watcher>()) {
            let shared = Arc::clone(&self.state);
            let handle = watcher
                .watch(dir, move |events: &[Event]| {
                    let names = events
                        .iter()
                        .filter_map(|event| event.path.file_name())
                        .map(|name| name.to_string_lossy().into_owned());
                    lock(&shared.watched).extend(names);
                })
                .await?;
            *lock(&self.state.watch) = Some(handle);
        }
        Ok(())
    }

    async fn server_did_ready(&self, _app: &AppContext) -> Result<(), BoxError> {
        self.state.server_did_ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    async fn before_close(&self, _app: &AppContext) -> Result<(), BoxError> {
        // Tells the agent at once, rather than when it next fails to deliver an event.
        drop(lock(&self.state.watch).take());
        Ok(())
    }

    async fn agent(&self, app: &AppContext) -> Result<(), BoxError> {
        let messenger = app.messenger();
        let ticker = Arc::clone(messenger);
        let every = Duration::from_millis(self.config.tick_ms.max(1));
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            for n in 0u64.. {
                interval.tick().await;
                if let Err(error) = ticker.broadcast("tick", &n) {
                    tracing::warn!("tick {n}: {error}");
                }
            }
        });
        if app.role().serves() {
            // Single mode: `did_load` already set up the worker side in this process.
            return Ok(());
        }
        keep_notes(messenger, &self.state);
        let pid = messenger.pid();
        answer(
            messenger,
            "ping",
            move |_| json!({ "pid": pid, "role": "agent" }),
        );
        answer(messenger, "echo", Value::clone);

        let mut fanout = messenger.subscribe("fanout");
        let relay = Arc::clone(messenger);
        tokio::spawn(async move {
            while let Some(message) = fanout.recv().await {
                if let Err(error) = relay.send_to_app("note", &message.payload) {
                    tracing::warn!("fanout: {error}");
                }
            }
        });

        // `seq` numbers from each sender, checked by `seq-check`. One task takes both, `seq`
        // first: a check is handled only once every `seq` queued before it has been counted.
        let mut sequence = messenger.subscribe("seq");
        let mut checks = messenger.subscribe("seq-check");
        let checker = Arc::clone(messenger);
        tokio::spawn(async move {
            let mut seen: std::collections::HashMap<u32, (u64, bool)> = Default::default();
            loop {
                tokio::select! {
                    biased;
                    Some(message) = sequence.recv() => {
                        let n = message.decode::<u64>().unwrap_or(u64::MAX);
                        let entry = seen.entry(message.from).or_insert((0, true));
                        if n != entry.0 {
                            entry.1 = false;
                        }
                        entry.0 += 1;
                    }
                    Some(check) = checks.recv() => {
                        let (count, in_order) = seen.remove(&check.from).unwrap_or((0, true));
                        let reply = json!({ "count": count, "in_order": in_order });
                        if let Err(error) = checker.reply(&check, reply) {
                            tracing::warn!("seq-check: {error}");
                        }
                    }
                    else => break,
                }
            }
        });
        Ok(())
    }

    fn routes(&self, app: &AppContext) -> axum::Router<AppState> {
        let shared = Arc::clone(&self.state);
        let messenger = Arc::clone(app.messenger());
        let role = role_name(app);
        let mut router = axum::Router::new()
            .route(
                "/",
                get(move || async move { format!("hello from {role} {}\n", std::process::id()) }),
            )
            .route("/slow", {
                let run_dir = app.base_dir().join("run");
                get(move |query: Query<SlowQuery>| slow(query, run_dir))
            })
            .route("/agent", {
                let shared = Arc::clone(&shared);
                get(move || async move {
                    match shared.tick.load(Ordering::Relaxed) {
                        0 => (StatusCode::SERVICE_UNAVAILABLE, "no tick yet\n".to_owned()),
                        n => (StatusCode::OK, format!("tick {}\n", n - 1)),
                    }
                })
            })
            .route("/hooks", {
                let shared = Arc::clone(&shared);
                get(move || async move {
                    let ran = shared.server_did_ready.load(Ordering::Relaxed);
                    format!("server_did_ready: {ran}\n")
                })
            })
            .nest("/messenger", messenger_routes(messenger));
        if let Some(watcher) = app.get::<Watcher>() {
            router = router.route(
                "/watch/stats",
                get(move || async move {
                    match watcher.stats().await {
                        Ok(stats) => Json(stats).into_response(),
                        Err(error) => failed(error),
                    }
                }),
            );
        }
        if app.env() == "local" {
            router = router.route("/crash", get(crash));
        }
        router
    }
}

async fn crash() -> &'static str {
    std::process::abort()
}

#[derive(Debug, Deserialize)]
struct SlowQuery {
    ms: u64,
    /// When given, the file `run/<mark>` is created once the request is being handled.
    mark: Option<String>,
}

async fn slow(Query(query): Query<SlowQuery>, run_dir: std::path::PathBuf) -> String {
    let mark = query
        .mark
        .filter(|mark| !mark.is_empty() && mark.chars().all(|c| c.is_ascii_alphanumeric()));
    if let Some(mark) = mark
        && let Err(error) = tokio::fs::write(run_dir.join(mark), b"").await
    {
        tracing::warn!("cannot write the mark: {error}");
    }
    tokio::time::sleep(Duration::from_millis(query.ms)).await;
    format!("slept {} ms in {}\n", query.ms, std::process::id())
}

/// A messenger failure as a 502 naming it.
fn failed(error: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_GATEWAY, format!("{error}\n")).into_response()
}

async fn ask(messenger: &dyn Messenger, to: Recipient, topic: &str, payload: Value) -> Response {
    let question = match messenger.message(topic, &payload) {
        Ok(question) => question,
        Err(error) => return failed(error),
    };
    match messenger.request(to, question, REQUEST_TIMEOUT).await {
        Ok(reply) => Json(reply.payload).into_response(),
        Err(error) => failed(error),
    }
}

fn messenger_routes(messenger: Arc<dyn Messenger>) -> axum::Router<AppState> {
    let m = move || Arc::clone(&messenger);
    let send = |to: Recipient, topic: &'static str, m: Arc<dyn Messenger>| {
        get(move |Path(tag): Path<String>| async move {
            match m.send_json(to, topic, &tag) {
                Ok(()) => "sent\n".into_response(),
                Err(error) => failed(error),
            }
        })
    };
    axum::Router::new()
        .route("/agent", {
            let m = m();
            get(move || async move { ask(&*m, Recipient::Agent, "ping", Value::Null).await })
        })
        .route("/random", {
            let m = m();
            get(move || async move { ask(&*m, Recipient::Random, "ping", Value::Null).await })
        })
        .route("/to/{pid}", {
            let m = m();
            get(move |Path(pid): Path<u32>| async move {
                ask(&*m, Recipient::Pid(pid), "ping", Value::Null).await
            })
        })
        .route("/notes-of/{pid}", {
            let m = m();
            get(move |Path(pid): Path<u32>| async move {
                ask(&*m, Recipient::Pid(pid), "notes", Value::Null).await
            })
        })
        .route("/watched-of/{pid}", {
            let m = m();
            get(move |Path(pid): Path<u32>| async move {
                ask(&*m, Recipient::Pid(pid), "watched", Value::Null).await
            })
        })
        .route("/agent-notes", {
            let m = m();
            get(move || async move { ask(&*m, Recipient::Agent, "notes", Value::Null).await })
        })
        .route("/broadcast/{tag}", send(Recipient::All, "note", m()))
        .route("/app/{tag}", send(Recipient::App, "note", m()))
        .route("/random-note/{tag}", send(Recipient::Random, "note", m()))
        .route("/via-agent/{tag}", send(Recipient::Agent, "fanout", m()))
        .route("/big", {
            let m = m();
            get(move || async move {
                let big: String = (0..1024 * 1024)
                    .map(|i: u32| char::from(b'a' + (i % 26) as u8))
                    .collect();
                let question = match m.message("echo", &big) {
                    Ok(question) => question,
                    Err(error) => return failed(error),
                };
                match m.request(Recipient::Agent, question, REQUEST_TIMEOUT).await {
                    Ok(reply) if reply.payload.as_str() == Some(big.as_str()) => {
                        format!("ok {}\n", big.len()).into_response()
                    }
                    Ok(_) => failed("the echo differs from what was sent"),
                    Err(error) => failed(error),
                }
            })
        })
        .route("/order/{n}", {
            let m = m();
            get(move |Path(n): Path<u64>| async move {
                for i in 0..n {
                    if let Err(error) = m.send_to_agent("seq", &i) {
                        return failed(error);
                    }
                }
                ask(&*m, Recipient::Agent, "seq-check", Value::Null).await
            })
        })
}
