//! The [`Cookies`] extractor and its rejection.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use super::Cookies;
use super::layer::request_jar;

/// Why [`Cookies`] could not be extracted.
///
/// ```
/// use http::StatusCode;
/// use yolk_core::cookies::CookiesRejection;
///
/// let rejection = CookiesRejection::MissingCookieLayer;
/// assert_eq!(rejection.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// assert!(rejection.body_text().contains("CookieLayer::new(keys)"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookiesRejection {
    /// The request did not go through [`CookieLayer`](super::CookieLayer).
    #[error(
        "`Cookies` needs `CookieLayer` around it on the request's task: build the app with \
         `yolk_core::App` or add `CookieLayer::new(keys)` to your router, outside any layer \
         that moves requests to another task (such as tower's `Buffer`)"
    )]
    MissingCookieLayer,
}

impl CookiesRejection {
    /// The status code of the response: `500 Internal Server Error`, since this is a mistake in
    /// how the application is built, not in the request.
    ///
    /// ```
    /// # use yolk_core::cookies::CookiesRejection;
    /// assert_eq!(CookiesRejection::MissingCookieLayer.status().as_u16(), 500);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingCookieLayer => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body of the response: the message telling the fix.
    ///
    /// ```
    /// # use yolk_core::cookies::CookiesRejection;
    /// let text = CookiesRejection::MissingCookieLayer.body_text();
    /// assert!(text.starts_with("`Cookies` needs `CookieLayer`"));
    /// ```
    pub fn body_text(&self) -> String {
        self.to_string()
    }
}

impl IntoResponse for CookiesRejection {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}

impl<S> FromRequestParts<S> for Cookies
where
    S: Send + Sync,
{
    type Rejection = CookiesRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let slot = request_jar().ok_or(CookiesRejection::MissingCookieLayer)?;
        Ok(Self::from_slot(slot, &parts.headers))
    }
}

/// `Option<Cookies>` is `None` when the request did not go through
/// [`CookieLayer`](super::CookieLayer), instead of rejecting it.
impl<S> OptionalFromRequestParts<S> for Cookies
where
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(request_jar().map(|slot| Self::from_slot(slot, &parts.headers)))
    }
}
