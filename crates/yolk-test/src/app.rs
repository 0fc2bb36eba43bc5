//! [`TestApp`]: the whole app, booted in-process, with a cookie jar.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard};

use http::Method;
use yolk_core::{App, AppBuilder, AppContext, Config, Error};

use crate::jar::CookieJar;

/// The cookie the security plugin keeps the CSRF secret in (its default `csrf.cookie_name`).
const CSRF_COOKIE: &str = "csrfToken";
use crate::request::TestRequest;

/// The environment [`TestApp::new`] boots the app in.
pub const UNITTEST_ENV: &str = "unittest";

/// The peer address every request appears to come from, as `ConnectInfo<SocketAddr>`, unless
/// [`TestRequest::peer`] sets another: `127.0.0.1:43210`.
///
/// ```
/// assert_eq!(yolk_test::DEFAULT_PEER.to_string(), "127.0.0.1:43210");
/// ```
pub const DEFAULT_PEER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 43210));

/// A booted app to send requests to, in-process, with a cookie jar kept across requests.
///
/// Booting runs what a real start runs: the layered config, the plugin graph, every lifecycle
/// hook up to `did_ready`, the plugins' agent work (in-process, as in single mode), then
/// `server_did_ready`. Requests go straight to the app's router, with every middleware, without
/// a socket. [`close`](Self::close) runs `before_close`; a `TestApp` dropped without it skips
/// those hooks.
///
/// ```
/// use axum::routing::get;
/// use yolk_core::App;
/// use yolk_test::TestApp;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let builder = App::builder()
///     .base_dir(dir.path())
///     .route("/", get(|| async { "Hello, yolk" }));
/// let app = TestApp::new(builder).await?;
/// assert_eq!(app.context().env(), "unittest");
///
/// app.get("/").await.assert_status(http::StatusCode::OK).assert_text("Hello, yolk");
/// app.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TestApp {
    app: App,
    jar: Mutex<CookieJar>,
}

impl TestApp {
    /// Boots `builder` in the `unittest` environment.
    ///
    /// `AppBuilder` has no getter for its environment, so this always sets it: an env given to
    /// the builder earlier, or `YOLK_ENV`, is overridden. Use [`with_env`](Self::with_env) to
    /// boot in another one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let builder = yolk_core::App::builder().base_dir(dir.path()).env("local");
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// assert_eq!(app.context().env(), "unittest");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The [`Error`] of [`AppBuilder::build`] (invalid config, plugin graph or keys, a failed
    /// or hung hook), or of a failed `server_did_ready` hook.
    pub async fn new(builder: AppBuilder) -> Result<Self, Error> {
        Self::with_env(builder, UNITTEST_ENV).await
    }

    /// Boots `builder` in the environment `env`, e.g. `prod` to test production settings.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let builder = yolk_core::App::builder()
    ///     .base_dir(dir.path())
    ///     .config("keys", "a-production-key-of-32-characters");
    /// let app = yolk_test::TestApp::with_env(builder, "prod").await?;
    /// assert_eq!(app.context().env(), "prod");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new); in `prod`, also keys that are missing or too short.
    pub async fn with_env(builder: AppBuilder, env: &str) -> Result<Self, Error> {
        let app = builder.env(env).build().await?;
        app.start_agent().await;
        app.server_did_ready().await?;
        Ok(Self {
            app,
            jar: Mutex::default(),
        })
    }

