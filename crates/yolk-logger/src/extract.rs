//! [`LogContext`]: the request's log context in a handler, and its rejection.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::context::REQUEST;

/// The log context of the current request: set the user id its lines show.
///
/// ```
/// use axum::{routing::get, Router};
/// use tower::ServiceExt;
/// use yolk_logger::{LogContext, RequestLogLayer};
///
/// async fn handler(log: LogContext) -> &'static str {
///     log.set_user_id("ada");
///     tracing::info!("checked out"); // `[ada/…/-/0ms GET /] checked out`
///     "ok"
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = Router::new().route("/", get(handler)).layer(RequestLogLayer::new());
/// let response = app.oneshot(http::Request::get("/").body(axum::body::Body::empty())?).await?;
/// assert_eq!(response.status(), 200);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LogContext {
    _private: (),
}

impl LogContext {
    /// Sets the user id shown in the prefix of this request's lines (Egg's `ctx.userId`).
    pub fn set_user_id(&self, user_id: impl Into<String>) {
        crate::context::set_user_id(user_id);
    }

    /// Milliseconds since the request came in.
    pub fn elapsed_ms(&self) -> u128 {
        REQUEST
            .try_with(|info| u128::from(info.elapsed_ms()))
            .unwrap_or(0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LogContext {
    type Rejection = LogContextRejection;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if REQUEST.try_with(|_| ()).is_ok() {
            Ok(Self { _private: () })
        } else {
            Err(LogContextRejection::MissingLayer)
        }
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for LogContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(REQUEST
            .try_with(|_| ())
            .is_ok()
            .then_some(Self { _private: () }))
    }
}

/// Why [`LogContext`] could not be extracted.
///
/// ```
/// use yolk_logger::LogContextRejection;
///
/// let rejection = LogContextRejection::MissingLayer;
/// assert_eq!(rejection.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
/// assert!(rejection.body_text().contains("RequestLogLayer"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogContextRejection {
    /// The request did not go through [`RequestLogLayer`](crate::RequestLogLayer).
    #[error(
        "`LogContext` needs `RequestLogLayer`: enable the logger plugin's `request_log` \
         middleware (and do not `ignore` this path), or add `RequestLogLayer` to the router"
    )]
    MissingLayer,
}

impl LogContextRejection {
    /// The response status: 500, a setup error.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The response body: what to fix.
    pub fn body_text(&self) -> String {
        self.to_string()
    }
}

impl IntoResponse for LogContextRejection {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}
