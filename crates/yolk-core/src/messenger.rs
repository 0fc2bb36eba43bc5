//! Messages between the agent and the workers: Egg's `app.messenger`.
//!
//! A plugin talks to other processes only through [`Messenger`], so it works the same in one
//! process ([`InProcessMessenger`]) and in a cluster (the cluster crate's IPC messenger).
//!
//! Queues are bounded and nothing is dropped in silence: a message that cannot be delivered is a
//! [`MessengerError`] for the sender.
//!
//! ```
//! use yolk_core::messenger::{InProcessMessenger, Messenger, MessengerExt, Recipient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let messenger = InProcessMessenger::new();
//! let mut ticks = messenger.subscribe("tick");
//! messenger.send_json(Recipient::App, "tick", &42)?;
//! let message = ticks.recv().await.expect("the messenger is alive");
//! assert_eq!(message.decode::<u32>()?, 42);
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// How many messages one subscription holds before senders get [`MessengerError::Full`].
pub const SUBSCRIPTION_CAPACITY: usize = 1024;

/// The topic on which the workers learn that a new agent has taken over — one restarted after
/// it died, or the one a reload started from the new binary. The payload and the sender are
/// the new agent's pid. By then [`Recipient::Agent`] reaches the new agent, so what a worker
/// keeps with the agent (a subscription, a lease) is asked for again on this message. An
/// in-process messenger never sends it: its agent never changes.
///
/// ```
/// use yolk_core::messenger::{AGENT_CHANGED, InProcessMessenger, Messenger};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let messenger = InProcessMessenger::new();
/// let mut agents = messenger.subscribe(AGENT_CHANGED);
/// tokio::spawn(async move {
///     while let Some(agent) = agents.recv().await {
///         // ask the agent at `agent.from` for this worker's subscriptions again
///         let _ = agent.from;
///     }
/// });
/// # }
/// ```
pub const AGENT_CHANGED: &str = "yolk:agent-changed";

/// Who a message is for, with Egg's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "to", content = "pid")]
pub enum Recipient {
    /// The agent and every worker (`broadcast`).
    All,
    /// Every worker (`sendToApp`).
    App,
    /// The agent (`sendToAgent`).
    Agent,
    /// One worker chosen at random (`sendRandom`).
    Random,
    /// The process with this pid (`sendTo`).
    Pid(u32),
}

/// One message: a topic, a JSON payload, who sent it, and an id when it asks for a reply.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// What the message is about; subscribers listen by topic.
    pub topic: String,
    /// The payload.
    pub payload: serde_json::Value,
    /// The sender's pid.
    pub from: u32,
    /// Set on a request; answer it with [`Messenger::reply`].
    pub request_id: Option<u64>,
}

impl Message {
    /// Decodes the payload.
    ///
    /// # Errors
    ///
    /// [`MessengerError::Decode`] when the payload is not a `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, MessengerError> {
        serde_json::from_value(self.payload.clone()).map_err(|source| MessengerError::Decode {
            topic: self.topic.clone(),
            source,
        })
    }
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessengerError {
    /// A recipient's queue is full: it is not keeping up.
    #[error(
        "message `{topic}` not delivered to {recipient}: its queue is full ({capacity} messages)"
    )]
    Full {
        /// The topic.
        topic: String,
        /// Who it was for.
        recipient: String,
        /// The queue's capacity.
        capacity: usize,
    },
    /// Nobody of that kind exists or listens.
    #[error("message `{topic}` not delivered: no {recipient} is listening")]
    NoRecipient {
        /// The topic.
        topic: String,
        /// Who it was for.
        recipient: String,
    },
    /// A request got no reply in time.
    #[error("request `{topic}` got no reply within {timeout:?}")]
    Timeout {
        /// The topic.
        topic: String,
        /// How long it waited.
        timeout: Duration,
    },
    /// The payload could not be encoded or decoded.
    #[error("message `{topic}`: payload does not fit the expected type: {source}")]
    Decode {
        /// The topic.
        topic: String,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// The connection to the other processes is gone.
    #[error("the messenger is closed: {reason}")]
    Closed {
        /// Why.
        reason: String,
    },
}

