//! The plugin through the loader and the harness: unittest vs prod bodies, the config, the
//! ordering after `security`, and the dev page's request and config sections.

mod common;

use async_trait::async_trait;
use axum::routing::get;
use http::StatusCode;
use serde_json::json;
use tower_http_stand_in::SetHeaderLayer;
use yolk_core::{App, AppBuilder, AppContext, Middleware, Plugin};
use yolk_onerror::{HttpError, OnError};
use yolk_test::TestApp;

use common::Logs;

/// A stand-in for the security plugin: named `security`, it sets one header on every
/// response its middleware sees.
#[derive(Debug)]
struct Security;

#[async_trait]
impl Plugin for Security {
    fn name(&self) -> &'static str {
        "security"
    }

    fn middleware(&self, _app: &AppContext) -> Vec<Middleware> {
        vec![Middleware::new("security", SetHeaderLayer)]
    }
}

/// A tiny header-setting layer, so the test needs no extra dependency.
mod tower_http_stand_in {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use axum::response::Response;
    use http::HeaderValue;
    use tower::{Layer, Service};

    #[derive(Clone, Copy, Debug)]
    pub(crate) struct SetHeaderLayer;

    impl<S> Layer<S> for SetHeaderLayer {
        type Service = SetHeader<S>;
        fn layer(&self, inner: S) -> SetHeader<S> {
            SetHeader(inner)
        }
    }

    #[derive(Clone, Debug)]
    pub(crate) struct SetHeader<S>(S);

    impl<S, R> Service<R> for SetHeader<S>
    where
        S: Service<R, Response = Response>,
        S::Future: Send + 'static,
    {
        type Response = Response;
        type Error = S::Error;
        type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.0.poll_ready(cx)
        }

        fn call(&mut self, request: R) -> Self::Future {
            let future = self.0.call(request);
            Box::pin(async move {
                let mut response = future.await?;
                response
                    .headers_mut()
                    .insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
                Ok(response)
            })
        }
    }
}

async fn db_down() -> yolk_onerror::Result<()> {
    Err(HttpError::internal("cannot reach the database")
        .with_source(std::io::Error::other("connection refused")))
}

async fn boom() -> &'static str {
    panic!("the handler fell over")
}

fn builder(dir: &std::path::Path) -> AppBuilder {
    App::builder()
        .base_dir(dir)
        .vars(std::iter::empty::<(String, String)>())
        .config("keys", "a-production-key-of-32-characters")
        .route("/db", get(db_down))
        .route("/boom", get(boom))
        .route("/ok", get(|| async { "ok" }))
}

fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join("config").join(name), text).unwrap();
    }
    dir
}

#[tokio::test]
async fn unittest_shows_details_prod_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(builder(dir.path()).plugin(OnError::default()))
        .await
        .unwrap();
    let reply = app.get("/db").header("accept", "application/json").await;
    reply.assert_status(StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = reply.json().unwrap();
    assert_eq!(body["message"], "cannot reach the database");
    assert_eq!(body["sources"], json!(["connection refused"]));
    let reply = app.get("/boom").header("accept", "application/json").await;
    let body: serde_json::Value = reply.json().unwrap();
    assert!(
        body["backtrace"]
            .as_str()
            .unwrap()
            .contains("with_app::boom")
    );
    app.get("/ok").await.assert_text("ok");

    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_env(builder(dir.path()).plugin(OnError::default()), "prod")
        .await
        .unwrap();
    app.get("/db")
        .header("accept", "application/json")
        .await
        .assert_status(StatusCode::INTERNAL_SERVER_ERROR)
        .assert_json(
            &json!({ "code": "INTERNAL_SERVER_ERROR", "message": "Internal Server Error" }),
        );
    let reply = app.get("/boom").await;
    reply.assert_status(StatusCode::INTERNAL_SERVER_ERROR);
    let page = reply.text();
    assert!(
        page.contains("<h2>500 Internal Server Error</h2>"),
        "{page}"
    );
    for internal in [
        "fell over",
        "backtrace",
        "keys",
        "with_app",
        "Request headers",
    ] {
        assert!(!page.contains(internal), "{internal} in the prod page");
    }
    app.get("/ok").await.assert_text("ok");
}

