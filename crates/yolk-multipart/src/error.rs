//! [`MultipartError`]: everything that can go wrong with an upload.

use std::path::PathBuf;

use http::StatusCode;

use crate::limits::LimitKind;

/// A boxed error from a dependency.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong with an upload. Each variant answers with its own status
/// ([`status`](Self::status)) and a message that says what to fix.
///
/// ```
/// use http::StatusCode;
/// use yolk_multipart::{LimitKind, MultipartError};
///
/// let error = MultipartError::LimitExceeded {
///     limit: LimitKind::FileSize,
///     value: 10 * 1024 * 1024,
///     field: Some("avatar".into()),
/// };
/// assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
/// assert_eq!(error.to_string(), "file_size limit of 10 MiB exceeded for field \"avatar\"");
/// assert_eq!(MultipartError::NotMultipart.to_string(), "Content-Type must be multipart/*");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MultipartError {
    /// The request's `Content-Type` is not `multipart/*`.
    #[error("Content-Type must be multipart/*")]
    NotMultipart,
    /// The `Content-Type` has no usable `boundary` parameter.
    #[error(
        "Content-Type `{content_type}` has no boundary: send multipart/form-data; boundary=..."
    )]
    NoBoundary {
        /// The `Content-Type` as sent.
        content_type: String,
    },
    /// The body is not valid multipart: a truncated part, a missing final boundary, bad part
    /// headers.
    #[error("malformed multipart body: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// A part's headers (or the preamble before the first boundary) are too long.
    #[error("malformed multipart body: part headers longer than {limit} bytes")]
    HeadersTooLong {
        /// The limit, in bytes.
        limit: u64,
    },
    /// An upload went over one of its [`Limits`](crate::Limits).
    #[error("{}", limit_message(*limit, *value, field.as_deref()))]
    LimitExceeded {
        /// Which limit.
        limit: LimitKind,
        /// The limit's value: bytes, or a count for `files` and `fields`.
        value: u64,
        /// The field being read, if any.
        field: Option<String>,
    },
    /// A file whose extension the whitelist does not allow.
    #[error(
        "Invalid filename: {file_name} (extension {} is not in the whitelist: {whitelist})",
        show_extension(extension)
    )]
    InvalidFilename {
        /// The sanitised file name.
        file_name: String,
        /// Its extension, lower-cased (`""` when it has none).
        extension: String,
        /// The whitelist, as a list.
        whitelist: String,
    },
    /// A part without a field name.
    #[error("malformed multipart body: part {index} has no name in its Content-Disposition")]
    NoFieldName {
        /// The part's position, from 0.
        index: usize,
    },
    /// A non-file field whose value is not UTF-8.
    #[error("field \"{field}\" is not valid UTF-8")]
    NotUtf8 {
        /// The field.
        field: String,
    },
    /// The request body was already taken by another extractor or middleware.
    #[error(
        "the multipart body of this request was already read; extract `Multipart` or `Upload` \
         once per request"
    )]
    BodyAlreadyRead,
    /// The extractor found no [`MultipartLayer`](crate::MultipartLayer) settings.
    #[error(
        "`Multipart` and `Upload` need `MultipartLayer`: add `.layer(MultipartLayer::new())` to \
         the router, or enable the multipart plugin"
    )]
    MissingLayer,
    /// Reading the body from the client failed (the client went away, a broken chunk).
    #[error("could not read the request body: {0}")]
    Read(#[source] BoxError),
    /// A temp file could not be written.
    #[error("cannot write the upload to {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn limit_message(limit: LimitKind, value: u64, field: Option<&str>) -> String {
    let mut message = format!("{limit} limit of {} exceeded", limit.show(value));
    if let Some(field) = field {
        message.push_str(&format!(" for field {field:?}"));
    }
    message
}

fn show_extension(extension: &str) -> String {
    if extension.is_empty() {
        "(none)".to_owned()
    } else {
        format!("{extension:?}")
    }
}

impl MultipartError {
    /// The status this error answers with: `413` for a limit, `500` for a server-side
    /// problem (a missing layer, a temp file that cannot be written, a body read twice), `400`
    /// for everything the client sent wrong.
    ///
    /// ```
    /// use yolk_multipart::MultipartError;
    ///
    /// assert_eq!(MultipartError::NotMultipart.status(), 400);
    /// assert_eq!(MultipartError::MissingLayer.status(), 500);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::LimitExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyAlreadyRead | Self::MissingLayer | Self::Io { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::NotMultipart
            | Self::NoBoundary { .. }
            | Self::Malformed { .. }
            | Self::HeadersTooLong { .. }
            | Self::InvalidFilename { .. }
            | Self::NoFieldName { .. }
            | Self::NotUtf8 { .. }
            | Self::Read(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The message sent to the client: this error's text, except for a temp file that cannot
    /// be written, whose path stays in the server's log.
    ///
    /// ```
    /// use yolk_multipart::MultipartError;
    ///
    /// let io = MultipartError::Io { path: "/secret/x".into(), source: std::io::Error::other("full") };
    /// assert_eq!(io.body_text(), "cannot store the upload");
    /// ```
    pub fn body_text(&self) -> String {
        match self {
            Self::Io { .. } => "cannot store the upload".to_owned(),
            other => other.to_string(),
        }
    }

    /// True for [`LimitExceeded`](Self::LimitExceeded).
    ///
    /// ```
    /// assert!(!yolk_multipart::MultipartError::NotMultipart.is_limit());
    /// ```
    pub fn is_limit(&self) -> bool {
        matches!(self, Self::LimitExceeded { .. })
    }
}
