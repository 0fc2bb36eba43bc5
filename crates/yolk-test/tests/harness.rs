//! The harness against a small app: cookies (plain and signed) through the jar, JSON and form
//! bodies, services, the environment, and the lifecycle hooks a real start runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::{get, post};
use axum::{Form, Json};
use http::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use yolk_core::request::ClientIp;
use yolk_core::{App, AppBuilder, AppContext, BoxError, CookieOptions, Cookies, Inject, Plugin};
use yolk_test::TestApp;

const KEYS: &str = "test-key-0123456789";

/// Counts the hooks it sees, shared with the test through an `Arc`.
#[derive(Debug, Default)]
struct Hooks {
    agent: AtomicUsize,
    server_did_ready: AtomicUsize,
    before_close: AtomicUsize,
}

/// A plugin that records its `agent`, `server_did_ready` and `before_close` hooks.
#[derive(Debug)]
struct Recorder(Arc<Hooks>);

#[async_trait::async_trait]
impl Plugin for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        app.provide(Arc::clone(&self.0));
        Ok(())
    }

    async fn agent(&self, _app: &AppContext) -> Result<(), BoxError> {
        self.0.agent.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn server_did_ready(&self, _app: &AppContext) -> Result<(), BoxError> {
        self.0.server_did_ready.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn before_close(&self, _app: &AppContext) -> Result<(), BoxError> {
        self.0.before_close.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Debug)]
struct Greeter {
    greeting: &'static str,
}

async fn set_plain(cookies: Cookies) -> Result<&'static str, String> {
    cookies
        .set("theme", "dark", &CookieOptions::new())
        .map_err(|e| e.to_string())?;
    Ok("set")
}

async fn read_plain(cookies: Cookies) -> String {
    cookies.get("theme").unwrap_or_else(|| "none".to_owned())
}

async fn remove_plain(cookies: Cookies) -> Result<&'static str, String> {
    cookies
        .remove("theme", &CookieOptions::new())
        .map_err(|e| e.to_string())?;
    Ok("removed")
}

async fn login(cookies: Cookies) -> Result<&'static str, String> {
    cookies
        .set("user", "42", &CookieOptions::new().with_signed(true))
        .map_err(|e| e.to_string())?;
    Ok("welcome")
}

async fn whoami(cookies: Cookies) -> String {
    cookies
        .get_signed("user")
        .unwrap_or_else(|| "anonymous".to_owned())
}

async fn echo_json(Json(value): Json<Value>) -> Json<Value> {
    Json(json!({ "echo": value }))
}

async fn echo_form(Form(fields): Form<BTreeMap<String, String>>) -> Json<BTreeMap<String, String>> {
    Json(fields)
}

async fn greet(greeter: Inject<Greeter>) -> &'static str {
    greeter.greeting
}

async fn ip(ClientIp(ip): ClientIp) -> String {
    ip.to_string()
}

fn builder(dir: &TempDir, hooks: &Arc<Hooks>) -> AppBuilder {
    App::builder()
        .name("harness")
        .base_dir(dir.path())
        .config("keys", KEYS)
        .plugin(Recorder(Arc::clone(hooks)))
        .service(Greeter { greeting: "hi" })
        .route(
            "/plain",
            get(read_plain).post(set_plain).delete(remove_plain),
        )
        .route("/login", post(login))
        .route("/whoami", get(whoami))
        .route("/json", post(echo_json))
        .route("/form", post(echo_form))
        .route("/greet", get(greet))
        .route("/ip", get(ip))
}

async fn boot() -> (TestApp, Arc<Hooks>, TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let hooks = Arc::new(Hooks::default());
    let app = TestApp::new(builder(&dir, &hooks))
        .await
        .expect("the app boots");
    (app, hooks, dir)
}

#[tokio::test]
async fn boots_in_unittest_and_runs_the_agent_and_server_did_ready_hooks() {
    let (app, hooks, _dir) = boot().await;
    assert_eq!(app.context().env(), "unittest");
    assert_eq!(app.context().name(), "harness");
    assert_eq!(app.app().plugin_names(), ["recorder"]);
    assert_eq!(hooks.agent.load(Ordering::SeqCst), 1);
    assert_eq!(hooks.server_did_ready.load(Ordering::SeqCst), 1);
    assert_eq!(hooks.before_close.load(Ordering::SeqCst), 0);
    // The plugin's service, provided in `did_load`, is the same `Arc`.
    let provided = app.service::<Arc<Hooks>>().expect("provided by the plugin");
    assert!(Arc::ptr_eq(&*provided, &hooks));
}

