//! The `Security` plugin through `App::builder()` and `yolk_test::TestApp`.

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::routing::{get, post};
use http::{Extensions, StatusCode};
use tower::ServiceExt;
use yolk_core::{App, AppBuilder, Inject};
use yolk_security::{CsrfSecretStore, CsrfToken, Helpers, SafeClient, SafeRedirect, Security};
use yolk_test::TestApp;

fn builder(dir: &tempfile::TempDir) -> AppBuilder {
    App::builder()
        .base_dir(dir.path())
        .plugin(Security::default())
        .route(
            "/",
            get(|token: CsrfToken| async move { token.as_str().to_owned() }),
        )
        .route("/save", post(|| async { "saved" }))
        .route("/hooks/in", post(|| async { "hooked" }))
        .route(
            "/go",
            get(|r: SafeRedirect| async move { r.to("https://evil.com/") }),
        )
        .route(
            "/clean",
            get(|Inject(helpers): Inject<Helpers>| async move {
                helpers.shtml(r#"<a href="https://evil.com/">x</a><script>1</script>"#)
            }),
        )
        .route(
            "/client",
            get(|Inject(client): Inject<SafeClient>| async move {
                client
                    .get("http://127.0.0.1:9/")
                    .await
                    .unwrap_err()
                    .to_string()
            }),
        )
}

#[tokio::test]
async fn the_cookie_jar_flow_of_a_single_page_app() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(builder(&dir)).await.unwrap();
    let page = app.get("/").send().await;
    page.assert_status(StatusCode::OK)
        .assert_header("x-frame-options", "SAMEORIGIN")
        .assert_header("x-content-type-options", "nosniff");
    let secret = app.cookie("csrfToken").unwrap();
    app.post("/save")
        .send()
        .await
        .assert_status(StatusCode::FORBIDDEN)
        .assert_text_contains("missing csrf token");
    app.post("/save")
        .header("x-csrf-token", &secret)
        .send()
        .await
        .assert_text("saved");
    // A form token from the extractor.
    let token = page.text();
    app.post("/save")
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .assert_text("saved");
    app.close().await;
}

#[tokio::test]
async fn json_clients_get_a_json_403() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(builder(&dir)).await.unwrap();
    let response = app
        .post("/save")
        .header("accept", "application/json")
        .send()
        .await;
    response.assert_status(StatusCode::FORBIDDEN);
    let json: serde_json::Value = response.json().unwrap();
    assert_eq!(json["message"], "missing csrf token");
}

#[tokio::test]
async fn config_sections_switch_and_scope_the_pieces() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/config.default.toml"),
        "[security.csrf]\nignore = [\"/hooks\"]\n[security.hsts]\nenable = true\n\
         [security.xframe]\nvalue = \"DENY\"\n",
    )
    .unwrap();
    let app = TestApp::new(builder(&dir)).await.unwrap();
    let response = app.post("/hooks/in").send().await;
    response
        .assert_text("hooked")
        .assert_header("strict-transport-security", "max-age=31536000")
        .assert_header("x-frame-options", "DENY");
    app.post("/save")
        .send()
        .await
        .assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_middleware_can_be_disabled_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(builder(&dir).config("middleware_options.security.enable", false))
        .await
        .unwrap();
    let response = app.post("/save").send().await;
    response.assert_text("saved");
    assert!(response.header("x-frame-options").is_none());
}

#[tokio::test]
async fn bad_settings_stop_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let error = TestApp::new(
        builder(&dir)
            .config("security.referrer_policy.enable", true)
            .config("security.referrer_policy.value", "nope"),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("security.referrer_policy.value"), "{error}");
    assert!(error.contains("strict-origin-when-cross-origin"), "{error}");

    let error = TestApp::new(builder(&dir).config("security.csrf.use_session", true))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("with_secret_store"), "{error}");

    let error = TestApp::new(builder(&dir).config("security.csrf.typo", 1))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("typo"), "{error}");
}

#[tokio::test]
async fn unsafe_redirects_are_an_error_outside_prod_and_root_in_prod() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(builder(&dir)).await.unwrap();
    app.get("/go")
        .send()
        .await
        .assert_status(StatusCode::INTERNAL_SERVER_ERROR)
        .assert_text_contains("domain_white_list");

    let dir = tempfile::tempdir().unwrap();
    let prod = TestApp::with_env(
        builder(&dir).config("keys", "a-long-enough-production-key"),
        "prod",
    )
    .await
    .unwrap();
    prod.get("/go")
        .send()
        .await
        .assert_status(StatusCode::SEE_OTHER)
        .assert_header("location", "/");
}

#[tokio::test]
async fn helpers_and_the_safe_client_are_services() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(builder(&dir).config("security.domain_white_list", ["example.com"]))
        .await
        .unwrap();
    app.get("/clean")
        .send()
        .await
        .assert_text(r#"<a rel="noopener noreferrer">x</a>"#);
    app.get("/client")
        .send()
        .await
        .assert_text_contains("refused to connect to 127.0.0.1:9");
}

/// A stand-in for a session: a slot an outer layer puts in every request.
#[derive(Clone, Default)]
struct FakeSession(Arc<Mutex<Option<String>>>);

#[derive(Debug)]
struct SessionSecrets;

impl CsrfSecretStore for SessionSecrets {
    fn load(&self, extensions: &Extensions) -> Option<String> {
        extensions.get::<FakeSession>()?.0.lock().unwrap().clone()
    }

    fn store(&self, extensions: &Extensions, secret: &str) {
        if let Some(session) = extensions.get::<FakeSession>() {
            *session.0.lock().unwrap() = Some(secret.to_owned());
        }
    }
}

#[tokio::test]
async fn use_session_keeps_the_secret_in_the_store() {
    let session = FakeSession::default();
    let outer = session.clone();
    let dir = tempfile::tempdir().unwrap();
    let builder = App::builder()
        .base_dir(dir.path())
        .config("security.csrf.use_session", true)
        .plugin(Security::default().with_secret_store(Arc::new(SessionSecrets)))
        .route(
            "/",
            get(|token: CsrfToken| async move { token.as_str().to_owned() }),
        )
        .route("/save", post(|| async { "saved" }));
    // The app's middleware is inside the plugins'; the test puts the session outside.
    let app = builder.build().await.unwrap();
    let router = app.router().layer(middleware::from_fn(
        move |mut request: Request, next: Next| {
            let session = outer.clone();
            async move {
                request.extensions_mut().insert(session);
                next.run(request).await
            }
        },
    ));
    let send = |request: Request| router.clone().oneshot(request);
    let response = send(Request::get("/").body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(response.headers().get("set-cookie").is_none());
    let secret = session
        .0
        .lock()
        .unwrap()
        .clone()
        .expect("a secret in the session");
    let request = Request::post("/save")
        .header("x-csrf-token", &secret)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(request).await.unwrap().status(), StatusCode::OK);
    let request = Request::post("/save")
        .header("x-csrf-token", "wrong")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(request).await.unwrap().status(), StatusCode::FORBIDDEN);
}
