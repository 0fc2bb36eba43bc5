//! [`TestResponse`]: what the app answered, with asserting helpers.

use std::fmt;

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

/// The longest body quoted in full in a failure message; longer ones are cut.
const QUOTED_BODY_MAX: usize = 2048;

/// The app's answer to a [`TestRequest`](crate::TestRequest): status, headers and the whole
/// body, read.
///
/// The `assert_*` helpers return `&Self`, so they chain, and on failure panic with the request,
/// what was expected, what came, and the body:
///
/// ```
/// use axum::routing::get;
/// use http::StatusCode;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let builder = yolk_core::App::builder()
///     .base_dir(dir.path())
///     .route("/", get(|| async { ([("x-app", "yolk")], "Hello, yolk") }));
/// let app = yolk_test::TestApp::new(builder).await?;
///
/// app.get("/")
///     .await
///     .assert_status(StatusCode::OK)
///     .assert_header("x-app", "yolk")
///     .assert_text_contains("yolk");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TestResponse {
    target: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl fmt::Debug for TestResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestResponse")
            .field("request", &self.target)
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &quote(&self.body))
            .finish()
    }
}

/// The body of a [`TestResponse`] is not the JSON [`TestResponse::json`] was asked for.
///
/// ```
/// # use axum::routing::get;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let builder = yolk_core::App::builder().base_dir(dir.path())
/// #     .route("/", get(|| async { "not json" }));
/// let app = yolk_test::TestApp::new(builder).await?;
/// let error = app.get("/").await.json::<serde_json::Value>().unwrap_err();
/// assert_eq!(error.body(), "not json");
/// assert!(error.to_string().contains("body: not json"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[error(
    "{target} answered {status} with a body that is not the JSON expected ({source}); body: {body}"
)]
pub struct JsonBodyError {
    target: String,
    status: StatusCode,
    body: String,
    #[source]
    source: serde_json::Error,
}

impl JsonBodyError {
    /// The body as text (invalid UTF-8 replaced).
    ///
    /// See [`JsonBodyError`] for an example.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The response's status.
    ///
    /// ```
    /// # use axum::routing::get;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let app = yolk_test::TestApp::new(yolk_core::App::builder().base_dir(dir.path())).await?;
    /// let error = app.get("/missing").await.json::<u32>().unwrap_err();
    /// assert_eq!(error.status(), http::StatusCode::NOT_FOUND);
    /// # Ok(())
    /// # }
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl TestResponse {
    pub(crate) fn new(target: String, status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self {
            target,
            status,
            headers,
            body,
        }
    }

    /// The status code.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let app = yolk_test::TestApp::new(yolk_core::App::builder().base_dir(dir.path())).await?;
    /// assert_eq!(app.get("/missing").await.status(), http::StatusCode::NOT_FOUND);
    /// # Ok(())
    /// # }
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Every header.
    ///
    /// ```
    /// # use axum::routing::get;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { "hi" }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// let res = app.get("/").await;
    /// assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    /// # Ok(())
    /// # }
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first value of the header `name`, when present and visible ASCII.
    ///
    /// ```
    /// # use axum::routing::get;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { "hi" }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// let res = app.get("/").await;
    /// assert_eq!(res.header("Content-Type"), Some("text/plain; charset=utf-8"));
    /// assert_eq!(res.header("x-missing"), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The body as text, invalid UTF-8 replaced by `U+FFFD`.
    ///
    /// ```
    /// # use axum::routing::get;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { "hi" }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// assert_eq!(app.get("/").await.text(), "hi");
    /// # Ok(())
    /// # }
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body's bytes.
    ///
    /// ```
    /// # use axum::routing::get;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { vec![0_u8, 255] }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// assert_eq!(app.get("/").await.bytes().as_ref(), [0, 255]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn bytes(&self) -> Bytes {
        self.body.clone()
    }

