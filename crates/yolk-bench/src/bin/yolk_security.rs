//! `GET /` → `Hello, yolk` on yolk-core's `App` with the `Security` plugin at its defaults:
//! compare with `yolk_core` (the same app without the plugin). Loaded with a `csrfToken`
//! cookie, it checks a returning client's secret; without one, every request is a new client
//! and gets a new CSRF secret and a `Set-Cookie`: the worst case.
//!
//! Usage: `yolk_security [--port P] [--exit-on-stdin-eof]`; prints
//! `listening on 127.0.0.1:PORT`.

use axum::routing::get;
use yolk_core::App;
use yolk_security::Security;

#[tokio::main]
async fn main() {
    let listener = match yolk_bench::listen().await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("yolk_security: {err}");
            std::process::exit(2);
        }
    };
    // The loader writes `run/` files; keep them out of the working tree.
    let base_dir = std::env::temp_dir().join("yolk-bench-security");
    let app = App::builder()
        .name("bench")
        .base_dir(&base_dir)
        .env("prod")
        .vars(std::iter::empty::<(String, String)>())
        .config("keys", "bench-key-of-enough-length")
        .plugin(Security::default())
        .route("/", get(|| async { "Hello, yolk" }))
        .build()
        .await;
    let served = match app {
        Ok(app) => app.serve(listener, std::future::pending()).await,
        Err(err) => Err(err),
    };
    if let Err(err) = served {
        eprintln!("yolk_security: {err}");
        std::process::exit(1);
    }
}
