//! External stores: the [`Store`] trait, the [`Record`] it keeps, and [`MemoryStore`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::SessionError;

/// One session as kept by a store (and, encrypted, in the session cookie).
///
/// ```
/// use yolk_session::Record;
///
/// let record = Record::new(serde_json::Map::new(), 1_700_000_000_000, Some(86_400_000));
/// let json = serde_json::to_string(&record).unwrap();
/// assert_eq!(json, r#"{"d":{},"x":1700000000000,"m":86400000}"#);
/// assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), record);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The session's values.
    #[serde(rename = "d")]
    pub data: Map<String, Value>,
    /// When the session expires, in milliseconds since the Unix epoch.
    #[serde(rename = "x")]
    pub expires_at_ms: u64,
    /// The session's max age in milliseconds; `None` for a browser-session cookie. Kept so
    /// that a max age set for one request ([`Session::set_max_age`](crate::Session::set_max_age))
    /// holds for the next ones.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub max_age_ms: Option<u64>,
}

impl Record {
    /// A record of `data` expiring at `expires_at_ms` (Unix milliseconds).
    ///
    /// ```
    /// let record = yolk_session::Record::new(serde_json::Map::new(), 5, None);
    /// assert_eq!(record.expires_at_ms, 5);
    /// ```
    pub fn new(data: Map<String, Value>, expires_at_ms: u64, max_age_ms: Option<u64>) -> Self {
        Self {
            data,
            expires_at_ms,
            max_age_ms,
        }
    }
}

/// A place to keep sessions server-side; the cookie then holds only an unguessable id.
///
/// Ids are 43 characters of base64url (256 random bits). `set` is called with the time the
/// session has left; a store must forget the session after it (the layer also checks
/// [`Record::expires_at_ms`] on every load, so a store that keeps records longer is still
/// correct, only larger).
///
/// ```
/// use std::time::Duration;
/// use async_trait::async_trait;
/// use yolk_session::{Record, SessionError, Store};
///
/// /// A store that forgets everything.
/// #[derive(Debug)]
/// struct Nowhere;
///
/// #[async_trait]
/// impl Store for Nowhere {
///     async fn get(&self, _id: &str) -> Result<Option<Record>, SessionError> {
///         Ok(None)
///     }
///     async fn set(&self, _id: &str, _record: &Record, _ttl: Duration) -> Result<(), SessionError> {
///         Ok(())
///     }
///     async fn destroy(&self, _id: &str) -> Result<(), SessionError> {
///         Ok(())
///     }
/// }
/// # let _ = yolk_session::SessionLayer::with_store(Nowhere);
/// ```
#[async_trait]
pub trait Store: fmt::Debug + Send + Sync + 'static {
    /// The session `id`, or `None` when it is unknown or expired.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store cannot be reached; the request then gets a 503.
    async fn get(&self, id: &str) -> Result<Option<Record>, SessionError>;

    /// Keeps `record` under `id` for `ttl`, replacing what was there.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store cannot be reached; the response is then
    /// replaced with a 503.
    async fn set(&self, id: &str, record: &Record, ttl: Duration) -> Result<(), SessionError>;

    /// Forgets the session `id`; forgetting an unknown id is not an error.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store cannot be reached.
    async fn destroy(&self, id: &str) -> Result<(), SessionError>;
}

/// A shared store is a store: `SessionLayer::with_store(Arc::clone(&store))`.
#[async_trait]
impl<T: Store + ?Sized> Store for Arc<T> {
    async fn get(&self, id: &str) -> Result<Option<Record>, SessionError> {
        (**self).get(id).await
    }

    async fn set(&self, id: &str, record: &Record, ttl: Duration) -> Result<(), SessionError> {
        (**self).set(id, record, ttl).await
    }

    async fn destroy(&self, id: &str) -> Result<(), SessionError> {
        (**self).destroy(id).await
    }
}

/// Sweep expired entries once every this many writes.
const SWEEP_EVERY: u64 = 1024;

/// Sessions in this process's memory, each forgotten when its time is up.
///
/// For one process only: sessions are lost on restart and not shared between the workers of
/// a cluster (use [`RedisStore`](crate::RedisStore) there). Cheap to clone: clones share the
/// sessions.
///
/// ```
/// use std::time::Duration;
/// use yolk_session::{MemoryStore, Record, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), yolk_session::SessionError> {
/// let store = MemoryStore::new();
/// let record = Record::new(serde_json::Map::new(), u64::MAX, None);
/// store.set("id", &record, Duration::from_secs(60)).await?;
/// assert_eq!(store.get("id").await?, Some(record));
/// store.destroy("id").await?;
/// assert_eq!(store.get("id").await?, None);
/// assert!(store.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Entries>>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, (Record, Instant)>,
    writes: u64,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    ///
    /// ```
    /// assert!(yolk_session::MemoryStore::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sessions are kept, expired ones not yet swept included.
    ///
    /// ```
    /// assert_eq!(yolk_session::MemoryStore::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when no session is kept.
    ///
    /// ```
    /// assert!(yolk_session::MemoryStore::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Every update is a single insert or remove: the map is consistent even after a panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, id: &str) -> Result<Option<Record>, SessionError> {
        let mut entries = self.lock();
        match entries.map.get(id) {
            Some((record, until)) if *until > Instant::now() => Ok(Some(record.clone())),
            Some(_) => {
                entries.map.remove(id);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn set(&self, id: &str, record: &Record, ttl: Duration) -> Result<(), SessionError> {
        let now = Instant::now();
        let until = now
            .checked_add(ttl)
            .unwrap_or(now + Duration::from_secs(1 << 32));
        let mut entries = self.lock();
        entries.writes += 1;
        if entries.writes.is_multiple_of(SWEEP_EVERY) {
            entries.map.retain(|_, (_, until)| *until > now);
        }
        entries.map.insert(id.to_owned(), (record.clone(), until));
        Ok(())
    }

    async fn destroy(&self, id: &str) -> Result<(), SessionError> {
        self.lock().map.remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_expires_and_sweeps() {
        let store = MemoryStore::new();
        let record = Record::new(Map::new(), u64::MAX, None);
        store
            .set("short", &record, Duration::from_millis(20))
            .await
            .unwrap();
        store
            .set("long", &record, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(store.get("short").await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(store.get("short").await.unwrap(), None);
        assert_eq!(store.len(), 1);
        store.set("gone", &record, Duration::ZERO).await.unwrap();
        for i in 0..SWEEP_EVERY {
            store
                .set(&format!("k{}", i % 4), &record, Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert!(store.get("gone").await.unwrap().is_none());
        assert_eq!(store.len(), 5);
        store.destroy("never-there").await.unwrap();
    }
}
