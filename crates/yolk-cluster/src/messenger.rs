//! The messenger of an agent or a worker: frames to the master, which routes them.
//!
//! Sends are checked against the cluster's members (which the master keeps up to date), so a
//! message to a pid that is not in the cluster, to an agent that is down or to workers when
//! there are none fails at once in the sender. A message the master or the recipient cannot
//! take comes back as a [`Frame::Nack`]: a request then fails with that error; a plain send is
//! logged with its topic and recipient. Nothing is dropped in silence.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
use yolk_core::messenger::{
    BoxFuture, Message, Messenger, MessengerError, PendingReplies, Recipient, Subscribers,
    Subscription,
};

use crate::frame::{Frame, NackReason};

/// How many frames a process queues for the master before sends fail with
/// [`MessengerError::Full`].
pub const OUTBOUND_CAPACITY: usize = 1024;

/// The [`Messenger`] of one child process of a cluster.
#[derive(Clone, Debug)]
pub struct IpcMessenger {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pid: u32,
    outbound: mpsc::Sender<Frame>,
    subscribers: Subscribers,
    pending: PendingReplies,
    members: Mutex<Members>,
}

#[derive(Debug, Default)]
struct Members {
    agent: Option<u32>,
    workers: Vec<u32>,
    other_agents: Vec<u32>,
}

impl IpcMessenger {
    /// A messenger whose frames for the master go to `outbound`; feed the master's frames to
    /// [`IpcMessenger::handle`].
    pub fn new(pid: u32, outbound: mpsc::Sender<Frame>) -> Self {
        Self {
            inner: Arc::new(Inner {
                pid,
                outbound,
                subscribers: Subscribers::default(),
                pending: PendingReplies::default(),
                members: Mutex::new(Members::default()),
            }),
        }
    }

    /// Handles a frame from the master; returns the frames that are not the messenger's
    /// (`Go`, `Stop`, …) for the caller.
    pub fn handle(&self, frame: Frame) -> Option<Frame> {
        match frame {
            Frame::Deliver { message, sole } => self.deliver(message, sole),
            Frame::Replied { message } => {
                if let Some(id) = message.request_id {
                    self.complete(id, Ok(message));
                }
            }
            Frame::Nack {
                request_id,
                topic,
                recipient,
                reason,
                ..
            } => {
                let error = match reason {
                    NackReason::Full { capacity } => MessengerError::Full {
                        topic,
                        recipient,
                        capacity,
                    },
                    NackReason::NoRecipient => MessengerError::NoRecipient { topic, recipient },
                };
                match request_id {
                    Some(id) => self.complete(id, Err(error)),
                    None => tracing::warn!(pid = self.inner.pid, "{error}"),
                }
            }
            Frame::Members {
                agent,
                workers,
                other_agents,
            } => {
                *self.members() = Members {
                    agent,
                    workers,
                    other_agents,
                };
            }
            other => return Some(other),
        }
        None
    }

    /// Fails every request still waiting, once the master is gone.
    pub fn close(&self, reason: &str) {
        self.inner.pending.fail_all(reason);
    }

    fn deliver(&self, message: Message, sole: bool) {
        let outcome = self.inner.subscribers.deliver(&message);
        let reason = match outcome {
            Ok(0) if sole && message.request_id.is_some() => NackReason::NoRecipient,
            Ok(_) => return,
            Err(MessengerError::Full { capacity, .. }) => NackReason::Full { capacity },
            Err(error) => {
                tracing::warn!(pid = self.inner.pid, "{error}");
                return;
            }
        };
        let recipient = match reason {
            NackReason::NoRecipient => format!(
                "subscriber of `{}` in process {}",
                message.topic, self.inner.pid
            ),
            NackReason::Full { .. } => format!("a subscriber in process {}", self.inner.pid),
        };
        let nack = Frame::Nack {
            to: message.from,
            request_id: message.request_id,
            topic: message.topic,
            recipient,
            reason,
        };
        if self.inner.outbound.try_send(nack).is_err() {
            tracing::warn!(
                pid = self.inner.pid,
                "a message was not delivered here and its sender could not be told"
            );
        }
    }

    fn complete(&self, id: u64, outcome: Result<Message, MessengerError>) {
        self.inner.pending.complete(id, outcome);
    }

    fn check(&self, to: Recipient, topic: &str) -> Result<(), MessengerError> {
        let members = self.members();
        let missing = match to {
            Recipient::All => None,
            Recipient::Agent if members.agent.is_none() => {
                Some("agent (it is not running)".to_owned())
            }
            Recipient::App | Recipient::Random if members.workers.is_empty() => {
                Some("worker".to_owned())
            }
            Recipient::Pid(pid)
                if members.agent != Some(pid)
                    && !members.workers.contains(&pid)
                    && !members.other_agents.contains(&pid) =>
            {
                Some(format!(
                    "process {pid} (no agent or worker of this cluster has that pid)"
                ))
            }
            _ => None,
        };
        match missing {
            Some(recipient) => Err(MessengerError::NoRecipient {
                topic: topic.to_owned(),
                recipient,
            }),
            None => Ok(()),
        }
    }

