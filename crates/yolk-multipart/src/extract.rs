//! The extractors: [`Multipart`] (stream mode) and [`Upload`] (file mode), and their
//! [`MultipartRejection`].

use std::fmt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use tokio::io::AsyncWriteExt;
use yolk_core::request::accepts_json;

use crate::body::{Meter, MeteredBody, Stop};
use crate::error::{BoxError, MultipartError};
use crate::limits::{LimitKind, Limits, MAX_PART_HEADER_BYTES};
use crate::service::{RequestState, is_multipart};
use crate::tmp::{SavedFile, default_tmpdir, new_temp_path};
use crate::whitelist::{Whitelist, disk_extension, extension, sanitize_file_name};

/// The content type of a file part that names none.
const OCTET_STREAM: &str = "application/octet-stream";

/// A [`MultipartError`] as the client gets it: JSON (`{"message": ...}`) when it prefers JSON,
/// plain text otherwise, with the error's status.
///
/// The extractors and every method of [`Multipart`] return it, so a handler can use `?` and
/// return it as its error.
///
/// ```
/// use axum::response::IntoResponse;
/// use yolk_multipart::{MultipartError, MultipartRejection};
///
/// let rejection = MultipartRejection::new(MultipartError::NotMultipart, true);
/// assert_eq!(rejection.status(), 400);
/// assert_eq!(rejection.body_text(), r#"{"message":"Content-Type must be multipart/*"}"#);
/// assert!(matches!(rejection.error(), MultipartError::NotMultipart));
/// let response = rejection.into_response();
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
#[derive(Debug)]
pub struct MultipartRejection {
    error: MultipartError,
    json: bool,
}

impl MultipartRejection {
    /// `error`, answered as JSON when `json`.
    pub fn new(error: MultipartError, json: bool) -> Self {
        Self { error, json }
    }

    /// What went wrong.
    pub fn error(&self) -> &MultipartError {
        &self.error
    }

    /// What went wrong, by value.
    pub fn into_error(self) -> MultipartError {
        self.error
    }

    /// The response's status: see [`MultipartError::status`].
    pub fn status(&self) -> StatusCode {
        self.error.status()
    }

    /// The response's body.
    pub fn body_text(&self) -> String {
        let message = self.error.body_text();
        if self.json {
            serde_json::json!({ "message": message }).to_string()
        } else {
            message
        }
    }
}

impl fmt::Display for MultipartRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for MultipartRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<MultipartRejection> for MultipartError {
    fn from(rejection: MultipartRejection) -> Self {
        rejection.error
    }
}

impl IntoResponse for MultipartRejection {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self.error, "multipart upload failed");
        } else {
            tracing::debug!(error = %self.error, "multipart upload refused");
        }
        let content_type = if self.json {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        (status, [(CONTENT_TYPE, content_type)], self.body_text()).into_response()
    }
}

/// Stream mode: the parts of a `multipart/*` body, one at a time and in order, each read as
/// it arrives. Needs [`MultipartLayer`](crate::MultipartLayer).
///
/// Non-file fields and files come in the order the client sent them. A file's bytes are read
/// only as the handler asks for them, so memory stays bounded whatever the upload's size.
/// Every limit is checked as the data comes: a part over a limit ends the upload with
/// `413 Payload Too Large`; nothing is silently cut.
///
/// ```
/// use axum::{Router, body::Body, routing::post};
/// use http::Request;
/// use tower::ServiceExt;
/// use yolk_multipart::{Multipart, MultipartLayer, MultipartRejection};
///
/// async fn upload(mut multipart: Multipart) -> Result<String, MultipartRejection> {
///     let mut seen = Vec::new();
///     while let Some(mut field) = multipart.next_field().await? {
///         if field.is_file() {
///             let name = field.file_name().unwrap_or_default().to_owned();
///             let mut size = 0;
///             while let Some(chunk) = field.chunk().await? {
///                 size += chunk.len();
///             }
///             seen.push(format!("{}={name}:{size}", field.name()));
///         } else {
///             let name = field.name().to_owned();
///             seen.push(format!("{name}={}", field.text().await?));
///         }
///     }
///     Ok(seen.join(","))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new().route("/", post(upload)).layer(MultipartLayer::new());
/// let body = "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n\
///             --X\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"../a.png\"\r\n\
///             Content-Type: image/png\r\n\r\nPNGDATA\r\n--X--\r\n";
/// let request = Request::post("/")
///     .header("content-type", "multipart/form-data; boundary=X")
///     .body(Body::from(body))
///     .unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// let text = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
/// assert_eq!(text, "title=holiday,photo=a.png:7");
/// # }
/// ```
pub struct Multipart {
    inner: multer::Multipart<'static>,
    current: Option<multer::Field<'static>>,
    meter: Arc<Meter>,
    limits: Limits,
    whitelist: Whitelist,
    tmpdir: Arc<Path>,
    json: bool,
    content_length: Option<u64>,
    started: bool,
    failed: bool,
    index: usize,
    files: usize,
    fields: usize,
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multipart")
            .field("limits", &self.limits)
            .field("whitelist", &self.whitelist)
            .field("tmpdir", &self.tmpdir)
            .field("parts_read", &self.index)
            .finish_non_exhaustive()
    }
}