/// A boxed future, for object-safe async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends and receives messages between the agent and the workers.
pub trait Messenger: Send + Sync + fmt::Debug + 'static {
    /// This process's pid, as other processes address it.
    fn pid(&self) -> u32;

    /// Sends `message` to `to`. Returns once it is queued for every recipient.
    ///
    /// # Errors
    ///
    /// A [`MessengerError`] when any recipient cannot take it: never a silent drop.
    fn send(&self, to: Recipient, message: Message) -> Result<(), MessengerError>;

    /// Receives the messages of `topic` sent to this process from now on.
    fn subscribe(&self, topic: &str) -> Subscription;

    /// Sends `message` as a request and waits up to `timeout` for the reply.
    fn request(
        &self,
        to: Recipient,
        message: Message,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Message, MessengerError>>;

    /// Answers `request` with `payload`.
    ///
    /// # Errors
    ///
    /// A [`MessengerError`] when the requester cannot be reached.
    fn reply(&self, request: &Message, payload: serde_json::Value) -> Result<(), MessengerError>;
}

/// Typed helpers over any [`Messenger`], with Egg's method names.
pub trait MessengerExt: Messenger {
    /// Serialises `payload` and sends it under `topic`.
    ///
    /// # Errors
    ///
    /// [`MessengerError::Decode`] when `payload` does not serialise, else as [`Messenger::send`].
    fn send_json<T: Serialize + ?Sized>(
        &self,
        to: Recipient,
        topic: &str,
        payload: &T,
    ) -> Result<(), MessengerError> {
        let message = self.message(topic, payload)?;
        self.send(to, message)
    }

    /// To the agent and every worker.
    ///
    /// # Errors
    ///
    /// As [`Messenger::send`].
    fn broadcast<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        payload: &T,
    ) -> Result<(), MessengerError> {
        self.send_json(Recipient::All, topic, payload)
    }

    /// To every worker.
    ///
    /// # Errors
    ///
    /// As [`Messenger::send`].
    fn send_to_app<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        payload: &T,
    ) -> Result<(), MessengerError> {
        self.send_json(Recipient::App, topic, payload)
    }

    /// To the agent.
    ///
    /// # Errors
    ///
    /// As [`Messenger::send`].
    fn send_to_agent<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        payload: &T,
    ) -> Result<(), MessengerError> {
        self.send_json(Recipient::Agent, topic, payload)
    }

    /// To one worker chosen at random.
    ///
    /// # Errors
    ///
    /// As [`Messenger::send`].
    fn send_random<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        payload: &T,
    ) -> Result<(), MessengerError> {
        self.send_json(Recipient::Random, topic, payload)
    }

    /// To the process `pid`.
    ///
    /// # Errors
    ///
    /// As [`Messenger::send`].
    fn send_to<T: Serialize + ?Sized>(
        &self,
        pid: u32,
        topic: &str,
        payload: &T,
    ) -> Result<(), MessengerError> {
        self.send_json(Recipient::Pid(pid), topic, payload)
    }

    /// Builds a message from this process.
    ///
    /// # Errors
    ///
    /// [`MessengerError::Decode`] when `payload` does not serialise.
    fn message<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        payload: &T,
    ) -> Result<Message, MessengerError> {
        let payload = serde_json::to_value(payload).map_err(|source| MessengerError::Decode {
            topic: topic.to_owned(),
            source,
        })?;
        Ok(Message {
            topic: topic.to_owned(),
            payload,
            from: self.pid(),
            request_id: None,
        })
    }
}

impl<M: Messenger + ?Sized> MessengerExt for M {}

/// The messages of one topic for one subscriber.
#[derive(Debug)]
pub struct Subscription {
    receiver: mpsc::Receiver<Message>,
}

impl Subscription {
    /// Wraps a receiver; for [`Messenger`] implementations.
    pub fn new(receiver: mpsc::Receiver<Message>) -> Self {
        Self { receiver }
    }

    /// The next message, or `None` once the messenger is gone.
    pub async fn recv(&mut self) -> Option<Message> {
        self.receiver.recv().await
    }
}

/// The subscribers of every topic in one process, each with a bounded queue.
///
/// The building block of every [`Messenger`]: it delivers to local subscribers.
#[derive(Debug, Default)]
pub struct Subscribers {
    topics: Mutex<HashMap<String, Vec<mpsc::Sender<Message>>>>,
}

impl Subscribers {
    /// Adds a subscriber to `topic`.
    pub fn subscribe(&self, topic: &str) -> Subscription {
        let (sender, receiver) = mpsc::channel(SUBSCRIPTION_CAPACITY);
        self.lock()
            .entry(topic.to_owned())
            .or_default()
            .push(sender);
        Subscription::new(receiver)
    }

