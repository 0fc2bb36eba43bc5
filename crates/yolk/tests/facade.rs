//! An app and a plugin written against the facade alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::StatusCode;
use yolk::axum::Json;
use yolk::prelude::*;
use yolk_test::TestApp;

/// Sets its flag in `before_close`.
struct Closer(Arc<AtomicBool>);

#[async_trait]
impl Plugin for Closer {
    fn name(&self) -> &'static str {
        "closer"
    }

    async fn before_close(&self, _app: &AppContext) -> Result<(), BoxError> {
        self.0.store(true, Ordering::SeqCst);
        Ok(())
    }
}

async fn remember(cookies: Cookies) -> Result<&'static str, (StatusCode, String)> {
    cookies
        .set("who", "ada", &CookieOptions::new().with_signed(true))
        .map_err(|error| (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    Ok("ok")
}

async fn who(cookies: Cookies) -> Json<Option<String>> {
    Json(cookies.get_signed("who"))
}

#[tokio::test]
async fn an_app_on_the_prelude_alone() {
    let dir = tempfile::tempdir().unwrap();
    let closed = Arc::new(AtomicBool::new(false));
    let builder: yolk::AppBuilder = App::builder()
        .base_dir(dir.path())
        .config("keys", "facade-test-key-0123")
        .plugin(Closer(Arc::clone(&closed)))
        .route("/who", get(who).post(remember));
    let app = TestApp::new(builder).await.unwrap();

    app.get("/who").await.assert_json(&serde_json::Value::Null);
    app.post("/who").await.assert_text("ok");
    app.get("/who").await.assert_json(&"ada".into());
    assert_eq!(app.context().keys().len(), 1);

    app.close().await;
    assert!(closed.load(Ordering::SeqCst));
}