    fn push(&self, frame: Frame, topic: &str) -> Result<(), MessengerError> {
        self.inner
            .outbound
            .try_send(frame)
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => MessengerError::Full {
                    topic: topic.to_owned(),
                    recipient: "the master (this process's outbound queue)".to_owned(),
                    capacity: OUTBOUND_CAPACITY,
                },
                mpsc::error::TrySendError::Closed(_) => MessengerError::Closed {
                    reason: "the connection to the master is closed".to_owned(),
                },
            })
    }

    fn members(&self) -> MutexGuard<'_, Members> {
        self.inner
            .members
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Messenger for IpcMessenger {
    fn pid(&self) -> u32 {
        self.inner.pid
    }

    fn send(&self, to: Recipient, message: Message) -> Result<(), MessengerError> {
        self.check(to, &message.topic)?;
        let topic = message.topic.clone();
        self.push(Frame::Send { to, message }, &topic)
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
        self.check(Recipient::Pid(request.from), &request.topic)?;
        let message = Message {
            topic: request.topic.clone(),
            payload,
            from: self.inner.pid,
            request_id: Some(id),
        };
        self.push(
            Frame::Reply {
                to: request.from,
                message,
            },
            &request.topic,
        )
    }
}

#[cfg(test)]
mod tests {
    use yolk_core::messenger::MessengerExt;

    use super::*;

    fn messenger(capacity: usize) -> (IpcMessenger, mpsc::Receiver<Frame>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let messenger = IpcMessenger::new(10, sender);
        messenger.handle(Frame::Members {
            agent: Some(1),
            workers: vec![10, 11],
            other_agents: vec![2],
        });
        (messenger, receiver)
    }

    #[test]
    fn sends_to_nobody_fail_in_the_sender() {
        let (messenger, _frames) = messenger(8);
        let error = messenger.send_to(99, "t", &1).unwrap_err();
        assert!(error.to_string().contains("process 99"), "{error}");
        // An agent that is starting or stopping is reachable by its pid.
        messenger.send_to(2, "t", &1).unwrap();
        messenger.handle(Frame::Members {
            agent: None,
            workers: vec![],
            other_agents: vec![2],
        });
        let error = messenger.send_to_agent("t", &1).unwrap_err();
        assert!(error.to_string().contains("agent"), "{error}");
        let error = messenger.send_random("t", &1).unwrap_err();
        assert!(error.to_string().contains("worker"), "{error}");
        messenger.broadcast("t", &1).unwrap();
    }

    #[test]
    fn a_full_outbound_queue_is_an_error() {
        let (messenger, _frames) = messenger(2);
        messenger.send_to_app("t", &1).unwrap();
        messenger.send_to_app("t", &2).unwrap();
        let error = messenger.send_to_app("t", &3).unwrap_err();
        assert!(matches!(error, MessengerError::Full { .. }), "{error}");
    }

    #[tokio::test]
    async fn a_nack_fails_the_request_at_once() {
        let (messenger, mut frames) = messenger(8);
        let asking = messenger.clone();
        let request = tokio::spawn(async move {
            let question = asking.message("q", &()).unwrap();
            asking
                .request(Recipient::Pid(11), question, Duration::from_secs(30))
                .await
        });
        let Some(Frame::Send { message, .. }) = frames.recv().await else {
            panic!("expected a send frame");
        };
        messenger.handle(Frame::Nack {
            to: 10,
            request_id: message.request_id,
            topic: "q".to_owned(),
            recipient: "process 11".to_owned(),
            reason: NackReason::NoRecipient,
        });
        let error = request.await.unwrap().unwrap_err();
        assert!(
            matches!(error, MessengerError::NoRecipient { .. }),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_sole_request_nobody_subscribes_to_is_nacked_back() {
        let (messenger, mut frames) = messenger(8);
        let question = Message {
            topic: "nobody".to_owned(),
            payload: serde_json::Value::Null,
            from: 11,
            request_id: Some(5),
        };
        messenger.handle(Frame::Deliver {
            message: question,
            sole: true,
        });
        match frames.recv().await {
            Some(Frame::Nack {
                to,
                request_id,
                reason,
                ..
            }) => {
                assert_eq!(
                    (to, request_id, reason),
                    (11, Some(5), NackReason::NoRecipient)
                );
            }
            other => panic!("expected a nack, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn replies_complete_requests() {
        let (messenger, mut frames) = messenger(8);
        let asking = messenger.clone();
        let request = tokio::spawn(async move {
            let question = asking.message("q", &1).unwrap();
            asking
                .request(Recipient::Agent, question, Duration::from_secs(30))
                .await
        });
        let Some(Frame::Send { message, .. }) = frames.recv().await else {
            panic!("expected a send frame");
        };
        let answer = Message {
            payload: serde_json::json!(2),
            from: 1,
            ..message
        };
        messenger.handle(Frame::Replied { message: answer });
        let reply = request.await.unwrap().unwrap();
        assert_eq!(reply.decode::<u32>().unwrap(), 2);
    }
}