impl Multipart {
    /// Parses `body`, a stream of byte chunks, as a multipart body with `boundary`, with Egg's
    /// limits and whitelist and temp files under [`default_tmpdir`]: for bodies that do not
    /// come from a request (tests, queues).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use yolk_multipart::Multipart;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), yolk_multipart::MultipartRejection> {
    /// let body = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n";
    /// let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(body))]);
    /// let mut multipart = Multipart::new(stream, "b");
    /// let field = multipart.next_field().await?.unwrap();
    /// assert_eq!((field.name().to_owned(), field.text().await?), ("a".to_owned(), "1".to_owned()));
    /// assert!(multipart.next_field().await?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn new<S, E>(body: S, boundary: impl Into<String>) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let limits = Limits::default();
        let meter = Meter::new(limits.body_limit());
        let inner = Box::pin(body.map(|item| item.map_err(Into::into)));
        let metered = MeteredBody::new(inner, Arc::clone(&meter));
        Self {
            inner: multer::Multipart::new(metered, boundary),
            current: None,
            meter,
            limits,
            whitelist: Whitelist::default(),
            tmpdir: default_tmpdir().into(),
            json: false,
            content_length: None,
            started: false,
            failed: false,
            index: 0,
            files: 0,
            fields: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sets the limits for this request, over those of the layer: call it before reading, or
    /// between parts (counts already made stay).
    ///
    /// ```
    /// use yolk_multipart::{ByteSize, Limits, Multipart};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let body = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n12345\r\n--b--\r\n";
    /// let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(body))]);
    /// let mut multipart = Multipart::new(stream, "b");
    /// multipart.set_limits(Limits { field_size: ByteSize(4), ..Limits::default() });
    /// let field = multipart.next_field().await.unwrap().unwrap();
    /// let error = field.text().await.unwrap_err();
    /// assert_eq!(error.to_string(), "field_size limit of 4 bytes exceeded for field \"a\"");
    /// assert_eq!(error.status(), 413);
    /// # }
    /// ```
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.meter.set_limit(limits.body_limit());
    }

