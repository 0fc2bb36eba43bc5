//! The [`Session`] extractor and its [`SessionRejection`].

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use yolk_core::request::accepts_json;

use crate::error::SessionError;
use crate::session::{Session, SessionSlot, State, find_cookie};

/// An error response: `{"message": ..}` for JSON clients, plain text otherwise.
pub(crate) fn error_response(status: StatusCode, message: &str, json: bool) -> Response {
    let (body, content_type) = if json {
        (
            serde_json::json!({ "message": message }).to_string(),
            "application/json",
        )
    } else {
        (message.to_owned(), "text/plain; charset=utf-8")
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Why [`Session`] could not be extracted.
///
/// ```
/// use yolk_session::SessionRejection;
///
/// let rejection = SessionRejection::MissingSessionLayer { json: false };
/// assert_eq!(rejection.status().as_u16(), 500);
/// assert!(rejection.body_text().contains("SessionLayer"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The request did not go through [`SessionLayer`](crate::SessionLayer).
    #[error(
        "`Session` needs `SessionLayer`: enable the session plugin \
         (`App::builder().plugin(SessionPlugin::default())`), or add \
         `SessionLayer::new(keys)` to your router"
    )]
    MissingSessionLayer {
        /// Answer in JSON.
        json: bool,
    },
    /// The external store could not be reached.
    #[error("{source}")]
    StoreUnavailable {
        /// The store's error.
        #[source]
        source: SessionError,
        /// Answer in JSON.
        json: bool,
    },
}

impl SessionRejection {
    /// `500` for a missing layer (a mistake in how the app is built), `503` for a store that
    /// is down.
    ///
    /// ```
    /// use yolk_session::{SessionError, SessionRejection};
    ///
    /// let down = SessionRejection::StoreUnavailable {
    ///     source: SessionError::store("redis", "connection refused"),
    ///     json: true,
    /// };
    /// assert_eq!(down.status().as_u16(), 503);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingSessionLayer { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The message of the response, telling the fix.
    ///
    /// ```
    /// use yolk_session::SessionRejection;
    ///
    /// let text = SessionRejection::MissingSessionLayer { json: true }.body_text();
    /// assert!(text.starts_with("`Session` needs `SessionLayer`"));
    /// ```
    pub fn body_text(&self) -> String {
        self.to_string()
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        let json = match &self {
            Self::MissingSessionLayer { json } | Self::StoreUnavailable { json, .. } => *json,
        };
        if let Self::StoreUnavailable { source, .. } = &self {
            tracing::warn!("session not loaded: {source}");
        }
        error_response(self.status(), &self.body_text(), json)
    }
}

pub(crate) async fn extract(parts: &Parts, slot: SessionSlot) -> Result<Session, SessionRejection> {
    if !slot.is_loaded() {
        let json = accepts_json(&parts.headers, parts.uri.path());
        let shared = &slot.slot().shared;
        let cookie = find_cookie(&parts.headers, &shared.name);
        let state = State::load(shared, cookie.as_deref(), json)
            .await
            .map_err(|source| SessionRejection::StoreUnavailable { source, json })?;
        slot.fill(state);
    }
    Ok(Session { slot })
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(slot) = parts.extensions.get::<SessionSlot>().cloned() else {
            return Err(SessionRejection::MissingSessionLayer {
                json: accepts_json(&parts.headers, parts.uri.path()),
            });
        };
        extract(parts, slot).await
    }
}

/// `Option<Session>` is `None` when the request did not go through
/// [`SessionLayer`](crate::SessionLayer); a store that is down still rejects.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<SessionSlot>().cloned() {
            Some(slot) => extract(parts, slot).await.map(Some),
            None => Ok(None),
        }
    }
}