    /// The body parsed as JSON into `T`.
    ///
    /// ```
    /// # use axum::{Json, routing::get};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { Json(vec![1, 2, 3]) }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// let numbers: Vec<u32> = app.get("/").await.json()?;
    /// assert_eq!(numbers, [1, 2, 3]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`JsonBodyError`] carrying the status and the body text when the body is not JSON or
    /// not the shape of `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, JsonBodyError> {
        serde_json::from_slice(&self.body).map_err(|source| JsonBodyError {
            target: self.target.clone(),
            status: self.status,
            body: self.text(),
            source,
        })
    }

    /// The `Set-Cookie` header values, in order (those that are not visible ASCII skipped).
    ///
    /// ```
    /// # use axum::routing::get;
    /// # use yolk_core::{CookieOptions, Cookies};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path()).route(
    /// #     "/",
    /// #     get(|c: Cookies| async move { c.set("theme", "dark", &CookieOptions::new()).unwrap() }),
    /// # );
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// assert_eq!(app.get("/").await.set_cookies(), ["theme=dark; HttpOnly; Path=/"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect()
    }

    /// Asserts the status is `expected`.
    ///
    /// ```should_panic
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let app = yolk_test::TestApp::new(yolk_core::App::builder().base_dir(dir.path()))
    /// #     .await.unwrap();
    /// // panics: "GET /missing: expected status 200 OK, got 404 Not Found; body: …"
    /// app.get("/missing").await.assert_status(http::StatusCode::OK);
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the status differs, with the request, both statuses and the body.
    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode) -> &Self {
        if self.status != expected {
            panic!(
                "{}: expected status {expected}, got {}; body: {}",
                self.target,
                self.status,
                quote(&self.body)
            );
        }
        self
    }

    /// Asserts the header `name` is present with the value `expected` (its first value, when
    /// sent several times).
    ///
    /// ```
    /// # use axum::routing::get;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { "hi" }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.get("/").await.assert_header("content-type", "text/plain; charset=utf-8");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the header is missing or has another value, with every header received.
    #[track_caller]
    pub fn assert_header(&self, name: &str, expected: &str) -> &Self {
        match self.headers.get(name) {
            Some(value) if value.as_bytes() == expected.as_bytes() => self,
            Some(value) => panic!(
                "{}: expected header `{name}: {expected}`, got `{name}: {}`; headers: {:?}",
                self.target,
                String::from_utf8_lossy(value.as_bytes()),
                self.headers
            ),
            None => panic!(
                "{}: expected header `{name}: {expected}`, but there is no `{name}`; headers: {:?}",
                self.target, self.headers
            ),
        }
    }

    /// Asserts the body is exactly `expected`.
    ///
    /// ```
    /// # use axum::routing::get;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { "Hello, yolk" }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.get("/").await.assert_text("Hello, yolk");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the body differs, with both texts and the status.
    #[track_caller]
    pub fn assert_text(&self, expected: &str) -> &Self {
        if self.body != expected.as_bytes() {
            panic!(
                "{}: expected body {expected:?}, got {} (status {})",
                self.target,
                quote(&self.body),
                self.status
            );
        }
        self
    }

    /// Asserts the body contains `part`.
    ///
    /// ```
    /// # use axum::routing::get;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { "Hello, yolk" }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.get("/").await.assert_text_contains("yolk");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the body does not contain `part`, with the body and the status.
    #[track_caller]
    pub fn assert_text_contains(&self, part: &str) -> &Self {
        if !self.text().contains(part) {
            panic!(
                "{}: expected the body to contain {part:?}, got {} (status {})",
                self.target,
                quote(&self.body),
                self.status
            );
        }
        self
    }

    /// Asserts the body is JSON equal to `expected` (compared as values, so key order and
    /// whitespace do not matter).
    ///
    /// ```
    /// # use axum::{Json, routing::get};
    /// # use serde_json::json;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { Json(json!({"a": 1, "b": [true]})) }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.get("/").await.assert_json(&json!({"b": [true], "a": 1}));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the body is not JSON, or is other JSON, with both values pretty-printed.
    #[track_caller]
    pub fn assert_json(&self, expected: &serde_json::Value) -> &Self {
        let actual: serde_json::Value = match self.json() {
            Ok(actual) => actual,
            Err(error) => panic!("{error}"),
        };
        if &actual != expected {
            panic!(
                "{}: the JSON body differs (status {})\nexpected:\n{}\ngot:\n{}",
                self.target,
                self.status,
                pretty(expected),
                pretty(&actual)
            );
        }
        self
    }
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The body quoted for a message: as a string literal, cut after [`QUOTED_BODY_MAX`] bytes.
fn quote(body: &[u8]) -> String {
    if body.len() <= QUOTED_BODY_MAX {
        return format!("{:?}", String::from_utf8_lossy(body));
    }
    format!(
        "{:?}… ({} bytes in all)",
        String::from_utf8_lossy(&body[..QUOTED_BODY_MAX]),
        body.len()
    )
}