    /// These limits for this request: see [`set_limits`](Self::set_limits).
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.set_limits(limits);
        self
    }

    /// The whitelist for this request, over that of the layer.
    ///
    /// ```
    /// # use yolk_multipart::{Multipart, Whitelist};
    /// # let stream = futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
    /// let multipart = Multipart::new(stream, "b").with_whitelist(Whitelist::extensions([".csv"]));
    /// # let _ = multipart;
    /// ```
    #[must_use]
    pub fn with_whitelist(mut self, whitelist: Whitelist) -> Self {
        self.whitelist = whitelist;
        self
    }

    /// Where [`save_files`](Self::save_files) puts files, over the layer's temp dir.
    ///
    /// ```
    /// # use yolk_multipart::Multipart;
    /// # let stream = futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
    /// let multipart = Multipart::new(stream, "b").with_tmpdir("/var/tmp/uploads");
    /// # let _ = multipart;
    /// ```
    #[must_use]
    pub fn with_tmpdir(mut self, tmpdir: impl AsRef<Path>) -> Self {
        self.tmpdir = tmpdir.as_ref().into();
        self
    }

    fn fail(&mut self, error: MultipartError) -> MultipartRejection {
        self.failed = true;
        self.current = None;
        MultipartRejection::new(error, self.json)
    }

    /// The next part, or `None` after the last. A part the handler did not read to its end
    /// is skipped.
    ///
    /// # Errors
    ///
    /// A [`MultipartRejection`]: a malformed body, a limit exceeded (the count of files or
    /// fields, a field name's length, the body's size), a file name the whitelist refuses, a
    /// client that went away. After an error the upload is over: later calls fail too.
    pub async fn next_field(&mut self) -> Result<Option<Field<'_>>, MultipartRejection> {
        if self.failed {
            return Err(MultipartRejection::new(
                MultipartError::Malformed {
                    reason: "the upload already failed; stop reading after the first error".into(),
                },
                self.json,
            ));
        }
        if !self.started {
            self.started = true;
            let limit = self.limits.body_limit();
            if let Some(length) = self.content_length
                && length > limit
            {
                return Err(self.fail(limit_exceeded(LimitKind::BodySize, limit, None)));
            }
        }
        if let Some(mut rest) = self.current.take() {
            loop {
                match rest.chunk().await {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(error) => return Err(self.fail(from_multer(error, None))),
                }
            }
        }
        loop {
            self.meter.enter_headers();
            let next = self.inner.next_field().await;
            self.meter.leave_headers();
            let mut field = match next {
                Ok(Some(field)) => field,
                Ok(None) => return Ok(None),
                Err(error) => return Err(self.fail(from_multer(error, None))),
            };
            let index = self.index;
            self.index += 1;
            let Some(name) = field.name().map(str::to_owned) else {
                return Err(self.fail(MultipartError::NoFieldName { index }));
            };
            if name.len() > self.limits.field_name_size {
                let limit = self.limits.field_name_size as u64;
                return Err(self.fail(limit_exceeded(LimitKind::FieldNameSize, limit, None)));
            }
            let file_name = match field.file_name() {
                // An empty file input: browsers send the part with `filename=""`. Skip it.
                Some("") => {
                    loop {
                        match field.chunk().await {
                            Ok(Some(_)) => {}
                            Ok(None) => break,
                            Err(error) => return Err(self.fail(from_multer(error, Some(&name)))),
                        }
                    }
                    continue;
                }
                Some(raw) => {
                    self.files += 1;
                    if self.files > self.limits.files {
                        let limit = self.limits.files as u64;
                        return Err(self.fail(limit_exceeded(LimitKind::Files, limit, None)));
                    }
                    let file_name = sanitize_file_name(raw);
                    if file_name.is_empty() || !self.whitelist.allows(&file_name) {
                        let error = MultipartError::InvalidFilename {
                            extension: extension(&file_name).to_ascii_lowercase(),
                            whitelist: self.whitelist.to_string(),
                            file_name: if file_name.is_empty() {
                                raw.escape_default().to_string()
                            } else {
                                file_name
                            },
                        };
                        return Err(self.fail(error));
                    }
                    Some(file_name)
                }
                None => {
                    self.fields += 1;
                    if self.fields > self.limits.fields {
                        let limit = self.limits.fields as u64;
                        return Err(self.fail(limit_exceeded(LimitKind::Fields, limit, None)));
                    }
                    None
                }
            };
            let content_type = field.content_type().map(ToString::to_string);
            self.current = Some(field);
            return Ok(Some(Field {
                multipart: self,
                name,
                file_name,
                content_type,
                read: 0,
            }));
        }
    }

    /// File mode: saves every file under the temp dir and collects the fields, in order.
    ///
    /// Each file is written as it arrives, to `tmpdir/YYYY/MM/DD/HH/<random><ext>`; the
    /// files are removed when the [`Upload`] is dropped unless the handler takes them. On an
    /// error, every file saved so far and the partial one are removed.
    ///
    /// ```
    /// use yolk_multipart::Multipart;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let body = "--b\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.json\"\r\n\r\n{}\r\n--b--\r\n";
    /// let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(body))]);
    /// let upload = Multipart::new(stream, "b").with_tmpdir(dir.path()).save_files().await?;
    /// let file = &upload.files[0];
    /// assert_eq!((file.field(), file.file_name(), file.size()), ("doc", "a.json", 2));
    /// assert_eq!(std::fs::read(file.path())?, b"{}");
    /// let path = file.path().to_owned();
    /// drop(upload);
    /// assert!(!path.exists());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`next_field`](Self::next_field), plus a file over `file_size`, a field over
    /// `field_size`, and a temp file that cannot be written.
    pub async fn save_files(mut self) -> Result<Upload, MultipartRejection> {
        let mut upload = Upload::default();
        while let Some(field) = self.next_field().await? {
            if field.is_file() {
                upload.files.push(field.save().await?);
            } else {
                let name = field.name().to_owned();
                let value = field.text().await?;
                upload.fields.push((name, value));
            }
        }
        Ok(upload)
    }
}

