//! The per-tick lock of `type = "cluster"` jobs: `SET key value NX PX ttl` in Redis.

use std::time::Duration;

use crate::error::ScheduleError;

/// A lock store: one key per job and tick, taken by the first instance that asks.
#[derive(Debug)]
pub(crate) struct TickLock {
    #[cfg(feature = "redis")]
    client: redis::Client,
    #[cfg(feature = "redis")]
    manager: tokio::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    ttl: Duration,
}

impl TickLock {
    /// A lock on the Redis at `url`; the connection is made on first use, so a Redis that is
    /// down at start-up only costs the ticks it misses.
    #[cfg(feature = "redis")]
    pub(crate) fn open(job: &str, url: &str, ttl: Duration) -> Result<Self, ScheduleError> {
        let client = redis::Client::open(url).map_err(|source| ScheduleError::Lock {
            job: job.to_owned(),
            source: Box::new(source),
        })?;
        Ok(Self {
            client,
            manager: tokio::sync::Mutex::new(None),
            ttl,
        })
    }

    #[cfg(not(feature = "redis"))]
    pub(crate) fn open(job: &str, _url: &str, _ttl: Duration) -> Result<Self, ScheduleError> {
        Err(ScheduleError::Lock {
            job: job.to_owned(),
            source: "this build of yolk-schedule has no `redis` feature; enable it".into(),
        })
    }

    /// True when this instance took `key`; false when another one holds it.
    #[cfg(feature = "redis")]
    pub(crate) async fn acquire(&self, key: &str) -> Result<bool, redis::RedisError> {
        let mut connection = {
            let mut manager = self.manager.lock().await;
            match manager.as_ref() {
                Some(connection) => connection.clone(),
                None => {
                    // A tick waits for its lock, so a Redis that is down must fail fast: one
                    // short try per tick rather than the default retries with back-off.
                    let config = redis::aio::ConnectionManagerConfig::new()
                        .set_number_of_retries(1)
                        .set_connection_timeout(Some(Duration::from_secs(2)))
                        .set_response_timeout(Some(Duration::from_secs(2)));
                    let connection = self
                        .client
                        .get_connection_manager_with_config(config)
                        .await?;
                    *manager = Some(connection.clone());
                    connection
                }
            }
        };
        let ttl = u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let taken: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(std::process::id())
            .arg("NX")
            .arg("PX")
            .arg(ttl)
            .query_async(&mut connection)
            .await?;
        Ok(taken.is_some())
    }

    #[cfg(not(feature = "redis"))]
    pub(crate) async fn acquire(&self, _key: &str) -> Result<bool, std::io::Error> {
        let _ = self.ttl;
        Err(std::io::Error::other("no `redis` feature"))
    }
}
