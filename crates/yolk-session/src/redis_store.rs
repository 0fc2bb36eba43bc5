//! [`RedisStore`]: sessions in Redis, each key expiring with its session.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::SessionError;
use crate::store::{Record, Store};

/// The default prefix of the Redis keys: `yolk:sess:`.
pub const DEFAULT_PREFIX: &str = "yolk:sess:";

/// How long connecting, and each command, may take before the request gets a 503.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Sessions in Redis: `SET prefix+id json PX ttl`, so Redis itself forgets a session when its
/// time is up. Shared by every worker of a cluster, and by every machine using that Redis.
///
/// The connection is made on first use and re-made after Redis restarts or the connection
/// drops; while Redis is down, each request that needs its session gets a
/// `503 Service Unavailable` naming the store (no panic, no hang beyond a 2 s timeout).
/// Cheap to clone: clones share the connection.
///
/// ```
/// use yolk_session::{RedisStore, SessionLayer};
/// use yolk_core::Keys;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), yolk_session::SessionError> {
/// // Nothing is connected yet: this works with Redis down.
/// let store = RedisStore::open("redis://127.0.0.1:6379/")?.with_prefix("blog:sess:");
/// assert_eq!(store.prefix(), "blog:sess:");
/// let layer = SessionLayer::with_store(store);
/// # let _ = layer;
/// assert!(RedisStore::open("not a url").is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on the Redis at `url` (`redis://host:port/db`, with an optional
    /// `user:password@`), connecting on first use. Must be called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when `url` is not a Redis URL.
    pub fn open(url: &str) -> Result<Self, SessionError> {
        let client =
            redis::Client::open(url).map_err(|error| SessionError::store("redis", error))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let connection = client
            .get_connection_manager_lazy(config)
            .map_err(|error| SessionError::store("redis", error))?;
        Ok(Self {
            connection,
            prefix: DEFAULT_PREFIX.to_owned(),
        })
    }

    /// The prefix of every key this store writes. Default: [`DEFAULT_PREFIX`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = yolk_session::RedisStore::open("redis://127.0.0.1/").unwrap();
    /// assert_eq!(store.prefix(), "yolk:sess:");
    /// # }
    /// ```
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The prefix of every key this store writes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }
}

fn unavailable(error: redis::RedisError) -> SessionError {
    SessionError::store("redis", error)
}

#[async_trait]
impl Store for RedisStore {
    async fn get(&self, id: &str) -> Result<Option<Record>, SessionError> {
        let mut connection = self.connection.clone();
        let json: Option<String> = connection.get(self.key(id)).await.map_err(unavailable)?;
        let Some(json) = json else {
            return Ok(None);
        };
        match serde_json::from_str(&json) {
            Ok(record) => Ok(Some(record)),
            Err(error) => {
                tracing::warn!(
                    store = "redis",
                    "unreadable session record, starting afresh: {error}"
                );
                Ok(None)
            }
        }
    }

    async fn set(&self, id: &str, record: &Record, ttl: Duration) -> Result<(), SessionError> {
        let json = serde_json::to_string(record).map_err(|source| SessionError::Serialize {
            key: "(record)".to_owned(),
            source,
        })?;
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut connection = self.connection.clone();
        let options = redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(millis));
        let _reply: Option<String> = connection
            .set_options(self.key(id), json, options)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn destroy(&self, id: &str) -> Result<(), SessionError> {
        let mut connection = self.connection.clone();
        let _removed: usize = connection.del(self.key(id)).await.map_err(unavailable)?;
        Ok(())
    }
}
