//! [`HttpError`]: the error a handler returns, with a status, a code, a message, headers and
//! the chain of causes.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::report::ErrorReport;

/// Any error, boxed, as a cause of an [`HttpError`].
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// A handler's result: `Ok` or an [`HttpError`].
pub type Result<T, E = HttpError> = std::result::Result<T, E>;

/// An error a handler returns: an HTTP status, a code, a message, optional response headers and
/// the chain of causes.
///
/// `?` converts any error into one. Errors the framework knows get their status: a body that
/// is not valid JSON or form data → 400, a body over the limit → 413, a file that does not
/// exist → 404, axum's extractor rejections → their own status; anything else → 500.
///
/// The response is chosen by [`OnErrorLayer`](crate::OnErrorLayer), which sees the request:
/// JSON, HTML or text, with details only in development. Without the layer the response is a
/// plain-text body that never shows a 5xx's internals.
///
/// ```
/// use axum::response::IntoResponse;
/// use http::StatusCode;
/// use yolk_onerror::HttpError;
///
/// fn parse(input: &str) -> yolk_onerror::Result<u32> {
///     let n: u32 = input
///         .parse()
///         .map_err(|e| HttpError::bad_request("`n` must be a number").with_source(e))?;
///     Ok(n)
/// }
///
/// let error = parse("x").unwrap_err();
/// assert_eq!(error.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(error.code(), "BAD_REQUEST");
/// assert_eq!(error.sources(), ["invalid digit found in string"]);
///
/// let error: HttpError = serde_json::from_str::<u32>("{").unwrap_err().into();
/// assert_eq!(error.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(error.code(), "INVALID_JSON");
/// assert_eq!(error.into_response().status(), 400);
/// ```
pub struct HttpError {
    inner: Box<Inner>,
}

struct Inner {
    status: StatusCode,
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    name: Cow<'static, str>,
    headers: HeaderMap,
    source: Option<BoxError>,
}

impl HttpError {
    /// An error with `status` and `message`; its code is the status's name
    /// (`NOT_FOUND`), its name `HttpError`. A status outside 400..=599 becomes 500.
    ///
    /// ```
    /// use http::StatusCode;
    /// let error = yolk_onerror::HttpError::new(StatusCode::CONFLICT, "the name is taken");
    /// assert_eq!((error.status(), error.code()), (StatusCode::CONFLICT, "CONFLICT"));
    /// assert_eq!(error.message(), "the name is taken");
    /// ```
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        let status = error_status(status);
        Self {
            inner: Box::new(Inner {
                status,
                code: Cow::Owned(status_code_name(status)),
                message: message.into(),
                name: Cow::Borrowed("HttpError"),
                headers: HeaderMap::new(),
                source: None,
            }),
        }
    }

    /// 400 Bad Request.
    ///
    /// ```
    /// assert_eq!(yolk_onerror::HttpError::bad_request("no").status(), 400);
    /// ```
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401 Unauthorized.
    ///
    /// ```
    /// assert_eq!(yolk_onerror::HttpError::unauthorized("log in").status(), 401);
    /// ```
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403 Forbidden.
    ///
    /// ```
    /// assert_eq!(yolk_onerror::HttpError::forbidden("not yours").status(), 403);
    /// ```
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 Not Found.
    ///
    /// ```
    /// assert_eq!(yolk_onerror::HttpError::not_found("no such user").status(), 404);
    /// ```
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500 Internal Server Error: the message is shown only in development.
    ///
    /// ```
    /// assert_eq!(yolk_onerror::HttpError::internal("the cache is down").status(), 500);
    /// ```
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Sets the machine-readable code clients switch on (`"invalid_param"`). Default: the
    /// status's name, or what `?` detected (`INVALID_JSON`).
    ///
    /// ```
    /// let error = yolk_onerror::HttpError::bad_request("bad").with_code("invalid_param");
    /// assert_eq!(error.code(), "invalid_param");
    /// ```
    #[must_use]
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.inner.code = code.into();
        self
    }

    /// Replaces the message.
    ///
    /// ```
    /// let error = yolk_onerror::HttpError::internal("a").with_message("b");
    /// assert_eq!(error.message(), "b");
    /// ```
    #[must_use]
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.inner.message = message.into();
        self
    }

    /// Adds a response header (`Retry-After`, `WWW-Authenticate`), kept whatever body the
    /// client is sent.
    ///
    /// ```
    /// use http::{header::RETRY_AFTER, HeaderValue, StatusCode};
    /// let error = yolk_onerror::HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "busy")
    ///     .with_header(RETRY_AFTER, HeaderValue::from_static("30"));
    /// assert_eq!(error.headers()[RETRY_AFTER], "30");
    /// ```
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.inner.headers.append(name, value);
        self
    }

    /// Sets the cause: shown, with its own causes, in development and in the error log.
    ///
    /// ```
    /// let io = std::io::Error::other("connection refused");
    /// let error = yolk_onerror::HttpError::internal("cannot load the user").with_source(io);
    /// assert_eq!(error.sources(), ["connection refused"]);
    /// ```
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// The HTTP status, in 400..=599.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The machine-readable code.
    pub fn code(&self) -> &str {
        &self.inner.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The error's name: `HttpError`, or the type `?` converted from.
    ///
    /// ```
    /// let error: yolk_onerror::HttpError = std::io::Error::other("x").into();
    /// assert_eq!(error.name(), "std::io::error::Error");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The headers added to the response.
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.headers
    }

    /// The cause, if any.
    pub fn source(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.inner.source.as_deref()
    }

    /// The messages of the cause and of each of its causes, outermost first.
    pub fn sources(&self) -> Vec<String> {
        let mut sources = Vec::new();
        let mut next: Option<&(dyn StdError + 'static)> = match &self.inner.source {
            Some(source) => Some(source.as_ref()),
            None => None,
        };
        while let Some(error) = next {
            sources.push(error.to_string());
            next = error.source();
        }
        sources
    }

    /// What the layer renders: everything but the headers.
    pub(crate) fn report(&self) -> ErrorReport {
        ErrorReport::new(
            self.inner.status,
            self.inner.code.clone().into_owned(),
            self.inner.message.clone().into_owned(),
            self.inner.name.clone().into_owned(),
            self.sources(),
        )
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpError")
            .field("status", &self.inner.status)
            .field("code", &self.inner.code)
            .field("message", &self.inner.message)
            .field("name", &self.inner.name)
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.inner.status.as_u16(), self.inner.message)
    }
}

