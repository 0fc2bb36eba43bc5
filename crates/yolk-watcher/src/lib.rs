#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod event;
mod hub;
mod plugin;
mod source;
mod watcher;

pub use config::{Polling, WatcherConfig};
pub use error::WatchError;
pub use event::{Event, EventKind};
pub use hub::{Hub, SubscriptionId, WatchStats};
pub use plugin::WatcherPlugin;
pub use source::{DevelopmentSource, EventSink, EventSource, NoopSource, SourceWatch, WatchTarget};
pub use watcher::{IntoPaths, OnChange, WatchHandle, WatchOptions, Watcher};