    /// Queues `message` for every live subscriber of its topic; returns how many took it.
    ///
    /// # Errors
    ///
    /// [`MessengerError::Full`] when a subscriber's queue is full; the others still get it.
    pub fn deliver(&self, message: &Message) -> Result<usize, MessengerError> {
        let mut topics = self.lock();
        let Some(senders) = topics.get_mut(&message.topic) else {
            return Ok(0);
        };
        senders.retain(|sender| !sender.is_closed());
        let mut full = false;
        let mut delivered = 0;
        for sender in senders.iter() {
            match sender.try_send(message.clone()) {
                Ok(()) => delivered += 1,
                Err(mpsc::error::TrySendError::Full(_)) => full = true,
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        if full {
            return Err(MessengerError::Full {
                topic: message.topic.clone(),
                recipient: "a subscriber".to_owned(),
                capacity: SUBSCRIPTION_CAPACITY,
            });
        }
        Ok(delivered)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<mpsc::Sender<Message>>>> {
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Requests waiting for their reply: the bookkeeping every [`Messenger`] needs for
/// [`Messenger::request`], whatever carries its messages.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use yolk_core::messenger::{Message, PendingReplies};
///
/// let pending = PendingReplies::default();
/// let question = Message { topic: "price".into(), payload: 1.into(), from: 7, request_id: None };
/// // The carrier here answers at once: its reply names the request it answers.
/// let reply = pending
///     .request(question, Duration::from_secs(1), |sent| {
///         let id = sent.request_id.expect("a request has an id");
///         let answer = Message { payload: 42.into(), request_id: Some(id), ..sent };
///         assert!(pending.complete(id, Ok(answer)));
///         Ok(())
///     })
///     .await
///     .unwrap();
/// assert_eq!(reply.decode::<u32>().unwrap(), 42);
/// # }
/// ```
#[derive(Debug, Default)]
pub struct PendingReplies {
    next_id: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Result<Message, MessengerError>>>>,
}

impl PendingReplies {
    /// Registers a request; returns its id and where its reply (or the error that ended it)
    /// will arrive.
    fn register(&self) -> (u64, oneshot::Receiver<Result<Message, MessengerError>>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (sender, receiver) = oneshot::channel();
        self.lock().insert(id, sender);
        (id, receiver)
    }

    /// Hands a reply, or the error that ended the request, to request `id`; false when nobody
    /// waits for it any more.
    pub fn complete(&self, id: u64, reply: Result<Message, MessengerError>) -> bool {
        let sender = self.lock().remove(&id);
        sender.is_some_and(|sender| sender.send(reply).is_ok())
    }

    /// Forgets request `id`: it could not be sent, or its wait is over.
    fn cancel(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// [`Messenger::request`] for any carrier: registers `message` as a request, hands it to
    /// `send`, and waits up to `timeout` for its reply.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use yolk_core::messenger::{Message, MessengerError, PendingReplies};
    ///
    /// let pending = PendingReplies::default();
    /// let message = Message { topic: "price".into(), payload: 1.into(), from: 7, request_id: None };
    /// let refused = pending
    ///     .request(message, Duration::from_secs(1), |_| {
    ///         Err(MessengerError::Closed { reason: "no channel".into() })
    ///     })
    ///     .await;
    /// assert!(matches!(refused, Err(MessengerError::Closed { .. })));
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// What `send` returns, [`MessengerError::Timeout`], or the error the request was
    /// completed with.
    pub async fn request(
        &self,
        mut message: Message,
        timeout: Duration,
        send: impl FnOnce(Message) -> Result<(), MessengerError>,
    ) -> Result<Message, MessengerError> {
        let (id, receiver) = self.register();
        message.request_id = Some(id);
        let topic = message.topic.clone();
        if let Err(error) = send(message) {
            self.cancel(id);
            return Err(error);
        }
        self.wait(id, receiver, &topic, timeout).await
    }

    /// Fails every request still waiting with [`MessengerError::Closed`], when the messages'
    /// carrier is gone.
    pub fn fail_all(&self, reason: &str) {
        let waiting = std::mem::take(&mut *self.lock());
        for sender in waiting.into_values() {
            let _ = sender.send(Err(MessengerError::Closed {
                reason: reason.to_owned(),
            }));
        }
    }

    /// Waits for the reply to request `id`.
    async fn wait(
        &self,
        id: u64,
        receiver: oneshot::Receiver<Result<Message, MessengerError>>,
        topic: &str,
        timeout: Duration,
    ) -> Result<Message, MessengerError> {
        let outcome = tokio::time::timeout(timeout, receiver).await;
        self.cancel(id);
        match outcome {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(MessengerError::Closed {
                reason: format!("request `{topic}` was abandoned"),
            }),
            Err(_) => Err(MessengerError::Timeout {
                topic: topic.to_owned(),
                timeout,
            }),
        }
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Result<Message, MessengerError>>>>
    {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The messenger of a single process, which is agent and app at once (`--single`, tests).
///
/// Every recipient means "this process": a message reaches each local subscriber of its topic.
#[derive(Clone, Debug, Default)]
pub struct InProcessMessenger {
    inner: Arc<InProcess>,
}

#[derive(Debug, Default)]
struct InProcess {
    subscribers: Subscribers,
    pending: PendingReplies,
}

impl InProcessMessenger {
    /// A messenger with no subscribers yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Messenger for InProcessMessenger {
    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn send(&self, to: Recipient, message: Message) -> Result<(), MessengerError> {
        if let Recipient::Pid(pid) = to
            && pid != self.pid()
        {
            return Err(MessengerError::NoRecipient {
                topic: message.topic,
                recipient: format!("process {pid}"),
            });
        }
        self.inner.subscribers.deliver(&message).map(drop)
    }

    fn subscribe(&self, topic: &str) -> Subscription {
        self.inner.subscribers.subscribe(topic)
    }

    fn request(
        &self,
        to: Recipient,
        message: Message,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Message, MessengerError>> {
        Box::pin(
            self.inner
                .pending
                .request(message, timeout, move |message| self.send(to, message)),
        )
    }

    fn reply(&self, request: &Message, payload: serde_json::Value) -> Result<(), MessengerError> {
        let id = request
            .request_id
            .ok_or_else(|| MessengerError::NoRecipient {
                topic: request.topic.clone(),
                recipient: "requester (the message is not a request)".to_owned(),
            })?;
        let reply = Message {
            topic: request.topic.clone(),
            payload,
            from: self.pid(),
            request_id: Some(id),
        };
        if self.inner.pending.complete(id, Ok(reply)) {
            Ok(())
        } else {
            Err(MessengerError::NoRecipient {
                topic: request.topic.clone(),
                recipient: "requester (it stopped waiting)".to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_recipient_reaches_local_subscribers_in_order() {
        let messenger = InProcessMessenger::new();
        let mut first = messenger.subscribe("t");
        let mut second = messenger.subscribe("t");
        messenger.broadcast("t", &1).unwrap();
        messenger.send_to_app("t", &2).unwrap();
        messenger.send_to_agent("t", &3).unwrap();
        messenger.send_random("t", &4).unwrap();
        messenger.send_to(std::process::id(), "t", &5).unwrap();
        for subscription in [&mut first, &mut second] {
            for expected in 1..=5 {
                let message = subscription.recv().await.unwrap();
                assert_eq!(message.decode::<u32>().unwrap(), expected);
                assert_eq!(message.from, std::process::id());
            }
        }
    }

    #[test]
    fn unknown_pid_is_an_error() {
        let messenger = InProcessMessenger::new();
        let error = messenger.send_to(u32::MAX, "t", &1).unwrap_err();
        assert!(
            matches!(error, MessengerError::NoRecipient { .. }),
            "{error}"
        );
    }

    #[test]
    fn full_queue_is_reported_not_dropped() {
        let messenger = InProcessMessenger::new();
        let _slow = messenger.subscribe("t");
        for n in 0..SUBSCRIPTION_CAPACITY {
            messenger.send_to_app("t", &n).unwrap();
        }
        let error = messenger.send_to_app("t", &0).unwrap_err();
        assert!(error.to_string().contains("queue is full"), "{error}");
    }

    #[tokio::test]
    async fn request_and_reply() {
        let messenger = InProcessMessenger::new();
        let mut questions = messenger.subscribe("double");
        let responder = messenger.clone();
        tokio::spawn(async move {
            while let Some(question) = questions.recv().await {
                let n: u64 = question.decode().unwrap();
                responder
                    .reply(&question, serde_json::json!(n * 2))
                    .unwrap();
            }
        });
        let question = messenger.message("double", &21).unwrap();
        let answer = messenger
            .request(Recipient::Agent, question, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(answer.decode::<u64>().unwrap(), 42);
    }

    #[tokio::test]
    async fn request_without_reply_times_out() {
        let messenger = InProcessMessenger::new();
        let _deaf = messenger.subscribe("q");
        let question = messenger.message("q", &()).unwrap();
        let error = messenger
            .request(Recipient::Agent, question, Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(matches!(error, MessengerError::Timeout { .. }), "{error}");
    }

    #[test]
    fn decode_error_names_the_topic() {
        let messenger = InProcessMessenger::new();
        let message = messenger.message("t", "text").unwrap();
        let error = message.decode::<u32>().unwrap_err();
        assert!(error.to_string().starts_with("message `t`"), "{error}");
    }
}
