//! The master: binds the socket once, starts the agent then the workers from its own binary,
//! routes their messages, replaces the ones that die, rolls them on reload, and stops them in
//! order. It records its own steps for the boot trace, beside the agent's and the workers'.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use tokio::net::UnixStream;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use yolk_core::messenger::{AGENT_CHANGED, Message, Recipient};
use yolk_core::plugin::{BootStep, Timeline};

use crate::backoff::Backoff;
use crate::child::{BASE_DIR_VAR, ENV_VAR, IPC_FD_VAR, LISTEN_FD_VAR, ROLE_VAR};
use crate::error::ClusterError;
use crate::fd;
use crate::frame::{Frame, NackReason, read_frame, write_frame};
use crate::pidfile::PidFile;

/// How many frames the master queues for one child before a send to it fails.
pub(crate) const ROUTE_CAPACITY: usize = 1024;

/// How long the agent and each worker may take to report ready.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Beyond a child's drain timeout, how long the master waits before killing it.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The agent's stop limit (it has no requests to drain).
const AGENT_STOP_TIMEOUT: Duration = Duration::from_secs(15);

macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("[yolk master {}] {}", std::process::id(), format_args!($($arg)*))
    };
}

/// What the master needs to run.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) workers: usize,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) env: String,
    pub(crate) base_dir: PathBuf,
    pub(crate) pid_file: PathBuf,
    /// With `--daemon`: where to tell the launching process the outcome.
    pub(crate) ready_fd: Option<OwnedFd>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Agent,
    Worker,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Worker => "worker",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Starting,
    Ready,
    Stopping,
}

#[derive(Debug)]
struct Child {
    kind: Kind,
    pid: u32,
    frames: mpsc::Sender<Frame>,
    state: State,
    spawned_at: Instant,
    /// Until ready: when it must be; once stopping: when it gets SIGKILL.
    deadline: Option<Instant>,
    drain: Duration,
    failure: Option<String>,
    /// Started by a reload, in addition to the workers it will replace.
    reload_candidate: bool,
}

#[derive(Debug)]
enum Event {
    Frame(u64, Frame),
    Exited(u64, String),
    Respawn(Kind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    StartingAgent,
    StartingWorkers,
    Running,
    Stopping,
}

/// A rolling reload: a new agent first, then a new worker for each old one.
#[derive(Debug)]
struct Reload {
    old: VecDeque<u64>,
    candidate: Option<u64>,
    steps: Steps,
    /// When the new agent took over and the workers began to roll.
    rolling_since: Option<Instant>,
}

/// The master's own steps, on the time axis of the boot trace: written to
/// `run/master_timing_{pid}.json` once the cluster is ready, and replaced by a reload's steps
/// once it completes — so the trace shows the master beside the processes it last started.
#[derive(Debug)]
pub(crate) struct Steps {
    began: Instant,
    timeline: Timeline,
}

impl Steps {
    /// Steps timed from now.
    pub(crate) fn begin() -> Self {
        Self {
            began: Instant::now(),
            timeline: Timeline::new(SystemTime::now(), Vec::new()),
        }
    }

    /// When the steps began.
    pub(crate) fn began(&self) -> Instant {
        self.began
    }

    /// Records step `hook`, from `started` until now.
    pub(crate) fn record(&mut self, hook: &str, started: Instant) {
        let step = BootStep::until_now("master", hook, self.began, started);
        self.timeline.steps.push(step);
    }

