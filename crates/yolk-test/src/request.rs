//! [`TestRequest`]: one request to a [`TestApp`], built then sent.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use serde::Serialize;
use tower::ServiceExt;

use crate::app::{DEFAULT_PEER, TestApp};
use crate::response::TestResponse;

/// The `Host` header sent when a request sets none.
const DEFAULT_HOST: &str = "127.0.0.1";

/// A request to a [`TestApp`]: set headers and a body, then [`send`](Self::send) it or await
/// it directly.
///
/// On sending, the jar's cookies are added as one `Cookie` header (after the value of a
/// `Cookie` header set here, so a cookie set by hand wins over the jar's of the same name),
/// `Host: 127.0.0.1` is added unless set, and the request carries
/// `ConnectInfo<SocketAddr>` ([`DEFAULT_PEER`] unless [`peer`](Self::peer) sets another), so
/// extractors such as `ClientIp` work as behind a real socket. The response's `Set-Cookie`
/// headers update the jar.
///
/// ```
/// use axum::routing::post;
/// use http::StatusCode;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let builder = yolk_core::App::builder()
///     .base_dir(dir.path())
///     .route("/echo", post(|body: String| async move { body }));
/// let app = yolk_test::TestApp::new(builder).await?;
///
/// let res = app.post("/echo").header("x-trace", "1").body("ping").send().await;
/// res.assert_status(StatusCode::OK).assert_text("ping");
/// # Ok(())
/// # }
/// ```
#[must_use = "a request does nothing until sent or awaited"]
pub struct TestRequest<'a> {
    app: &'a TestApp,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    peer: SocketAddr,
}

impl fmt::Debug for TestRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRequest")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<'a> TestRequest<'a> {
    #[track_caller]
    pub(crate) fn new(app: &'a TestApp, method: Method, path: &str) -> Self {
        let uri = Uri::try_from(path).unwrap_or_else(|error| {
            panic!("yolk-test: `{path}` is not a valid request path: {error}")
        });
        Self {
            app,
            method,
            uri,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            peer: DEFAULT_PEER,
        }
    }

    /// Adds the header `name: value` (appended: a name set twice is sent twice).
    ///
    /// ```
    /// # use axum::routing::get;
    /// # use http::HeaderMap;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path()).route(
    /// #     "/",
    /// #     get(|h: HeaderMap| async move { h["x-name"].to_str().unwrap().to_owned() }),
    /// # );
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.get("/").header("x-name", "yolk").await.assert_text("yolk");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `name` is not a valid header name or `value` not a valid header value.
    #[track_caller]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let header = HeaderName::try_from(name)
            .unwrap_or_else(|error| panic!("yolk-test: invalid header name `{name}`: {error}"));
        let value = HeaderValue::try_from(value).unwrap_or_else(|error| {
            panic!("yolk-test: invalid value for header `{name}`: {error}")
        });
        self.headers.append(header, value);
        self
    }

    /// Sets the body to `value` as JSON, and `content-type: application/json`.
    ///
    /// ```
    /// # use axum::{Json, routing::post};
    /// # use serde_json::{Value, json};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/echo", post(|Json(v): Json<Value>| async move { Json(v) }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.post("/echo").json(&json!({"n": 1})).await.assert_json(&json!({"n": 1}));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `value` does not serialise to JSON (a map with non-string keys, a failing
    /// `Serialize` impl).
    #[track_caller]
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        let body = serde_json::to_vec(value)
            .unwrap_or_else(|error| panic!("yolk-test: the JSON body does not serialise: {error}"));
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = body.into();
        self
    }

    /// Sets the body to `value` URL-encoded, and
    /// `content-type: application/x-www-form-urlencoded`.
    ///
    /// ```
    /// # use std::collections::HashMap;
    /// # use axum::{Form, routing::post};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path()).route(
    /// #     "/hi",
    /// #     post(|Form(f): Form<HashMap<String, String>>| async move { format!("hi {}", f["name"]) }),
    /// # );
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.post("/hi").form(&[("name", "ada lovelace")]).await.assert_text("hi ada lovelace");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `value` cannot be URL-encoded (it must be a struct, a map or a sequence of pairs
    /// of scalars).
    #[track_caller]
    pub fn form<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        let body = serde_urlencoded::to_string(value)
            .unwrap_or_else(|error| panic!("yolk-test: the form body does not encode: {error}"));
        self.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.body = body.into();
        self
    }

    /// Sets the body as given; no `content-type` is added.
    ///
    /// ```
    /// # use axum::routing::put;
    /// # use bytes::Bytes;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/len", put(|b: Bytes| async move { b.len().to_string() }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.put("/len").body(vec![0_u8; 3]).await.assert_text("3");
    /// # Ok(())
    /// # }
    /// ```
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The address the request appears to come from. Default: [`DEFAULT_PEER`].
    ///
    /// ```
    /// # use axum::routing::get;
    /// # use yolk_core::request::ClientIp;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/ip", get(|ClientIp(ip): ClientIp| async move { ip.to_string() }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.get("/ip").await.assert_text("127.0.0.1");
    /// app.get("/ip").peer(([192, 0, 2, 7], 5000).into()).await.assert_text("192.0.2.7");
    /// # Ok(())
    /// # }
    /// ```
    pub fn peer(mut self, peer: SocketAddr) -> Self {
        self.peer = peer;
        self
    }

    /// Sends the request through the app's router, with every middleware, and stores the
    /// response's cookies in the jar.
    ///
    /// ```
    /// # use axum::routing::get;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { "hi" }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// let res = app.get("/").send().await;
    /// assert_eq!(res.text(), "hi");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the response body fails while being read, which only a streaming body that errors
    /// does.
    pub async fn send(self) -> TestResponse {
        let Self {
            app,
            method,
            uri,
            mut headers,
            body,
            peer,
        } = self;

        if let Some(jar) = app.jar().header() {
            let joined = match headers.remove(COOKIE) {
                Some(own) => format!("{}; {jar}", String::from_utf8_lossy(own.as_bytes())),
                None => jar,
            };
            let value = HeaderValue::try_from(joined)
                .expect("cookie names and values from the jar are valid header text");
            headers.insert(COOKIE, value);
        }
        if !headers.contains_key(HOST) {
            headers.insert(HOST, HeaderValue::from_static(DEFAULT_HOST));
        }

        let target = format!("{method} {uri}");
        let mut request = Request::new(Body::from(body));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        request.extensions_mut().insert(ConnectInfo(peer));

        let response = match app.app().router().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_else(|error| panic!("yolk-test: the response body failed: {error}"));

        {
            let mut jar = app.jar();
            for value in parts.headers.get_all(SET_COOKIE) {
                if let Ok(value) = value.to_str() {
                    jar.store(value);
                }
            }
        }
        TestResponse::new(target, parts.status, parts.headers, bytes)
    }
}

impl<'a> IntoFuture for TestRequest<'a> {
    type Output = TestResponse;
    type IntoFuture = Pin<Box<dyn Future<Output = TestResponse> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
