//! The baseline: `GET /` → `Hello, yolk` on plain axum, nothing else.
//!
//! Usage: `bare_axum [--port P] [--exit-on-stdin-eof]`; prints `listening on 127.0.0.1:PORT`.

use axum::{Router, routing::get};

#[tokio::main]
async fn main() {
    let listener = match yolk_bench::listen().await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("bare_axum: {err}");
            std::process::exit(2);
        }
    };
    let app = Router::new().route("/", get(|| async { "Hello, yolk" }));
    if let Err(err) = axum::serve(listener, app).await {
        eprintln!("bare_axum: {err}");
        std::process::exit(1);
    }
}