/// `?` on any error: the status is detected from the error and its causes (see
/// [`HttpError`]), the message is the error's own, the causes are kept.
///
/// `HttpError` does not implement [`std::error::Error`] itself, so that this conversion can
/// exist (as with `anyhow::Error`).
impl<E> From<E> for HttpError
where
    E: StdError + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        let (status, code, message) = detect(&error);
        let message = message.unwrap_or_else(|| error.to_string());
        let has_causes = error.source().is_some();
        let mut this = Self::new(status, message).with_code(code);
        this.inner.name = Cow::Borrowed(std::any::type_name::<E>());
        // The error itself is the message; its causes are the chain.
        if has_causes {
            this.inner.source = Some(Box::new(Causes(Box::new(error))));
        }
        this
    }
}

/// Wraps an error so that its chain starts at its first cause.
struct Causes(BoxError);

impl fmt::Debug for Causes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Causes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.source() {
            Some(source) => fmt::Display::fmt(source, f),
            None => Ok(()),
        }
    }
}

impl StdError for Causes {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source().and_then(StdError::source)
    }
}

/// The status, code and (for known errors) message of `error`, from the first error in its
/// chain the framework knows.
fn detect(error: &(dyn StdError + 'static)) -> (StatusCode, Cow<'static, str>, Option<String>) {
    use axum::extract::rejection as r;
    let mut next = Some(error);
    while let Some(error) = next {
        macro_rules! rejection {
            ($($ty:ty => $code:literal),* $(,)?) => {$(
                if let Some(rejection) = error.downcast_ref::<$ty>() {
                    let status = rejection.status();
                    // A body too large or of the wrong type is named by its status.
                    let code = if matches!(status.as_u16(), 400 | 422) {
                        Cow::Borrowed($code)
                    } else {
                        Cow::Owned(status_code_name(status))
                    };
                    return (status, code, Some(rejection.body_text()));
                }
            )*};
        }
        rejection!(
            r::JsonRejection => "INVALID_JSON",
            r::FormRejection => "INVALID_FORM",
            r::RawFormRejection => "INVALID_FORM",
            r::QueryRejection => "INVALID_QUERY",
            r::PathRejection => "INVALID_PATH",
            r::BytesRejection => "INVALID_BODY",
            r::StringRejection => "INVALID_BODY",
            r::LengthLimitError => "PAYLOAD_TOO_LARGE",
            r::ExtensionRejection => "MISSING_EXTENSION",
        );
        if let Some(json) = error.downcast_ref::<serde_json::Error>()
            && !json.is_io()
        {
            let message = format!("Problems parsing JSON: {json}");
            return (
                StatusCode::BAD_REQUEST,
                "INVALID_JSON".into(),
                Some(message),
            );
        }
        if let Some(form) = error.downcast_ref::<serde_urlencoded::de::Error>() {
            let message = format!("Problems parsing form data: {form}");
            return (
                StatusCode::BAD_REQUEST,
                "INVALID_FORM".into(),
                Some(message),
            );
        }
        if error
            .downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE".into(),
                Some("the request body is larger than the limit".to_owned()),
            );
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::NotFound
        {
            return (StatusCode::NOT_FOUND, "NOT_FOUND".into(), None);
        }
        next = error.source();
    }
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR".into(),
        None,
    )
}

