//! [`SessionError`]: everything that can go wrong with a session.

use http::StatusCode;

/// The most a browser keeps of one cookie's `name=value`, in bytes. Browsers silently drop a
/// larger cookie, so a session that would not fit is an error instead.
pub const COOKIE_SIZE_LIMIT: usize = 4093;

/// Any error, boxed: what a [`Store`](crate::Store) wraps.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a session operation failed.
///
/// ```
/// use yolk_session::SessionError;
///
/// let error = SessionError::TooLarge { size: 5000, limit: 4093 };
/// assert_eq!(error.status().as_u16(), 500);
/// assert!(error.to_string().contains("4093-byte"));
/// assert!(error.to_string().contains("store"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A value could not be turned into JSON.
    #[error("session value `{key}` cannot be stored: {source}")]
    Serialize {
        /// The session key.
        key: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// A stored value is not of the type asked for.
    #[error("session value `{key}` is not of the type asked for: {source}")]
    Deserialize {
        /// The session key.
        key: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The session would not fit in a cookie.
    #[error(
        "the session is too large for a cookie: it would take {size} bytes, over the browser's \
         {limit}-byte limit per cookie; keep less in the session, or keep it server-side with \
         an external store (`SessionLayer::with_store`, e.g. `MemoryStore` or `RedisStore`)"
    )]
    TooLarge {
        /// The size of `name=value` the cookie would have, in bytes.
        size: usize,
        /// The limit, [`COOKIE_SIZE_LIMIT`].
        limit: usize,
    },
    /// The cookie store needs keys and the app has none.
    #[error(
        "the session cookie is encrypted with the app's keys, and none are configured: set \
         `keys` in config/config.default.toml (or YOLK_KEYS) to a long random secret, or use \
         an external store"
    )]
    NoKeys,
    /// The external store failed (for example Redis is down).
    #[error("session store `{store}` is unavailable: {source}")]
    Store {
        /// The store's name, e.g. `redis`.
        store: &'static str,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
}

impl SessionError {
    /// A [`SessionError::Store`] from a store's own error.
    ///
    /// ```
    /// use yolk_session::SessionError;
    ///
    /// let error = SessionError::store("redis", "connection refused");
    /// assert_eq!(error.to_string(), "session store `redis` is unavailable: connection refused");
    /// assert_eq!(error.status().as_u16(), 503);
    /// ```
    pub fn store(store: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Store {
            store,
            source: source.into(),
        }
    }

    /// The HTTP status this error answers with: `503 Service Unavailable` for a store that is
    /// down (the client may retry), `500 Internal Server Error` otherwise.
    ///
    /// ```
    /// use yolk_session::SessionError;
    ///
    /// assert_eq!(SessionError::NoKeys.status().as_u16(), 500);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Store { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl axum::response::IntoResponse for SessionError {
    fn into_response(self) -> axum::response::Response {
        crate::extract::error_response(self.status(), &self.to_string(), false)
    }
}