#[tokio::test]
async fn close_runs_before_close() {
    let (app, hooks, _dir) = boot().await;
    app.close().await;
    assert_eq!(hooks.before_close.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn with_env_boots_in_the_env_given() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = Arc::new(Hooks::default());
    let builder = builder(&dir, &hooks).config("keys", "a-production-key-0123456789");
    let app = TestApp::with_env(builder, "prod").await.unwrap();
    assert_eq!(app.context().env(), "prod");
}

#[tokio::test]
async fn a_boot_error_is_returned() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = Arc::new(Hooks::default());
    // `prod` refuses a key this short.
    let error = TestApp::with_env(builder(&dir, &hooks).config("keys", "short"), "prod")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("keys"), "{error}");
}

#[tokio::test]
async fn config_is_reachable() {
    let (app, _hooks, _dir) = boot().await;
    assert_eq!(
        app.config().get::<String>("keys").unwrap().as_deref(),
        Some(KEYS)
    );
}

#[tokio::test]
async fn plain_cookie_is_kept_then_removed_from_the_jar() {
    let (app, _hooks, _dir) = boot().await;
    app.get("/plain").await.assert_text("none");

    let res = app.post("/plain").await;
    res.assert_status(StatusCode::OK).assert_text("set");
    assert_eq!(res.set_cookies(), ["theme=dark; HttpOnly; Path=/"]);
    assert_eq!(app.cookie("theme").as_deref(), Some("dark"));
    app.get("/plain").await.assert_text("dark");

    let res = app.delete("/plain").await;
    assert!(res.set_cookies()[0].contains("Max-Age=0"), "{res:?}");
    assert_eq!(app.cookie("theme"), None);
    app.get("/plain").await.assert_text("none");
}

#[tokio::test]
async fn signed_cookie_travels_across_requests() {
    let (app, _hooks, _dir) = boot().await;
    app.get("/whoami").await.assert_text("anonymous");

    let res = app.post("/login").await;
    res.assert_text("welcome");
    assert_eq!(res.set_cookies().len(), 2);
    assert_eq!(app.cookie("user").as_deref(), Some("42"));
    let sig = app.cookie("user.sig").expect("the signature is in the jar");
    assert!(!sig.is_empty());

    app.get("/whoami").await.assert_text("42");
    app.get("/whoami").await.assert_text("42");
}

#[tokio::test]
async fn forged_signed_cookie_is_rejected_and_its_signature_expired() {
    let (app, _hooks, _dir) = boot().await;
    app.post("/login").await.assert_status(StatusCode::OK);
    app.set_cookie("user", "1");

    let res = app.get("/whoami").await;
    res.assert_text("anonymous");
    // The app expires the bad signature; the jar drops it.
    assert!(
        res.set_cookies()
            .iter()
            .any(|c| c.starts_with("user.sig=;") && c.contains("Max-Age=0")),
        "{res:?}"
    );
    assert_eq!(app.cookie("user.sig"), None);
    assert_eq!(app.cookie("user").as_deref(), Some("1"));
}

#[tokio::test]
async fn clear_cookies_logs_out() {
    let (app, _hooks, _dir) = boot().await;
    app.post("/login").await;
    app.clear_cookies();
    assert_eq!(app.cookie("user"), None);
    app.get("/whoami").await.assert_text("anonymous");
}

#[tokio::test]
async fn a_cookie_header_set_by_hand_goes_with_the_jar() {
    let (app, _hooks, _dir) = boot().await;
    app.post("/login").await;
    app.get("/plain")
        .header("cookie", "theme=light")
        .await
        .assert_text("light");
    app.get("/whoami")
        .header("cookie", "theme=light")
        .await
        .assert_text("42");
}

#[tokio::test]
async fn json_echo() {
    let (app, _hooks, _dir) = boot().await;
    let body = json!({"name": "yolk", "tags": ["egg", "rust"]});
    let res = app.post("/json").json(&body).await;
    res.assert_status(StatusCode::OK)
        .assert_header("content-type", "application/json")
        .assert_json(&json!({ "echo": body }));
    let echoed: Value = res.json().unwrap();
    assert_eq!(echoed["echo"]["tags"][1], "rust");
}

