//! The `Security` plugin through `App::builder()` and `yolk_test::TestApp`.

use axum::routing::{get, post};
use http::StatusCode;
use yolk_core::{App, AppBuilder, Inject};
use yolk_security::{CsrfToken, Helpers, RotateCsrfSecret, SafeClient, SafeRedirect, Security};
use yolk_session::{Session, SessionPlugin};
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

fn session_builder(dir: &tempfile::TempDir) -> AppBuilder {
    App::builder()
        .base_dir(dir.path())
        .config("keys", "a-test-key-for-sessions")
        .config("security.csrf.use_session", true)
        .plugin(Security::default())
        .plugin(SessionPlugin::default())
        .route(
            "/",
            get(|token: CsrfToken| async move { token.as_str().to_owned() }),
        )
        .route("/save", post(|| async { "saved" }))
        .route("/login", post(|| async { (RotateCsrfSecret, "welcome") }))
        .route(
            "/secret",
            get(|session: Session| async move {
                session
                    .get::<String>("csrfToken")
                    .unwrap()
                    .unwrap_or_default()
            }),
        )
}

#[tokio::test]
async fn use_session_keeps_the_secret_in_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(session_builder(&dir)).await.unwrap();

    let page = app.get("/").send().await;
    page.assert_status(StatusCode::OK);
    assert!(
        page.set_cookies()
            .iter()
            .all(|c| !c.starts_with("csrfToken=")),
        "{:?}",
        page.set_cookies()
    );
    assert_eq!(app.cookie("csrfToken"), None);
    assert!(
        app.cookie("YOLK_SESS").is_some(),
        "the secret made a session"
    );
    let token = page.text();
    let secret = app.get("/secret").send().await.text();
    assert!(
        yolk_security::csrf::verify(&secret, &token),
        "{secret} {token}"
    );

    app.post("/save")
        .header("x-csrf-token", &token)
        .send()
        .await
        .assert_text("saved");
    app.post("/save")
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .assert_text("saved");
    app.post("/save")
        .header("x-csrf-token", "wrong")
        .send()
        .await
        .assert_status(StatusCode::FORBIDDEN)
        .assert_text_contains("invalid csrf token");
    assert_eq!(app.get("/secret").send().await.text(), secret, "kept");

    // A new session has a new secret: the old token no longer passes.
    app.clear_cookies();
    app.post("/save")
        .header("x-csrf-token", &token)
        .send()
        .await
        .assert_status(StatusCode::FORBIDDEN);
    assert_eq!(app.cookie("csrfToken"), None);
}

#[tokio::test]
async fn rotate_csrf_secret_in_session_mode() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(session_builder(&dir)).await.unwrap();
    let token = app.get("/").send().await.text();
    let before = app.get("/secret").send().await.text();
    app.post("/login")
        .header("x-csrf-token", &token)
        .send()
        .await
        .assert_text("welcome");
    let after = app.get("/secret").send().await.text();
    assert!(!after.is_empty() && after != before, "{before} → {after}");
    app.post("/save")
        .header("x-csrf-token", &token)
        .send()
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let token = app.get("/").send().await.text();
    app.post("/save")
        .header("x-csrf-token", &token)
        .send()
        .await
        .assert_text("saved");
    assert_eq!(app.cookie("csrfToken"), None);
}

#[tokio::test]
async fn use_session_without_the_session_plugin_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let error = TestApp::new(builder(&dir).config("security.csrf.use_session", true))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("session plugin is not enabled"), "{error}");
    assert!(error.contains("SessionPlugin"), "{error}");
    // `use_session` with a type that keeps no secret needs no session.
    let app = TestApp::new(
        builder(&dir)
            .config("security.csrf.use_session", true)
            .config("security.csrf.type", "origin"),
    )
    .await;
    assert!(app.is_ok());
}

#[tokio::test]
async fn test_app_csrf_token_passes_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(builder(&dir)).await.unwrap();
    assert_eq!(app.csrf_token(), None);
    app.get("/").send().await;
    let token = app
        .csrf_token()
        .expect("the first response hands out the secret");
    app.post("/save")
        .header("x-csrf-token", &token)
        .send()
        .await
        .assert_text("saved");
}