    /// A `GET` request to `path` (with an optional query string), to send with
    /// [`TestRequest::send`] or by awaiting it.
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
    /// assert_eq!(app.get("/nowhere").await.status(), 404);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `path` is not a valid request target.
    #[track_caller]
    pub fn get(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::GET, path)
    }

    /// A `POST` request to `path`.
    ///
    /// ```
    /// # use axum::routing::post;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/echo", post(|body: String| async move { body }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.post("/echo").body("ping").await.assert_text("ping");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `path` is not a valid request target.
    #[track_caller]
    pub fn post(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::POST, path)
    }

    /// A `PUT` request to `path`.
    ///
    /// ```
    /// # use axum::routing::put;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/item", put(|| async { "put" }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.put("/item").await.assert_text("put");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `path` is not a valid request target.
    #[track_caller]
    pub fn put(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PUT, path)
    }

    /// A `PATCH` request to `path`.
    ///
    /// ```
    /// # use axum::routing::patch;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/item", patch(|| async { "patched" }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.patch("/item").await.assert_text("patched");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `path` is not a valid request target.
    #[track_caller]
    pub fn patch(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PATCH, path)
    }

    /// A `DELETE` request to `path`.
    ///
    /// ```
    /// # use axum::routing::delete;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/item", delete(|| async { http::StatusCode::NO_CONTENT }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.delete("/item").await.assert_status(http::StatusCode::NO_CONTENT);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `path` is not a valid request target.
    #[track_caller]
    pub fn delete(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::DELETE, path)
    }

    /// A request with any method to `path`.
    ///
    /// ```
    /// # use axum::routing::get;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|| async { "body" }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// let res = app.request(http::Method::HEAD, "/").await;
    /// assert_eq!(res.status(), 200);
    /// assert_eq!(res.text(), "");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `path` is not a valid request target.
    #[track_caller]
    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_> {
        TestRequest::new(self, method, path)
    }

    /// The value of the cookie `name` in the jar, as the app last set it (for a signed cookie,
    /// the value; its signature is the cookie `name.sig`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let app = yolk_test::TestApp::new(yolk_core::App::builder().base_dir(dir.path())).await?;
    /// assert_eq!(app.cookie("theme"), None);
    /// app.set_cookie("theme", "dark");
    /// assert_eq!(app.cookie("theme").as_deref(), Some("dark"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar().get(name).map(str::to_owned)
    }

    /// The CSRF secret the security plugin handed this client: the jar's `csrfToken` cookie
    /// (egg-mock's `app.mockCsrf()` role). Any response of a route the CSRF check covers
    /// gives the client one, so send a request first; then send the value in `x-csrf-token`
    /// to pass the check. `None` before that, or when the secret is kept in the session
    /// (`security.csrf.use_session`), where a handler's `CsrfToken` carries the token.
    ///
    /// ```
    /// # use axum::routing::get;
    /// # use yolk_core::{CookieOptions, Cookies};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// // What the security layer does for a new client, by hand:
    /// let builder = yolk_core::App::builder().base_dir(dir.path()).route(
    ///     "/",
    ///     get(|c: Cookies| async move {
    ///         let options = CookieOptions::new();
    ///         c.set("csrfToken", "the-secret", &options).map(|()| "hi").map_err(|e| e.to_string())
    ///     }),
    /// );
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// assert_eq!(app.csrf_token(), None);
    /// app.get("/").await.assert_text("hi");
    /// assert_eq!(app.csrf_token().as_deref(), Some("the-secret"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn csrf_token(&self) -> Option<String> {
        self.cookie(CSRF_COOKIE)
    }

    /// Puts the cookie `name` in the jar, replacing one of that name: it is sent on the
    /// following requests. `value` is sent as given (no encoding).
    ///
    /// ```
    /// # use axum::routing::get;
    /// # use yolk_core::Cookies;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let builder = yolk_core::App::builder().base_dir(dir.path())
    /// #     .route("/", get(|c: Cookies| async move { c.get("theme").unwrap_or_default() }));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// app.set_cookie("theme", "dark");
    /// app.get("/").await.assert_text("dark");
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar().set(name, value);
    }

    /// Empties the jar.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let app = yolk_test::TestApp::new(yolk_core::App::builder().base_dir(dir.path())).await?;
    /// app.set_cookie("theme", "dark");
    /// app.clear_cookies();
    /// assert_eq!(app.cookie("theme"), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn clear_cookies(&self) {
        self.jar().clear();
    }

    /// The booted [`App`]: its router, plugins and timings.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let app = yolk_test::TestApp::new(yolk_core::App::builder().base_dir(dir.path())).await?;
    /// assert!(app.app().plugin_names().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The app's context: env, config, keys, messenger, services.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let builder = yolk_core::App::builder().base_dir(dir.path()).name("blog");
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// assert_eq!(app.context().name(), "blog");
    /// # Ok(())
    /// # }
    /// ```
    pub fn context(&self) -> &Arc<AppContext> {
        self.app.context()
    }

    /// The app's merged configuration.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let builder = yolk_core::App::builder().base_dir(dir.path()).config("keys", "k1,k2");
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// assert_eq!(app.config().get::<String>("keys")?.as_deref(), Some("k1,k2"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn config(&self) -> &Config {
        self.app.context().config()
    }

    /// The service of type `T`, registered on the builder or provided by a plugin.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// struct Greeter(&'static str);
    /// let builder = yolk_core::App::builder().base_dir(dir.path()).service(Greeter("hi"));
    /// let app = yolk_test::TestApp::new(builder).await?;
    /// assert_eq!(app.service::<Greeter>().unwrap().0, "hi");
    /// assert!(app.service::<String>().is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn service<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.app.context().get::<T>()
    }

    /// Runs every plugin's `before_close` hook, in reverse plugin order, as a real stop does.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let app = yolk_test::TestApp::new(yolk_core::App::builder().base_dir(dir.path())).await?;
    /// app.close().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(self) {
        self.app.close().await;
    }

    pub(crate) fn jar(&self) -> MutexGuard<'_, CookieJar> {
        self.jar
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