fn limit_exceeded(limit: LimitKind, value: u64, field: Option<&str>) -> MultipartError {
    MultipartError::LimitExceeded {
        limit,
        value,
        field: field.map(str::to_owned),
    }
}

/// multer's errors in this crate's terms.
fn from_multer(error: multer::Error, field: Option<&str>) -> MultipartError {
    let malformed = |reason: String| MultipartError::Malformed { reason };
    match error {
        multer::Error::StreamReadFailed(source) => match source.downcast::<Stop>() {
            Ok(stop) => match *stop {
                Stop::BodyLimit(limit) => limit_exceeded(LimitKind::BodySize, limit, field),
                Stop::HeadersTooLong => MultipartError::HeadersTooLong {
                    limit: MAX_PART_HEADER_BYTES,
                },
                Stop::Read(source) => MultipartError::Read(source),
            },
            Err(source) => MultipartError::Read(source),
        },
        multer::Error::IncompleteFieldData { field_name } => malformed(format!(
            "the body ended inside part {:?}, before its boundary (truncated upload?)",
            field_name.as_deref().unwrap_or_default()
        )),
        multer::Error::IncompleteStream => {
            malformed("the body ended before the final boundary".into())
        }
        multer::Error::IncompleteHeaders => {
            malformed("the body ended inside a part's headers".into())
        }
        multer::Error::ReadHeaderFailed(error) => {
            malformed(format!("cannot parse a part's headers: {error}"))
        }
        other => malformed(other.to_string()),
    }
}

/// One part of a multipart body, read from [`Multipart::next_field`]: a non-file field, or a
/// file (it has a file name).
///
/// Its bytes come through [`chunk`](Self::chunk) or as a [`Stream`]; a file's size is
/// checked against `file_size`, a field's against `field_size`, as they arrive.
pub struct Field<'a> {
    multipart: &'a mut Multipart,
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    read: u64,
}

