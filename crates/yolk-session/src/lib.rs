#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod access;
pub mod codec;
mod config;
mod error;
mod extract;
mod layer;
mod plugin;
#[cfg(feature = "redis")]
mod redis_store;
mod service;
mod session;
mod store;

pub use access::SessionLayerAccess;
pub use config::{DEFAULT_COOKIE_NAME, MaxAge, ONE_DAY, SameSite, SessionConfig};
pub use error::{BoxError, COOKIE_SIZE_LIMIT, SessionError};
pub use extract::SessionRejection;
pub use layer::SessionLayer;
pub use plugin::SessionPlugin;
#[cfg(feature = "redis")]
pub use redis_store::{DEFAULT_PREFIX as REDIS_DEFAULT_PREFIX, RedisStore};
pub use service::{ResponseFuture, SessionService};
pub use session::Session;
pub use store::{MemoryStore, Record, Store};
