//! [`ErrorReport`]: what the layer knows of an error when it answers, and [`Failure`]: that
//! report with the request, as hooks see it.

use http::StatusCode;

use crate::request::RequestHead;

/// An error as the layer renders it: from an [`HttpError`](crate::HttpError) or a panic.
///
/// ```
/// use axum::response::IntoResponse;
/// use std::sync::Arc;
/// use yolk_onerror::{ErrorReport, HttpError};
///
/// let response = HttpError::not_found("no such user").into_response();
/// let report = response.extensions().get::<Arc<ErrorReport>>().unwrap();
/// assert_eq!((report.status().as_u16(), report.message()), (404, "no such user"));
/// assert!(report.panic().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct ErrorReport {
    status: StatusCode,
    code: String,
    message: String,
    name: String,
    sources: Vec<String>,
    panic: Option<PanicDetails>,
}

/// Where a panic happened and, in development, its backtrace.
#[derive(Clone, Debug, Default)]
pub struct PanicDetails {
    /// `file:line:column` of the `panic!`, when known.
    pub location: Option<String>,
    /// The backtrace, captured in development only.
    pub backtrace: Option<String>,
}

impl ErrorReport {
    pub(crate) fn new(
        status: StatusCode,
        code: String,
        message: String,
        name: String,
        sources: Vec<String>,
    ) -> Self {
        Self {
            status,
            code,
            message,
            name,
            sources,
            panic: None,
        }
    }

    pub(crate) fn from_panic(message: String, details: PanicDetails) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "INTERNAL_SERVER_ERROR".to_owned(),
            message,
            name: "panic".to_owned(),
            sources: Vec::new(),
            panic: Some(details),
        }
    }

    /// The status, in 400..=599.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code (`INVALID_JSON`).
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message: safe to show for a 4xx, internal for a 5xx.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error's name: `HttpError`, the Rust type it came from, or `panic`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The messages of the causes, outermost first.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// For a panic: where, and the backtrace.
    pub fn panic(&self) -> Option<&PanicDetails> {
        self.panic.as_ref()
    }

    /// The message shown to clients: the status text for a 5xx unless `details`.
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// # use std::sync::Arc;
    /// let response = yolk_onerror::HttpError::internal("db down").into_response();
    /// let report = response.extensions().get::<Arc<yolk_onerror::ErrorReport>>().unwrap();
    /// assert_eq!(report.public_message(false), "Internal Server Error");
    /// assert_eq!(report.public_message(true), "db down");
    /// ```
    pub fn public_message(&self, details: bool) -> &str {
        if details || !self.status.is_server_error() {
            &self.message
        } else {
            self.status.canonical_reason().unwrap_or("Error")
        }
    }

    /// One line for the log: `name: message; caused by: a; caused by: b`.
    pub(crate) fn log_line(&self) -> String {
        let mut line = format!("{}: {}", self.name, self.message);
        if let Some(location) = self.panic.as_ref().and_then(|p| p.location.as_deref()) {
            line.push_str(" (at ");
            line.push_str(location);
            line.push(')');
        }
        for source in &self.sources {
            line.push_str("; caused by: ");
            line.push_str(source);
        }
        if let Some(backtrace) = self.panic.as_ref().and_then(|p| p.backtrace.as_deref()) {
            line.push_str("\nbacktrace:\n");
            line.push_str(backtrace);
        }
        line
    }
}

/// An error and the request it answers: what the response hooks, the log filter and the
/// renderers see.
#[derive(Clone, Copy, Debug)]
pub struct Failure<'a> {
    pub(crate) error: &'a ErrorReport,
    pub(crate) request: &'a RequestHead,
    pub(crate) details: bool,
    pub(crate) config: Option<&'a serde_json::Value>,
}

impl<'a> Failure<'a> {
    /// The error.
    pub fn error(&self) -> &'a ErrorReport {
        self.error
    }

    /// The request.
    pub fn request(&self) -> &'a RequestHead {
        self.request
    }

    /// True in development (`local`, `unittest`): internals may be shown.
    pub fn details(&self) -> bool {
        self.details
    }

    /// The effective config, secrets masked, when details are on and it was given.
    pub fn config(&self) -> Option<&'a serde_json::Value> {
        self.config
    }
}