impl fmt::Debug for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Field")
            .field("name", &self.name)
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl Field<'_> {
    /// The form field's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's name, sanitised (see [`sanitize_file_name`](crate::sanitize_file_name));
    /// `None` for a non-file field.
    pub fn file_name(&self) -> Option<&str> {
        self.file_name.as_deref()
    }

    /// The part's `Content-Type`, if it gave one.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// True for a file.
    pub fn is_file(&self) -> bool {
        self.file_name.is_some()
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, MultipartRejection>>> {
        let multipart = &mut *self.multipart;
        let Some(field) = multipart.current.as_mut() else {
            return Poll::Ready(None);
        };
        match ready!(Pin::new(field).poll_next(cx)) {
            None => {
                multipart.current = None;
                Poll::Ready(None)
            }
            Some(Err(error)) => {
                let error = from_multer(error, Some(&self.name));
                Poll::Ready(Some(Err(multipart.fail(error))))
            }
            Some(Ok(bytes)) => {
                self.read += bytes.len() as u64;
                let (kind, limit) = if self.file_name.is_some() {
                    (LimitKind::FileSize, multipart.limits.file_size.0)
                } else {
                    (LimitKind::FieldSize, multipart.limits.field_size.0)
                };
                if self.read > limit {
                    let error = limit_exceeded(kind, limit, Some(&self.name));
                    return Poll::Ready(Some(Err(multipart.fail(error))));
                }
                Poll::Ready(Some(Ok(bytes)))
            }
        }
    }

    /// The next chunk of the part's data, or `None` at its end.
    ///
    /// # Errors
    ///
    /// The part is over its size limit, the body is malformed or the client went away.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, MultipartRejection> {
        std::future::poll_fn(|cx| self.poll_chunk(cx))
            .await
            .transpose()
    }

    /// The whole value, within its size limit.
    ///
    /// # Errors
    ///
    /// As [`chunk`](Self::chunk).
    pub async fn bytes(mut self) -> Result<Bytes, MultipartRejection> {
        let mut value = BytesMut::new();
        while let Some(chunk) = self.chunk().await? {
            value.extend_from_slice(&chunk);
        }
        Ok(value.freeze())
    }

    /// The whole value as UTF-8 text, within its size limit.
    ///
    /// # Errors
    ///
    /// As [`chunk`](Self::chunk), or a value that is not UTF-8.
    pub async fn text(self) -> Result<String, MultipartRejection> {
        let json = self.multipart.json;
        let name = self.name.clone();
        let bytes = self.bytes().await?;
        String::from_utf8(bytes.into())
            .map_err(|_| MultipartRejection::new(MultipartError::NotUtf8 { field: name }, json))
    }

    /// Saves the part to a new temp file (as file mode does) and returns it; the file is
    /// removed when the returned value is dropped, unless taken.
    ///
    /// # Errors
    ///
    /// As [`chunk`](Self::chunk), or the file cannot be written; the partial file is removed.
    pub async fn save(mut self) -> Result<SavedFile, MultipartRejection> {
        let json = self.multipart.json;
        let io = |path: &Path, source| {
            MultipartRejection::new(
                MultipartError::Io {
                    path: path.to_owned(),
                    source,
                },
                json,
            )
        };
        let file_name = self.file_name.clone().unwrap_or_default();
        let tmpdir = Arc::clone(&self.multipart.tmpdir);
        let ext = disk_extension(&file_name);
        let mut retried = false;
        let (path, mut file) = loop {
            let path = new_temp_path(&tmpdir, &ext)
                .await
                .map_err(|source| io(&tmpdir, source))?;
            match tokio::fs::File::create(&path).await {
                Ok(file) => break (path, file),
                // The sweep may have removed an empty directory in between: once more.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && !retried => {
                    retried = true;
                }
                Err(source) => return Err(io(&path, source)),
            }
        };
        let saved = SavedFile {
            field: self.name.clone(),
            file_name,
            content_type: self
                .content_type
                .clone()
                .unwrap_or_else(|| OCTET_STREAM.to_owned()),
            path,
            size: 0,
            kept: false,
        };
        self.copy(saved, &mut file).await
    }

    /// Writes the part into `file`; `saved` removes the file if anything fails.
    async fn copy(
        &mut self,
        mut saved: SavedFile,
        file: &mut tokio::fs::File,
    ) -> Result<SavedFile, MultipartRejection> {
        let json = self.multipart.json;
        let io = |path: &Path, source| {
            MultipartRejection::new(
                MultipartError::Io {
                    path: path.to_owned(),
                    source,
                },
                json,
            )
        };
        while let Some(chunk) = self.chunk().await? {
            file.write_all(&chunk)
                .await
                .map_err(|source| io(&saved.path, source))?;
        }
        file.flush()
            .await
            .map_err(|source| io(&saved.path, source))?;
        saved.size = self.read;
        Ok(saved)
    }
}

impl Stream for Field<'_> {
    type Item = Result<Bytes, MultipartRejection>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = MultipartRejection;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let json = accepts_json(request.headers(), request.uri().path());
        let reject = |error| MultipartRejection::new(error, json);
        if !is_multipart(request.headers()) {
            return Err(reject(MultipartError::NotMultipart));
        }
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_default();
        let boundary = multer::parse_boundary(&content_type)
            .map_err(|_| reject(MultipartError::NoBoundary { content_type }))?;
        let state = request
            .extensions()
            .get::<Arc<RequestState>>()
            .cloned()
            .ok_or_else(|| reject(MultipartError::MissingLayer))?;
        if state.taken.swap(true, Ordering::Relaxed) {
            return Err(reject(MultipartError::BodyAlreadyRead));
        }
        let content_length = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        let policy = &state.policy;
        let mut multipart = Self::new(request.into_body().into_data_stream(), boundary)
            .with_limits(policy.limits)
            .with_whitelist(policy.whitelist.clone());
        multipart.tmpdir = Arc::clone(&policy.tmpdir);
        multipart.json = json;
        multipart.content_length = content_length;
        Ok(multipart)
    }
}