/// `status` when it is an error status, else 500 (Egg's `detectStatus`).
pub(crate) fn error_status(status: StatusCode) -> StatusCode {
    if status.is_client_error() || status.is_server_error() {
        status
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// `NOT_FOUND` for 404: the canonical reason in upper snake case.
pub(crate) fn status_code_name(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => reason
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect(),
        None => format!("HTTP_{}", status.as_u16()),
    }
}

/// A response the layer renders for the client; without the layer, a plain-text body that
/// shows a 4xx's message and only the status text of a 5xx.
impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let report = self.report();
        let body = if report.status().is_server_error() {
            crate::render::status_line(report.status())
        } else {
            report.message().to_owned()
        };
        let mut response = (report.status(), body).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        for (name, value) in &self.inner.headers {
            response.headers_mut().append(name, value.clone());
        }
        response.extensions_mut().insert(Arc::new(report));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::{FromRequest, Json};

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("cannot load the profile")
        }
    }

    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn question_mark_keeps_message_and_causes() {
        let error: HttpError = Outer(std::io::Error::other("disk on fire")).into();
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.message(), "cannot load the profile");
        assert_eq!(error.sources(), ["disk on fire"]);
        assert!(error.name().ends_with("Outer"), "{}", error.name());
    }

    #[test]
    fn known_errors_map_to_their_status() {
        let missing: HttpError = std::io::Error::from(std::io::ErrorKind::NotFound).into();
        assert_eq!(missing.status(), 404);
        let nested: HttpError = Outer(std::io::Error::from(std::io::ErrorKind::NotFound)).into();
        assert_eq!(nested.status(), 404);
        let form: HttpError = serde_urlencoded::from_str::<Vec<(u8, u8)>>("a=b")
            .unwrap_err()
            .into();
        assert_eq!((form.status().as_u16(), form.code()), (400, "INVALID_FORM"));
        let json: HttpError = serde_json::from_str::<u8>("[").unwrap_err().into();
        assert!(json.message().starts_with("Problems parsing JSON"));
    }

    #[tokio::test]
    async fn axum_rejections_keep_their_status() {
        let request = http::Request::post("/")
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from("{\"a\":"))
            .unwrap();
        let rejection = Json::<serde_json::Value>::from_request(request, &())
            .await
            .unwrap_err();
        let error: HttpError = rejection.into();
        assert_eq!(
            (error.status().as_u16(), error.code()),
            (400, "INVALID_JSON")
        );

        let request = http::Request::post("/").body(Body::from("1")).unwrap();
        let rejection = Json::<u8>::from_request(request, &()).await.unwrap_err();
        let error: HttpError = rejection.into();
        assert_eq!(error.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let request = http::Request::post("/")
            .body(http_body_util::Limited::new(Body::from("12345"), 2))
            .unwrap();
        let rejection = axum::body::Bytes::from_request(request.map(Body::new), &())
            .await
            .unwrap_err();
        let error: HttpError = rejection.into();
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn statuses_outside_errors_become_500() {
        assert_eq!(HttpError::new(StatusCode::OK, "x").status(), 500);
        assert_eq!(status_code_name(StatusCode::IM_A_TEAPOT), "I_M_A_TEAPOT");
    }

    #[test]
    fn without_the_layer_5xx_bodies_hide_the_message() {
        let response = HttpError::internal("the db password is hunter2").into_response();
        assert_eq!(response.status(), 500);
        assert!(response.extensions().get::<Arc<ErrorReport>>().is_some());
    }
}
