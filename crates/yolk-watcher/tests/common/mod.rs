//! Helpers: a channel callback, a wait with a deadline, and a messenger mesh that routes
//! between an agent and workers in one process, each with its own pid.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use yolk_core::messenger::{
    AGENT_CHANGED, BoxFuture, Message, Messenger, MessengerError, PendingReplies, Recipient,
    Subscribers, Subscription,
};
use yolk_watcher::Event;

/// A callback that forwards each batch to a channel.
pub fn channel() -> (
    impl Fn(&[Event]) + Send + Sync + 'static,
    mpsc::UnboundedReceiver<Vec<Event>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        move |events: &[Event]| {
            let _ = tx.send(events.to_vec());
        },
        rx,
    )
}

/// The next batch, within 10 s.
pub async fn next(rx: &mut mpsc::UnboundedReceiver<Vec<Event>>) -> Vec<Event> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event batch within 10 s")
        .expect("the watcher is alive")
}

/// Every batch that arrives within `window`.
pub async fn drain(
    rx: &mut mpsc::UnboundedReceiver<Vec<Event>>,
    window: Duration,
) -> Vec<Vec<Event>> {
    let mut batches = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(batch)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        batches.push(batch);
    }
    batches
}

pub const AGENT_PID: u32 = 1;

/// Processes in one test, routed as the cluster's master routes them.
#[derive(Debug, Default)]
pub struct Mesh {
    nodes: Mutex<HashMap<u32, Arc<Node>>>,
}

#[derive(Debug, Default)]
struct Node {
    subscribers: Subscribers,
    pending: PendingReplies,
}

/// One process's messenger on a [`Mesh`].
#[derive(Debug, Clone)]
pub struct MeshMessenger {
    pid: u32,
    mesh: Arc<Mesh>,
}

impl Mesh {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Adds process `pid` (the agent is [`AGENT_PID`]).
    pub fn join(self: &Arc<Self>, pid: u32) -> Arc<dyn Messenger> {
        self.nodes.lock().unwrap().insert(pid, Arc::default());
        Arc::new(MeshMessenger {
            pid,
            mesh: self.clone(),
        })
    }

    /// Tells the workers that a new agent serves, as the master does once it is ready.
    pub fn announce_agent(&self) {
        let announcement = Message {
            topic: AGENT_CHANGED.to_owned(),
            payload: serde_json::json!(AGENT_PID),
            from: AGENT_PID,
            request_id: None,
        };
        for node in self.targets(Recipient::App) {
            node.subscribers.deliver(&announcement).unwrap();
        }
    }

    fn targets(&self, to: Recipient) -> Vec<Arc<Node>> {
        let nodes = self.nodes.lock().unwrap();
        match to {
            Recipient::All => nodes.values().cloned().collect(),
            Recipient::App => nodes
                .iter()
                .filter(|(pid, _)| **pid != AGENT_PID)
                .map(|(_, node)| node.clone())
                .collect(),
            Recipient::Agent => nodes.get(&AGENT_PID).cloned().into_iter().collect(),
            Recipient::Random => nodes
                .iter()
                .find(|(pid, _)| **pid != AGENT_PID)
                .map(|(_, node)| node.clone())
                .into_iter()
                .collect(),
            Recipient::Pid(pid) => nodes.get(&pid).cloned().into_iter().collect(),
        }
    }
}

impl Messenger for MeshMessenger {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn send(&self, to: Recipient, message: Message) -> Result<(), MessengerError> {
        let targets = self.mesh.targets(to);
        if targets.is_empty() {
            return Err(MessengerError::NoRecipient {
                topic: message.topic,
                recipient: format!("{to:?}"),
            });
        }
        for node in targets {
            node.subscribers.deliver(&message)?;
        }
        Ok(())
    }

    fn subscribe(&self, topic: &str) -> Subscription {
        self.mesh.nodes.lock().unwrap()[&self.pid]
            .subscribers
            .subscribe(topic)
    }

    fn request(
        &self,
        to: Recipient,
        message: Message,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Message, MessengerError>> {
        Box::pin(async move {
            let node = self.mesh.nodes.lock().unwrap()[&self.pid].clone();
            node.pending
                .request(message, timeout, |message| self.send(to, message))
                .await
        })
    }

    fn reply(&self, request: &Message, payload: serde_json::Value) -> Result<(), MessengerError> {
        let node = self.mesh.nodes.lock().unwrap()[&request.from].clone();
        let reply = Message {
            topic: request.topic.clone(),
            payload,
            from: self.pid,
            request_id: request.request_id,
        };
        node.pending
            .complete(request.request_id.unwrap_or_default(), Ok(reply));
        Ok(())
    }
}