    fn write(&self, base_dir: &Path) {
        if let Err(error) = self.timeline.write(&base_dir.join("run"), "master") {
            say!("the boot trace will miss the master: {error}");
        }
    }
}

struct Master {
    options: Options,
    exe: PathBuf,
    listener: TcpListener,
    address: String,
    children: BTreeMap<u64, Child>,
    next_id: u64,
    events: mpsc::Sender<Event>,
    phase: Phase,
    failure: Option<ClusterError>,
    worker_backoff: Backoff,
    agent_backoff: Backoff,
    reload: Option<Reload>,
    /// The agent that messages to the agent reach: the last one to get ready. During a
    /// reload the next one starts beside it, and replaces it once ready.
    agent: Option<u64>,
    boot: Steps,
}

/// Runs the master until it is stopped; `Err` when the cluster failed to start. `boot` holds
/// the steps before this (binding the socket).
pub(crate) async fn run(
    options: Options,
    listener: TcpListener,
    boot: Steps,
) -> Result<(), ClusterError> {
    let pid_file = PidFile::create(&options.pid_file)?;
    let exe = std::env::current_exe()
        .map_err(|source| ClusterError::io("cannot find this program's path", source))?;
    let address = listener.local_addr().map_or_else(
        |_| format!("{}:{}", options.host, options.port),
        |a| a.to_string(),
    );
    let (events, mut incoming) = mpsc::channel(4096);
    let mut master = Master {
        options,
        exe,
        listener,
        address,
        children: BTreeMap::new(),
        next_id: 0,
        events,
        phase: Phase::StartingAgent,
        failure: None,
        worker_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(10)),
        agent_backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10)),
        reload: None,
        agent: None,
        boot,
    };
    let signals =
        |kind| signal(kind).map_err(|source| ClusterError::io("cannot watch signals", source));
    let mut terminate = signals(SignalKind::terminate())?;
    let mut interrupt = signals(SignalKind::interrupt())?;
    let mut hangup = signals(SignalKind::hangup())?;
    // SIGUSR1 is the agent's (the logger rotates on it): forwarded, it never ends the master.
    let mut user1 = signals(SignalKind::user_defined1())?;
    let mut tick = tokio::time::interval(Duration::from_millis(200));

    if let Err(error) = master.spawn(Kind::Agent, false) {
        master.fail(error);
    }
    while !(master.phase == Phase::Stopping && master.children.is_empty()) {
        tokio::select! {
            Some(event) = incoming.recv() => master.on_event(event),
            _ = terminate.recv() => master.stop("SIGTERM"),
            _ = interrupt.recv() => master.stop("SIGINT"),
            _ = hangup.recv() => master.start_reload(),
            _ = user1.recv() => master.signal_agent(rustix::process::Signal::USR1),
            _ = tick.tick() => master.check_deadlines(),
        }
    }
    let outcome = match master.failure.take() {
        Some(error) => {
            master.tell_launcher(&format!("error\t{error}"));
            Err(error)
        }
        None => {
            say!("stopped");
            Ok(())
        }
    };
    drop(pid_file);
    outcome
}

