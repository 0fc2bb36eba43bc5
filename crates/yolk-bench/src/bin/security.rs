//! `GET /` → `Hello, yolk` on plain axum behind yolk-security's full default stack
//! (`SecurityLayer::new()`: CSRF secret cookie, the four default headers, method and path
//! checks). Loaded with a `csrfToken` cookie (as the `security` suite does), the client keeps
//! its secret; without one, every request is a new client and gets a new CSRF secret.
//!
//! Usage: `security [--port P] [--exit-on-stdin-eof]`; prints `listening on 127.0.0.1:PORT`.

use axum::{Router, routing::get};
use yolk_security::SecurityLayer;

#[tokio::main]
async fn main() {
    let listener = match yolk_bench::listen().await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("security: {err}");
            std::process::exit(2);
        }
    };
    let app = Router::new()
        .route("/", get(|| async { "Hello, yolk" }))
        .layer(SecurityLayer::new());
    if let Err(err) = axum::serve(listener, app).await {
        eprintln!("security: {err}");
        std::process::exit(1);
    }
}