/// `Option<Multipart>`: `None` for a request that is not `multipart/*`; a multipart request
/// that cannot be read is still rejected.
impl<S: Send + Sync> OptionalFromRequest<S> for Multipart {
    type Rejection = MultipartRejection;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if !is_multipart(request.headers()) {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(request, state)
            .await
            .map(Some)
    }
}

/// File mode: every file of a `multipart/*` body saved to a temp file, and the fields, before
/// the handler runs. Needs [`MultipartLayer`](crate::MultipartLayer).
///
/// The files are removed when the `Upload` (or the [`SavedFile`]) is dropped — the request
/// ended, the handler failed or panicked — unless the handler takes them with
/// [`SavedFile::keep`] or [`SavedFile::persist`]. For limits set per handler, extract
/// [`Multipart`], [`set_limits`](Multipart::set_limits), then
/// [`save_files`](Multipart::save_files).
///
/// ```
/// use axum::{Router, body::Body, routing::post};
/// use http::Request;
/// use tower::ServiceExt;
/// use yolk_multipart::{MultipartLayer, Upload};
///
/// async fn upload(upload: Upload) -> String {
///     let file = &upload.files[0];
///     let text = std::fs::read_to_string(file.path()).unwrap();
///     format!("{}: {} {} {text}", upload.field("title").unwrap(), file.file_name(), file.size())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// let app = Router::new()
///     .route("/", post(upload))
///     .layer(MultipartLayer::new().with_tmpdir(dir.path()));
/// let body = "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nnotes\r\n\
///             --X\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"n.json\"\r\n\r\n[1]\r\n--X--\r\n";
/// let request = Request::post("/")
///     .header("content-type", "multipart/form-data; boundary=X")
///     .body(Body::from(body))
///     .unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// let text = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
/// assert_eq!(text, "notes: n.json 3 [1]");
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Upload {
    /// The non-file fields, `(name, value)`, in the order sent.
    pub fields: Vec<(String, String)>,
    /// The saved files, in the order sent.
    pub files: Vec<SavedFile>,
}

impl Upload {
    /// The first value of the field `name`.
    ///
    /// ```
    /// let upload = yolk_multipart::Upload {
    ///     fields: vec![("title".into(), "notes".into())],
    ///     files: Vec::new(),
    /// };
    /// assert_eq!(upload.field("title"), Some("notes"));
    /// assert_eq!(upload.field("missing"), None);
    /// assert!(upload.file("doc").is_none());
    /// ```
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first file sent in the field `name`.
    pub fn file(&self, name: &str) -> Option<&SavedFile> {
        self.files.iter().find(|file| file.field() == name)
    }
}

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = MultipartRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        <Multipart as FromRequest<S>>::from_request(request, state)
            .await?
            .save_files()
            .await
    }
}

/// `Option<Upload>`: `None` for a request that is not `multipart/*`, as
/// `Option<Multipart>`.
///
/// ```
/// use axum::{Router, body::Body, routing::post};
/// use http::Request;
/// use tower::ServiceExt;
/// use yolk_multipart::{MultipartLayer, Upload};
///
/// async fn maybe(upload: Option<Upload>) -> String {
///     upload.map_or("no upload".to_owned(), |upload| upload.files.len().to_string())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new().route("/", post(maybe)).layer(MultipartLayer::new());
/// let request = Request::post("/").header("content-type", "application/json").body(Body::from("{}")).unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// assert_eq!(axum::body::to_bytes(response.into_body(), 64).await.unwrap(), "no upload");
/// # }
/// ```
impl<S: Send + Sync> OptionalFromRequest<S> for Upload {
    type Rejection = MultipartRejection;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if !is_multipart(request.headers()) {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(request, state)
            .await
            .map(Some)
    }
}