impl Master {
    fn spawn(&mut self, kind: Kind, reload_candidate: bool) -> Result<u64, ClusterError> {
        let spawn_error = |source| ClusterError::Spawn {
            role: kind.as_str(),
            exe: self.exe.clone(),
            source,
        };
        let (master_end, child_end) = StdUnixStream::pair().map_err(spawn_error)?;
        fd::set_inheritable(&child_end, true).map_err(spawn_error)?;
        let mut command = tokio::process::Command::new(&self.exe);
        command
            .env(ROLE_VAR, kind.as_str())
            .env(IPC_FD_VAR, child_end.as_raw_fd().to_string())
            .env(ENV_VAR, &self.options.env)
            .env(BASE_DIR_VAR, &self.options.base_dir)
            .env_remove(LISTEN_FD_VAR)
            .env_remove(crate::READY_FD_VAR)
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .stdin(Stdio::null());
        // The listener and the child's end of its channel are inheritable only during this
        // spawn; every spawn happens here, on the master's single thread.
        let spawned = if kind == Kind::Worker {
            command.env(LISTEN_FD_VAR, self.listener.as_raw_fd().to_string());
            fd::set_inheritable(&self.listener, true).map_err(spawn_error)?;
            let spawned = command.spawn();
            fd::set_inheritable(&self.listener, false).map_err(spawn_error)?;
            spawned
        } else {
            command.spawn()
        };
        drop(child_end);
        let mut process = spawned.map_err(spawn_error)?;
        let pid = process.id().unwrap_or_default();
        master_end.set_nonblocking(true).map_err(spawn_error)?;
        let channel = UnixStream::from_std(master_end).map_err(spawn_error)?;
        let (mut reader, mut writer) = channel.into_split();
        let (frames, mut queued) = mpsc::channel::<Frame>(ROUTE_CAPACITY);

        self.next_id += 1;
        let id = self.next_id;
        tokio::spawn(async move {
            while let Some(frame) = queued.recv().await {
                if write_frame(&mut writer, &frame).await.is_err() {
                    break;
                }
            }
        });
        let events = self.events.clone();
        tokio::spawn(async move {
            while let Ok(Some(frame)) = read_frame(&mut reader).await {
                if events.send(Event::Frame(id, frame)).await.is_err() {
                    break;
                }
            }
        });
        let events = self.events.clone();
        tokio::spawn(async move {
            let status = match process.wait().await {
                Ok(status) => describe(status),
                Err(error) => format!("could not be waited for: {error}"),
            };
            let _ = events.send(Event::Exited(id, status)).await;
        });
        self.children.insert(
            id,
            Child {
                kind,
                pid,
                frames,
                state: State::Starting,
                spawned_at: Instant::now(),
                deadline: Some(Instant::now() + START_TIMEOUT),
                drain: Duration::from_secs(30),
                failure: None,
                reload_candidate,
            },
        );
        self.announce_members();
        Ok(id)
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Frame(id, frame) => self.on_frame(id, frame),
            Event::Exited(id, status) => self.on_exit(id, &status),
            Event::Respawn(kind) => {
                if !matches!(self.phase, Phase::StartingWorkers | Phase::Running) {
                    return;
                }
                // A reload's new agent, or an earlier respawn, is already on its way.
                if kind == Kind::Agent && self.has_live_agent() {
                    return;
                }
                if let Err(error) = self.spawn(kind, false) {
                    let delay = self.backoff(kind).next_delay(Duration::ZERO);
                    say!("{error}; trying again in {} ms", delay.as_millis());
                    self.schedule_respawn(kind, delay);
                }
            }
        }
    }

    fn backoff(&mut self, kind: Kind) -> &mut Backoff {
        match kind {
            Kind::Agent => &mut self.agent_backoff,
            Kind::Worker => &mut self.worker_backoff,
        }
    }

    fn on_frame(&mut self, id: u64, frame: Frame) {
        match frame {
            Frame::Ready { drain_timeout_ms } => self.on_ready(id, drain_timeout_ms),
            Frame::Failed { error } => {
                if let Some(child) = self.children.get_mut(&id) {
                    say!(
                        "the {} (pid {}) failed to start: {error}",
                        child.kind.as_str(),
                        child.pid
                    );
                    child.failure = Some(error);
                }
            }
            Frame::Send { to, message } => self.route(id, to, message),
            Frame::Reply { to, message } => {
                let request_id = message.request_id;
                let topic = message.topic.clone();
                match self.by_pid(to) {
                    Some(target) => {
                        self.deliver(id, target, Frame::Replied { message }, &topic, request_id)
                    }
                    None => self.nack(
                        id,
                        request_id,
                        &topic,
                        format!("process {to} (the requester is gone)"),
                        NackReason::NoRecipient,
                    ),
                }
            }
            nack @ Frame::Nack { to, .. } => {
                if let Some(target) = self.by_pid(to) {
                    let _ = self.children[&target].frames.try_send(nack);
                }
            }
            other => say!("unexpected frame from child {id}: {other:?}"),
        }
    }

    fn on_ready(&mut self, id: u64, drain_timeout_ms: u64) {
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        if child.state != State::Starting {
            return;
        }
        child.state = State::Ready;
        child.deadline = None;
        child.drain = Duration::from_millis(drain_timeout_ms);
        let (kind, pid, candidate, spawned_at) = (
            child.kind,
            child.pid,
            child.reload_candidate,
            child.spawned_at,
        );
        child.reload_candidate = false;
        match self.phase {
            Phase::StartingAgent => {
                self.boot.record("start_agent", spawned_at);
                self.take_over(id);
                self.phase = Phase::StartingWorkers;
                for _ in 0..self.options.workers {
                    if let Err(error) = self.spawn(Kind::Worker, false) {
                        self.fail(error);
                        return;
                    }
                }
            }
            Phase::StartingWorkers if kind == Kind::Agent => self.take_over(id),
            Phase::StartingWorkers => {
                let ready: Vec<Instant> = self
                    .children
                    .values()
                    .filter(|c| c.kind == Kind::Worker && c.state == State::Ready)
                    .map(|c| c.spawned_at)
                    .collect();
                if ready.len() == self.options.workers {
                    self.phase = Phase::Running;
                    if let Some(first) = ready.iter().min() {
                        self.boot.record("start_workers", *first);
                    }
                    self.boot.write(&self.options.base_dir);
                    let line = format!(
                        "yolk started on http://{} ({}) in {} ms",
                        self.address,
                        workers(self.options.workers),
                        self.boot.began().elapsed().as_millis()
                    );
                    let mut stdout = std::io::stdout().lock();
                    let _ = writeln!(stdout, "{line}");
                    let _ = stdout.flush();
                    drop(stdout);
                    self.tell_launcher(&format!("ok\t{line}"));
                    for child in self.children.values() {
                        let _ = child.frames.try_send(Frame::Go);
                    }
                }
            }
            Phase::Running => {
                say!("{} {pid} is ready", kind.as_str());
                if kind == Kind::Agent {
                    self.take_over(id);
                }
                let _ = self.children[&id].frames.try_send(Frame::Go);
                if candidate {
                    self.continue_reload(id, kind, spawned_at);
                }
            }
            Phase::Stopping => {}
        }
    }

    fn on_exit(&mut self, id: u64, status: &str) {
        let Some(child) = self.children.remove(&id) else {
            return;
        };
        if self.agent == Some(id) {
            self.agent = None;
        }
        self.announce_members();
        let kind = child.kind.as_str();
        match (self.phase, child.state) {
            (Phase::Stopping, _) | (_, State::Stopping) => {
                say!("{kind} {} exited ({status})", child.pid);
            }
            (Phase::StartingAgent | Phase::StartingWorkers, State::Starting) => {
                let error = match child.failure {
                    Some(error) => ClusterError::ChildFailed {
                        role: child.kind.as_str(),
                        pid: child.pid,
                        error,
                    },
                    None => ClusterError::ChildExited {
                        role: child.kind.as_str(),
                        pid: child.pid,
                        status: status.to_owned(),
                    },
                };
                self.fail(error);
            }
            _ if child.reload_candidate => {
                say!(
                    "reload aborted: the new {kind} {} exited ({status}) before it was ready; \
                     the running processes keep serving",
                    child.pid
                );
                self.reload = None;
                // The agent it was to replace may have died meanwhile.
                if child.kind == Kind::Agent && !self.has_live_agent() {
                    let delay = self.agent_backoff.next_delay(Duration::ZERO);
                    self.schedule_respawn(Kind::Agent, delay);
                }
            }
            _ => {
                if let Some(reload) = &mut self.reload {
                    reload.old.retain(|old| *old != id);
                }
                let delay = self
                    .backoff(child.kind)
                    .next_delay(child.spawned_at.elapsed());
                say!(
                    "{kind} {} exited ({status}); starting a new {kind} in {} ms",
                    child.pid,
                    delay.as_millis()
                );
                self.schedule_respawn(child.kind, delay);
            }
        }
        if self.phase == Phase::Stopping {
            self.stop_agent_when_workers_are_gone();
        }
    }

    fn schedule_respawn(&self, kind: Kind, delay: Duration) {
        let events = self.events.clone();
        let delay = delay.max(Duration::from_millis(10));
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = events.send(Event::Respawn(kind)).await;
        });
    }

    fn route(&mut self, from: u64, to: Recipient, message: Message) {
        let targets: Vec<u64> = match to {
            Recipient::All => self.children.keys().copied().collect(),
            Recipient::App => self.ids(Kind::Worker),
            Recipient::Agent => self.agent.into_iter().collect(),
            Recipient::Random => {
                // A ready worker, when there is one: a starting one may not subscribe yet.
                let mut workers: Vec<u64> = self
                    .children
                    .iter()
                    .filter(|(_, c)| c.kind == Kind::Worker && c.state == State::Ready)
                    .map(|(id, _)| *id)
                    .collect();
                if workers.is_empty() {
                    workers = self.ids(Kind::Worker);
                }
                if workers.is_empty() {
                    Vec::new()
                } else {
                    vec![workers[rand::rng().random_range(0..workers.len())]]
                }
            }
            Recipient::Pid(pid) => self.by_pid(pid).into_iter().collect(),
        };
        let topic = message.topic.clone();
        let request_id = message.request_id;
        if targets.is_empty() {
            let recipient = match to {
                Recipient::Pid(pid) => format!("process {pid} (not in this cluster)"),
                Recipient::Agent => "agent (it is not running)".to_owned(),
                _ => "worker".to_owned(),
            };
            self.nack(from, request_id, &topic, recipient, NackReason::NoRecipient);
            return;
        }
        let sole = targets.len() == 1 && !matches!(to, Recipient::All | Recipient::App);
        let last = targets.len() - 1;
        let mut message = Some(message);
        for (index, target) in targets.into_iter().enumerate() {
            let message = if index == last {
                message.take().expect("the last target takes the message")
            } else {
                message
                    .clone()
                    .expect("the message is kept for the last target")
            };
            self.deliver(
                from,
                target,
                Frame::Deliver { message, sole },
                &topic,
                request_id,
            );
        }
    }

    fn deliver(&self, from: u64, target: u64, frame: Frame, topic: &str, request_id: Option<u64>) {
        let child = &self.children[&target];
        let reason = match child.frames.try_send(frame) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(_)) => NackReason::Full {
                capacity: ROUTE_CAPACITY,
            },
            Err(mpsc::error::TrySendError::Closed(_)) => NackReason::NoRecipient,
        };
        let recipient = format!("{} {}", child.kind.as_str(), child.pid);
        self.nack(from, request_id, topic, recipient, reason);
    }

    fn nack(
        &self,
        to: u64,
        request_id: Option<u64>,
        topic: &str,
        recipient: String,
        reason: NackReason,
    ) {
        let Some(child) = self.children.get(&to) else {
            return;
        };
        let nack = Frame::Nack {
            to: child.pid,
            request_id,
            topic: topic.to_owned(),
            recipient: recipient.clone(),
            reason,
        };
        if child.frames.try_send(nack).is_err() {
            say!(
                "message `{topic}` from {} {} to {recipient} was not delivered ({reason:?}), \
                 and the sender's queue is full",
                child.kind.as_str(),
                child.pid
            );
        }
    }

    fn ids(&self, kind: Kind) -> Vec<u64> {
        self.children
            .iter()
            .filter(|(_, child)| child.kind == kind)
            .map(|(id, _)| *id)
            .collect()
    }

    fn by_pid(&self, pid: u32) -> Option<u64> {
        self.children
            .iter()
            .find(|(_, child)| child.pid == pid)
            .map(|(id, _)| *id)
    }

    /// Whether an agent runs or starts that is not being stopped.
    fn has_live_agent(&self) -> bool {
        self.children
            .values()
            .any(|child| child.kind == Kind::Agent && child.state != State::Stopping)
    }

    /// The pid of the agent that messages to the agent reach.
    fn agent_pid(&self) -> Option<u32> {
        self.agent
            .and_then(|id| self.children.get(&id))
            .map(|child| child.pid)
    }

    /// Makes agent `id` the one that messages to the agent reach, tells the workers (on
    /// [`AGENT_CHANGED`], after the members that name it), and stops the agent it replaces,
    /// whose `before_close` hooks run as in any graceful stop.
    fn take_over(&mut self, id: u64) {
        let previous = self.agent.replace(id).filter(|previous| *previous != id);
        self.announce_members();
        let pid = self.children[&id].pid;
        if !self.ids(Kind::Worker).is_empty() {
            let message = Message {
                topic: AGENT_CHANGED.to_owned(),
                payload: serde_json::json!(pid),
                from: pid,
                request_id: None,
            };
            self.route(id, Recipient::App, message);
        }
        if let Some(previous) = previous {
            if let Some(old) = self.children.get(&previous) {
                say!("agent {pid} takes over from agent {}", old.pid);
            }
            self.stop_child(previous);
        }
    }

    /// Passes `signal` on to the agent, if one runs.
    fn signal_agent(&self, signal: rustix::process::Signal) {
        match self.agent_pid() {
            Some(pid) => send_signal(pid, signal),
            None => say!("{signal:?} received but no agent runs: ignored"),
        }
    }

    fn announce_members(&self) {
        let agent = self.agent_pid();
        let pids = |kind: Kind| -> Vec<u32> {
            self.children
                .values()
                .filter(|child| child.kind == kind && Some(child.pid) != agent)
                .map(|child| child.pid)
                .collect()
        };
        let workers = pids(Kind::Worker);
        let other_agents = pids(Kind::Agent);
        for child in self.children.values() {
            let members = Frame::Members {
                agent,
                workers: workers.clone(),
                other_agents: other_agents.clone(),
            };
            if child.frames.try_send(members).is_err() {
                say!(
                    "{} {} is not keeping up with its channel",
                    child.kind.as_str(),
                    child.pid
                );
            }
        }
    }

    fn start_reload(&mut self) {
        if self.phase != Phase::Running {
            say!("reload ignored: the cluster is not running yet, or stopping");
            return;
        }
        if self.reload.is_some() {
            say!("reload ignored: a reload is already under way");
            return;
        }
        let old: VecDeque<u64> = self
            .children
            .iter()
            .filter(|(_, child)| child.kind == Kind::Worker && child.state != State::Stopping)
            .map(|(id, _)| *id)
            .collect();
        say!(
            "reloading: a new agent, then {} one at a time",
            workers(old.len())
        );
        self.reload = Some(Reload {
            old,
            candidate: None,
            steps: Steps::begin(),
            rolling_since: None,
        });
        self.next_candidate(Kind::Agent);
    }

    fn next_candidate(&mut self, kind: Kind) {
        match self.spawn(kind, true) {
            Ok(id) => {
                if let Some(reload) = &mut self.reload {
                    reload.candidate = Some(id);
                }
            }
            Err(error) => {
                say!("reload aborted: {error}; the running processes keep serving");
                self.reload = None;
            }
        }
    }

    /// Candidate `id`, a `kind` started at `spawned_at`, is ready (an agent has taken over
    /// already): stop the old worker it replaces, then start the next one.
    fn continue_reload(&mut self, id: u64, kind: Kind, spawned_at: Instant) {
        let Some(reload) = &mut self.reload else {
            return;
        };
        if reload.candidate != Some(id) {
            return;
        }
        reload.candidate = None;
        let replaced = match kind {
            Kind::Agent => {
                reload.steps.record("start_agent", spawned_at);
                reload.rolling_since = Some(Instant::now());
                None
            }
            Kind::Worker => reload.old.pop_front(),
        };
        let more = !reload.old.is_empty();
        if let Some(old) = replaced {
            self.stop_child(old);
        }
        if more {
            self.next_candidate(Kind::Worker);
        } else if let Some(mut reload) = self.reload.take() {
            if let Some(since) = reload.rolling_since {
                reload.steps.record("roll_workers", since);
            }
            reload.steps.write(&self.options.base_dir);
            say!("reload complete");
        }
    }

    fn stop_child(&mut self, id: u64) {
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        if child.state == State::Stopping {
            return;
        }
        let limit = match child.kind {
            Kind::Agent => AGENT_STOP_TIMEOUT,
            Kind::Worker => child.drain + STOP_GRACE,
        };
        child.state = State::Stopping;
        child.deadline = Some(Instant::now() + limit);
        if child.frames.try_send(Frame::Stop).is_err() {
            kill(child.pid);
        }
    }

    fn stop(&mut self, why: &str) {
        if self.phase == Phase::Stopping {
            say!("{why}: already stopping");
            return;
        }
        say!("{why}: stopping the workers, then the agent");
        self.phase = Phase::Stopping;
        self.reload = None;
        for id in self.ids(Kind::Worker) {
            self.stop_child(id);
        }
        self.stop_agent_when_workers_are_gone();
    }

    fn stop_agent_when_workers_are_gone(&mut self) {
        if self.ids(Kind::Worker).is_empty() {
            for id in self.ids(Kind::Agent) {
                self.stop_child(id);
            }
        }
    }

    fn fail(&mut self, error: ClusterError) {
        say!("{error}");
        if self.failure.is_none() {
            self.failure = Some(error);
        }
        if self.phase != Phase::Stopping {
            self.stop("start-up failed");
        }
    }

    fn check_deadlines(&mut self) {
        let now = Instant::now();
        let mut late = Vec::new();
        for (id, child) in &self.children {
            if child.deadline.is_some_and(|deadline| now >= deadline) {
                late.push((*id, child.state));
            }
        }
        for (id, state) in late {
            let child = self.children.get_mut(&id).expect("listed above");
            child.deadline = None;
            let (kind, pid) = (child.kind.as_str(), child.pid);
            match state {
                State::Stopping => {
                    say!("{kind} {pid} did not stop in time: killing it");
                    kill(pid);
                }
                _ => {
                    let error = ClusterError::StartTimeout {
                        role: kind,
                        pid,
                        timeout: START_TIMEOUT,
                    };
                    kill(pid);
                    if matches!(self.phase, Phase::StartingAgent | Phase::StartingWorkers) {
                        self.fail(error);
                    } else {
                        say!("{error}");
                    }
                }
            }
        }
    }

    fn tell_launcher(&mut self, line: &str) {
        if let Some(fd) = self.options.ready_fd.take() {
            let mut pipe = std::fs::File::from(fd);
            let _ = writeln!(pipe, "{line}");
        }
    }
}

/// "1 worker", "2 workers".
fn workers(count: usize) -> String {
    match count {
        1 => "1 worker".to_owned(),
        n => format!("{n} workers"),
    }
}

fn kill(pid: u32) {
    send_signal(pid, rustix::process::Signal::KILL);
}

fn send_signal(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}