#[tokio::test]
async fn the_dev_page_shows_the_request_and_the_masked_config() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_env(builder(dir.path()).plugin(OnError::default()), "local")
        .await
        .unwrap();
    app.set_cookie("session", "very-secret-session-value");
    let reply = app.get("/db?page=2").header("x-trace", "abc").await;
    reply.assert_status(StatusCode::INTERNAL_SERVER_ERROR);
    let page = reply.text();
    for part in [
        "cannot reach the database",
        "connection refused",
        "/db?page=2",
        "x-trace",
        "session=***",
        "Effective config",
        "&lt;masked: 33 chars&gt;",
        "127.0.0.1",
    ] {
        assert!(page.contains(part), "{part} missing from the dev page");
    }
    for secret in [
        "very-secret-session-value",
        "a-production-key-of-32-characters",
    ] {
        assert!(!page.contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn security_headers_are_on_error_responses() {
    let dir = tempfile::tempdir().unwrap();
    // registered after onerror, yet it starts first and its middleware wraps onerror's
    let app = TestApp::new(
        builder(dir.path())
            .plugin(OnError::default())
            .plugin(Security),
    )
    .await
    .unwrap();
    assert_eq!(app.app().plugin_names(), ["security", "onerror"]);
    for path in ["/db", "/boom", "/nowhere", "/ok"] {
        app.get(path)
            .await
            .assert_header("x-frame-options", "SAMEORIGIN");
    }
    app.get("/nowhere")
        .await
        .assert_text("<h1>404 Not Found</h1>");
}

#[tokio::test]
async fn page_urls_from_the_config() {
    let dir = config_dir(&[(
        "config.prod.toml",
        "[onerror]\nerror_page_url = \"/50x.html\"\n[onerror.notfound]\npage_url = \"/404.html\"\n",
    )]);
    let app = TestApp::with_env(builder(dir.path()).plugin(OnError::default()), "prod")
        .await
        .unwrap();
    app.get("/db")
        .await
        .assert_status(StatusCode::FOUND)
        .assert_header("location", "/50x.html?real_status=500");
    app.get("/nowhere")
        .await
        .assert_status(StatusCode::FOUND)
        .assert_header("location", "/404.html");
    app.get("/nowhere")
        .header("accept", "application/json")
        .await
        .assert_status(StatusCode::NOT_FOUND)
        .assert_text(r#"{"message":"Not Found"}"#);
}

#[tokio::test]
async fn notfound_can_be_switched_off() {
    let dir = config_dir(&[(
        "config.default.toml",
        "[onerror.notfound]\nenable = false\n",
    )]);
    let app = TestApp::new(builder(dir.path()).plugin(OnError::default()))
        .await
        .unwrap();
    app.get("/nowhere")
        .await
        .assert_status(StatusCode::NOT_FOUND)
        .assert_text("");
}

#[tokio::test]
async fn bad_config_stops_start_up_with_file_and_key() {
    let dir = config_dir(&[(
        "config.default.toml",
        "[onerror]\nerror_page_url = \"oops page\"\n",
    )]);
    let error = TestApp::new(builder(dir.path()).plugin(OnError::default()))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("config/config.default.toml"), "{error}");
    assert!(error.contains("`onerror.error_page_url`"), "{error}");
    assert!(error.contains("a path starting with `/`"), "{error}");

    let dir = config_dir(&[("config.default.toml", "[onerror]\nerror_page = \"/x\"\n")]);
    let error = TestApp::new(builder(dir.path()).plugin(OnError::default()))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown key `error_page`"), "{error}");
}

#[tokio::test]
async fn error_lines_carry_the_request_and_the_filter_silences() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let plugin = OnError::default()
        .app_error_filter(|f: &yolk_onerror::Failure<'_>| f.error().name() != "panic");
    let app = TestApp::with_env(builder(dir.path()).plugin(plugin), "prod")
        .await
        .unwrap();
    app.get("/db").await;
    app.get("/boom").await;
    let lines = logs.onerror_lines();
    assert_eq!(lines.len(), 1, "{:?}", logs.lines());
    assert!(lines[0].contains(" ERROR yolk::onerror: HttpError: cannot reach the database; caused by: connection refused"), "{}", lines[0]);
    assert!(lines[0].contains("request=-/127.0.0.1/-/"), "{}", lines[0]);
    assert!(lines[0].contains("ms GET /db"), "{}", lines[0]);
}
