//! The plugin through `App::builder()` and `yolk_test::TestApp`: config, keys, and key
//! rotation across a restart.

mod common;

use std::path::Path;

use yolk_core::{App, AppBuilder};
use yolk_session::{MemoryStore, SessionPlugin};
use yolk_test::TestApp;

fn builder(dir: &Path, keys: &str) -> AppBuilder {
    App::builder()
        .base_dir(dir)
        .config("keys", keys)
        .plugin(SessionPlugin::default())
        .merge(common::routes())
}

#[tokio::test]
async fn key_rotation_across_a_restart_with_new_keys() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(builder(dir.path(), "first-key-0123456789"))
        .await
        .unwrap();
    app.get("/set?v=ada").await;
    let sealed = app.cookie("YOLK_SESS").unwrap();
    app.close().await;

    // Restart with a new key first, the old one kept.
    let app = TestApp::new(builder(
        dir.path(),
        "second-key-0123456789, first-key-0123456789",
    ))
    .await
    .unwrap();
    app.set_cookie("YOLK_SESS", &sealed);
    let res = app.get("/get").await;
    assert_eq!(res.text(), "ada");
    assert_eq!(res.set_cookies().len(), 1, "re-sealed with the new key");
    let resealed = app.cookie("YOLK_SESS").unwrap();
    assert_ne!(resealed, sealed);
    assert!(app.get("/get").await.set_cookies().is_empty());
    app.close().await;

    // Restart with the old key gone: the re-sealed cookie still opens, the old one does not.
    let app = TestApp::new(builder(dir.path(), "second-key-0123456789"))
        .await
        .unwrap();
    app.set_cookie("YOLK_SESS", &resealed);
    assert_eq!(app.get("/get").await.text(), "ada");
    app.set_cookie("YOLK_SESS", &sealed);
    let res = app.get("/get").await;
    assert_eq!(res.text(), "none");
    assert!(res.set_cookies().is_empty());
    app.close().await;
}

#[tokio::test]
async fn config_file_sets_the_cookie() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/config.default.toml"),
        "[session]\nkey = \"sid\"\nmax_age = \"session\"\nsame_site = \"strict\"\nsecure = true\n",
    )
    .unwrap();
    let app = TestApp::new(builder(dir.path(), "a-key-0123456789"))
        .await
        .unwrap();
    let res = app.get("/set?v=ada").await;
    let set = res.set_cookies()[0].to_owned();
    assert!(set.starts_with("sid="), "{set}");
    assert!(
        set.contains("SameSite=Strict") && set.contains("Secure"),
        "{set}"
    );
    assert!(!set.contains("Max-Age"), "{set}");
    assert_eq!(app.get("/get").await.text(), "ada");
    app.close().await;
}

#[tokio::test]
async fn bad_config_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let error = builder(dir.path(), "a-key-0123456789")
        .config("session.max_age", "forever")
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("session.max_age"), "{error}");
    assert!(error.contains("\"session\""), "{error}");
}

#[tokio::test]
async fn cookie_store_needs_keys_but_a_store_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let error = App::builder()
        .base_dir(dir.path())
        .plugin(SessionPlugin::default())
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("keys"), "{error}");

    let builder = App::builder()
        .base_dir(dir.path())
        .plugin(SessionPlugin::default().with_store(MemoryStore::new()))
        .merge(common::routes());
    let app = TestApp::new(builder).await.unwrap();
    app.get("/set?v=ada").await;
    assert_eq!(app.cookie("YOLK_SESS").unwrap().len(), 43);
    assert_eq!(app.get("/get").await.text(), "ada");
    app.get("/destroy").await;
    assert_eq!(app.cookie("YOLK_SESS"), None);
    app.close().await;
}

#[tokio::test]
async fn the_middleware_can_be_disabled_by_config() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(
        builder(dir.path(), "a-key-0123456789").config("middleware_options.session.enable", false),
    )
    .await
    .unwrap();
    let res = app.get("/get").await;
    assert_eq!(res.status(), 500);
    assert!(
        res.text().contains("enable the session plugin"),
        "{}",
        res.text()
    );
    app.close().await;
}