#[tokio::test]
async fn json_without_content_type_is_refused() {
    let (app, _hooks, _dir) = boot().await;
    let res = app.post("/json").body(r#"{"a":1}"#).await;
    res.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let error = res.json::<Value>().unwrap_err();
    assert_eq!(error.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(error.to_string().contains("POST /json"), "{error}");
}

#[tokio::test]
async fn form_echo() {
    let (app, _hooks, _dir) = boot().await;
    app.post("/form")
        .form(&[("name", "ada lovelace"), ("lang", "en&fr")])
        .await
        .assert_status(StatusCode::OK)
        .assert_json(&json!({"name": "ada lovelace", "lang": "en&fr"}));
}

#[tokio::test]
async fn service_through_inject() {
    let (app, _hooks, _dir) = boot().await;
    app.get("/greet").await.assert_text("hi");
    assert_eq!(app.service::<Greeter>().unwrap().greeting, "hi");
}

#[tokio::test]
async fn client_ip_comes_from_the_peer() {
    let (app, _hooks, _dir) = boot().await;
    app.get("/ip").await.assert_text("127.0.0.1");
    app.get("/ip")
        .peer(([203, 0, 113, 9], 1234).into())
        .await
        .assert_text("203.0.113.9");
}

#[tokio::test]
async fn methods_and_unknown_routes() {
    let (app, _hooks, _dir) = boot().await;
    app.get("/missing")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    app.put("/plain")
        .await
        .assert_status(StatusCode::METHOD_NOT_ALLOWED);
    app.patch("/plain")
        .await
        .assert_status(StatusCode::METHOD_NOT_ALLOWED);
    app.request(http::Method::GET, "/greet?x=1")
        .await
        .assert_text_contains("h");
}

#[tokio::test]
#[should_panic(expected = "GET /greet: expected status 404 Not Found, got 200 OK; body: \"hi\"")]
async fn assert_status_failure_names_the_request_and_body() {
    let (app, _hooks, _dir) = boot().await;
    app.get("/greet").await.assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
#[should_panic(expected = "expected body \"bye\", got \"hi\"")]
async fn assert_text_failure_shows_both() {
    let (app, _hooks, _dir) = boot().await;
    app.get("/greet").await.assert_text("bye");
}

#[tokio::test]
#[should_panic(expected = "there is no `x-missing`")]
async fn assert_header_failure_names_the_header() {
    let (app, _hooks, _dir) = boot().await;
    app.get("/greet").await.assert_header("x-missing", "1");
}

#[tokio::test]
#[should_panic(expected = "the JSON body differs")]
async fn assert_json_failure_shows_both() {
    let (app, _hooks, _dir) = boot().await;
    app.post("/json")
        .json(&1)
        .await
        .assert_json(&json!({"echo": 2}));
}

#[tokio::test]
#[should_panic(expected = "not a valid request path")]
async fn an_invalid_path_panics_clearly() {
    let (app, _hooks, _dir) = boot().await;
    let _ = app.get("no spaces allowed");
}

#[tokio::test]
async fn csrf_token_is_the_jar_s_csrf_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let builder = App::builder()
        .base_dir(dir.path())
        .route(
            "/",
            get(|cookies: Cookies| async move {
                cookies
                    .set("csrfToken", "secret-1", &CookieOptions::new())
                    .map(|()| "handed out")
                    .map_err(|e| e.to_string())
            }),
        )
        .route(
            "/check",
            post(|headers: http::HeaderMap| async move {
                headers
                    .get("x-csrf-token")
                    .map_or("none", |v| v.to_str().unwrap_or("bad"))
                    .to_owned()
            }),
        );
    let app = TestApp::new(builder).await.unwrap();
    assert_eq!(app.csrf_token(), None);
    app.get("/").send().await.assert_text("handed out");
    let token = app.csrf_token().expect("the secret is in the jar");
    assert_eq!(token, "secret-1");
    app.post("/check")
        .header("x-csrf-token", &token)
        .send()
        .await
        .assert_text("secret-1");
    app.set_cookie("csrfToken", "secret-2");
    assert_eq!(app.csrf_token().as_deref(), Some("secret-2"));
    app.clear_cookies();
    assert_eq!(app.csrf_token(), None);
}
